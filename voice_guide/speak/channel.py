"""One output device: a sounddevice output stream kept open, the speech queued on it, and how it
is seen to fail.

`OutputChannel` owns one `OutputStream` on one `Endpoint`. Its callback feeds the queued
utterances one after another (silence between), so queueing never blocks the caller or the
microphone, and `interrupt()` cuts the current speech off within the output buffer's time
(`OUTPUT_LATENCY`). When the channel is audible to the microphone, it reports each utterance's
span, as heard at the device, to the `MicGate`.

The stream runs only while there is something to say: after `IDLE_STOP_SECONDS` of silence its
callback stops it, and `enqueue` starts it again with the speech already queued. A running
stream has a whole buffer of silence ahead of a new text (~0.1 s on PulseAudio's null sink,
measured); a stream started with the text queued puts the text first in the buffer (heard within
a few ms), and an idle stream costs no callbacks (two idle streams: 1.8 % of a core, measured).

`OutputWatch` finds channels that have failed: a stream error, a callback that stops coming, or
the sound server's sink removed (earbuds unplugged: PulseAudio moves the streams of a removed
sink to another sink itself, so the stream goes on without an error and only the server can tell
us). What to do then (fall back, replay) is the routes' business (`routes.py`).

All times are `time.monotonic()` seconds.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import soxr

from voice_guide.devices import (
    SINK_REMOVED,
    Endpoint,
    PulseEvents,
    open_output_stream,
    pulse_sink_exists,
)
from voice_guide.events import Route
from voice_guide.speak.gate import MicGate
from voice_guide.speak.speech import Pcm

log = logging.getLogger(__name__)

STREAM_RATE = 22_050  # both voices render at this rate, so playing does not resample
# Output buffer (s): how soon interrupt() silences a text (and a text queued behind a running
# one starts). The callback runs Python, so it waits for the interpreter lock, which a
# recognizer can hold for tens of ms while it decodes a command: a shorter buffer than this gave
# underruns with one in the process.
OUTPUT_LATENCY = 0.1
IDLE_STOP_SECONDS = 0.25  # silence after the last text before the stream stops (see above)
OUTPUT_BLOCK = 0  # frames per callback; 0: PortAudio chooses
STALL_SECONDS = 2.0  # a running stream whose callback has not come for this long has failed
# (not less: on a busy machine a callback can come a second late, and a false failure moves the
# practitioner's cues to another device)
WATCH_INTERVAL = 0.05  # how often the watch looks at every channel

Outcome = Literal["", "played", "interrupted", "undelivered"]


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
    outcome: Outcome = ""
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

    def _finish(self, outcome: Outcome, at: float) -> None:
        """Over (the channel or the routes say how); anyone waiting is woken."""
        self.outcome = outcome
        self.ended_at = at
        self.done.set()


# Gate keys: unique across channels, since two channels may report to the same gate.
_GATE_KEYS = itertools.count(1)


class OutputChannel:
    """One output device: its stream, its queue, the utterance playing now."""

    def __init__(
        self, endpoint: Endpoint, gate: MicGate, latency: float = OUTPUT_LATENCY,
        blocksize: int = OUTPUT_BLOCK, started: threading.Event | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.gate = gate
        self.started = started  # set whenever its stream (re)starts: wakes the OutputWatch
        self.latency = latency
        self.blocksize = blocksize
        # Whether the microphone hears this device. New channels count as audible: a default
        # device may well be a speaker. The routes clear it for earbuds.
        self.audible = True
        self.failed: str | None = None  # why it failed (set by the routes), None while it works
        self.underruns = 0  # callbacks that reported an output underflow (a gap, a click)
        self.rate = 0  # the stream's, once open
        self.last_end = 0.0  # when the last sample handed to the device will have been heard
        self._stream: Any = None
        self._lock = threading.Lock()  # the queue and the current utterance
        self._open_lock = threading.Lock()
        self._queue: deque[Utterance] = deque()
        self._current: Utterance | None = None
        self._samples: np.ndarray = np.zeros(0, np.int16)
        self._position = 0
        self._gate_key = 0
        self._started_at = 0.0
        self._last_callback = 0.0
        self._stream_latency = 0.0
        self._stream_error = ""
        self._closing = False
        self._silent_frames = 0  # written since the last text ended (the idle stop counts them)
        self._idle = False  # the callback stopped the stream for lack of speech (not a failure)
        self._callback_stop: type[Exception] = Exception  # sounddevice's CallbackStop, at open

    def open(self, rate: int = STREAM_RATE) -> None:
        """Open and start the stream (once): at the speech's own rate, else the device's."""
        with self._open_lock:
            if self._stream is not None:
                return
            stream = None
            for candidate in (rate, None):
                try:
                    options: dict[str, Any] = {"channels": 1, "dtype": "int16"}
                    if candidate:
                        options["samplerate"] = candidate
                    stream = open_output_stream(
                        self.endpoint, blocksize=self.blocksize, latency=self.latency,
                        callback=self._callback, finished_callback=self._stream_finished,
                        **options,
                    )
                    break
                except Exception:
                    if candidate is None:
                        raise
            assert stream is not None
            import sounddevice  # loaded by the stream just opened

            self._callback_stop = sounddevice.CallbackStop
            self.rate = int(stream.samplerate)
            self._stream_latency = float(stream.latency)
            self._started_at = time.monotonic()
            self._last_callback = self._started_at
            stream.start()
            self._stream = stream
        self._tell_started()

    def enqueue(self, utterances: list[Utterance]) -> None:
        """Queue `utterances` after what is queued; start the stream if it stopped for lack of
        speech (so the first of them is first in its buffer)."""
        with self._lock:
            for utterance in utterances:
                utterance.output = self.endpoint.label
                self._queue.append(utterance)
            idle = self._idle
        if idle:
            self._restart()

    def interrupt(self) -> None:
        """Cut off what is playing (silent within the output buffer) and drop what is queued."""
        now = time.monotonic()
        with self._lock:
            stopped = list(self._queue)
            self._queue.clear()
            if self._current is not None:
                stopped.insert(0, self._current)
                self._end_current(now + self._stream_latency)
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
        """Why this running output has failed, or "": the stream stopped, or its callback has
        not come for STALL_SECONDS."""
        if not self.running():  # (stopped for lack of speech: nothing is expected of it)
            return ""
        if self._stream_error:
            return self._stream_error
        if now - max(self._last_callback, self._started_at) > STALL_SECONDS:
            return f"no audio callback for {now - self._last_callback:.1f} s"
        return ""

    def sink_problem(self) -> str:
        """Why this output's sound-server sink is unusable ("" when it is there, or none is
        used). Asks the server: not for a stream callback."""
        sink = self.endpoint.pulse
        if sink and not pulse_sink_exists(sink):
            return f"sink {sink!r} was removed"
        return ""

    def close(self, background: bool = False) -> None:
        self._closing = True  # a restart that has not begun will not begin
        # One under way (ms) finishes first: the stream is never closed while it starts.
        locked = self._open_lock.acquire(timeout=1.0)
        try:
            stream, self._stream = self._stream, None
        finally:
            if locked:
                self._open_lock.release()
        if stream is None:
            return

        def shut() -> None:
            try:
                stream.abort()
                stream.close()
            except Exception as error:  # a vanished device may refuse; nothing left to do
                log.debug("closing %s: %s", self.endpoint.label, error)

        if background:  # a dead device can block abort(): never on the caller's thread
            threading.Thread(target=shut, name="output-close", daemon=True).start()
        else:
            shut()

    # Runs on PortAudio's thread: short, no logging, no blocking.
    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        now = time.monotonic()
        self._last_callback = now
        if status.output_underflow:
            self.underruns += 1
        try:  # how far ahead of now this block will be heard
            ahead = max(0.0, time_info.outputBufferDacTime - time_info.currentTime)
        except AttributeError:
            ahead = self._stream_latency
        out = outdata[:, 0]
        filled = 0
        with self._lock:
            if self._current is None and not self._queue:
                self._silent_frames += frames
                if self._silent_frames >= IDLE_STOP_SECONDS * self.rate:
                    self._idle = True  # enqueue() starts it again
                    out[:] = 0
                    raise self._callback_stop
            else:
                self._silent_frames = 0
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
        self._samples = at_rate(utterance.pcm, self.rate)
        self._position = 0
        self._gate_key = next(_GATE_KEYS)
        utterance.started_at = at
        if self.audible:
            self.gate.begin(self._gate_key, at)

    def _end_current(self, at: float) -> None:
        if self._current is not None and self.audible:
            self.gate.end(self._gate_key, at)
        self.last_end = at
        self._current = None
        self._samples = np.zeros(0, np.int16)
        self._position = 0

    def _restart(self) -> None:
        """Start the stream again after an idle stop (on the caller's thread: ms)."""
        with self._open_lock:
            stream = self._stream
            if stream is None or self._closing or not self._idle:
                return
            try:
                # It finished by itself (its finished callback may come now: still idle, so not
                # taken for a failure); PortAudio wants it stopped before it starts again.
                stream.stop()
            except Exception as error:  # a device gone while idle: the watch sees the failure
                self._fail_restart(error)
                return
            with self._lock:
                self._idle = False
                self._silent_frames = 0
            self._last_callback = self._started_at = time.monotonic()
            try:
                stream.start()
            except Exception as error:
                self._fail_restart(error)
        self._tell_started()

    def running(self) -> bool:
        """Whether its stream is expected to be calling back (`problem` has something to
        look at): open, not stopped for lack of speech, not closing."""
        return self._stream is not None and not self._closing and not self._idle

    def _tell_started(self) -> None:
        if self.started is not None:
            self.started.set()

    def _fail_restart(self, error: Exception) -> None:
        with self._lock:
            self._idle = False
        self._stream_error = f"the audio stream cannot start again ({error})"

    def _stream_finished(self) -> None:
        if not self._closing and not self._idle:
            self._stream_error = "the audio stream stopped"


class OutputWatch:
    """Looks at every working channel each WATCH_INTERVAL while one is running, and at their
    sinks whenever the sound server removes one; `on_failed(channel, reason)` for each failure
    found (from its threads). While every stream is stopped for lack of speech it sleeps until
    one starts again (`started`, which the channels set).

    `channels()` gives the channels to look at now (the routes may add one: the default device).
    """

    def __init__(
        self, channels: Callable[[], list[OutputChannel]],
        on_failed: Callable[[OutputChannel, str], None], *, watch_sinks: bool,
        started: threading.Event | None = None,
    ) -> None:
        self._channels = channels
        self._on_failed = on_failed
        self._started = started or threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="output-watch", daemon=True)
        self._thread.start()
        self._sinks: PulseEvents | None = None
        if watch_sinks:
            self._sinks = PulseEvents(lambda _line: self._check_sinks(), wanted=SINK_REMOVED,
                                      thread="output-sinks")
            if not self._sinks.running:
                log.warning("cannot watch the sound server (no pactl): removed sinks will not "
                            "be noticed")

    def close(self) -> None:
        self._closed.set()
        self._started.set()
        if self._sinks is not None:
            self._sinks.close()

    def _working(self) -> list[OutputChannel]:
        return [channel for channel in self._channels() if channel.failed is None]

    def _poll(self) -> None:
        while not self._closed.is_set():
            self._started.clear()  # (before looking: a start from now on wakes the wait)
            if not any(channel.running() for channel in self._working()):
                self._started.wait()
                continue
            if self._closed.wait(WATCH_INTERVAL):
                break
            for channel in self._working():
                problem = channel.problem(time.monotonic())
                if problem:
                    self._on_failed(channel, problem)

    def _check_sinks(self) -> None:
        for channel in self._working():
            problem = channel.sink_problem()
            if problem:
                self._on_failed(channel, problem)


def at_rate(pcm: Pcm, rate: int) -> np.ndarray:
    """`pcm`'s samples at `rate` (only a device that refused STREAM_RATE needs this)."""
    samples = np.asarray(pcm.samples, dtype=np.int16)
    if pcm.rate == rate or len(samples) == 0:
        return samples
    resampled = soxr.resample(samples.astype(np.float32), pcm.rate, rate, quality="HQ")
    return np.clip(np.round(resampled), -32768, 32767).astype(np.int16)
