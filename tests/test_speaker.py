"""The Speaker (`voice_guide/speak/speaker.py`): `Say` actions rendered and played on their
routes (real streams on a private PulseAudio), and shown instead when speech cannot be made."""

from __future__ import annotations

import logging

import pytest
from pulse import PulseServer, Recorder, active_span

from voice_guide.devices import resolve_output
from voice_guide.events import Route, Say
from voice_guide.speak.routes import Player
from voice_guide.speak.speaker import Speaker
from voice_guide.speak.tts import Tts, Voice

RATE = 22050
PROMPT = "How is the pressure? Say lighter, deeper, or good."
CUE = "Move to the head of the table."


@pytest.mark.audio
def test_speaker_speaks_say_actions_on_their_routes(pulse: PulseServer) -> None:
    printed: list[tuple[str, str]] = []
    speaker = Speaker.open(
        practitioner_device="earbud", room_device="room",
        print_text=lambda text, route: printed.append((text, route)),
    )
    try:
        speaker.prepare([PROMPT])
        with Recorder("room.monitor") as room, Recorder("earbud.monitor") as earbud:
            utterance = speaker.say(Say(PROMPT, Route.ROOM, "checkin"), 0.0)
            assert utterance is not None
            assert speaker.drain(15)
        assert utterance.outcome == "played"
        assert active_span(room.audio(), RATE) is not None
        assert active_span(earbud.audio(), RATE) is None
        assert printed == []
        assert speaker.gate is speaker.player.gate  # what the listening side feeds through
    finally:
        speaker.close()


@pytest.mark.audio
def test_speaker_shows_the_text_when_speech_fails(pulse: PulseServer) -> None:
    printed: list[tuple[str, str]] = []
    broken = Tts(Voice(name="no-such-voice"))  # the synthesizer refuses it: a real failure
    with Player(resolve_output("earbud"), resolve_output("room")) as player:
        speaker = Speaker(broken, player, lambda text, route: printed.append((text, route)))
        assert speaker.say(Say(CUE, Route.PRACTITIONER)) is None
    assert printed == [(CUE, "practitioner")]


@pytest.mark.audio
def test_by_default_an_unspoken_text_is_logged(
    pulse: PulseServer, caplog: pytest.LogCaptureFixture
) -> None:
    broken = Tts(Voice(name="no-such-voice"))
    caplog.set_level(logging.WARNING, logger="voice_guide.speak.speaker")
    with Player(resolve_output("earbud"), resolve_output("room")) as player:
        assert Speaker(broken, player).say(Say(CUE, Route.ROOM)) is None
    assert f"not spoken [room] {CUE}" in [r.getMessage() for r in caplog.records]
