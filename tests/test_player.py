"""The player on real streams (a private PulseAudio with `earbud` and `room` null sinks, heard
through their monitors), and the microphone gate's logic."""

from __future__ import annotations

import logging
import math
import time

import numpy as np
import pytest
from pulse import PulseServer, Recorder, active_span, best_correlation

from voice_guide.devices import resolve_output
from voice_guide.events import Note, Route
from voice_guide.speak.player import MicGate, Player
from voice_guide.speak.tts import Pcm, Tts

RATE = 22050
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


# --- the gate: pure logic --------------------------------------------------------------------


def test_gate_mutes_while_playing_and_for_the_tail_after() -> None:
    gate = MicGate(tail=0.3)
    assert not gate.muted(10.0)
    gate.begin(1, start=10.0, expected_end=12.0)
    assert gate.muted(10.5)
    assert gate.mute_until(10.5) == math.inf
    assert not gate.muted(9.0, 9.9)  # input from before the speech began is fine
    gate.end(1, end=12.0)
    assert gate.muted(12.2)
    assert gate.muted(11.9, 12.1)
    assert not gate.muted(12.31)
    assert gate.mute_until(13.0) == pytest.approx(12.3)


def test_gate_block_spanning_a_playback_is_muted() -> None:
    gate = MicGate(tail=0.3)
    gate.begin(1, 5.0)
    gate.end(1, 6.0)
    assert gate.muted(4.0, 5.5)
    assert gate.muted(6.2, 7.0)
    assert not gate.muted(6.4, 7.0)
    assert not gate.muted(3.0, 4.9)


def test_gate_tells_subscribers_the_mute_end() -> None:
    gate = MicGate(tail=0.25)
    told: list[float] = []
    gate.subscribe(told.append)
    gate.begin(7, 1.0, expected_end=3.0)
    gate.end(7, 2.0)  # interrupted early
    assert told == [pytest.approx(3.25), pytest.approx(2.25)]
    gate.end(7, 2.5)  # unknown key: ignored
    assert len(told) == 2


def test_gate_overlapping_outputs_stay_muted_until_both_end() -> None:
    gate = MicGate(tail=0.1)
    gate.begin(1, 0.0)
    gate.begin(2, 0.5)
    gate.end(1, 1.0)
    assert gate.muted(1.5)
    gate.end(2, 2.0)
    assert gate.muted(2.05)
    assert not gate.muted(2.2)


# --- real streams -----------------------------------------------------------------------------


@pytest.fixture
def player(pulse: PulseServer):  # type: ignore[no-untyped-def]
    notes: list[Note] = []
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
    score, _ = best_correlation(recorded, as_float(pcm))
    assert score > 0.95
    span = active_span(recorded, RATE)
    expected = active_span(as_float(pcm), RATE)
    assert span is not None and expected is not None
    assert span[1] - span[0] == pytest.approx(expected[1] - expected[0], abs=0.1)
    assert loudness(recorded) > 0.5 * loudness(as_float(pcm)) * len(pcm.samples) / len(recorded)
    assert loudness(earbud.audio()) < 1e-4  # route separation


@pytest.mark.audio
def test_practitioner_cue_arrives_on_the_earbud_sink_only(player: Player, speech: Tts) -> None:
    pcm = speech.render(PROMPT)
    with Recorder("room.monitor") as room, Recorder("earbud.monitor") as earbud:
        assert player.play(pcm, Route.PRACTITIONER, PROMPT).wait(pcm.duration + 5)
        time.sleep(0.3)
    assert best_correlation(earbud.audio(), as_float(pcm))[0] > 0.95
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
    assert best_correlation(earbud.audio(), as_float(cue))[0] > 0.95
    assert best_correlation(room.audio(), as_float(prompt))[0] > 0.95


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
    caplog.set_level(logging.WARNING, logger="voice_guide.speak.player")
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
    score, _ = best_correlation(earbud.audio(), as_float(pcm))
    assert score > 0.9
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("room failed" in message for message in errors)
    fallbacks = [n for n in player.notes if n.type == "route_fallback"]  # type: ignore[attr-defined]
    assert fallbacks and fallbacks[0].fields["route"] == "room"
    assert fallbacks[0].fields["to"] == "earbud"


@pytest.mark.audio
def test_removed_earbuds_fall_back_to_the_room_which_the_mic_hears(
    player: Player, pulse: PulseServer, speech: Tts
) -> None:
    pcm = speech.render(PROMPT)
    pulse.unload_sink("earbud")
    with Recorder("room.monitor") as room:
        utterance = player.play(pcm, Route.PRACTITIONER, PROMPT)
        deadline = time.monotonic() + 3
        while utterance.started_at is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        muted_while_playing = player.is_audible_to_mic(time.monotonic())
        assert utterance.wait(pcm.duration + 5)
    assert utterance.outcome == "played"
    assert utterance.output == "room"
    assert muted_while_playing
    assert best_correlation(room.audio(), as_float(pcm))[0] > 0.95


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


@pytest.mark.audio
def test_mic_gate_follows_room_playback_but_not_earbuds(player: Player, speech: Tts) -> None:
    pcm = speech.render(PROMPT)
    cue = player.play(pcm, Route.PRACTITIONER, PROMPT)
    time.sleep(0.5)
    assert not player.is_audible_to_mic(time.monotonic())  # earbuds: barge-in allowed
    assert cue.wait(pcm.duration + 5)
    prompt = player.play(pcm, Route.ROOM, PROMPT)
    time.sleep(0.5)
    assert player.is_audible_to_mic(time.monotonic())
    assert player.mute_until(time.monotonic()) == math.inf
    assert prompt.wait(pcm.duration + 5)
    assert prompt.ended_at is not None
    assert player.mute_until(time.monotonic()) == pytest.approx(prompt.ended_at + 0.3, abs=0.05)
    time.sleep(max(0.0, prompt.ended_at + 0.35 - time.monotonic()))
    assert not player.is_audible_to_mic(time.monotonic())


@pytest.mark.audio
def test_practitioner_audible_mutes_for_earbud_playback_too(
    pulse: PulseServer, speech: Tts
) -> None:
    pcm = speech.render(PROMPT)
    with Player(resolve_output("earbud"), resolve_output("room"), practitioner_audible=True) as p:
        utterance = p.play(pcm, Route.PRACTITIONER, PROMPT)
        time.sleep(0.5)
        assert p.is_audible_to_mic(time.monotonic())
        assert utterance.wait(pcm.duration + 5)


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
    span = active_span(monitor.audio(), RATE)
    assert span is not None and span[1] - span[0] > 2 * pcm.duration - 1.0


# --- not hearing itself: the real listening pipeline on the room monitor ----------------------


def _prompt_then_human_next(gated: bool, speech: Tts) -> tuple[list[tuple[float, str]], float]:
    """Play a prompt with command words on the room route, then (after the tail) a 'human' says
    "next" into the room without the player knowing. The microphone reads room.monitor through
    the real listening pipeline. Returns (monotonic time heard, command) and when the human
    started speaking."""
    import queue
    import threading

    from speech import Voice as TestVoice
    from speech import pad, synthesize

    from voice_guide.devices import open_input_stream, open_output_stream, resolve_input
    from voice_guide.listen.factory import make_recognizer
    from voice_guide.listen.pipeline import Listener
    from voice_guide.speak.player import capture_time

    listener = Listener(make_recognizer("auto")[0])
    gate = MicGate()
    blocks: queue.Queue[tuple[np.ndarray, float]] = queue.Queue()
    heard: list[tuple[float, str]] = []
    done = threading.Event()

    def captured(indata: np.ndarray, frames: int, time_info: object, status: object) -> None:
        blocks.put((indata[:, 0].copy(), capture_time(time_info)))

    def consume() -> None:
        while not done.is_set() or not blocks.empty():
            try:
                block, first = blocks.get(timeout=0.05)
            except queue.Empty:
                continue
            found = gate.feed(listener, block, first) if gated else listener.feed(block)
            heard.extend((time.monotonic(), str(h.command)) for h in found)

    next_word = synthesize("next", TestVoice("flite", "slt"))  # recognised well by every engine
    mic = open_input_stream(
        resolve_input("room.monitor"), samplerate=16000, channels=1, dtype="int16",
        blocksize=800, callback=captured,
    )
    mic.start()
    worker = threading.Thread(target=consume, daemon=True)
    worker.start()
    # A room is quiet before the guide first speaks: the segmenter learns its background from
    # the first moments it hears (and the trimmed prompt has no leading silence of its own).
    time.sleep(0.5)
    try:
        with Player(resolve_output("earbud"), resolve_output("room"), gate=gate) as player:
            player.open()
            player.play(speech.render("Say next when you are ready."), Route.ROOM, "prompt")
            # a pause before it, so that ungated it is an utterance of its own, as a command is
            last = player.play(Pcm(pad(next_word, 0.8, 0.0), 16000), Route.ROOM, "Next.")
            assert last.wait(15)
        time.sleep(gate.tail + 0.1)
        human = open_output_stream(
            resolve_output("room"), samplerate=16000, channels=1, dtype="int16"
        )
        human.start()
        human_at = time.monotonic()
        human.write(pad(next_word, 0.1, 1.0))
        human.stop()
        human.close()
        time.sleep(0.5)
    finally:
        done.set()
        worker.join(5)
        mic.stop()
        mic.close()
    return heard, human_at


@pytest.mark.audio
def test_the_guide_never_hears_its_own_prompt_but_hears_next_after_the_tail(
    pulse: PulseServer, speech: Tts
) -> None:
    heard, human_at = _prompt_then_human_next(gated=True, speech=speech)
    assert [command for _, command in heard] == ["next"]
    assert heard[0][0] > human_at  # the human's "next", not the prompt's


@pytest.mark.audio
def test_without_the_gate_the_prompt_would_trigger_next(pulse: PulseServer, speech: Tts) -> None:
    """The control for the test above: the same audio, ungated, is heard as a command."""
    heard, human_at = _prompt_then_human_next(gated=False, speech=speech)
    assert any(command == "next" and at < human_at for at, command in heard)


# --- the Speaker: Say actions to speech, printed when speech cannot be made -------------------


@pytest.mark.audio
def test_speaker_speaks_say_actions_on_their_routes(pulse: PulseServer) -> None:
    from voice_guide.events import Say
    from voice_guide.speak.speaker import Speaker

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
    finally:
        speaker.close()


@pytest.mark.audio
def test_speaker_prints_the_text_when_speech_fails(pulse: PulseServer) -> None:
    from voice_guide.events import Say
    from voice_guide.speak.speaker import Speaker
    from voice_guide.speak.tts import Voice

    printed: list[tuple[str, str]] = []
    broken = Tts(Voice(name="no-such-voice"))  # the synthesizer refuses it: a real failure
    with Player(resolve_output("earbud"), resolve_output("room")) as player:
        speaker = Speaker(broken, player, lambda text, route: printed.append((text, route)))
        assert speaker.say(Say("Move to the head of the table.", Route.PRACTITIONER)) is None
    assert printed == [("Move to the head of the table.", "practitioner")]
