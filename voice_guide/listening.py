"""The listening thread: microphone blocks in, `Heard` out to the live loop's inbox.

`ListeningThread` loads the recognizer (while the welcome is spoken), opens the microphone
(`voice_guide.microphone`), and for each captured block: resamples it to 16 kHz (the filter's
state kept from block to block), feeds it to the `listen.Listener` (segmenter + recognizer,
narrowed to what the session accepts now, muted while the guide is audible to the microphone),
and puts every `Heard` in the inbox. If the microphone cannot be used after all, the loop is told
(`ListeningStopped`) and carries on from typed commands.

Each block goes to the listener through the player's microphone gate (`speak.gate.MicGate`,
the one mute path): a block captured while the room speaker may be heard is muted whole, by its
capture time, however late this thread runs. While nothing can be heard yet (a quiet room),
blocks are held back and fed ~100 ms at a time (`HeldInput`): the same samples, the same
answers at the same moments, a fraction of the CPU. Stream time, the time of every `Heard`, is the
16 kHz samples handed to the listener over all streams so far: it carries on over a change of
microphone.

A microphone lost mid-session (its source removed from the sound server, or a stream that stops:
no callback for MIC_STALL_SECONDS, or ended) is closed at once: the server would otherwise move
the stream to another source, possibly the monitor of our own earbud output. The practitioner is
told (MIC_LOST / MIC_FALLBACK) and it is journaled (`microphone_lost`); listening moves to the
server's default source if that is a real microphone (never a monitor, which hears what we play),
else pauses. When the configured microphone is there again and delivers sound, listening goes
back to it (MIC_BACK, `microphone_back`). The watch thread does this.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from voice_guide.commands import Command
from voice_guide.events import Heard, ListeningStarted, MicrophoneBack, MicrophoneLost, Unclear
from voice_guide.loop import Inbox, ListeningStopped, Noticed
from voice_guide.microphone import RATE, CapturedBlock, MicrophoneStream, Resampler
from voice_guide.prompts import MIC_BACK, MIC_FALLBACK, MIC_LOST
from voice_guide.speak.gate import MicGate, feed_gated

log = logging.getLogger(__name__)

MIC_STALL_SECONDS = 3.0  # a running input stream without a callback this long has stopped
# (not less: on a busy machine callbacks can come more than a second late)
MIC_CONFIRM_SECONDS = 0.5  # a reopened microphone is back once it has delivered this long
MIC_RETRY_SECONDS = 1.0  # while lost: how often it is looked for, besides the server's events
MIC_WATCH_SECONDS = 5.0  # the watch wakes at least this often (it is woken when needed)
MIC_WATCH_MIN_SECONDS = 0.05  # ...and at most this often (a stall re-checked when due)


@dataclass(frozen=True)
class ListeningOptions:
    """What `run` was asked about listening: the recognizer and the microphone."""

    engine: str = "auto"
    model: str | None = None
    profile: str = "auto"  # speaker profile (listen/profile.py): auto, none or a name
    input_device: str | None = None


class ListeningThread:
    """The microphone side of a live session, on threads of its own (see the module's text)."""

    def __init__(
        self,
        options: ListeningOptions,
        endpoint: Any,  # devices.Endpoint: the configured microphone
        inbox: Inbox,
        accepts: Callable[[], frozenset[Command]],
        gate: MicGate | None = None,  # when the microphone may hear us (the speaker's)
    ) -> None:
        self.options = options
        self.endpoint = endpoint
        self.inbox = inbox
        self.accepts = accepts
        self.gate = gate
        self.listener: Any = None  # listen.pipeline.Listener, once the recognizer has loaded
        self.engine = ""  # the recognizer's name, once loaded
        self._blocks: queue.Queue[CapturedBlock | None] = queue.Queue()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="listen", daemon=True)
        # The stream in use (None while listening is paused); the watch thread swaps it.
        self._microphone: MicrophoneStream | None = None
        self._source: str | None = None  # the sound-server source recorded from, when known
        self._configured_source: str | None = None  # the configured one's, at the start
        self._next_look = 0.0
        self._changed = threading.Event()  # the sound server's sources changed
        self._events: Any = None  # devices.PulseEvents
        self._watcher = threading.Thread(target=self._watch, name="listen-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._closed.set()
        self._changed.set()
        self._blocks.put(None)
        if self._events is not None:
            self._events.close()
        if self._watcher.is_alive():
            self._watcher.join(timeout=5)  # it may be opening a stream: let it finish first
        microphone, self._microphone = self._microphone, None
        if microphone is not None:
            microphone.stop()
        self._thread.join(timeout=5)

    # --- the listening thread ---------------------------------------------------------------

    def _run(self) -> None:
        try:
            self.listener = self._make_listener()
            self._start_listening()
        except Exception as error:
            self.inbox.put(ListeningStopped(one_line(error)))
            return
        self._watcher.start()
        try:
            self._listen()
        except Exception as error:  # the recognizer broke mid-session: carry on by keyboard
            log.exception("listening failed")
            self.inbox.put(ListeningStopped(one_line(error)))

    def _listen(self) -> None:
        """Resample each block (one filter per stream, its state kept between blocks) and hand
        it to the listener, through the gate when something of ours may be heard (`HeldInput`)."""
        stream: MicrophoneStream | None = None
        resample = Resampler(RATE)
        held = HeldInput(self.listener, self.gate)
        taken = 0  # blocks of `stream` taken from the queue
        while not self._closed.is_set():
            block = self._blocks.get()
            if block is None:
                break
            if block.stream is not stream:  # a new microphone, maybe at another rate
                stream, resample, taken = block.stream, Resampler(block.stream.rate), 0
            for command in held.take(resample(block.samples), block.captured_at):
                self.inbox.put(command)
            taken += 1
            if self._blocks.empty():  # the stream may keep back what `held` could still hold
                stream.hold_back(held.room * stream.rate // RATE, taken)

    def _make_listener(self) -> Any:
        from voice_guide.listen.factory import make_recognizer
        from voice_guide.listen.pipeline import Listener

        recognizer, reason = make_recognizer(self.options.engine, self.options.model,
                                             profile=self.options.profile)
        self.engine = recognizer.name
        if reason:
            log.info("%s", reason)
        return Listener(recognizer, self.accepts, answers=True)

    def _start_listening(self) -> None:
        """Open the configured microphone; watch the sound server when it is one of its
        sources (or the server's default)."""
        from voice_guide.devices import PulseEvents

        self._activate(MicrophoneStream.open(self.endpoint, self._blocks, self._changed.set))
        self._configured_source = self._source
        if self._source is not None:
            self._events = PulseEvents(lambda line: self._changed.set())
        self._tell(ListeningStarted(self.endpoint.label, self._source, self.engine))

    def _activate(self, microphone: MicrophoneStream) -> None:
        self._microphone = microphone
        self._source = self._source_of(microphone.endpoint)
        microphone.active = True

    # --- the watch thread: a microphone lost, a fallback, back again -------------------------

    def _watch(self) -> None:
        """Wakes when the sound server's sources change, a stream ends, or a stall or a look
        for the configured microphone is due: it does not poll."""
        while not self._closed.is_set():
            changed = self._changed.wait(self._due(time.monotonic()))
            if self._closed.is_set():
                break
            if changed:
                self._changed.clear()
            try:
                self._check(changed, time.monotonic())
            except Exception:
                log.exception("watching the microphone")

    def _due(self, now: float) -> float:
        """Seconds until `_check` has something to look at without being woken: the stream
        in use stalling, or the next look for the configured microphone while not on it."""
        microphone = self._microphone
        due = math.inf
        if microphone is not None:
            due = microphone.last + MIC_STALL_SECONDS
        if microphone is None or microphone.endpoint is not self.endpoint:
            due = min(due, self._next_look)
        return min(MIC_WATCH_SECONDS, max(MIC_WATCH_MIN_SECONDS, due - now))

    def _check(self, changed: bool, now: float) -> None:
        microphone = self._microphone
        if microphone is not None:
            why = self._problem(microphone, changed, now)
            if why:
                self._lose(microphone, why, now)
            elif microphone.endpoint is self.endpoint:
                return  # listening on the configured microphone
        # Paused, or on a fallback: is the configured microphone there again?
        if changed or now >= self._next_look:
            self._next_look = now + MIC_RETRY_SECONDS
            self._look_again()

    def _problem(self, microphone: MicrophoneStream, changed: bool, now: float) -> str:
        """Why the stream in use has stopped hearing the microphone, or ""."""
        from voice_guide.devices import pulse_sources

        if microphone.ended:
            return "its input stream stopped"
        quiet = now - microphone.last
        if quiet > MIC_STALL_SECONDS:
            return f"no sound from it for {quiet:.1f} s"
        if changed and self._source is not None:
            sources = pulse_sources()  # None: the server did not answer; nothing to conclude
            if sources is not None and self._source not in {s.name for s in sources}:
                return f"the sound server removed source {self._source!r}"
        return ""

    def _lose(self, microphone: MicrophoneStream, why: str, now: float) -> None:
        lost, lost_source = microphone.endpoint, self._source
        microphone.close()
        self._microphone, self._source = None, None
        self._next_look = now + MIC_RETRY_SECONDS
        fallback = self._fallback(lost, lost_source)
        if fallback is not None:
            try:
                self._activate(MicrophoneStream.open(fallback, self._blocks, self._changed.set))
            except Exception as error:
                log.warning("cannot listen on %s: %s", fallback.label, one_line(error))
                fallback = None
        log.warning("microphone %s lost (%s); %s", lost.label, why,
                    f"listening on {fallback.label}" if fallback is not None
                    else "listening paused")
        listening_on = fallback.label if fallback is not None else None
        self._tell(MicrophoneLost(lost.label, why, listening_on),
                   MIC_FALLBACK if fallback is not None else MIC_LOST)

    def _fallback(self, lost: Any, lost_source: str | None) -> Any:
        """The server's default source if it is a real microphone (not a monitor: that hears
        what we play) other than the lost one; without a server, PortAudio's default input."""
        from voice_guide.devices import (
            DEFAULT_ENDPOINT,
            pulse_default_source,
            pulse_source_endpoint,
            pulse_sources,
        )

        sources = pulse_sources()
        if sources is None:
            return None if lost.is_default else DEFAULT_ENDPOINT
        default = pulse_default_source()
        for source in sources:
            if source.name == default and not source.monitor and source.name != lost_source:
                try:
                    return pulse_source_endpoint(source.name)
                except Exception:  # DeviceError: no PortAudio device reaches the server
                    return None
        return None

    def _look_again(self) -> None:
        """Back to the configured microphone once it is there again and delivers sound."""
        from voice_guide.devices import pulse_sources

        if self._configured_source is not None:
            sources = pulse_sources()
            if sources is None or self._configured_source not in {s.name for s in sources}:
                return
        elif self._microphone is not None:
            return  # on a fallback, and no way to tell the configured one is back: stay
        try:
            trial = MicrophoneStream.open(self.endpoint, self._blocks, self._changed.set)
        except Exception:
            return  # not yet
        deadline = time.monotonic() + MIC_CONFIRM_SECONDS + MIC_STALL_SECONDS
        while not self._closed.is_set() and time.monotonic() < deadline and not trial.ended:
            if trial.first is not None and time.monotonic() - trial.first >= MIC_CONFIRM_SECONDS:
                break
            self._closed.wait(0.05)
        now = time.monotonic()
        if (self._closed.is_set() or trial.ended or trial.first is None
                or now - trial.first < MIC_CONFIRM_SECONDS or now - trial.last > 0.5):
            trial.close()  # opened but silent: not back yet
            return
        previous, self._microphone = self._microphone, None
        if previous is not None:
            previous.close()
        self._activate(trial)
        log.warning("microphone %s is back", self.endpoint.label)
        self._tell(MicrophoneBack(self.endpoint.label), MIC_BACK)

    def _source_of(self, endpoint: Any) -> str | None:
        """The sound-server source `endpoint` records from, when the server can tell."""
        from voice_guide.devices import pulse_default_source

        if endpoint.pulse:
            return str(endpoint.pulse)
        return pulse_default_source() if endpoint.is_default else None

    def _tell(
        self, note: ListeningStarted | MicrophoneLost | MicrophoneBack, text: str = ""
    ) -> None:
        """Journal `note`, and say `text` to the practitioner (on the loop's thread)."""
        self.inbox.put(Noticed(note, text))


class HeldInput:
    """Microphone blocks (16 kHz) on their way to the listener, held back while nothing can be
    heard in them and then fed at once. The listener's work for a block costs far more when
    each 20 ms block wakes it than the samples themselves do (cold caches, numpy's cost per
    call: measured, a quiet room cost 3 % of a core at 20 ms, 1.3 % at 100 ms), so a quiet
    room is looked at every ~100 ms. No answer comes later for it: blocks are held only while
    the listener's `slack` says no utterance could end in them, and a block is fed as soon as
    one could. Each block is gated (muted while our own speech may be in it) when it arrives,
    and muted whole (`feed_gated`)."""

    def __init__(self, listener: Any, gate: MicGate | None) -> None:
        self.listener = listener  # listen.pipeline.Listener
        self.gate = gate
        self._held: list[tuple[np.ndarray, bool]] = []  # (samples, muted)
        self._samples = 0  # held
        self._slack = 0  # samples the listener can take without anything heard in them

    @property
    def room(self) -> int:
        """Samples (16 kHz) more that could be held now."""
        return max(0, self._slack - self._samples)

    def take(self, samples: np.ndarray, captured_at: float) -> list[Heard | Unclear]:
        """The next block and when its first sample was captured; what was heard in the
        blocks fed now."""
        seconds = len(samples) / RATE
        muted = self.gate is not None and self.gate.muted(captured_at, captured_at + seconds)
        self._held.append((samples, muted))
        self._samples += len(samples)
        if self._samples <= self._slack:
            return []
        heard = self._feed()
        self._slack = self.listener.slack
        return heard

    def _feed(self) -> list[Heard | Unclear]:
        """The held blocks to the listener: each run of unmuted ones as one block."""
        heard: list[Heard | Unclear] = []
        run: list[np.ndarray] = []
        for samples, muted in self._held:
            if muted:
                if run:
                    heard += self.listener.feed(np.concatenate(run))
                    run = []
                heard += feed_gated(self.listener, samples, muted=True, rate=RATE)
            else:
                run.append(samples)
        if run:
            heard += self.listener.feed(run[0] if len(run) == 1 else np.concatenate(run))
        self._held, self._samples = [], 0
        return heard


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
