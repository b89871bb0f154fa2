"""The classifier's training corpus keeps the benchmarks honest: no evaluation voice, no
benchmark word, no command among the negatives; and the pitch-scaled neural voices the
extension adds really are lower voices (real synthesis)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from speech import NEURAL_VOICES, OTHER_WORDS, SENTENCES, Voice, synthesize

sys.path.insert(0, str(Path(__file__).parents[1]))  # `training` is a project folder, not installed

from training.train_commands import (
    FRAGMENTS,
    HARD_NEGATIVES,
    HELD_OUT_ESPEAK_ACCENTS,
    HELD_OUT_FLITE,
    HELD_OUT_NEURAL,
    MORE_FRAGMENTS,
    MORE_HARD_NEGATIVES,
    _usable_negative,
    base_voices,
    extension_voices,
    negative_words,
    training_voices,
    validation_voices,
)
from voice_guide.commands import parse

RATE = 16_000


@pytest.mark.parametrize("seed", [7, 0])
def test_training_never_uses_an_evaluation_voice(seed: int) -> None:
    voices = training_voices(seed)
    assert voices == base_voices(seed) + extension_voices(seed)
    assert len({v.label for v in voices}) == len(voices)  # no voice twice
    evaluated = {v.label for v in NEURAL_VOICES}
    for voice in voices:
        assert voice.engine not in HELD_OUT_NEURAL, voice
        assert voice.label not in evaluated, voice
        if voice.engine == "espeak":
            assert voice.name.split("+")[0] not in HELD_OUT_ESPEAK_ACCENTS, voice
        if voice.engine == "flite":
            assert voice.name not in HELD_OUT_FLITE, voice


def test_validation_voices_come_from_both_parts_of_the_corpus() -> None:
    voices = training_voices(7)
    chosen = validation_voices(voices)
    base = len(base_voices(7))
    assert any(i < base for i in chosen) and any(i >= base for i in chosen)
    for engine in ("espeak", "flite", "hibari"):
        assert any(voices[i].engine == engine for i in chosen), engine
    assert len(chosen) < len(voices) / 4  # most voices are trained on in the calibration run


def test_negatives_are_neither_commands_nor_benchmark_items() -> None:
    benchmark_words = {w for text in OTHER_WORDS + SENTENCES
                       for w in text.lower().replace(",", " ").replace(".", " ")
                       .replace("?", " ").split()}
    for word in negative_words(5000):
        assert parse(word) is None and word not in benchmark_words, word
    hard = [h for h in HARD_NEGATIVES + MORE_HARD_NEGATIVES if _usable_negative(h)]
    assert len(hard) > 300
    for text in hard + list(FRAGMENTS + MORE_FRAGMENTS):
        assert parse(text) is None and text not in OTHER_WORDS, text


def test_a_pitch_scaled_neural_voice_is_lower_and_keeps_its_timing() -> None:
    text = "hello there, how are you today"
    normal = synthesize(text, Voice("hibari", "heart", 0, 1.0, 0.0, 1.0))
    lower = synthesize(text, Voice("hibari", "heart", 0, 1.0, 0.0, 0.6))
    assert Voice("hibari", "heart", 0, 1.0, 0.0, 0.6).label.endswith(":f0.6")
    assert Voice("hibari", "heart", 0).label == "hibari:heart:p0:s1"  # unchanged without f0
    assert abs(len(lower) - len(normal)) < 0.05 * RATE
    assert _median_pitch(lower) < 0.8 * _median_pitch(normal)


def _median_pitch(audio: np.ndarray) -> float:
    """Median F0 (Hz) of the loud frames, from the cepstrum peak between 60 and 400 Hz."""
    x = audio.astype(np.float64)
    found = []
    for start in range(0, len(x) - 1024, 400):
        frame = x[start : start + 1024] * np.hanning(1024)
        if np.sqrt(np.mean(frame**2)) < 500:
            continue
        cepstrum = np.fft.irfft(np.log(np.abs(np.fft.rfft(frame, 4096)) + 1e-6))
        low, high = RATE // 400, RATE // 60
        found.append(RATE / (low + int(np.argmax(cepstrum[low:high]))))
    return float(np.median(found))
