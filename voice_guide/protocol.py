"""The massage protocol as data: load and validate a protocol YAML file, expand repeats.

`load(path) -> Script`. A Script is flat: repeats are expanded, so every `Step` is one move at
one position in the session, knowing its seed number, the move it performs (`origin`) and side.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Station:
    """Where the practitioner stands; `announce` is spoken when moving there."""

    id: str
    announce: str


@dataclass(frozen=True)
class Step:
    index: int  # 1-based position in the session
    number: int  # seed step number (1-22 in the back-massage protocol)
    origin: int  # seed number of the move performed; == number unless it is a repeat
    title: str
    station: Station
    side: str | None  # "right", "left" or None
    say: str  # the spoken instruction
    details: str  # the longer explanation, spoken on request
    seconds: int
    cues: tuple[str, ...] = ()  # safety and technique cues spoken with the step
    checkin: bool = False  # ask the client about pressure after this step


@dataclass(frozen=True)
class CheckIns:
    question: str  # heard by the client (room route)
    every_minutes: float  # at most this much hands-on time between check-ins
    answer_seconds: float  # how long the client's answer is waited for


@dataclass(frozen=True)
class Rest:
    seconds: int
    say: str  # room route, as the rest begins
    closing: str  # practitioner route, when the rest is over (offer a glass of water)


@dataclass(frozen=True)
class Script:
    name: str
    preparation: tuple[str, ...]
    opening: str  # spoken to the client before the first step
    steps: tuple[Step, ...]
    checkins: CheckIns
    rest: Rest
    source: Path | None = None

    @property
    def total_seconds(self) -> int:
        return sum(step.seconds for step in self.steps)


class ProtocolError(ValueError):
    """A protocol file is wrong: says the file, the line and the field path, and what was expected."""


DEFAULT_PROTOCOL = Path(__file__).resolve().parent.parent / "protocol.yaml"
