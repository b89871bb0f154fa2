"""The microphone gate (`voice_guide/speak/gate.py`): its rule on its own, and the one mute path
on real streams (a private PulseAudio: the microphone is the `room` sink's monitor, so it hears
every room prompt, as a kiosk's microphone hears its speaker).

Timing windows come from what was recorded (the player's span estimates, the microphone's
capture stamps, the listener's stream times), never from when the test process ran: the suite
must pass on a busy machine.
"""

from __future__ import annotations

import queue
import threading
import time

import numpy as np
import pytest
from pulse import PulseServer
from speech import Voice as SynthVoice
from speech import pad, synthesize

from voice_guide.devices import open_output_stream, resolve_input, resolve_output
from voice_guide.events import Heard, Route
from voice_guide.microphone import CapturedBlock, MicrophoneStream, Resampler
from voice_guide.speak.channel import STREAM_RATE, Utterance, at_rate
from voice_guide.speak.gate import LEAD_SECONDS, TAIL_SECONDS, MicGate
from voice_guide.speak.routes import Player
from voice_guide.speak.tts import Pcm, Tts

MIC_RATE = 16_000
PROMPT = "Say next when you are ready."


# --- the rule -------------------------------------------------------------------------------


def test_muted_while_playing_and_for_the_tail_after() -> None:
    gate = MicGate(tail=0.3, lead=0.05)
    assert not gate.muted(10.0)
    gate.begin(1, start=10.0)
    assert gate.muted(10.5)
    assert gate.muted(1e9)  # still playing: muted however far on
    assert not gate.muted(9.0, 9.9)  # input from before the speech began is fine
    assert gate.muted(9.0, 9.96)  # ... but not within the lead
    gate.end(1, end=12.0)
    assert gate.muted(12.2)
    assert gate.muted(11.9, 12.1)
    assert not gate.muted(12.31)


def test_a_block_spanning_a_playback_is_muted() -> None:
    gate = MicGate(tail=0.3, lead=0.0)
    gate.begin(1, 5.0)
    gate.end(1, 6.0)
    assert gate.muted(4.0, 5.5)
    assert gate.muted(6.2, 7.0)
    assert not gate.muted(6.4, 7.0)
    assert not gate.muted(3.0, 4.9)


def test_overlapping_outputs_stay_muted_until_both_end() -> None:
    gate = MicGate(tail=0.1, lead=0.0)
    gate.begin(1, 0.0)
    gate.begin(2, 0.5)
    gate.end(1, 1.0)
    assert gate.muted(1.5)
    gate.end(2, 2.0)
    assert gate.muted(2.05)
    assert not gate.muted(2.2)


def test_an_unknown_end_changes_nothing() -> None:
    gate = MicGate(tail=0.1, lead=0.0)
    gate.end(7, 2.0)
    assert not gate.muted(0.0, 10.0)


# --- real streams: a microphone on the room sink's monitor ---------------------------------


class Microphone:
    """The room's microphone as the live session reads it (`voice_guide.microphone`): 20 ms
    blocks, each stamped in the input callback with when it was captured, handed on by a queue,
    resampled to 16 kHz on the reading side when the device has its own rate."""

    def __init__(self) -> None:
        self.blocks: queue.Queue[CapturedBlock | None] = queue.Queue()
        self.stream: MicrophoneStream | None = None

    def __enter__(self) -> Microphone:
        self.stream = MicrophoneStream.open(resolve_input("room.monitor"), self.blocks)
        self.stream.active = True
        return self

    def __exit__(self, *_: object) -> None:
        assert self.stream is not None
        self.stream.stop()

    def resampler(self) -> Resampler:
        assert self.stream is not None
        return Resampler(self.stream.rate)

    def drain(self) -> list[tuple[np.ndarray, float]]:
        """The blocks so far, at 16 kHz, with their capture times."""
        resample = self.resampler()
        taken = []
        while not self.blocks.empty():
            block = self.blocks.get()
            if block is not None:
                taken.append((resample(block.samples), block.captured_at))
        return taken


@pytest.fixture(scope="module")
def speech() -> Tts:
    tts = Tts()
    tts.render_ahead([PROMPT])
    tts.wait_ahead(60)
    return tts


def loud(block: np.ndarray) -> bool:
    return float(np.sqrt(np.mean(block.astype(np.float64) ** 2))) > 300  # about -40 dBFS


@pytest.mark.audio
def test_the_microphone_hears_room_speech_only_inside_the_span_the_gate_was_told(
    pulse: PulseServer, speech: Tts
) -> None:
    """The premise of the gate: the player's estimate of when its speech is heard and the
    microphone's capture stamps of that speech are the same clock, within the lead and tail."""
    pcm = speech.render(PROMPT)
    with Player(resolve_output("earbud"), resolve_output("room")) as player, Microphone() as mic:
        player.open()
        said = [player.play(pcm, Route.ROOM, PROMPT) for _ in range(3)]
        assert said[-1].wait(3 * pcm.duration + 10)
        blocks = mic.drain()  # (a little more is captured while the streams close: not needed)
    spans = [(u.started_at, u.ended_at) for u in said]
    assert all(start is not None and end is not None for start, end in spans)
    heard = [(at, at + len(block) / MIC_RATE) for block, at in blocks if loud(block)]
    assert sum(t1 - t0 for t0, t1 in heard) > pcm.duration  # most of the speech was heard
    for t0, t1 in heard:
        assert player.gate.muted(t0, t1)
        assert any(start - LEAD_SECONDS <= t1 and t0 <= end + TAIL_SECONDS  # type: ignore[operator]
                   for start, end in spans), (t0, t1, spans)
    # Heard from (about) when the gate was told, not before: its span does not start late.
    assert said[0].started_at is not None
    assert said[0].started_at - LEAD_SECONDS <= heard[0][0] < said[0].started_at + 0.3


def stream_to_monotonic(fed: list[tuple[float, float]], t: float) -> float:
    """A listener's stream time `t` as the monotonic time it was captured, from the (stream
    time, capture time) of the first sample of each block fed."""
    starts = [stream for stream, _ in fed]
    index = max(0, int(np.searchsorted(starts, t, side="right")) - 1)
    stream, captured = fed[index]
    return captured + (t - stream)


def prompt_then_someone_says_next(
    gated: bool, speech: Tts
) -> tuple[list[tuple[float, Heard]], Utterance, Utterance]:
    """The guide says a prompt that ends in "next" on the room route; after the tail, someone in
    the room says "next" (played on the room sink without the player knowing). The microphone
    blocks go to the real listening pipeline, through the gate's `feed` (the live path) or
    straight in. Returns what was heard, each with the monotonic time its speech began, and the
    guide's first and last utterance."""
    from voice_guide.listen.factory import make_recognizer
    from voice_guide.listen.pipeline import Listener

    listener = Listener(make_recognizer("auto")[0])
    gate = MicGate()
    fed: list[tuple[float, float]] = []  # (listener stream time, capture time) per block
    heard: list[Heard] = []
    done = threading.Event()

    def listen(mic: Microphone) -> None:  # as the live listening thread does
        resample = mic.resampler()
        while not done.is_set() or not mic.blocks.empty():
            try:
                block = mic.blocks.get(timeout=0.05)
            except queue.Empty:
                continue
            if block is None:
                continue
            samples = resample(block.samples)
            fed.append((listener.time, block.captured_at))
            heard.extend(gate.feed(listener, samples, block.captured_at) if gated
                         else listener.feed(samples))
        heard.extend(listener.flush())

    # "next" as the practitioner's voice says it, at the stream rate (nothing to resample in
    # the output callback).
    next_word = synthesize("next", SynthVoice("flite", "slt"))
    said_next = Pcm(at_rate(Pcm(pad(next_word, 0.8, 0.0), MIC_RATE), STREAM_RATE), STREAM_RATE)
    with Microphone() as mic:
        worker = threading.Thread(target=listen, args=(mic,), daemon=True)
        worker.start()
        # A room is quiet before the guide first speaks: the segmenter learns its background
        # from the first moments it hears (and the trimmed prompt has no silence of its own).
        time.sleep(0.5)
        try:
            with Player(resolve_output("earbud"), resolve_output("room"), gate=gate) as player:
                player.open()
                first = player.play(speech.render(PROMPT), Route.ROOM, PROMPT)
                # a pause before it, so that ungated it is an utterance of its own, as a
                # command is
                last = player.play(said_next, Route.ROOM, "Next.")
                assert last.wait(30)
            time.sleep(gate.tail + 0.1)  # only ever later on a busy machine: still after the tail
            someone = open_output_stream(
                resolve_output("room"), samplerate=MIC_RATE, channels=1, dtype="int16"
            )
            someone.start()
            someone.write(pad(next_word, 0.1, 1.0))
            someone.stop()
            someone.close()
            time.sleep(0.3)
        finally:
            done.set()
            worker.join(60)
    assert not worker.is_alive()
    return [(stream_to_monotonic(fed, h.start), h) for h in heard], first, last


@pytest.mark.audio
def test_the_guide_never_hears_its_own_prompt_but_hears_next_after_the_tail(
    pulse: PulseServer, speech: Tts
) -> None:
    heard, first, last = prompt_then_someone_says_next(gated=True, speech=speech)
    assert first.outcome == last.outcome == "played" and last.ended_at is not None
    assert [str(h.command) for _, h in heard] == ["next"]
    began, _ = heard[0]
    assert began > last.ended_at + TAIL_SECONDS  # the one in the room, not the guide's own


@pytest.mark.audio
def test_without_the_gate_the_prompt_would_trigger_next(pulse: PulseServer, speech: Tts) -> None:
    """The control for the test above: the same audio, ungated, is heard as a command while
    the guide itself is saying it."""
    heard, first, last = prompt_then_someone_says_next(gated=False, speech=speech)
    assert first.started_at is not None and last.ended_at is not None
    own = [h for began, h in heard
           if str(h.command) == "next" and first.started_at <= began <= last.ended_at]
    assert own, heard
