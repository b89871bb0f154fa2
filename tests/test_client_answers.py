"""The client's answer to a pressure check-in, by voice, in their own words (issue 20).

While the answer window is open, each whole utterance is transcribed by the real Whisper model
and read by the same rules as typed words (`commands.read_words`): "a little deeper" is relayed
to the practitioner, and words that answer nothing reach the practitioner as "not understood".
The voices are neural test voices (no human recording of client answers exists here).
"""

from __future__ import annotations

import numpy as np
import pytest
from speech import NEURAL_VOICES, noise_only, pad, synthesize, with_noise

from voice_guide.commands import ALL_COMMANDS, Command
from voice_guide.events import Heard, Unclear
from voice_guide.listen.factory import make_recognizer
from voice_guide.listen.pipeline import (
    Listener,
    UtteranceRules,
    hear_all,
    listen_to,
    sounds_like,
)
from voice_guide.prompts import ANSWER_UNCLEAR
from voice_guide.protocol import load
from voice_guide.session import SessionSettings
from voice_guide.simulate_audio import CHARS_PER_SECOND, simulate_audio

pytestmark = pytest.mark.slow

RATE = 16_000
TINY = load("tests/protocols/tiny.yaml")
SETTINGS = SessionSettings(checkin_every_minutes=0.5, checkin_min_gap_seconds=20)


@pytest.fixture(scope="module")
def whisper():
    recognizer, _ = make_recognizer("whisper")
    return recognizer


@pytest.mark.parametrize("voice", NEURAL_VOICES[:2], ids=lambda v: v.name)
@pytest.mark.parametrize(("said", "command"), [
    ("a little deeper", Command.DEEPER), ("too hard", Command.LIGHTER),
    ("that's perfect", Command.GOOD), ("could you go a bit lighter", Command.LIGHTER),
])
def test_an_answer_in_the_clients_own_words_is_read_as_typed_words_are(whisper, voice, said,
                                                                       command) -> None:
    audio = with_noise(pad(synthesize(said, voice), 1.0, 1.5), 25.0, seed=1)
    heard = hear_all(whisper, audio, answers=True)
    assert [(type(h), getattr(h, "command", None)) for h in heard] == [(Heard, command)]
    # outside an answer window the same words are no command: only a phrase said alone is
    assert listen_to(whisper, audio) == []


def test_words_that_answer_nothing_are_unclear_and_silence_is_nothing(whisper) -> None:
    audio = with_noise(pad(synthesize("banana bread", NEURAL_VOICES[0]), 1.0, 1.5), 25.0, seed=2)
    [unclear] = hear_all(whisper, audio, answers=True)
    assert isinstance(unclear, Unclear) and "banana" in unclear.text.lower()
    assert 0.5 < unclear.start < 1.3 < unclear.end
    assert hear_all(whisper, noise_only(4.0, -55, seed=3), answers=True) == []


def test_an_answer_word_smeared_by_whisper_is_read_again_with_the_answer_words(whisper) -> None:
    # Whisper writes this voice's "softer please" as "Soft or please?" (benchmarks.answers:
    # so for every voice, clean and in the room); told the answer words, it writes "Softer"
    audio = with_noise(pad(synthesize("softer please", NEURAL_VOICES[0]), 1.0, 1.5), 25.0, seed=6)
    no_second_look = UtteranceRules(answer_second_look=None)
    [first] = _hear(whisper, audio, no_second_look)
    assert isinstance(first, Unclear) and sounds_like("softer", first.text) >= 0.7
    [heard] = hear_all(whisper, audio, answers=True)
    assert isinstance(heard, Heard) and heard.command is Command.LIGHTER
    assert "softer" in heard.phrase


def test_words_unlike_any_answer_stay_unclear_at_the_second_look(whisper) -> None:
    # told the answer words, Whisper may write one of them over anything; the first writing
    # must sound like it
    audio = with_noise(pad(synthesize("my neck is a bit stiff", NEURAL_VOICES[1]), 1.0, 1.5),
                       25.0, seed=7)
    [unclear] = hear_all(whisper, audio, answers=True)
    assert isinstance(unclear, Unclear) and "neck" in unclear.text.lower()


def _hear(whisper, audio: np.ndarray, rules: UtteranceRules) -> list[Heard | Unclear]:  # type: ignore[no-untyped-def]
    listener = Listener(whisper, ALL_COMMANDS, answers=True, rules=rules)
    heard: list[Heard | Unclear] = []
    for offset in range(0, len(audio), 1600):
        heard += listener.feed(audio[offset : offset + 1600])
    return heard + listener.flush()


def test_a_command_said_while_the_answer_is_awaited_is_still_a_command(whisper) -> None:
    audio = with_noise(pad(synthesize("where am i", NEURAL_VOICES[1]), 1.0, 1.5), 25.0, seed=4)
    heard = hear_all(whisper, audio, ALL_COMMANDS, answers=True)
    assert [h.command for h in heard if isinstance(h, Heard)] == [Command.WHERE]


def _answer_after_the_question(answer: np.ndarray) -> tuple[np.ndarray, float]:
    """A recording with `answer` said 1 s after the first check-in question ends (found by a
    run on silence: nothing said before it, so the question's time does not change)."""
    quiet = noise_only(60.0, -60, seed=5)
    log = simulate_audio(TINY, quiet, _Deaf(), settings=SETTINGS).log
    [question] = [r for r in log if r["type"] == "say" and r["kind"] == "checkin"][:1]
    start = question["t"] + len(question["text"]) / CHARS_PER_SECOND + 1.0
    track = quiet.astype(np.float64)
    at = round(start * RATE)
    track[at : at + len(answer)] += answer
    assert question["route"] == "room"
    return np.clip(np.round(track), -32768, 32767).astype(np.int16), start


def test_a_spoken_answer_is_relayed_to_the_practitioner(whisper) -> None:
    recording, said_at = _answer_after_the_question(synthesize("a little deeper", NEURAL_VOICES[1]))
    log = simulate_audio(TINY, recording, whisper, settings=SETTINGS).log
    [heard] = [r for r in log if r["type"] == "heard"]
    assert heard["command"] == "deeper" and heard["phrase"] == "a little deeper"
    assert heard["start"] == pytest.approx(said_at, abs=0.5)
    relay = [r for r in log if r["type"] == "say" and r["kind"] == "feedback"]
    assert [(r["text"], r["route"]) for r in relay] == [
        ("Client would like deeper pressure.", "practitioner")]
    assert next(r["answer"] for r in log if r["type"] == "feedback") == "deeper"


def test_a_spoken_answer_not_understood_is_told_to_the_practitioner(whisper) -> None:
    recording, said_at = _answer_after_the_question(synthesize("banana bread", NEURAL_VOICES[0]))
    log = simulate_audio(TINY, recording, whisper, settings=SETTINGS).log
    [unknown] = [r for r in log if r["type"] == "unknown"]
    assert "banana" in unknown["phrase"].lower()
    assert unknown["start"] == pytest.approx(said_at, abs=0.5)
    assert [r["type"] for r in log].count("unclear_answer") == 1
    told = [r for r in log if r["type"] == "say" and r["text"] == ANSWER_UNCLEAR]
    assert [r["route"] for r in told] == ["practitioner"]


class _Deaf:
    """Hears nothing: the timeline of a session where nobody speaks."""

    name = "deaf"

    def recognize(self, segment, commands):  # type: ignore[no-untyped-def]
        return None
