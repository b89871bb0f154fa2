"""A second, different recognizer checks what the first one heard; or the two combined.

pocketsphinx's grammar search, even with its filler words, turns much of other speech into
commands: a sound-alike word ("neck" -> next), a fragment of talk, a command heard wrongly in
babble. The classifier engine hears the same utterance through a different front end (speech
embeddings) and a model trained on other data, so the two rarely make the same mistake. The
first recognizer proposes; its answer stands only when the checker gives that command at least
`min_probability`. The check runs only on proposed commands, so silence and rejected speech cost
nothing more.

Measured (held-out voices, whole pipeline, the cached decodes of `benchmarks.classifier`):
pocketsphinx alone / with the check at 0.2: commands right at 10 dB 32.6 / 32.3 %, wrong
3.1 / 0.0 %, wrong in 10 dB babble 14.2 / 0.9 %, other single words accepted 7.0 / 3.4 %,
false accepts in 18.9 min of talk 41 / 5. Any threshold from 0.05 to 0.5 gave nearly the same
figures: the checker's probability for a wrong proposal is usually near zero.

`CombinedRecognizer` (`--engine combined`) takes the classifier's own answers when it is sure
(its calibrated threshold), and otherwise pocketsphinx's answers that pass the check. The two
engines fail on different utterances: on the unseen neural voice (`joe`) the combination got
54 % of commands right at 10 dB pink noise against 44 % (classifier) and 38 % (pocketsphinx
checked), 35 % in babble against 13 % and 32 %.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from voice_guide.commands import Command
from voice_guide.events import Heard
from voice_guide.listen.engine import Recognizer, Segment


class Checker(Protocol):
    name: str

    def prepare(self, segment: Segment) -> None:
        """The first recognizer is about to decode `segment`: a checker that can work at the
        same time starts now (`listen/parallel_check.py`)."""
        ...

    def probability(self, segment: Segment, command: Command) -> float:
        """How likely (0..1) this whole utterance is `command`."""
        ...


class SureRecognizer(Recognizer, Checker, Protocol):
    """A recognizer that can also check another's answer (the classifier engine)."""


@dataclass(frozen=True)
class SecondPassSettings:
    min_probability: float = 0.2  # the checker's probability the proposed command needs


class CheckedRecognizer:
    """`first` proposes a command, `checker` must find it plausible."""

    def __init__(
        self, first: Recognizer, checker: Checker,
        settings: SecondPassSettings = SecondPassSettings(),
    ) -> None:
        self.first = first
        self.checker = checker
        self.settings = settings
        self.name = f"{first.name}+{checker.name} check"
        self.rejected = 0  # proposals the checker turned down (for logs and benchmarks)

    def recognize(self, segment: Segment, commands: frozenset[Command]) -> Heard | None:
        """The first recognizer's command, if the checker agrees; None otherwise."""
        self.checker.prepare(segment)
        heard = self.first.recognize(segment, commands)
        if heard is None:
            return None
        if self.checker.probability(segment, heard.command) < self.settings.min_probability:
            self.rejected += 1
            return None
        return heard


class CombinedRecognizer:
    """The classifier's sure answers; otherwise the first recognizer's answers it checks."""

    def __init__(
        self, first: Recognizer, classifier: SureRecognizer,
        settings: SecondPassSettings = SecondPassSettings(),
    ) -> None:
        self.classifier = classifier
        self.checked = CheckedRecognizer(first, classifier, settings)
        self.name = f"{classifier.name}+{first.name}"

    def recognize(self, segment: Segment, commands: frozenset[Command]) -> Heard | None:
        """The command this utterance is, among `commands`; None for anything else."""
        heard = self.classifier.recognize(segment, commands)
        return heard if heard is not None else self.checked.recognize(segment, commands)
