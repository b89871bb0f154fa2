"""The pocketsphinx engine on the real US-English model of its wheel, on generated speech.

Floors only (the benchmark prints the real figures): 3 in 4 clean commands right, few
wrong, long speech and most other words rejected, narrowing the grammar works.
"""

from __future__ import annotations

import numpy as np
import pytest
from speech import (
    COMMAND_PHRASES,
    FLITE_VOICES,
    NEURAL_VOICES,
    OTHER_WORDS,
    QUICK_VOICES,
    SENTENCES,
    pad,
    synthesize,
    synthesize_many,
    with_noise,
)

from voice_guide.commands import ALL_COMMANDS, CONFIRM_COMMANDS, Command
from voice_guide.listen.engine import Segment
from voice_guide.listen.pipeline import Listener, listen_to
from voice_guide.listen.pocketsphinx_engine import PocketsphinxRecognizer

pytestmark = pytest.mark.slow
RATE = 16_000


@pytest.fixture(scope="module")
def recognizer() -> PocketsphinxRecognizer:
    return PocketsphinxRecognizer()


def as_segment(audio: np.ndarray, start: float = 0.0) -> Segment:
    return Segment(audio=audio, start=start, end=start + len(audio) / RATE)


def test_clean_commands_from_flite_voices_are_mostly_right(
    recognizer: PocketsphinxRecognizer,
) -> None:
    voices = FLITE_VOICES[:3]
    items = [(p, c, v) for p, c in COMMAND_PHRASES for v in voices]
    correct, wrong = _score_at_30_db(recognizer, items)
    assert correct >= 0.75 * len(items), f"{correct} of {len(items)} right"
    assert wrong <= 0.05 * len(items), f"{wrong} of {len(items)} wrong"


def test_neural_voices_in_light_noise_are_mostly_right(recognizer: PocketsphinxRecognizer) -> None:
    """The closest proxy for human speech here: piper and hibari voices, two resampled."""
    voices = (NEURAL_VOICES[0], NEURAL_VOICES[1], NEURAL_VOICES[2], NEURAL_VOICES[5])
    items = [(p, c, v) for i, (p, c) in enumerate(COMMAND_PHRASES) for v in voices[i % 2 :: 2]]
    correct, wrong = _score_at_30_db(recognizer, items)
    assert correct >= 0.6 * len(items), f"{correct} of {len(items)} right"
    assert wrong <= 0.08 * len(items), f"{wrong} of {len(items)} wrong"


def _score_at_30_db(recognizer: PocketsphinxRecognizer, items: list) -> tuple[int, int]:
    """(right, wrong) over (phrase, command, voice) items, each clip in light (30 dB) noise."""
    clips = synthesize_many((p, v) for p, _, v in items)
    correct = wrong = 0
    for i, ((_, command, _), clip) in enumerate(zip(items, clips, strict=True)):
        heard = recognizer.recognize(as_segment(with_noise(pad(clip, 0.3, 0.3), 30, i)),
                                     ALL_COMMANDS)
        if heard is not None:
            correct += heard.command == command
            wrong += heard.command != command
    return correct, wrong


def test_heard_carries_phrase_confidence_and_stream_times(
    recognizer: PocketsphinxRecognizer,
) -> None:
    clip = synthesize("how much longer", FLITE_VOICES[1])
    audio = with_noise(pad(clip, 0.3, 0.3), 30, 1)
    heard = recognizer.recognize(as_segment(audio, start=100.0), ALL_COMMANDS)
    assert heard is not None
    assert heard.command == Command.TIME_LEFT
    assert heard.phrase == "how much longer"
    assert 0.0 <= heard.confidence <= 1.0
    assert 100.0 <= heard.start < heard.end <= 100.0 + len(audio) / RATE
    assert heard.end - heard.start == pytest.approx(len(clip) / RATE, abs=0.3)


def test_long_sentences_are_never_commands(recognizer: PocketsphinxRecognizer) -> None:
    for i, sentence in enumerate(SENTENCES[:8]):
        audio = with_noise(pad(synthesize(sentence, QUICK_VOICES[i % 4]), 0.3, 0.3), 30, i)
        assert recognizer.recognize(as_segment(audio), ALL_COMMANDS) is None, sentence


def test_most_other_words_are_rejected(recognizer: PocketsphinxRecognizer) -> None:
    items = [(w, FLITE_VOICES[i % 3]) for i, w in enumerate(OTHER_WORDS)]
    clips = synthesize_many(items)
    accepted = [
        word
        for i, ((word, _), clip) in enumerate(zip(items, clips, strict=True))
        if recognizer.recognize(as_segment(with_noise(pad(clip, 0.3, 0.3), 30, i)), ALL_COMMANDS)
    ]
    assert len(accepted) <= 0.15 * len(items), accepted


def test_narrowed_grammar_only_hears_what_is_accepted(recognizer: PocketsphinxRecognizer) -> None:
    voice = FLITE_VOICES[0]
    yes = with_noise(pad(synthesize("yes", voice), 0.3, 0.3), 30, 1)
    heard = recognizer.recognize(as_segment(yes), CONFIRM_COMMANDS)
    assert heard is not None and heard.command == Command.YES
    for i, phrase in enumerate(["next step", "repeat that", "tell me more", "go back"]):
        audio = with_noise(pad(synthesize(phrase, voice), 0.3, 0.3), 30, i)
        heard = recognizer.recognize(as_segment(audio), CONFIRM_COMMANDS)
        assert heard is None, f"{phrase!r} heard as {heard}"
    assert recognizer.recognize(as_segment(yes), frozenset()) is None


def test_pipeline_hears_commands_in_a_stream_and_honours_mute(
    recognizer: PocketsphinxRecognizer,
) -> None:
    voice = FLITE_VOICES[1]
    phrases = ("next step", "tell me more", "say again")
    parts = [pad(synthesize(p, voice), 1.0, 0.0) for p in phrases]
    stream = with_noise(np.concatenate([*parts, np.zeros(RATE, np.int16)]), 25, 3)
    assert [h.command for h in listen_to(recognizer, stream)] == [
        Command.NEXT, Command.DETAILS, Command.REPEAT,
    ]
    # the room speaker talks over the second command: muted then, so it is not heard
    listener = Listener(recognizer, commands=lambda: ALL_COMMANDS)
    first_part = len(parts[0]) + RATE // 2
    heard = listener.feed(stream[:first_part])
    listener.mute_until((len(parts[0]) + len(parts[1])) / RATE)
    for offset in range(first_part, len(stream), 1600):
        heard += listener.feed(stream[offset : offset + 1600])
    heard += listener.flush()
    assert [h.command for h in heard] == [Command.NEXT, Command.REPEAT]
    assert listener.time == pytest.approx(len(stream) / RATE)
