"""Where a session stands and what it did, as plain records: `SessionStatus` (the session
reports it; the status panel and the prompts read it) and `Summary` (made from a journal; the
closing words and `history` put it into words).

They sit below `session`, `journal` and `prompts`, which all use them, so those three import
one way: prompts -> progress, and session and journal -> prompts, progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from voice_guide.events import EndReason, Feedback, Phase
from voice_guide.protocol import Step


class Awaiting(StrEnum):
    """What the session waits for an answer to, besides commands."""

    CONFIRM_END = "confirm_end"  # "End the session now? Say yes or no."
    CLIENT_ANSWER = "client_answer"  # the client's answer to a pressure check-in


@dataclass(frozen=True)
class SessionStatus:
    phase: Phase
    index: int  # 1-based position in the expanded script, always within 1..total_steps
    total_steps: int
    step: Step | None  # the current step while in "steps", else None
    seconds_in_step: float  # active seconds spent in the current step (in "rest": in the rest)
    seconds_left_in_step: float  # never negative (in "rest": rest left)
    seconds_left_in_session: float  # this step's rest + later steps + the rest period
    paused: bool
    awaiting: Awaiting | None
    prep_item: int | None = None  # 1-based checklist item while in "prep"
    prep_items: int = 0  # items in the checklist
    seconds_left_in_rest: float | None = None  # while in "rest"


@dataclass(frozen=True)
class StepTime:
    index: int
    number: int
    seconds: float


@dataclass(frozen=True)
class Summary:
    """Time per move, total time and the client's pressure feedback, from the journal alone.

    Words: a *step* is one of the protocol's numbered steps, a *move* one item of the expanded
    script; `steps` holds one `StepTime` per move (its index, and the number of its step)."""

    steps: tuple[StepTime, ...]
    total_seconds: float
    feedback: tuple[Feedback, ...]  # one per check-in: its move index and answer
    finished: bool
    end_reason: EndReason | None  # None: unfinished (or an end this version cannot read)
    ended_early_at: int | None = None  # the step number a confirmed early end happened at

    def as_json(self) -> dict[str, Any]:
        return {
            "total_seconds": round(self.total_seconds, 1),
            "steps": [
                {"index": s.index, "number": s.number, "seconds": round(s.seconds, 1)}
                for s in self.steps
            ],
            "feedback": [feedback_json(f) for f in self.feedback],
            "finished": self.finished,
            "end_reason": self.end_reason,
        }


def feedback_json(feedback: Feedback) -> dict[str, Any]:
    """One check-in's answer in JSON output (`history --json`): `unconfirmed` only when true,
    as in the journal."""
    answer: dict[str, Any] = {"index": feedback.index, "answer": feedback.answer}
    if feedback.unconfirmed:
        answer["unconfirmed"] = True
    return answer
