"""The messages that flow through voice-guide: small frozen dataclasses.

Inputs to the session: `Heard` (a recognized or typed command) and the clock (`now`, seconds).
Outputs from the session (actions): `Say`, `StepStarted`, `Feedback`, `Paused`, `Resumed`,
`Silence`, `Ended`, `Note`. Every action, and `Heard`, turns into one JSON-ready record
(`record(t)`) so the `simulate` log and the session journal share one form:
`{"t": seconds, "type": ..., ...}`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from voice_guide.commands import Command


class Route(StrEnum):
    """Where a text is spoken: the practitioner's earbuds, or the room speaker the client hears."""

    PRACTITIONER = "practitioner"
    ROOM = "room"


@dataclass(frozen=True)
class Heard:
    """A command heard (or typed). Times are seconds of stream time (session time when typed)."""

    command: Command
    phrase: str
    confidence: float = 1.0
    start: float = 0.0
    end: float = 0.0

    def record(self, t: float) -> dict[str, Any]:
        return _record(
            t, "heard", command=str(self.command), phrase=self.phrase,
            confidence=round(self.confidence, 3),
        )


@dataclass(frozen=True)
class Say:
    """Speak `text` on `route`. `kind` says what it is (step, station, cue, checkin, rest, ...)."""

    text: str
    route: Route = Route.PRACTITIONER
    kind: str = "cue"

    def record(self, t: float) -> dict[str, Any]:
        return _record(t, "say", text=self.text, route=str(self.route), kind=self.kind)


@dataclass(frozen=True)
class Silence:
    """Stop whatever is being spoken now (pause/stop interrupts speech at once)."""

    def record(self, t: float) -> dict[str, Any]:
        return _record(t, "silence")


@dataclass(frozen=True)
class StepStarted:
    """The session moved to step `index` (1-based position in the expanded script)."""

    index: int
    number: int
    origin: int

    def record(self, t: float) -> dict[str, Any]:
        return _record(t, "step", index=self.index, number=self.number, origin=self.origin)


@dataclass(frozen=True)
class Feedback:
    """The client's answer to a pressure check-in: lighter, deeper, good, or None (no answer)."""

    answer: str | None
    index: int

    def record(self, t: float) -> dict[str, Any]:
        return _record(t, "feedback", answer=self.answer, index=self.index)


@dataclass(frozen=True)
class Paused:
    def record(self, t: float) -> dict[str, Any]:
        return _record(t, "pause")


@dataclass(frozen=True)
class Resumed:
    def record(self, t: float) -> dict[str, Any]:
        return _record(t, "resume")


@dataclass(frozen=True)
class Ended:
    """The session closed: `completed` after the rest period, or `ended` on a confirmed end."""

    reason: str

    def record(self, t: float) -> dict[str, Any]:
        return _record(t, "end", reason=self.reason)


@dataclass(frozen=True)
class Note:
    """Anything else worth logging (check-in asked, rest started, a step's time is up...)."""

    type: str
    fields: dict[str, Any] = field(default_factory=dict)

    def record(self, t: float) -> dict[str, Any]:
        return _record(t, self.type, **self.fields)


Action = Say | Silence | StepStarted | Feedback | Paused | Resumed | Ended | Note


def _record(t: float, type_: str, **fields: Any) -> dict[str, Any]:
    return {"t": round(t, 3), "type": type_, **fields}
