"""The dialogue manager: a pure state machine that walks a practitioner through a Script.

Events in (`start`, `heard` a command, `tick` the clock), actions out (the dataclasses of
`voice_guide.events`: say this on the practitioner or room route, log this). No audio, files,
wall clock or randomness inside: the caller passes `now` (session seconds) with every call, and a
Session is a pure function of its call sequence (see `tick`).

Phases: "idle" (before `start`), "prep" (the preparation checklist, only with `prep=True`),
"steps", "rest", "ended".

Decisions where the issue is silent:
- Timers of the massage (a step's time, the rest, hands-on time between check-ins) run on active
  time and freeze while paused; the client's answer window and the end confirmation run on real
  time (they are about someone waiting to answer).
- While paused, "next"/"go"/"continue"/"resume" only resume. "back" and "skip" resume and then
  move (an explicit move means hands are on again). Every other command is answered and the
  session stays paused.
- A pending "end session?" is cancelled by any other practitioner command, which is then handled
  normally; "help" says "yes or no" and leaves it pending, "end session" again asks again, and
  the client's answers (lighter/deeper/good) leave it pending. Unanswered, it lapses after
  `confirm_seconds` with a short "Not ending" cue.
- Check-ins are asked at forward step boundaries (next, skip, auto): after a flagged step left by
  next or auto (a skipped step was not worked), or when `every_minutes` of hands-on time passed
  since the last one (or since step 1), deferred by one step when the next step is flagged
  anyway; never while an answer window is open, never within `checkin_min_gap_seconds` of
  hands-on time after the previous one, never into the rest.
- During the rest: "next", "repeat", "details", "where" and "how long" say how much rest is
  left; "skip" ends the rest early (closing cue, session completed); "back" returns to the last
  step.
- Commands the session does not accept now (yes/no with nothing pending, a client answer outside
  a window) are logged as `Note("ignored")` and change nothing; after the end, nothing is logged.
- A `now` earlier than one already seen is taken as the latest time seen (time never runs back).
"""

from __future__ import annotations

from dataclasses import dataclass

from voice_guide.commands import CLIENT_ANSWERS, CONFIRM_COMMANDS, GLOBAL_COMMANDS, Command
from voice_guide.events import (
    Action,
    Ended,
    Feedback,
    Heard,
    Note,
    Paused,
    Resumed,
    Route,
    Say,
    Silence,
    StepStarted,
)
from voice_guide.protocol import Script, Step
from voice_guide.schedule import Schedule


@dataclass(frozen=True)
class SessionSettings:
    auto: bool = False  # advance by itself when a step's time is up
    checkin_every_minutes: float | None = None  # None: the protocol's value
    answer_seconds: float | None = None  # None: the protocol's value (client answer window)
    rest_seconds: float | None = None  # None: the protocol's value
    confirm_seconds: float = 10.0  # an unanswered "end session?" lapses after this
    checkin_min_gap_seconds: float = 120.0  # hands-on time that must pass between two check-ins


@dataclass(frozen=True)
class SessionStatus:
    phase: str  # "idle" | "prep" | "steps" | "rest" | "ended"
    index: int  # 1-based position in the expanded script, always within 1..total_steps
    total_steps: int
    step: Step | None  # the current step while in "steps", else None
    seconds_in_step: float  # active seconds spent in the current step (in "rest": in the rest)
    seconds_left_in_step: float  # never negative (in "rest": rest left)
    seconds_left_in_session: float  # this step's rest + later steps + the rest period
    paused: bool
    awaiting: str | None  # "confirm_end" | "client_answer" | None
    prep_item: int | None = None  # 1-based checklist item while in "prep"
    seconds_left_in_rest: float | None = None  # while in "rest"


# Spoken texts of the guide itself (the protocol supplies everything about the massage).
TIME_UP = "Time is up for this step. Say next when ready."
PAUSED = "Paused. Say resume when ready."
RESUMING = "Resuming."
NOT_PAUSED = "Not paused."
FIRST_STEP = "You are at the first step."
FIRST_ITEM = "This is the first item."
NO_STEP_DETAILS = "There are no more details for this step."
NO_PREP_DETAILS = "There are no more details for this item."
CONFIRM_END = "End the session now? Say yes or no."
CONFIRM_DECLINED = "Carrying on."
CONFIRM_LAPSED = "Not ending. Carrying on."
SESSION_ENDED = "Session ended."
CHECKIN_HINT = "Checking in with the client on pressure."
PREP_INTRO = "Preparation checklist. Say next after each item, or skip to skip the checklist."
RELAY = {
    Command.LIGHTER: "Client would like lighter pressure.",
    Command.DEEPER: "Client would like deeper pressure.",
    Command.GOOD: "Client says the pressure is good.",
}
HELP_STEPS = "Say next, back, repeat, details, where am I, how long, pause, or end session."
HELP_PAUSED = "Paused. Say resume to carry on, or end session."
HELP_PREP = "Say next for the next item, back, repeat, or skip to skip the checklist."
HELP_REST = "Resting. Say how long, skip to finish the rest now, or end session."
HELP_CONFIRM = "Say yes to end the session, or no to carry on."

# Timer names; at the same instant they fire in this order.
_CONFIRM, _ANSWER, _STEP, _REST = "confirm", "answer", "step", "rest"
_PRIORITY = (_CONFIRM, _ANSWER, _STEP, _REST)


class Session:
    def __init__(self, script: Script, settings: SessionSettings = SessionSettings()) -> None:
        if not script.steps:
            raise ValueError("a script needs at least one step")
        self.script = script
        self.settings = settings
        self._phase = "idle"
        self._schedule = Schedule(0.0, _PRIORITY)
        self._now = 0.0
        self._prep_item = 0  # 0-based
        self._index = 1
        self._station_id: str | None = None  # the station last announced
        self._step_started_active = 0.0
        self._answer_index: int | None = None  # the step a pending check-in was asked after
        self._steps_started_active = 0.0
        self._last_checkin_active: float | None = None  # None: no check-in asked yet

    # --- public interface ---------------------------------------------------------------------

    def start(self, now: float, *, prep: bool = False) -> list[Action]:
        """Open the session: the preparation checklist first when `prep`, else the opening cue,
        the station and step 1. A second call does nothing."""
        if self._phase != "idle":
            return []
        self._schedule = Schedule(now, _PRIORITY)
        self._now = now
        if prep and self.script.preparation:
            self._phase = "prep"
            self._prep_item = 0
            return [
                Note("prep", {"items": len(self.script.preparation)}),
                Say(PREP_INTRO, kind="prep_intro"),
                self._say_prep_item(),
            ]
        return self._begin_steps(now)

    def heard(self, heard: Heard, now: float) -> list[Action]:
        """Process every timer due up to `now` first, then the command."""
        if self._phase in ("idle", "ended"):
            return []
        now = max(now, self._now)
        actions = self._run_timers(now)
        if self._phase == "ended":
            return actions
        command = heard.command
        if command not in self.accepts():
            return [*actions, Note("ignored", {"command": str(command)})]
        return actions + self._handle(command, now)

    def tick(self, now: float) -> list[Action]:
        """Process every timer due up to `now`, in time order, each at its own deadline: so
        `tick(t1); tick(t2)` leaves exactly the state `tick(t2)` alone does."""
        if self._phase in ("idle", "ended"):
            return []
        return self._run_timers(max(now, self._now))

    def accepts(self) -> frozenset[Command]:
        """The commands meaningful now (narrows the recognizer's grammar)."""
        if self._phase in ("idle", "ended"):
            return frozenset()
        accepted = set(GLOBAL_COMMANDS)
        if self._schedule.pending(_CONFIRM):
            accepted |= CONFIRM_COMMANDS
        if self._answer_index is not None:
            accepted |= CLIENT_ANSWERS
        return frozenset(accepted)

    def next_deadline(self) -> float | None:
        """When `tick` will next do something (None: not until a command comes)."""
        if self._phase in ("idle", "ended"):
            return None
        return self._schedule.next_deadline()

    def status(self, now: float) -> SessionStatus:
        """Where the session is, as of the last processed event, with times measured at `now`."""
        now = max(now, self._now)
        steps = self.script.steps
        in_step = left_in_step = 0.0
        step: Step | None = None
        rest_left: float | None = None
        if self._phase == "steps":
            step = steps[self._index - 1]
            in_step = self._schedule.active(now) - self._step_started_active
            left_in_step = max(0.0, step.seconds - in_step)
            later = sum(s.seconds for s in steps[self._index :])
            left_in_session = left_in_step + later + self._rest_seconds
        elif self._phase == "rest":  # the step times measure the rest period
            rest_left = self._schedule.left(_REST, now) or 0.0
            in_step, left_in_step = max(0.0, self._rest_seconds - rest_left), rest_left
            left_in_session = rest_left
        elif self._phase == "ended":
            left_in_session = 0.0
        else:
            left_in_session = float(self.script.total_seconds + self._rest_seconds)
        if self._schedule.pending(_CONFIRM):
            awaiting: str | None = "confirm_end"
        elif self._answer_index is not None:
            awaiting = "client_answer"
        else:
            awaiting = None
        return SessionStatus(
            phase=self._phase,
            index=self._index,
            total_steps=len(steps),
            step=step,
            seconds_in_step=in_step,
            seconds_left_in_step=left_in_step,
            seconds_left_in_session=left_in_session,
            paused=self._schedule.paused,
            awaiting=awaiting,
            prep_item=self._prep_item + 1 if self._phase == "prep" else None,
            seconds_left_in_rest=rest_left,
        )

    @property
    def ended(self) -> bool:
        return self._phase == "ended"

    # --- settings resolved against the protocol -----------------------------------------------

    @property
    def _checkin_every_seconds(self) -> float:
        minutes = self.settings.checkin_every_minutes
        return 60.0 * (self.script.checkins.every_minutes if minutes is None else minutes)

    @property
    def _answer_seconds(self) -> float:
        seconds = self.settings.answer_seconds
        return self.script.checkins.answer_seconds if seconds is None else seconds

    @property
    def _rest_seconds(self) -> float:
        seconds = self.settings.rest_seconds
        return float(self.script.rest.seconds if seconds is None else seconds)

    # --- timers -------------------------------------------------------------------------------

    def _run_timers(self, now: float) -> list[Action]:
        actions: list[Action] = []
        while self._phase not in ("idle", "ended") and (due := self._schedule.pop_due(now)):
            self._now = max(self._now, due.at)
            actions += self._fire(due.name, due.at)
        self._now = now
        return actions

    def _fire(self, name: str, at: float) -> list[Action]:
        if name == _CONFIRM:
            return [Note("confirm", {"state": "lapsed"}), Say(CONFIRM_LAPSED, kind="confirm")]
        if name == _ANSWER:
            index, self._answer_index = self._answer_index, None
            return [Feedback(None, index if index is not None else self._index)]
        if name == _STEP:
            actions: list[Action] = [Note("time_up", {"index": self._index})]
            if self.settings.auto:
                return actions + self._forward(at, how="auto")
            return [*actions, Say(TIME_UP, kind="time_up")]
        if name == _REST:
            return self._finish_rest()
        raise AssertionError(f"unknown timer {name!r}")

    # --- commands -----------------------------------------------------------------------------

    def _handle(self, command: Command, now: float) -> list[Action]:
        if command in CLIENT_ANSWERS:
            return self._client_answer(command)
        if command in CONFIRM_COMMANDS:
            return self._confirm_answer(command)
        actions: list[Action] = []
        if self._schedule.pending(_CONFIRM) and command is Command.HELP:
            return [Say(HELP_CONFIRM, kind="help")]  # asking what to say is not a "no"
        if self._schedule.pending(_CONFIRM) and command is not Command.END:
            self._schedule.cancel(_CONFIRM)
            actions.append(Note("confirm", {"state": "cancelled"}))
        if self._schedule.paused:
            if command in (Command.NEXT, Command.RESUME):
                return actions + self._resume(now)
            if command in (Command.BACK, Command.SKIP):
                actions += self._resume(now)
        handler = {
            Command.NEXT: self._next,
            Command.BACK: self._back,
            Command.REPEAT: self._repeat,
            Command.SKIP: self._skip,
            Command.DETAILS: self._details,
            Command.WHERE: self._where,
            Command.TIME_LEFT: self._time_left,
            Command.PAUSE: self._pause,
            Command.RESUME: self._resume,
            Command.HELP: self._help,
            Command.END: self._ask_end,
        }[command]
        return actions + handler(now)

    def _next(self, now: float) -> list[Action]:
        if self._phase == "prep":
            if self._prep_item + 1 < len(self.script.preparation):
                self._prep_item += 1
                return [self._say_prep_item()]
            return self._begin_steps(now)
        if self._phase == "rest":
            return [self._say_rest_left(now)]
        return self._forward(now, how="next")

    def _skip(self, now: float) -> list[Action]:
        if self._phase == "prep":
            return self._begin_steps(now)
        if self._phase == "rest":
            return self._finish_rest()
        return self._forward(now, how="skip")

    def _back(self, now: float) -> list[Action]:
        if self._phase == "prep":
            if self._prep_item == 0:
                return [Say(FIRST_ITEM, kind="notice")]
            self._prep_item -= 1
            return [self._say_prep_item()]
        if self._phase == "rest":
            self._schedule.cancel(_REST)
            return self._enter_step(len(self.script.steps), now)
        if self._index == 1:
            return [Say(FIRST_STEP, kind="notice")]
        return self._enter_step(self._index - 1, now)

    def _repeat(self, now: float) -> list[Action]:
        if self._phase == "prep":
            return [self._say_prep_item()]
        if self._phase == "rest":
            return [self._say_rest_left(now)]
        return [Say(_step_text(self._step), kind="step")]

    def _details(self, now: float) -> list[Action]:
        if self._phase == "prep":
            return [Say(NO_PREP_DETAILS, kind="details")]
        if self._phase == "rest":
            return [self._say_rest_left(now)]
        return [Say(self._step.details.strip() or NO_STEP_DETAILS, kind="details")]

    def _where(self, now: float) -> list[Action]:
        if self._phase == "prep":
            count = len(self.script.preparation)
            return [Say(f"Preparation, item {self._prep_item + 1} of {count}.", kind="where")]
        if self._phase == "rest":
            return [self._say_rest_left(now)]
        step = self._step
        last_number = max(s.number for s in self.script.steps)
        text = f"Step {step.number} of {last_number}"
        if step.origin != step.number:
            text += f", repeating step {step.origin}"
        text += f": {_sentence(step.title)}"
        if step.side:
            text += f" {step.side.capitalize()} side of the back."
        text += f" {_sentence(step.station.announce)}"
        return [Say(text, kind="where")]

    def _time_left(self, now: float) -> list[Action]:
        status = self.status(now)
        if self._phase == "prep":
            text = f"Preparation. The massage takes {_minutes(status.seconds_left_in_session)}."
        elif self._phase == "rest":
            return [self._say_rest_left(now)]
        elif status.seconds_left_in_step <= 0:
            text = (
                f"This step's time is up. {_about(status.seconds_left_in_session).capitalize()}"
                " left in the session."
            )
        else:
            text = (
                f"{_about(status.seconds_left_in_step).capitalize()} left in this step, "
                f"{_minutes(status.seconds_left_in_session)} in the session."
            )
        return [Say(text, kind="time_left")]

    def _pause(self, now: float) -> list[Action]:
        if self._schedule.paused:
            return [Silence()]  # "stop" again: just stop talking
        self._schedule.pause(now)
        return [Silence(), Paused(), Say(PAUSED, kind="cue")]

    def _resume(self, now: float) -> list[Action]:
        if not self._schedule.paused:
            return [Say(NOT_PAUSED, kind="notice")]
        self._schedule.resume(now)
        return [Resumed(), Say(RESUMING, kind="cue")]

    def _help(self, now: float) -> list[Action]:
        if self._schedule.paused:
            text = HELP_PAUSED
        elif self._phase == "prep":
            text = HELP_PREP
        elif self._phase == "rest":
            text = HELP_REST
        else:
            text = HELP_STEPS
        return [Say(text, kind="help")]

    def _ask_end(self, now: float) -> list[Action]:
        self._schedule.set_real(_CONFIRM, self.settings.confirm_seconds, now)
        return [Note("confirm", {"state": "asked"}), Say(CONFIRM_END, kind="confirm")]

    def _confirm_answer(self, command: Command) -> list[Action]:
        self._schedule.cancel(_CONFIRM)
        if command is Command.YES:
            return [Say(SESSION_ENDED, kind="ended"), *self._finish("ended")]
        return [Note("confirm", {"state": "declined"}), Say(CONFIRM_DECLINED, kind="confirm")]

    def _client_answer(self, command: Command) -> list[Action]:
        self._schedule.cancel(_ANSWER)
        index, self._answer_index = self._answer_index, None
        return [
            Say(RELAY[command], kind="feedback"),
            Feedback(str(command), index if index is not None else self._index),
        ]

    # --- moving through the session -----------------------------------------------------------

    @property
    def _step(self) -> Step:
        return self.script.steps[self._index - 1]

    def _begin_steps(self, at: float) -> list[Action]:
        self._steps_started_active = self._schedule.active(at)
        return [Say(self.script.opening, Route.ROOM, kind="opening"), *self._enter_step(1, at)]

    def _forward(self, at: float, *, how: str) -> list[Action]:
        completed = self._index
        if completed == len(self.script.steps):
            return self._start_rest(at)
        return self._maybe_checkin(completed, at, how=how) + self._enter_step(completed + 1, at)

    def _enter_step(self, index: int, at: float) -> list[Action]:
        self._phase = "steps"
        self._index = index
        step = self._step
        actions: list[Action] = [StepStarted(index, step.number, step.origin)]
        if step.station.id != self._station_id:
            self._station_id = step.station.id
            actions.append(Say(step.station.announce, kind="station"))
        actions.append(Say(_step_text(step), kind="step"))
        self._step_started_active = self._schedule.active(at)
        self._schedule.set_active(_STEP, step.seconds, at)
        return actions

    def _maybe_checkin(self, completed: int, at: float, *, how: str) -> list[Action]:
        if self._answer_index is not None:
            return []
        every = self._checkin_every_seconds
        last = self._last_checkin_active
        since = self._steps_started_active if last is None else last
        hands_on = self._schedule.active(at) - since
        if last is not None and hands_on < min(self.settings.checkin_min_gap_seconds, every):
            return []
        flagged = self.script.steps[completed - 1].checkin and how != "skip"
        # A time-based check-in waits one step when the next step asks anyway: two questions a
        # minute apart would be one too many, and the flagged one is the one that matters.
        next_flagged = self.script.steps[completed].checkin
        if not flagged and (hands_on < every or next_flagged):
            return []
        self._answer_index = completed
        self._last_checkin_active = self._schedule.active(at)
        self._schedule.set_real(_ANSWER, self._answer_seconds, at)
        return [
            Note("checkin", {"index": completed, "reason": "step" if flagged else "interval"}),
            Say(CHECKIN_HINT, kind="checkin_hint"),
            Say(self.script.checkins.question, Route.ROOM, kind="checkin"),
        ]

    def _start_rest(self, at: float) -> list[Action]:
        self._phase = "rest"
        self._schedule.cancel(_STEP)
        self._schedule.set_active(_REST, self._rest_seconds, at)
        return [
            Note("rest", {"seconds": self._rest_seconds}),
            Say(self.script.rest.say, Route.ROOM, kind="rest"),
        ]

    def _finish_rest(self) -> list[Action]:
        return [Say(self.script.rest.closing, kind="closing"), *self._finish("completed")]

    def _finish(self, reason: str) -> list[Action]:
        actions: list[Action] = []
        if self._answer_index is not None:  # every check-in gets its feedback record
            actions.append(Feedback(None, self._answer_index))
            self._answer_index = None
        self._schedule.cancel_all()
        self._phase = "ended"
        return [*actions, Ended(reason)]

    def _say_prep_item(self) -> Say:
        return Say(self.script.preparation[self._prep_item], kind="prep")

    def _say_rest_left(self, now: float) -> Say:
        left = self._schedule.left(_REST, now) or 0.0
        return Say(f"Resting. {_about(left).capitalize()} of rest left.", kind="rest_left")


def _step_text(step: Step) -> str:
    """The step's instruction with its safety and technique cues, as one utterance."""
    return " ".join(part.strip() for part in (step.say, *step.cues) if part.strip())


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _minutes(seconds: float) -> str:
    """Seconds spoken naturally: "less than a minute", "1 minute", "31 minutes"."""
    minutes = int(seconds / 60 + 0.5)
    if seconds < 60 or minutes < 1:
        return "less than a minute"
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def _about(seconds: float) -> str:
    spoken = _minutes(seconds)
    return spoken if spoken.startswith("less") else f"about {spoken}"
