"""Real human speech that holds no command must not be heard as one (Debian's
pocketsphinx-testdata: LibriVox readings, spoken card names, digits, "go forward ten meters").

The only human recordings that install here; every other test voice is synthetic. Each engine
runs the whole listening pipeline (segmenter + recognizer, full vocabulary) on every file.
"""

from __future__ import annotations

import numpy as np
import pytest
from speech import HUMAN_TALK_DIR, human_talk, pad, with_noise

from voice_guide.listen.classifier_engine import ClassifierRecognizer
from voice_guide.listen.engine import Recognizer
from voice_guide.listen.pipeline import listen_to
from voice_guide.listen.pocketsphinx_engine import PocketsphinxRecognizer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not HUMAN_TALK_DIR.is_dir(),
                       reason="pocketsphinx-testdata not installed (scripts/setup-system.sh)"),
]


@pytest.fixture(scope="module")
def talk() -> dict[str, np.ndarray]:
    return human_talk()


def test_the_recordings_are_real_speech(talk: dict[str, np.ndarray]) -> None:
    assert len(talk) == 14
    assert 45.0 < sum(len(a) for a in talk.values()) / 16_000 < 50.0
    assert all(np.abs(a.astype(np.int32)).max() > 3000 for a in talk.values())  # not silence


@pytest.mark.parametrize("engine", ["pocketsphinx", "classifier"])
def test_quiet_room_human_talk_is_not_a_command(talk: dict[str, np.ndarray], engine: str) -> None:
    recognizer: Recognizer = (
        PocketsphinxRecognizer() if engine == "pocketsphinx" else ClassifierRecognizer()
    )
    heard = {name: [h.phrase for h in listen_to(recognizer, pad(audio))]
             for name, audio in talk.items()}
    assert {name: phrases for name, phrases in heard.items() if phrases} == {}


def test_classifier_hears_no_command_in_noisy_human_talk(talk: dict[str, np.ndarray]) -> None:
    recognizer = ClassifierRecognizer()
    for snr in (20.0, 10.0):
        heard = {name: [h.phrase for h in listen_to(recognizer, with_noise(pad(audio), snr))]
                 for name, audio in talk.items()}
        assert {name: phrases for name, phrases in heard.items() if phrases} == {}, snr
