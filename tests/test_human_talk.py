"""Real human speech that holds no command must not be heard as one (Debian's
pocketsphinx-testdata: LibriVox readings, spoken card names, digits, "go forward ten meters").

Human recordings installed with the system packages (the corpus in ../shared/corpus is the
other source). Whisper, the default engine, runs the whole listening pipeline (segmenter +
recognizer, full vocabulary) on every file, clean and in pink room noise.
"""

from __future__ import annotations

import numpy as np
import pytest
from speech import HUMAN_TALK_DIR, human_talk, pad, with_noise

from voice_guide.listen.pipeline import listen_to
from voice_guide.listen.whisper_engine import WhisperRecognizer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not HUMAN_TALK_DIR.is_dir(),
                       reason="pocketsphinx-testdata not installed (scripts/setup-system.sh)"),
]


@pytest.fixture(scope="module")
def talk() -> dict[str, np.ndarray]:
    return human_talk()


@pytest.fixture(scope="module")
def recognizer() -> WhisperRecognizer:
    return WhisperRecognizer()


def test_the_recordings_are_real_speech(talk: dict[str, np.ndarray]) -> None:
    assert len(talk) == 14
    assert 45.0 < sum(len(a) for a in talk.values()) / 16_000 < 50.0
    assert all(np.abs(a.astype(np.int32)).max() > 3000 for a in talk.values())  # not silence


@pytest.mark.parametrize("snr", [None, 20.0, 10.0], ids=["quiet", "20dB", "10dB"])
def test_human_talk_is_not_a_command(
    talk: dict[str, np.ndarray], recognizer: WhisperRecognizer, snr: float | None
) -> None:
    heard = {name: [h.phrase for h in listen_to(
                 recognizer, pad(audio) if snr is None else with_noise(pad(audio), snr))]
             for name, audio in talk.items()}
    assert {name: phrases for name, phrases in heard.items() if phrases} == {}
