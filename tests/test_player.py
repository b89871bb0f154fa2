"""The player (`voice_guide/speak/routes.py` and its output channels, `channel.py`) on real
streams: a private PulseAudio with `earbud` and `room` null sinks, heard through their monitors.
Which outputs the microphone gate listens to is checked on the spans recorded (the gate's rule
itself, and the mute on a real microphone, are in test_gate.py)."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest
from heard import pieces_heard
from pulse import PulseServer, Recorder, active_span

from voice_guide.devices import resolve_output
from voice_guide.events import Route, RouteFallback, Undelivered
from voice_guide.speak.channel import IDLE_STOP_SECONDS, Utterance
from voice_guide.speak.gate import TAIL_SECONDS, MicGate
from voice_guide.speak.routes import Player
from voice_guide.speak.tts import Pcm, Tts

RATE = 22050
WHOLE = 0.75  # of a text's pieces found in order on the monitor: it arrived (tests/heard.py)
PROMPT = "How is the pressure? Say lighter, deeper, or good."
LONG = (
    "Use the heels of both hands and make slow circles along the muscles beside the spine, "
    "moving up towards the shoulders."
)


@pytest.fixture(scope="module")
def speech() -> Tts:
    tts = Tts()
    tts.render_ahead([PROMPT, LONG])
    tts.wait_ahead(30)
    return tts


def as_float(pcm: Pcm) -> np.ndarray:
    return pcm.samples.astype(np.float32) / 32768


def loudness(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) if len(audio) else 0.0


# --- real streams -----------------------------------------------------------------------------


@pytest.fixture
def player(pulse: PulseServer):  # type: ignore[no-untyped-def]
    notes: list[RouteFallback | Undelivered] = []
    undelivered: list[str] = []
    chosen = Player(
        resolve_output("earbud"), resolve_output("room"),
        on_note=notes.append, on_undelivered=lambda u: undelivered.append(u.text),
    )
    chosen.notes = notes  # type: ignore[attr-defined]
    chosen.undelivered = undelivered  # type: ignore[attr-defined]
    chosen.open()
    yield chosen
    chosen.close()


@pytest.mark.audio
def test_room_prompt_arrives_on_the_room_sink_only(player: Player, speech: Tts) -> None:
    pcm = speech.render(PROMPT)
    with Recorder("room.monitor") as room, Recorder("earbud.monitor") as earbud:
        utterance = player.play(pcm, Route.ROOM, PROMPT)
        assert utterance.wait(pcm.duration + 5)
        time.sleep(0.3)
    assert utterance.outcome == "played"
    recorded = room.audio()
    assert pieces_heard(recorded, as_float(pcm), RATE) >= WHOLE
    span = active_span(recorded, RATE)
    expected = active_span(as_float(pcm), RATE)
    assert span is not None and expected is not None
    # Nothing cut off, nothing played twice (a busy machine's underruns add only short silences).
    assert expected[1] - expected[0] - 0.1 < span[1] - span[0] < expected[1] - expected[0] + 0.5
    assert loudness(recorded) > 0.5 * loudness(as_float(pcm)) * len(pcm.samples) / len(recorded)
    assert loudness(earbud.audio()) < 1e-4  # route separation


@pytest.mark.audio
def test_practitioner_cue_arrives_on_the_earbud_sink_only(player: Player, speech: Tts) -> None:
    pcm = speech.render(PROMPT)
    with Recorder("room.monitor") as room, Recorder("earbud.monitor") as earbud:
        assert player.play(pcm, Route.PRACTITIONER, PROMPT).wait(pcm.duration + 5)
        time.sleep(0.3)
    assert pieces_heard(earbud.audio(), as_float(pcm), RATE) >= WHOLE
    assert loudness(room.audio()) < 1e-4


@pytest.mark.audio
def test_both_routes_play_at_once(player: Player, speech: Tts) -> None:
    cue, prompt = speech.render(LONG), speech.render(PROMPT)
    with Recorder("room.monitor") as room, Recorder("earbud.monitor") as earbud:
        first = player.play(cue, Route.PRACTITIONER, LONG)
        second = player.play(prompt, Route.ROOM, PROMPT)
        assert second.wait(prompt.duration + 5)
        assert not first.done.is_set()  # the room did not wait for the earbuds
        assert first.wait(cue.duration + 5)
    assert pieces_heard(earbud.audio(), as_float(cue), RATE) >= WHOLE
    assert pieces_heard(room.audio(), as_float(prompt), RATE) >= WHOLE


@pytest.mark.audio
def test_one_route_plays_its_queue_in_order(player: Player, speech: Tts) -> None:
    first = player.play(speech.render(PROMPT), Route.ROOM, "first")
    second = player.play(speech.render(PROMPT), Route.ROOM, "second")
    assert second.wait(15)
    assert first.outcome == second.outcome == "played"
    assert first.ended_at is not None and second.started_at is not None
    assert second.started_at >= first.ended_at - 0.01


@pytest.mark.audio
def test_stop_interrupts_at_once(player: Player, speech: Tts) -> None:
    pcm = speech.render(LONG)
    with Recorder("room.monitor") as room:
        utterance = player.play(pcm, Route.ROOM, LONG)
        queued = player.play(pcm, Route.ROOM, "queued behind it")
        time.sleep(1.0)
        stopped_at = time.monotonic()
        player.stop()
        time.sleep(0.8)
    assert utterance.outcome == "interrupted"
    assert queued.outcome == "interrupted"
    assert not player.busy()
    # The microphone is listened to again a tail after the cut, not after the whole text.
    assert utterance.ended_at is not None and utterance.started_at is not None
    assert utterance.ended_at < utterance.started_at + pcm.duration - 2.0
    assert not player.gate.muted(utterance.ended_at + 2 * player.latency + TAIL_SECONDS)
    recorded = room.audio()
    after = recorded[int((stopped_at + 0.2 - room.start_time) * RATE):]
    before = recorded[: int((stopped_at - room.start_time) * RATE)]
    assert loudness(before) > 0.01
    assert loudness(after) < 1e-4  # silent within 0.2 s of stop()


@pytest.mark.audio
def test_removed_room_sink_falls_back_and_replays_from_the_start(
    player: Player, pulse: PulseServer, speech: Tts, caplog: pytest.LogCaptureFixture
) -> None:
    pcm = speech.render(LONG)
    caplog.set_level(logging.WARNING, logger="voice_guide.speak.routes")
    with Recorder("earbud.monitor") as earbud:
        utterance = player.play(pcm, Route.ROOM, LONG)
        time.sleep(1.0)
        pulse.unload_sink("room")
        assert utterance.wait(pcm.duration + 5)
        time.sleep(0.3)
    assert utterance.outcome == "played"
    assert utterance.replays == 1
    assert utterance.output == "earbud"
    assert player.output_for(Route.ROOM).pulse == "earbud"
    # The whole text, from its first word, is on the earbuds.
    heard = earbud.audio()
    assert pieces_heard(heard, as_float(pcm), RATE) >= WHOLE
    assert pieces_heard(heard, as_float(pcm)[:RATE], RATE) >= 0.5
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("room failed" in message for message in errors)
    fallbacks = [n for n in player.notes if isinstance(n, RouteFallback)]  # type: ignore[attr-defined]
    assert fallbacks and fallbacks[0].route == Route.ROOM
    assert fallbacks[0].to == "earbud"


@pytest.mark.audio
def test_removed_earbuds_fall_back_to_the_room_which_the_mic_hears(
    player: Player, pulse: PulseServer, speech: Tts
) -> None:
    pcm = speech.render(PROMPT)
    pulse.unload_sink("earbud")
    with Recorder("room.monitor") as room:
        utterance = player.play(pcm, Route.PRACTITIONER, PROMPT)
        assert utterance.wait(pcm.duration + 5)
    assert utterance.outcome == "played"
    assert utterance.output == "room"
    assert muted_in_the_middle(player.gate, utterance)  # the microphone hears the room
    assert pieces_heard(room.audio(), as_float(pcm), RATE) >= WHOLE


@pytest.mark.audio
def test_with_no_output_left_the_text_is_reported(
    player: Player, pulse: PulseServer, speech: Tts
) -> None:
    # Only the default device would be left; make it unusable too by removing every sink.
    pulse.unload_sink("earbud")
    pulse.unload_sink("room")
    utterance = player.play(speech.render(PROMPT), Route.ROOM, PROMPT)
    assert utterance.wait(10)
    # With no sink at all, PulseAudio's default device has nowhere to play: either opening it
    # fails (undelivered, reported) or it plays into nothing; nothing may hang or vanish.
    assert utterance.outcome in {"undelivered", "played"}
    if utterance.outcome == "undelivered":
        assert player.undelivered == [PROMPT]  # type: ignore[attr-defined]


def muted_in_the_middle(gate: MicGate, utterance: Utterance) -> bool:
    """Whether `gate` mutes the microphone halfway through `utterance` as it was played (its
    recorded span, not the test's clock)."""
    assert utterance.started_at is not None and utterance.ended_at is not None
    return gate.muted((utterance.started_at + utterance.ended_at) / 2)


@pytest.mark.audio
def test_mic_gate_follows_room_playback_but_not_earbuds(player: Player, speech: Tts) -> None:
    pcm = speech.render(PROMPT)
    cue = player.play(pcm, Route.PRACTITIONER, PROMPT)
    assert cue.wait(pcm.duration + 5)
    prompt = player.play(pcm, Route.ROOM, PROMPT)
    assert prompt.wait(pcm.duration + 5)
    assert cue.started_at is not None and cue.ended_at is not None
    assert prompt.started_at is not None
    # Earbuds: barge-in allowed (until the room prompt's lead: it starts as the cue ends).
    unmuted_until = min(cue.ended_at, prompt.started_at - player.gate.lead - 0.001)
    assert not player.gate.muted(cue.started_at, unmuted_until)
    assert muted_in_the_middle(player.gate, prompt)
    assert prompt.ended_at is not None
    assert player.gate.muted(prompt.ended_at + TAIL_SECONDS - 0.01)  # the tail
    assert not player.gate.muted(prompt.ended_at + TAIL_SECONDS + 0.01)


@pytest.mark.audio
def test_practitioner_audible_mutes_for_earbud_playback_too(
    pulse: PulseServer, speech: Tts
) -> None:
    pcm = speech.render(PROMPT)
    with Player(resolve_output("earbud"), resolve_output("room"), practitioner_audible=True) as p:
        utterance = p.play(pcm, Route.PRACTITIONER, PROMPT)
        assert utterance.wait(pcm.duration + 5)
    assert muted_in_the_middle(p.gate, utterance)


@pytest.mark.audio
def test_one_device_for_both_routes_queues_them_in_turn(pulse: PulseServer, speech: Tts) -> None:
    pcm = speech.render(PROMPT)
    room = resolve_output("room")
    with Player(room, room) as p, Recorder("room.monitor") as monitor:
        first = p.play(pcm, Route.PRACTITIONER, "cue")
        second = p.play(pcm, Route.ROOM, "prompt")
        assert second.wait(2 * pcm.duration + 5)
        time.sleep(0.2)
    assert first.ended_at is not None and second.started_at is not None
    assert second.started_at >= first.ended_at - 0.01
    assert muted_in_the_middle(p.gate, first)  # the shared device is the room's: audible
    span = active_span(monitor.audio(), RATE)
    assert span is not None and span[1] - span[0] > 2 * pcm.duration - 1.0


@pytest.mark.audio
def test_a_stream_stopped_for_silence_starts_again_at_once_and_is_never_taken_for_failed(
    player: Player, speech: Tts
) -> None:
    """An output stops itself after IDLE_STOP_SECONDS of silence and the next text starts it
    again, first in its buffer. Texts queued just before, at and after that moment (the race of
    a stop and a start) all play on their own device, and no output is reported as failed."""
    pcm = speech.render("Resuming.")
    gaps = [IDLE_STOP_SECONDS + step for step in (-0.04, -0.02, -0.01, 0.0, 0.01, 0.02, 0.05)]
    for gap in gaps * 2:
        utterance = player.play(pcm, Route.ROOM, "Resuming.")
        assert utterance.wait(pcm.duration + 5) and utterance.outcome == "played"
        assert utterance.output == "room"
        time.sleep(gap)
    with Recorder("room.monitor") as room:
        time.sleep(IDLE_STOP_SECONDS + 0.2)  # stopped now: the next text starts it
        began = time.monotonic()
        last = player.play(pcm, Route.ROOM, "Resuming.")
        assert last.wait(pcm.duration + 5)
        time.sleep(0.2)
    assert player.notes == []  # type: ignore[attr-defined]
    assert last.started_at is not None and last.started_at - began < 0.05  # not 0.1 s behind
    assert pieces_heard(room.audio(), as_float(pcm), RATE) >= WHOLE
