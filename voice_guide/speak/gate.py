"""The microphone gate: the recognizer must not hear the guide's own voice on the room speaker.

The microphone hears the room speaker (and the practitioner's output when it is audible: no
earbuds, or one device for both routes). While such an output plays, and for `TAIL_SECONDS`
after (the room's echo, the device's own buffering), what the microphone captures may be our
own speech and is not listened to. Earbuds are not heard, so listening goes on while they speak
(barge-in: "stop" in the middle of a cue).

Both sides share one `MicGate` and one clock (live: `time.monotonic()`; any clock does, as long
as both sides use it):
- the speaking side (an output channel's callback) reports each audible span as it will be
  heard at the device: `begin(key, start)` when its first sample is handed over, `end(key, end)`
  when its last one is, or when it is cut off;
- the listening side stamps each block with the time its first sample was captured
  (`capture_time`, in the input callback) and hands it to the listener through `feed`, which
  mutes the block when it may hold our speech. That is the one way the mute reaches the
  recognizer: per block, by capture time. So it holds however late the listening thread runs,
  and it does not drift over a long session: a sound card's sample clock and the system's part
  slowly, and each block is stamped afresh rather than counted from one origin.

On PulseAudio, the player's estimate of when a sample is heard and the microphone's capture
stamps of the same sound on the sink's monitor agree within a few milliseconds, also with the
machine's cores busy; `LEAD_SECONDS` is the margin for those estimates.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Protocol

import numpy as np

from voice_guide.events import Heard, Unclear

TAIL_SECONDS = 0.3  # the microphone stays muted this long after audible speech ends
LEAD_SECONDS = 0.05  # ... and from this long before it is due to begin
SPAN_HISTORY = 64  # ended spans kept: each block is looked at soon after it was captured
MIC_RATE = 16_000  # the listener's sample rate


class GatedListener(Protocol):
    """What `MicGate.feed` needs of a listener (voice_guide.listen.pipeline.Listener)."""

    @property
    def time(self) -> float:
        """Stream time of the next sample it will be fed."""
        ...

    def mute_until(self, t: float) -> None: ...

    def feed(self, block: np.ndarray) -> list[Heard | Unclear]: ...


class MicGate:
    """When the microphone may be hearing us: audible spans, plus `lead` before and `tail` after."""

    def __init__(
        self, tail: float = TAIL_SECONDS, lead: float = LEAD_SECONDS,
        history: int = SPAN_HISTORY,
    ) -> None:
        self.tail = tail
        self.lead = lead
        self._lock = threading.Lock()
        self._open: dict[int, float] = {}  # key -> start, of what is playing now
        self._ended: deque[tuple[float, float]] = deque(maxlen=history)

    # --- the speaking side ----------------------------------------------------------------------

    def begin(self, key: int, start: float) -> None:
        """Audible sound `key` is heard from `start` (until `end(key, ...)`). Cheap and
        non-blocking beyond a short lock: it runs in an output stream's callback."""
        with self._lock:
            self._open[key] = start

    def end(self, key: int, end: float) -> None:
        """Sound `key` is over at `end` (played out, or cut off). Unknown keys are ignored."""
        with self._lock:
            start = self._open.pop(key, None)
            if start is None:
                return
            self._ended.append((start, max(start, end)))

    # --- the listening side ---------------------------------------------------------------------

    def muted(self, t0: float, t1: float | None = None) -> bool:
        """Whether microphone input captured over [t0, t1] may hold our own speech."""
        t1 = t0 if t1 is None else t1
        with self._lock:
            if any(start - self.lead <= t1 for start in self._open.values()):
                return True
            return any(start - self.lead <= t1 and t0 <= end + self.tail
                       for start, end in self._ended)

    def feed(
        self, listener: GatedListener, block: np.ndarray, captured_at: float,
        rate: int = MIC_RATE,
    ) -> list[Heard | Unclear]:
        """Hand one block of microphone input to `listener`, muted whole when it may hold our
        speech; what the listener heard. `captured_at`: when the block's first sample was
        captured (`capture_time`), `rate` the block's sample rate."""
        seconds = len(block) / rate
        return feed_gated(listener, block, self.muted(captured_at, captured_at + seconds), rate)


def feed_gated(
    listener: GatedListener, block: np.ndarray, muted: bool, rate: int = MIC_RATE,
) -> list[Heard | Unclear]:
    """Hand one block to `listener`, muted whole if `muted` (`MicGate.muted` said so when the
    block arrived); what the listener heard."""
    if muted:
        listener.mute_until(listener.time + len(block) / rate)
    return list(listener.feed(block))


def capture_time(time_info: Any, now: float | None = None) -> float:
    """In a sounddevice input callback: the monotonic time the block's first sample was captured.
    PortAudio's stream clock (`time_info`) is not the monotonic clock, so only the difference of
    two of its times is used: how long ago the block was captured."""
    now = time.monotonic() if now is None else now
    try:
        return float(now - max(0.0, time_info.currentTime - time_info.inputBufferAdcTime))
    except AttributeError:  # no timing from the host API: the block is as old as its callback
        return now

