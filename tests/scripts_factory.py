"""Small `Script`s built directly in Python, for session tests that need exact numbers.

The whole-session tests run on the real `protocol.yaml`; these let a test choose each step's
station, time and check-in flag so one rule at a time can be checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from voice_guide.protocol import CheckIns, Rest, Script, Station, Step

STATIONS = {
    "head": Station("head", "Stand at the head of the table."),
    "left": Station("left", "Stand at the left. Reach over to the right."),
    "right": Station("right", "Stand at the right. Reach over to the left."),
}
QUESTION = "How is the pressure?"
REST_SAY = "Relax now. No need to talk."
CLOSING = "Offer a glass of water."
OPENING = "Tell me if anything feels wrong."
PREPARATION = ("Warm the room.", "Warm the oil.", "Ask about allergies.")


@dataclass(frozen=True)
class Move:
    station: str = "head"
    seconds: int = 60
    checkin: bool = False
    side: str | None = None
    details: str = ""
    number: int | None = None  # seed step number; default: the move's position
    repeats: int | None = None  # the seed number this move repeats (origin), if any


def make_script(
    moves: Sequence[Move],
    *,
    every_minutes: float = 8.0,
    answer_seconds: float = 8.0,
    rest_seconds: int = 120,
    preparation: tuple[str, ...] = PREPARATION,
) -> Script:
    steps = []
    for index, move in enumerate(moves, start=1):
        number = move.number if move.number is not None else index
        origin = move.repeats if move.repeats is not None else number
        steps.append(
            Step(
                index=index,
                number=number,
                origin=origin,
                title=f"Move {index}",
                station=STATIONS[move.station],
                side=move.side,
                say=f"Do move {index}.",
                details=move.details,
                seconds=move.seconds,
                cues=(f"Cue for move {index}.",),
                checkin=move.checkin,
            )
        )
    return Script(
        name="test routine",
        preparation=preparation,
        opening=OPENING,
        steps=tuple(steps),
        checkins=CheckIns(QUESTION, every_minutes, answer_seconds),
        rest=Rest(rest_seconds, REST_SAY, CLOSING),
    )


def uniform_script(count: int, seconds: int = 60, **kwargs: object) -> Script:
    return make_script([Move(seconds=seconds) for _ in range(count)], **kwargs)  # type: ignore[arg-type]
