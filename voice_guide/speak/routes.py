"""The two routes of sound and their fallback: `practitioner` (earbuds) and `room` (the kiosk
speaker), each played on an output channel (`channel.py`).

`Player.play(pcm, route, text)` queues speech on the route's channel and returns at once. With
one device for both routes they share one channel, whose queue plays them in turn.

Audibility belongs to the device: the room speaker is heard by the microphone, the
practitioner's earbuds are not, unless configured so (`practitioner_audible`: no earbuds) or
shared with the room. Audible channels report to the `MicGate` (`gate.py`).

A failing output (found by `OutputWatch`, or unable to open) is logged and journaled
(`route_fallback`); its routes fall back to the other route's output, or else the default device,
and whatever it was saying, and had queued, is replayed on the fallback from the start. Nothing
is dropped silently: if no output is left, the text is journaled (`undelivered`) and
`on_undelivered(utterance)` is told.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from voice_guide.devices import DEFAULT_ENDPOINT, Endpoint
from voice_guide.events import Route, RouteFallback, Undelivered
from voice_guide.speak.channel import (
    OUTPUT_BLOCK,
    OUTPUT_LATENCY,
    OutputChannel,
    OutputWatch,
    Utterance,
)
from voice_guide.speak.gate import MicGate
from voice_guide.speak.speech import Pcm

log = logging.getLogger(__name__)

IDLE_POLL = 0.01  # s: how often wait_idle looks


class Player:
    """Speech on the `practitioner` and `room` routes, one channel per output device."""

    def __init__(
        self,
        practitioner: Endpoint = DEFAULT_ENDPOINT,
        room: Endpoint = DEFAULT_ENDPOINT,
        *,
        practitioner_audible: bool = False,
        gate: MicGate | None = None,
        on_note: Callable[[RouteFallback | Undelivered], None] | None = None,
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
        self._lock = threading.RLock()  # routes and channels; _fail re-enters through _send
        self._started = threading.Event()  # a channel's stream (re)started: the watch looks
        self._channels: dict[Endpoint, OutputChannel] = {}
        self._routes: dict[Route, OutputChannel] = {
            Route.PRACTITIONER: self._channel(practitioner),
            Route.ROOM: self._channel(room),
        }
        shared = self._routes[Route.PRACTITIONER] is self._routes[Route.ROOM]
        self._routes[Route.PRACTITIONER].audible = practitioner_audible or shared
        self._closed = threading.Event()
        self._watch = OutputWatch(
            self._all_channels, self._fail,
            watch_sinks=any(endpoint.pulse for endpoint in self._channels),
            started=self._started,
        )

    def open(self) -> None:
        """Open every route's stream now (else on first use), so the first text starts at once."""
        with self._lock:
            channels = set(self._routes.values())
        for channel in channels:
            self._ensure_open(channel)

    def play(self, pcm: Pcm, route: Route | str = Route.PRACTITIONER, text: str = "") -> Utterance:
        """Queue `pcm` on `route`; returns a handle to wait on (`wait`, `done`) or inspect."""
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

    def underruns(self) -> int:
        """Output underflows reported so far (each one a gap in what was heard), all outputs."""
        return sum(channel.underruns for channel in self._all_channels())

    def busy(self) -> bool:
        return any(channel.busy() for channel in self._all_channels())

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is playing or queued, and the last sample has been heard; True if
        so before `timeout`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.busy():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(IDLE_POLL)
        heard_by = max((channel.last_end for channel in self._all_channels()), default=0.0)
        time.sleep(max(0.0, heard_by - time.monotonic()))  # the buffered end plays out
        return True

    def close(self) -> None:
        self._closed.set()
        self._watch.close()
        for channel in self._all_channels():
            channel.interrupt()
            channel.close()
            if channel.underruns:
                log.warning("audio output %s: %d underruns (gaps in the sound)",
                            channel.endpoint.label, channel.underruns)

    def __enter__(self) -> Player:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- routing ------------------------------------------------------------------------------

    def _all_channels(self) -> list[OutputChannel]:
        with self._lock:
            return list(self._channels.values())

    def _channel(self, endpoint: Endpoint) -> OutputChannel:
        """The channel for `endpoint`, made on first use."""
        with self._lock:
            channel = self._channels.get(endpoint)
            if channel is None:
                channel = OutputChannel(endpoint, self.gate, self.latency, self.blocksize,
                                        started=self._started)
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

    def _ensure_open(self, channel: OutputChannel) -> bool:
        if channel.failed is not None:
            return False
        try:
            channel.open()
        except Exception as error:  # PortAudioError, OSError: the device is not there
            self._fail(channel, f"cannot open: {error}")
            return False
        return True

    # --- fallback -----------------------------------------------------------------------------

    def _fail(self, channel: OutputChannel, reason: str) -> None:
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
                self._note(RouteFallback(route, failed=channel.endpoint.label,
                                         to=fallback.endpoint.label, reason=reason))
        for utterance in pending:
            utterance.replays += 1
            log.warning("replaying %r on route %s from the start", utterance.text, utterance.route)
            self._send(utterance)

    def _fallback_for(self, route: Route, failed: OutputChannel) -> OutputChannel | None:
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
        self._note(Undelivered(utterance.route, utterance.text))
        if self._on_undelivered is not None:
            self._on_undelivered(utterance)

    def _note(self, note: RouteFallback | Undelivered) -> None:
        if self._on_note is not None:
            self._on_note(note)
