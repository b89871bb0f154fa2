"""Plays speech on two routes, `practitioner` (earbuds) and `room` (the kiosk speaker).

`Player.play(pcm, route, text)` queues audio on the route's output and returns at once: each
output has one sounddevice OutputStream, kept open, whose callback feeds queued speech (and
silence between), so playback never blocks the caller or the microphone, a queued text starts
within the output buffer's time (0.1 s), and `stop()` cuts the current speech off as fast.

A failing output (stream error, a callback that stops coming, the sound server's sink removed:
earbuds unplugged) is logged, its routes fall back to the other route's output or else the
default device, and whatever it was saying, and had queued, is replayed on the fallback from the
start. Nothing is dropped silently: if no output is left, `on_undelivered(text)` is told.

`MicGate` says when the microphone may be hearing us: while an output the microphone can hear
plays (the room always; the practitioner's only with `practitioner_audible=True`, e.g. no
earbuds) and for a short tail after. With earbuds, listening goes on during speech (barge-in).
All times are `time.monotonic()` seconds.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voice_guide.devices import (
    DEFAULT_ENDPOINT,
    SINK_REMOVED,
    Endpoint,
    PulseEvents,
    open_output_stream,
    pulse_sink_exists,
)
from voice_guide.events import Note, Route
from voice_guide.speak.tts import Pcm

log = logging.getLogger(__name__)

TAIL_SECONDS = 0.3  # the microphone stays muted this long after audible speech ends
STALL_SECONDS = 0.75  # a running stream whose callback has not come for this long has failed
WATCH_INTERVAL = 0.05
# Output buffer (s): how soon a queued text is heard and stop() silences it. The callback runs
# Python, so it waits for the interpreter lock, which pocketsphinx holds while it decodes a
# command (30-70 ms): with that in the process, 0.06-0.08 s gave underruns, and 0.05 s with
# 256-frame blocks 16 in 69 s of speech (benchmarks/speech.py --load recognizer); 0.1 s none.
# Under CPU load alone 0.05 s with 256-frame blocks gave none.
OUTPUT_LATENCY = 0.1
OUTPUT_BLOCK = 0  # frames per callback; 0: PortAudio chooses


class Player:
    """Speech on the `practitioner` and `room` routes, one queue per output device."""

    def __init__(
        self,
        practitioner: Endpoint = DEFAULT_ENDPOINT,
        room: Endpoint = DEFAULT_ENDPOINT,
        *,
        practitioner_audible: bool = False,
        gate: MicGate | None = None,
        on_note: Callable[[Note], None] | None = None,
        on_undelivered: Callable[[Utterance], None] | None = None,
        latency: float = OUTPUT_LATENCY,
        blocksize: int = OUTPUT_BLOCK,
    ) -> None:
        self.gate = gate or MicGate()
        self.latency = latency
        self.blocksize = blocksize
        self.practitioner_audible = practitioner_audible
        self._on_note = on_note
        self._on_undelivered = on_undelivered
        self._lock = threading.RLock()
        self._channels: dict[Endpoint, _Channel] = {}
        self._routes: dict[Route, _Channel] = {
            Route.PRACTITIONER: self._channel(practitioner),
            Route.ROOM: self._channel(room),
        }
        # Audibility belongs to the device: the room speaker is heard by the microphone, the
        # practitioner's earbuds are not (unless configured so, or shared with the room).
        shared = self._routes[Route.PRACTITIONER] is self._routes[Route.ROOM]
        self._routes[Route.PRACTITIONER].audible = practitioner_audible or shared
        self._closed = threading.Event()
        self._watch = threading.Thread(target=self._watch_outputs, name="player-watch", daemon=True)
        self._watch.start()
        self._sinks = _sink_watcher(self._check_sinks) if self._uses_sinks() else None

    # --- public ---------------------------------------------------------------------------------

    def open(self) -> None:
        """Open every route's stream now (else on first use), so the first text starts at once."""
        with self._lock:
            channels = set(self._routes.values())
        for channel in channels:
            self._ensure_open(channel)

    def play(self, pcm: Pcm, route: Route | str = Route.PRACTITIONER, text: str = "") -> Utterance:
        """Queue `pcm` on `route`; returns a handle to wait on (`done`) or inspect."""
        utterance = Utterance(text=text, route=Route(route), pcm=pcm)
        if self._closed.is_set():
            utterance._finish("undelivered", time.monotonic())
            return utterance
        self._send(utterance)
        return utterance

    def stop(self, route: Route | str | None = None) -> None:
        """Interrupt what is being said (on `route`, or everywhere) and drop what is queued."""
        with self._lock:
            channels = {self._routes[Route(route)]} if route else set(self._routes.values())
        for channel in channels:
            channel.interrupt()

    def output_for(self, route: Route | str) -> Endpoint:
        """Where `route` plays now (after any fallback)."""
        with self._lock:
            return self._routes[Route(route)].endpoint

    def is_audible_to_mic(self, now: float) -> bool:
        """Whether the microphone may hear us at `now` (playing, or within the tail)."""
        return self.gate.muted(now)

    def mute_until(self, now: float) -> float:
        """Until when the microphone must be ignored, as known at `now` (inf while playing)."""
        return self.gate.mute_until(now)

    def underruns(self) -> int:
        """Output underflows reported so far (each one a gap in what was heard), all outputs."""
        with self._lock:
            return sum(channel.underruns for channel in self._channels.values())

    def busy(self) -> bool:
        with self._lock:
            channels = list(self._channels.values())
        return any(channel.busy() for channel in channels)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is playing or queued; True if so before `timeout`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.busy():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        with self._lock:
            heard_by = max((c.last_end for c in self._channels.values()), default=0.0)
        time.sleep(max(0.0, heard_by - time.monotonic()))  # the buffered end plays out
        return True

    def close(self) -> None:
        self._closed.set()
        if self._sinks is not None:
            self._sinks.close()
        with self._lock:
            channels = list(self._channels.values())
        for channel in channels:
            channel.interrupt()
            channel.close()
            if channel.underruns:
                log.warning("audio output %s: %d underruns (gaps in the sound)",
                            channel.endpoint.label, channel.underruns)

    def __enter__(self) -> Player:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- routing and fallback -------------------------------------------------------------------

    def _channel(self, endpoint: Endpoint) -> _Channel:
        """The channel for `endpoint` (new ones count as audible: a default device may well be a
        speaker)."""
        with self._lock:
            channel = self._channels.get(endpoint)
            if channel is None:
                channel = _Channel(endpoint, self.gate, self.latency, self.blocksize)
                self._channels[endpoint] = channel
            return channel

    def _send(self, utterance: Utterance) -> None:
        """Queue on the route's output; when that cannot play, on wherever the route falls back."""
        while True:
            with self._lock:
                channel = self._routes[utterance.route]
            if self._ensure_open(channel):
                channel.enqueue([utterance])
                return
            with self._lock:
                if self._routes[utterance.route] is channel:  # no fallback left
                    break
        self._undelivered(utterance)

    def _ensure_open(self, channel: _Channel) -> bool:
        if channel.failed is not None:
            return False
        try:
            channel.open()
        except Exception as error:  # PortAudioError, OSError: the device is not there
            self._fail(channel, f"cannot open: {error}")
            return False
        return True

    def _fail(self, channel: _Channel, reason: str) -> None:
        """Mark `channel` failed, move its routes to fallbacks, replay its unfinished speech."""
        with self._lock:
            if channel.failed is not None:
                return
            channel.failed = reason
            log.error("audio output %s failed: %s", channel.endpoint.label, reason)
            pending = channel.take_all()
            channel.close(background=True)
            for route, current in list(self._routes.items()):
                if current is not channel:
                    continue
                fallback = self._fallback_for(route, channel)
                if fallback is None:
                    log.error("route %s has no working output left", route)
                    continue
                self._routes[route] = fallback
                log.warning(
                    "route %s falls back from %s to %s",
                    route, channel.endpoint.label, fallback.endpoint.label,
                )
                self._note(
                    "route_fallback", route=str(route), failed=channel.endpoint.label,
                    to=fallback.endpoint.label, reason=reason,
                )
        for utterance in pending:
            utterance.replays += 1
            log.warning("replaying %r on route %s from the start", utterance.text, utterance.route)
            self._send(utterance)

    def _fallback_for(self, route: Route, failed: _Channel) -> _Channel | None:
        """The other route's output if it works, else the default device."""
        other = self._routes[Route.ROOM if route is Route.PRACTITIONER else Route.PRACTITIONER]
        if other is not failed and other.failed is None:
            return other
        default = self._channel(DEFAULT_ENDPOINT)
        if default is not failed and default.failed is None:
            return default
        return None

    def _undelivered(self, utterance: Utterance) -> None:
        log.error("no working audio output for %r", utterance.text)
        utterance._finish("undelivered", time.monotonic())
        self._note("undelivered", route=str(utterance.route), text=utterance.text)
        if self._on_undelivered is not None:
            self._on_undelivered(utterance)

    def _note(self, type_: str, **fields: Any) -> None:
        if self._on_note is not None:
            self._on_note(Note(type_, fields))

    # --- watching the outputs -------------------------------------------------------------------

    def _watch_outputs(self) -> None:
        while not self._closed.wait(WATCH_INTERVAL):
            with self._lock:
                channels = [c for c in self._channels.values() if c.failed is None]
            for channel in channels:
                problem = channel.problem(time.monotonic())
                if problem:
                    self._fail(channel, problem)

    def _uses_sinks(self) -> bool:
        return any(endpoint.pulse for endpoint in self._channels)

    def _check_sinks(self) -> None:
        with self._lock:
            channels = [c for c in self._channels.values() if c.failed is None and c.endpoint.pulse]
        for channel in channels:
            sink = channel.endpoint.pulse
            if sink and not pulse_sink_exists(sink):
                self._fail(channel, f"sink {sink!r} was removed")


@dataclass(eq=False)
class Utterance:
    """One text queued for playing. `done` is set when it has played, was interrupted, or could
    not be delivered anywhere (`outcome` says which)."""

    text: str
    route: Route
    pcm: Pcm
    queued_at: float = field(default_factory=time.monotonic)
    started_at: float | None = None  # when its first sample reaches the device (estimated)
    ended_at: float | None = None
    output: str = ""  # the label of the output it (last) played on
    outcome: str = ""  # "played", "interrupted", "undelivered"
    replays: int = 0  # how many times it was restarted on a fallback output
    done: threading.Event = field(default_factory=threading.Event)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until it is over: played out of the device (not just handed to it), interrupted
        or undelivered. False on timeout."""
        if not self.done.wait(timeout):
            return False
        if self.outcome == "played" and self.ended_at is not None:
            time.sleep(max(0.0, self.ended_at - time.monotonic()))
        return True

    def _finish(self, outcome: str, at: float) -> None:
        self.outcome = outcome
        self.ended_at = at
        self.done.set()


class MicGate:
    """When the listener must ignore the microphone: while an audible output plays, plus `tail`.

    The player reports spans (`begin`/`end`, monotonic seconds, as heard at the device); the
    listener asks `muted(t0, t1)` for a block of input, or subscribes to be told a new
    `mute_until` time whenever one starts or ends (e.g. `listener.mute_until`).
    """

    def __init__(self, tail: float = TAIL_SECONDS, history: int = 64) -> None:
        self.tail = tail
        self._lock = threading.Lock()
        self._open: dict[int, float] = {}
        self._spans: deque[tuple[float, float]] = deque(maxlen=history)
        self._subscribers: list[Callable[[float], None]] = []

    def subscribe(self, callback: Callable[[float], None]) -> None:
        """`callback(until)` whenever playback starts (until = its expected end plus the tail)
        or ends (until = the actual end plus the tail)."""
        self._subscribers.append(callback)

    def begin(self, key: int, start: float, expected_end: float | None = None) -> None:
        with self._lock:
            self._open[key] = start
        if expected_end is not None:
            self._tell(expected_end + self.tail)

    def end(self, key: int, end: float) -> None:
        with self._lock:
            start = self._open.pop(key, None)
            if start is None:
                return
            self._spans.append((start, max(start, end)))
        self._tell(end + self.tail)

    def muted(self, t0: float, t1: float | None = None) -> bool:
        """Whether any of [t0, t1] (a block of microphone input) may contain our own speech."""
        t1 = t0 if t1 is None else t1
        with self._lock:
            if any(start <= t1 for start in self._open.values()):
                return True
            return any(start <= t1 and t0 <= end + self.tail for start, end in self._spans)

    def mute_until(self, now: float) -> float:
        """inf while an audible output plays; else the last end plus the tail (may be past)."""
        with self._lock:
            if any(start <= now for start in self._open.values()):
                return math.inf
            last = max((end for _, end in self._spans), default=-math.inf)
            return last + self.tail

    def feed(self, listener: Any, block: np.ndarray, first_sample_time: float,
             rate: int = 16_000) -> list[Any]:
        """Feed one block of microphone input to `listener` (voice_guide.listen.pipeline's
        Listener: `time`, `mute_until(stream_time)`, `feed(block)`), muted if the block may hold
        our own speech. `first_sample_time`: monotonic time its first sample was captured (see
        `capture_time`)."""
        seconds = len(block) / rate
        if self.muted(first_sample_time, first_sample_time + seconds):
            listener.mute_until(listener.time + seconds)
        return list(listener.feed(block))

    def _tell(self, until: float) -> None:
        for callback in list(self._subscribers):
            try:
                callback(until)
            except Exception:  # a listener's bug must not stop playback
                log.exception("mic gate subscriber failed")


def capture_time(time_info: Any, now: float | None = None) -> float:
    """In a sounddevice input callback: the monotonic time the block's first sample was captured
    (PortAudio's own stream clock is not the monotonic clock)."""
    now = time.monotonic() if now is None else now
    try:
        return now - max(0.0, time_info.currentTime - time_info.inputBufferAdcTime)
    except AttributeError:
        return now


# --- one output device --------------------------------------------------------------------------

_KEYS = itertools.count(1)


class _Channel:
    """One output device: its stream, its queue, the utterance playing now."""

    def __init__(self, endpoint: Endpoint, gate: MicGate, latency: float, blocksize: int) -> None:
        self.endpoint = endpoint
        self.latency = latency
        self.blocksize = blocksize
        self.underruns = 0  # callbacks that reported an output underflow (a gap, a click)
        self.gate = gate
        self.audible = True
        self.failed: str | None = None
        self.rate = 0
        self._stream: Any = None
        self._lock = threading.Lock()
        self._open_lock = threading.Lock()
        self._queue: deque[Utterance] = deque()
        self._current: Utterance | None = None
        self._samples: np.ndarray = np.zeros(0, np.int16)
        self._position = 0
        self._key = 0
        self._started_at = 0.0
        self._last_callback = 0.0
        self._latency = 0.0
        self._stream_error = ""
        self._closing = False
        self.last_end = 0.0  # when the last sample handed to the device will have been heard

    def open(self, rate: int = 22050) -> None:
        with self._open_lock:
            if self._stream is not None:
                return
            stream = None
            for candidate in (rate, None):  # the speech's own rate, else the device's
                try:
                    kwargs: dict[str, Any] = {"channels": 1, "dtype": "int16"}
                    if candidate:
                        kwargs["samplerate"] = candidate
                    stream = open_output_stream(
                        self.endpoint, blocksize=self.blocksize, latency=self.latency,
                        callback=self._callback, finished_callback=self._stream_finished,
                        **kwargs,
                    )
                    break
                except Exception:
                    if candidate is None:
                        raise
            assert stream is not None
            self.rate = int(stream.samplerate)
            self._latency = float(stream.latency)
            self._started_at = time.monotonic()
            self._last_callback = self._started_at
            stream.start()
            self._stream = stream

    def enqueue(self, utterances: list[Utterance]) -> None:
        with self._lock:
            for utterance in utterances:
                utterance.output = self.endpoint.label
                self._queue.append(utterance)

    def interrupt(self) -> None:
        now = time.monotonic()
        with self._lock:
            stopped = list(self._queue)
            self._queue.clear()
            if self._current is not None:
                stopped.insert(0, self._current)
                self._end_current(now + self._latency)
        for utterance in stopped:
            if not utterance.done.is_set():
                utterance._finish("interrupted", now)

    def take_all(self) -> list[Utterance]:
        """Everything unfinished (the current text from its start), removed from this channel."""
        with self._lock:
            pending = list(self._queue)
            self._queue.clear()
            if self._current is not None:
                current = self._current
                self._end_current(time.monotonic())
                current.started_at = None
                pending.insert(0, current)
        return pending

    def busy(self) -> bool:
        with self._lock:
            return self._current is not None or bool(self._queue)

    def problem(self, now: float) -> str:
        """Why this running output has failed, or ""."""
        if self._stream is None or self._closing:
            return ""
        if self._stream_error:
            return self._stream_error
        if now - max(self._last_callback, self._started_at) > STALL_SECONDS:
            return f"no audio callback for {now - self._last_callback:.1f} s"
        return ""

    def close(self, background: bool = False) -> None:
        self._closing = True
        stream, self._stream = self._stream, None
        if stream is None:
            return

        def shut() -> None:
            try:
                stream.abort()
                stream.close()
            except Exception as error:  # a vanished device may refuse; nothing left to do
                log.debug("closing %s: %s", self.endpoint.label, error)

        if background:  # a dead device can block abort(): never on the caller's thread
            threading.Thread(target=shut, name="player-close", daemon=True).start()
        else:
            shut()

    # Runs on PortAudio's thread: short, no logging, no blocking.
    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        now = time.monotonic()
        self._last_callback = now
        if status.output_underflow:
            self.underruns += 1
        try:
            ahead = max(0.0, time_info.outputBufferDacTime - time_info.currentTime)
        except AttributeError:
            ahead = self._latency
        out = outdata[:, 0]
        filled = 0
        with self._lock:
            while filled < frames:
                if self._current is None:
                    if not self._queue:
                        break
                    self._start_next(now + ahead + filled / self.rate)
                chunk = self._samples[self._position : self._position + frames - filled]
                out[filled : filled + len(chunk)] = chunk
                filled += len(chunk)
                self._position += len(chunk)
                if self._position >= len(self._samples):
                    assert self._current is not None
                    end = now + ahead + filled / self.rate
                    current = self._current
                    self._end_current(end)
                    current._finish("played", end)
        out[filled:] = 0

    def _start_next(self, at: float) -> None:
        utterance = self._queue.popleft()
        self._current = utterance
        self._samples = _at_rate(utterance.pcm, self.rate)
        self._position = 0
        self._key = next(_KEYS)
        utterance.started_at = at
        if self.audible:
            self.gate.begin(self._key, at, at + len(self._samples) / self.rate)

    def _end_current(self, at: float) -> None:
        if self._current is not None and self.audible:
            self.gate.end(self._key, at)
        self.last_end = at
        self._current = None
        self._samples = np.zeros(0, np.int16)
        self._position = 0

    def _stream_finished(self) -> None:
        if not self._closing:
            self._stream_error = "the audio stream stopped"


def _at_rate(pcm: Pcm, rate: int) -> np.ndarray:
    samples = np.asarray(pcm.samples, dtype=np.int16)
    if pcm.rate == rate or len(samples) == 0:
        return samples
    from scipy.signal import resample_poly

    divisor = math.gcd(pcm.rate, rate)
    resampled = resample_poly(samples.astype(np.float32), rate // divisor, pcm.rate // divisor)
    return np.clip(np.round(resampled), -32768, 32767).astype(np.int16)


def _sink_watcher(on_change: Callable[[], None]) -> PulseEvents:
    """The sound server's events: on any sink removal, `on_change()` re-checks ours.
    (PulseAudio moves a removed sink's streams to another sink itself, so the stream goes on
    without an error: the sound server has to tell us.)"""
    watcher = PulseEvents(lambda _line: on_change(), wanted=SINK_REMOVED, thread="player-sinks")
    if not watcher.running:
        log.warning("cannot watch the sound server (no pactl): removed sinks will not be noticed")
    return watcher
