"""The listening pipeline: int16 16 kHz blocks in, `Heard` commands (and `Unclear` words) out.

Segmenter (speech/silence, endpointing) in front, so silence costs almost nothing and only
short utterances reach the recognizer; `mute_until(t)` ignores input while the room speaker
talks (the microphone hears it). All times are seconds of stream time: the count of samples fed.

Commands are whole utterances: one said after a pause. A piece of speech that began less than
`min_pause_before` after other speech ended belongs with it (people and voices pause at commas
for up to ~0.4 s): it is decoded together with the piece before it, as one utterance, when the
two are short enough to be a command, and dropped otherwise. So "the next ... thing" is judged
whole, and a breath or a click just before a command ("[click] go", common at the start of a
recording) does not hide the command.

Answering soon: the segmenter offers each utterance provisionally after 100 ms of quiet, and
finally after 200 ms. The first look is taken only for an utterance said after
`first_look_after` (1.5 s) of quiet: soon after other speech it is too often the start of a
sentence. A command heard on the first look is acted on at once unless a longer
accepted phrase of another command begins with it: "stop", "next" (or "next step": the same
command) are answered; "go" waits for the final segment, which may be "go back". When nothing
more was said after the first look, its decision stands: the final segment is not decoded
again (a second decode would be a second chance for other speech to pass as a command).

Free speech, with an engine that writes it (`hear_words`: whisper): while the client's answer
is awaited, every utterance; and in a session, an utterance that begins with "note" or "make a
note". Such words are held until the pause after them is certain, joined with the pieces said
after short pauses ("a little ... deeper", a note with commas), then written out whole and read
as typed words are: the client's answer, a command, a note, or `Unclear` words the practitioner
is told about. Words that answer nothing are written out once more, told the answer words
(`UtteranceRules.answer_second_look`), and the answer found then is taken only when its word
sounds like what was first written ("Soft or please?" -> "softer").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from enum import Enum

import numpy as np

from voice_guide.commands import (
    ALL_COMMANDS,
    CLIENT_ANSWERS,
    Command,
    client_answer,
    could_become_another,
    normalize,
    note_phrase,
    note_text,
    read_words,
)
from voice_guide.events import Heard, Unclear
from voice_guide.listen.engine import SAMPLE_RATE, Recognizer, Segment
from voice_guide.listen.segmenter import Segmenter, SegmenterSettings

CommandSource = frozenset[Command] | Callable[[], frozenset[Command]]
# What the client has just been asked, given to Whisper as the words before theirs: measured on
# six synthetic voices (benchmarks.answers), answers right 84 -> 91 % clean and 71 -> 77 % in
# the room, none more taken for another answer
ANSWER_CONTEXT = "How is the pressure? Would you like it lighter or deeper?"
# Words that answer nothing are written out again with the answer words as the context (the
# answer's second look, `UtteranceRules.answer_second_look`): "Soft or please?" -> "Softer
# please.", "Keeper please." -> "Deeper please."
ANSWER_WORDS_CONTEXT = ("How is the pressure? Softer, lighter, gentler, less. "
                        "Deeper, harder, firmer, more. Good, fine, perfect.")
NOTE_HEAD = 1.8  # seconds of a long utterance written out to see whether it begins as a note


@dataclass(frozen=True)
class UtteranceRules:
    """What makes an utterance a candidate command, besides its length (the segmenter's)."""

    # Quiet needed before a command's speech. Measured on the neural test voices: pauses at
    # commas inside a sentence last 0.1-0.37 s; a practitioner speaks a command after silence.
    min_pause_before: float = 0.5
    # A first look is acted on only after this much quiet. Soon after other speech, a short
    # word followed by 100 ms of quiet is more often a sentence starting ("The next ... thing I
    # want") than a command: measured, every false accept of the classifier in talk was such a
    # first look. Commands said after silence (the usual case) keep the 100 ms faster answer.
    first_look_after: float = 1.5
    # Pieces closer than `min_pause_before` are decoded together up to this length (seconds,
    # from the first piece's start to the last one's end: a command's 2 s plus the rolls).
    max_joined: float = 2.45
    # While the client's answer is awaited, pieces closer than `min_pause_before` are one answer
    # up to this long ("a little ... deeper"), read once the pause after them is certain.
    max_answer: float = 6.0
    max_note: float = 15.0  # ...and a note, from its first word to its last
    # An answer's words that answer nothing are written out again with the answer words as the
    # context; the answer found then is taken only when its deciding word sounds like words of
    # the first writing (`sounds_like` at least this; None: no second look). Alone, that
    # context makes single words into answers ("cat" -> "Good."); with the check it does not.
    answer_second_look: float | None = 0.7


def listen_to(
    recognizer: Recognizer, audio: np.ndarray, commands: CommandSource = ALL_COMMANDS,
    block: int = 1600,
) -> list[Heard]:
    """Every command heard in a whole recording, fed in blocks (100 ms) as a microphone would."""
    return [h for h in hear_all(recognizer, audio, commands, block) if isinstance(h, Heard)]


def hear_all(
    recognizer: Recognizer, audio: np.ndarray, commands: CommandSource = ALL_COMMANDS,
    block: int = 1600, answers: bool = False,
) -> list[Heard | Unclear]:
    """Everything heard in a whole recording; `answers`: as while the client's answer is
    awaited (the words of every utterance read as typed words are, `Unclear` when they are
    neither a command nor an answer)."""
    listener = Listener(recognizer, commands, answers=answers)
    heard: list[Heard | Unclear] = []
    for offset in range(0, len(audio), block):
        heard += listener.feed(audio[offset : offset + block])
    return heard + listener.flush()


class Listener:
    """A segmenter feeding a recognizer; `commands` (a set, or a callback) narrows what is heard.

    `answers`: while the commands accepted include the client's answers (a check-in's answer
    window is open) and the engine can write free speech (`hear_words`), each whole utterance
    is transcribed and read as typed words are (`commands.read_words`): a command, the
    client's answer in their own words, or `Unclear` words the practitioner is told about.
    No first look then: an answer is read once the pause after it is certain."""

    def __init__(
        self,
        recognizer: Recognizer,
        commands: CommandSource = ALL_COMMANDS,
        segmenter: SegmenterSettings | None = None,
        start: float = 0.0,
        rules: UtteranceRules = UtteranceRules(),
        answers: bool = False,
    ) -> None:
        self.recognizer = recognizer
        self.commands = commands
        self.answers = answers
        self.rules = rules
        self._segmenter = Segmenter(segmenter or settings_for(recognizer), start=start)
        self._muted_until = float("-inf")
        self.segments = 0  # segments passed to the recognizer (for benchmarks and logs)
        self.joined = 0  # utterances not decoded: they followed other speech too closely
        self._first_look: FirstLook | None = None  # at the utterance still open
        self._previous: Segment | None = None  # the last utterance, when nothing was heard in it
        self._held: Segment | None = None  # free speech, until the pause after it is certain
        self._held_kind = HeldWords.ANSWER

    @property
    def time(self) -> float:
        """Stream time of the next sample."""
        return self._segmenter.time

    @property
    def slack(self) -> int:
        """Samples that can be fed before anything could be heard (`Segmenter.slack`); none
        while free speech is held (its end is decided by the time that passes)."""
        return 0 if self._held is not None else self._segmenter.slack

    def mute_until(self, t: float) -> None:
        """Ignore input up to stream time `t` (the room speaker is talking, plus its tail)."""
        self._muted_until = max(self._muted_until, t)

    def feed(self, block: np.ndarray) -> list[Heard | Unclear]:
        """Take the next samples; return what was heard in utterances that ended in them."""
        samples = np.asarray(block, dtype=np.int16).reshape(-1)
        if self._muted_until > self.time:
            muted = min(len(samples), round((self._muted_until - self.time) * SAMPLE_RATE))
            self._segmenter.skip(muted)
            samples = samples[muted:]
            if len(samples) == 0:
                return []
        heard = self._recognize(self._segmenter.feed(samples))
        if self._held is not None:
            quiet = self.time - self._held.last_speech
            if ((quiet >= self.rules.min_pause_before and not self._segmenter.in_speech)
                    or quiet >= self._longest_held()):
                heard += self._read_held()
        return heard

    def flush(self) -> list[Heard | Unclear]:
        """End of stream: decide the utterance still open, if any."""
        return self._recognize(self._segmenter.flush()) + self._read_held()

    def _recognize(self, segments: list[Segment]) -> list[Heard | Unclear]:
        heard: list[Heard | Unclear] = []
        for segment in segments:
            if self._held is not None:
                if segment.provisional or segment.cut_off:
                    continue  # the final piece decides whether it goes with the held words
                if segment.pause_before < self.rules.min_pause_before:
                    whole = joined(self._held, segment, self._longest_held())
                    if whole is not None:  # said as one: held together
                        self._held = whole
                        continue
                heard += self._read_held()  # said apart: the held words are read first
            if self._awaiting_answer():
                self._hold(segment, HeldWords.ANSWER)
                continue
            result = self._decide(segment)
            if result is not None:
                heard.append(result)
        return heard

    def _awaiting_answer(self) -> bool:
        return (self.answers and hasattr(self.recognizer, "hear_words")
                and self._accepted() >= CLIENT_ANSWERS)

    def _accepted(self) -> frozenset[Command]:
        return frozenset(self.commands() if callable(self.commands) else self.commands)

    def _hold(self, segment: Segment, kind: HeldWords) -> None:
        """Keep a final utterance of free speech (an answer, a note) until the pause after it
        is certain: pieces said as one (a pause shorter than `min_pause_before`) join it."""
        if segment.provisional or segment.cut_off or segment.start < self._muted_until:
            return
        self._first_look = self._previous = None
        self._held, self._held_kind = segment, kind

    def _longest_held(self) -> float:
        return self.rules.max_note if self._held_kind is HeldWords.NOTE else self.rules.max_answer

    def _read_held(self) -> list[Heard | Unclear]:
        """The held utterance's words: a note, or read as typed words are (an answer)."""
        segment, self._held = self._held, None
        if segment is None:
            return []
        self.segments += 1
        note = self._held_kind is HeldWords.NOTE
        words = self.recognizer.hear_words(  # type: ignore[attr-defined]
            segment, context="" if note else ANSWER_CONTEXT)
        if words is None:  # not speech, or nothing Whisper is sure of: nothing to tell
            return []
        commands = self._accepted()
        text = note_text(words.text) if Command.NOTE in commands else None
        if text is not None:
            return [Heard(Command.NOTE, note_phrase(words.text),
                          confidence=math.exp(words.logprob), start=segment.start,
                          end=segment.end, text=" ".join(text.split()))]
        if note:
            return []  # (its start read as a note; the whole, written out, does not begin so)
        reading = read_words(words.text, commands)
        if reading is None:
            reading = self._answer_again(segment, words.text, commands)
        if reading is None or reading[0] not in commands:
            return [Unclear(words.text.strip(), segment.start, segment.end)]
        command, phrase = reading
        return [Heard(command, phrase, confidence=math.exp(words.logprob), start=segment.start,
                      end=segment.end)]

    def _answer_again(self, segment: Segment, first: str, commands: frozenset[Command]
                      ) -> tuple[Command, str] | None:
        """The client's answer Whisper writes when told the answer words (ANSWER_WORDS_CONTEXT),
        if the word that decides it sounds like the words it first wrote ("softer" in "Soft or
        please?"): a smeared answer word, not one the context put there."""
        least = self.rules.answer_second_look
        if least is None or not commands >= CLIENT_ANSWERS:
            return None
        again = self.recognizer.hear_words(  # type: ignore[attr-defined]
            segment, context=ANSWER_WORDS_CONTEXT)
        answer = client_answer(again.text) if again is not None else None
        if again is None or answer is None or sounds_like(answer[1], first) < least:
            return None
        return answer[0], normalize(again.text)

    def _decide(self, segment: Segment) -> Heard | None:
        first_look = self._first_look  # at this utterance, if it is the same one
        if first_look is not None and first_look.segment.start != segment.start:
            first_look = None
        if not segment.provisional:
            self._first_look = None  # the utterance ends here
        if first_look is not None and first_look.answered:
            return None  # acted on already, whatever the session accepts now
        previous = self._previous
        if not segment.provisional:
            self._previous = None  # set again below when nothing is heard in this utterance
        if segment.start < self._muted_until:
            return None
        if segment.pause_before < self.rules.min_pause_before:
            if segment.provisional:
                return None  # the final segment decides, with the piece before it
            whole = joined(previous, segment, self.rules.max_joined)
            if whole is None:
                self.joined += 1
                return None
            segment = whole
        elif segment.provisional and segment.pause_before < self.rules.first_look_after:
            return None  # too soon after other speech to answer early: the final segment decides
        commands = self._accepted()
        if not commands:
            return None
        notes = Command.NOTE in commands and hasattr(self.recognizer, "hear_words")
        # a note is read from the whole utterance's words (`_note`), never from a command look:
        # "note" heard at a pause would lose what follows it
        commands -= {Command.NOTE}
        if first_look is not None and first_look.segment.last_speech == segment.last_speech:
            # nothing more was said: the first look's decision stands
            result = first_look.heard
            if result is None and notes:
                self._note(segment, first_look.words)
            self._previous = segment if result is None and self._held is None else None
            return result
        self.segments += 1
        result = self.recognizer.recognize(segment, commands) if commands else None
        words = self._last_words()
        if not segment.provisional:
            if result is None and notes and not segment.cut_off:  # (the whole comes later)
                self._note(segment, words)
            self._previous = segment if result is None and self._held is None else None
            return result
        # "go" may yet be "go back": then the final segment decides
        answered = result is not None and not could_become_another(result.phrase, commands)
        self._first_look = FirstLook(segment, result, answered, words)
        return result if answered else None

    def _last_words(self) -> str | None:
        """What the engine wrote for the utterance it last decided (None: it writes nothing,
        or did not decode it, e.g. one longer than a command)."""
        last_words = getattr(self.recognizer, "last_words", None)
        return last_words() if callable(last_words) else None

    def _note(self, segment: Segment, words: str | None) -> None:
        """Hold the utterance as a note ("note tight left shoulder", "make a note ...") when it
        begins with the note phrase: what the command decode wrote, or its first `NOTE_HEAD`
        seconds written out, decides. The whole is written out once it has ended."""
        if words is None:
            hear_words = self.recognizer.hear_words  # type: ignore[attr-defined]
            head_samples = round(NOTE_HEAD * SAMPLE_RATE)
            head = segment if len(segment.audio) <= head_samples else replace(
                segment, audio=segment.audio[:head_samples], end=segment.start + NOTE_HEAD,
                speech_end=None)
            self.segments += 1
            start = hear_words(head)
            words = start.text if start is not None else None
        if words is not None and note_text(words) is not None:
            self._hold(segment, HeldWords.NOTE)


def settings_for(recognizer: Recognizer) -> SegmenterSettings:
    """The segmenter's settings, with the engine's own where it has them: `first_look` (seconds
    of quiet, when it measures better with another value) and `offer_long` (True when it can
    reject a long utterance by its words)."""
    settings = SegmenterSettings()
    first_look = getattr(recognizer, "first_look", None)
    if first_look is not None:
        settings = replace(settings, first_look=first_look)
    if getattr(recognizer, "offer_long", False):
        settings = replace(settings, offer_long=True)
    max_utterance = getattr(recognizer, "max_utterance", None)
    if max_utterance is not None:
        settings = replace(settings, max_utterance=max_utterance)
    return settings


def joined(previous: Segment | None, segment: Segment, longest: float) -> Segment | None:
    """`previous` and `segment` as one utterance (the quiet between them kept as digital
    silence), or None when there is no previous piece or together they last over `longest`."""
    if previous is None or segment.end - previous.start > longest:
        return None
    keep = max(0, min(len(previous.audio), round((segment.start - previous.start) * SAMPLE_RATE)))
    gap = max(0, round((segment.start - previous.end) * SAMPLE_RATE))
    audio = np.concatenate([previous.audio[:keep], np.zeros(gap, np.int16), segment.audio])
    return Segment(audio=audio, start=previous.start, end=previous.start + len(audio) / SAMPLE_RATE,
                   pause_before=previous.pause_before, speech_end=segment.last_speech)


def sounds_like(words: str, text: str) -> float:
    """How closely `words` ("softer", "too hard") are spelled like the closest run of as many
    words of `text`, or one more or fewer ("Soft or please?" -> "soft or": 0.83): difflib's
    ratio of their letters, spaces dropped; 0 for none."""
    said = normalize(text).split()
    wanted = normalize(words).split()
    letters, size = "".join(wanted), len(wanted)
    best = 0.0
    for width in {max(1, size - 1), size, size + 1}:
        for k in range(len(said) - width + 1):
            run = "".join(said[k : k + width])
            best = max(best, SequenceMatcher(None, letters, run).ratio())
    return best


class HeldWords(Enum):
    """What held free speech is: the client's answer, or a note."""

    ANSWER = "answer"
    NOTE = "note"


@dataclass(frozen=True)
class FirstLook:
    """What the provisional decode of the open utterance heard, and whether it was acted on."""

    segment: Segment
    heard: Heard | None
    answered: bool
    words: str | None = None  # what the engine wrote for it
