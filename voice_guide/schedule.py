"""Timers on an injected clock: pure, driven only by the `now` values passed in.

A `Schedule` keeps two clocks and named one-shot timers on either:

- real time: the session time the caller passes as `now` (seconds). Timers that are about people
  waiting for an answer run on it (the client's answer window, the "end session?" confirmation).
- active time: real time minus the paused spans. Timers that measure the massage itself run on it
  (a step's time, the rest period), so they freeze while the session is paused.

`pop_due(now)` hands back the earliest timer due at or before `now` with the exact time it fell
due, so a caller that processes timers one by one at their own deadlines gets the same result
whether it is ticked every 10 ms or once an hour (the session's determinism contract).
There is no wall clock, randomness or I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Due:
    """A timer that fell due: its name and the real time it fell due at."""

    name: str
    at: float


class Schedule:
    """Named one-shot timers on a real clock and on a pause-aware active clock."""

    def __init__(self, start: float, priority: tuple[str, ...] = ()) -> None:
        # Active time is `_active_base` at real time `_since`, and runs with real time unless
        # paused; storing it this way keeps every conversion a single subtraction.
        self._active_base = 0.0
        self._since = start
        self._paused = False
        self._real: dict[str, float] = {}  # name -> real time it falls due
        self._active: dict[str, float] = {}  # name -> active time it falls due
        # Timers due at the same instant fire in this order (then by name): deterministic.
        self._priority = {name: rank for rank, name in enumerate(priority)}

    # --- clocks -------------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self._paused

    def active(self, now: float) -> float:
        """Active seconds at real time `now` (real time minus every paused span)."""
        if self._paused:
            return self._active_base
        return self._active_base + (now - self._since)

    def pause(self, now: float) -> None:
        if not self._paused:
            self._active_base = self.active(now)
            self._since = now
            self._paused = True

    def resume(self, now: float) -> None:
        if self._paused:
            self._since = now
            self._paused = False

    # --- timers -------------------------------------------------------------------------------

    def set_real(self, name: str, seconds: float, now: float) -> None:
        """(Re)arm `name` to fall due `seconds` of real time after `now`."""
        self._active.pop(name, None)
        self._real[name] = now + seconds

    def set_active(self, name: str, seconds: float, now: float) -> None:
        """(Re)arm `name` to fall due after `seconds` of active time from `now`."""
        self._real.pop(name, None)
        self._active[name] = self.active(now) + seconds

    def cancel(self, name: str) -> None:
        self._real.pop(name, None)
        self._active.pop(name, None)

    def cancel_all(self) -> None:
        self._real.clear()
        self._active.clear()

    def pending(self, name: str) -> bool:
        return name in self._real or name in self._active

    def left(self, name: str, now: float) -> float | None:
        """Seconds until `name` falls due (active seconds for an active timer), never negative;
        None when it is not armed."""
        if name in self._real:
            return max(0.0, self._real[name] - now)
        if name in self._active:
            return max(0.0, self._active[name] - self.active(now))
        return None

    def deadline(self, name: str) -> float | None:
        """The real time `name` falls due; None if not armed, or frozen by the pause."""
        if name in self._real:
            return self._real[name]
        if name in self._active and not self._paused:
            return self._since + (self._active[name] - self._active_base)
        return None

    def next_deadline(self) -> float | None:
        """The real time of the earliest timer that can fall due (None: nothing will)."""
        first = self._first()
        return first.at if first else None

    def pop_due(self, now: float) -> Due | None:
        """Remove and return the earliest timer due at or before `now`, or None."""
        first = self._first()
        if first is None or first.at > now:
            return None
        self.cancel(first.name)
        return first

    def _first(self) -> Due | None:
        candidates = []
        for name in (*self._real, *self._active):
            at = self.deadline(name)
            if at is not None:
                candidates.append((at, self._priority.get(name, len(self._priority)), name))
        if not candidates:
            return None
        at, _, name = min(candidates)
        return Due(name, at)
