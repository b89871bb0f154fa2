"""Notes by voice (issue 19): an utterance that begins with "note" or "make a note" is written
out whole by the real Whisper model (free speech, up to 15 s) and becomes `Heard(NOTE, text=...)`;
"note" heard at a pause is never acted on before the rest is said; talk that merely contains
the word is no note. Neural test voices: no human recording of notes exists here."""

from __future__ import annotations

import numpy as np
import pytest
from speech import NEURAL_VOICES, pad, synthesize, with_noise

from voice_guide.commands import GLOBAL_COMMANDS, Command
from voice_guide.events import Heard
from voice_guide.listen.factory import make_recognizer
from voice_guide.listen.pipeline import hear_all
from voice_guide.protocol import load
from voice_guide.simulate_audio import simulate_audio

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def whisper():
    return make_recognizer("whisper")[0]


def _said(text: str, voice: int = 1, seed: int = 1) -> np.ndarray:
    return with_noise(pad(synthesize(text, NEURAL_VOICES[voice]), 1.0, 1.5), 25.0, seed=seed)


@pytest.mark.parametrize(("said", "phrase", "words"), [
    ("note tight left shoulder", "note", ["tight left shoulder"]),
    # a long note with pauses at its commas: one note, written out whole
    ("make a note, sore spot under the right shoulder blade, eased after kneading, "
     "check it again next time", "make a note",
     ["under the right shoulder blade", "eased after kneading"]),
])
def test_a_note_is_written_out_whole(whisper, said, phrase, words) -> None:
    heard = hear_all(whisper, _said(said), GLOBAL_COMMANDS)
    [note] = [h for h in heard if isinstance(h, Heard)]
    assert note.command == Command.NOTE and note.phrase == phrase
    for part in words:
        assert part in note.text.lower().replace(",", "")
    assert len(heard) == 1


def test_talk_with_the_word_in_it_is_no_note(whisper) -> None:
    audio = _said("I made a note of it in my calendar for next week", voice=0, seed=2)
    assert hear_all(whisper, audio, GLOBAL_COMMANDS) == []


def test_a_spoken_note_is_journaled_with_its_move_and_acknowledged(whisper) -> None:
    quiet = np.zeros(16_000 * 8, np.int16)
    note = synthesize("note tight left shoulder", NEURAL_VOICES[1])
    recording = np.concatenate([quiet, note, np.zeros(16_000 * 3, np.int16)])
    log = simulate_audio(load("tests/protocols/tiny.yaml"), with_noise(recording, 30, seed=3),
                         whisper).log
    [record] = [r for r in log if r["type"] == "note"]
    assert record["text"].lower().startswith("tight left shoulder")
    assert record["index"] == 1
    noted = [r for r in log if r["type"] == "say" and r["kind"] == "note"]
    assert [(r["text"], r["route"]) for r in noted] == [("Noted.", "practitioner")]
