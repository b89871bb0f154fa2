"""The dialogue manager: a pure state machine that walks a practitioner through a Script.

Events in (`start`, `heard` a command, `tick` the clock, `spoken`: a question finished playing,
`not_understood`: words that were no command), actions out (the dataclasses of
`voice_guide.events`: say this on the practitioner or room route, log this). No audio, files,
wall clock or randomness inside: the caller passes `now` (session seconds) with every call, and a
Session is a pure function of its call sequence (see `tick`).

Phases (`events.Phase`): idle (before `start`), prep (the preparation checklist, only with
`prep=True`), steps, rest, ended.

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
- Check-ins: after a flagged move left by next or auto (a skipped move was not worked), once per
  move (going back over it does not ask again, nor does a move the client was asked during);
  and whenever `every_minutes` of hands-on time pass without a question (since step 1 or the
  last question): at once, mid-move if need be, or at the boundary when it falls there. Never
  while an answer window is open (that question counts), never during the rest. Time-based
  questions are never closer than `checkin_min_gap_seconds` (a protocol with a tiny interval
  would otherwise ask without pause). `planned_checkins` runs these rules over a session where
  every move takes its time (what `voice-guide check` shows).
- The answer window counts from the end of the question: the caller says when the question has
  played (`spoken`); until then its length is estimated from its words
  (`speech_words_per_minute`), which is all a simulation has.
- An answer that is one of the protocol's `follow_up_on` words ("fine") gets the follow-up
  question on the room route, with its own window; its answer is relayed, and silence after it
  keeps the first answer as it was: "fine", unconfirmed (`Feedback.unconfirmed`), never
  "good". Words no answer is made of, during a window, are reported to the practitioner only
  (`not_understood`).
- A confirmed end during the steps is an early end: said with the step it happened at, then the
  rest and the closing cue (water) as after the last step, ended with reason "ended" (back
  during that rest returns to that step and cancels the end). A confirmed end during the rest
  says the closing cue first; during the checklist it ends at once.
- During the rest: "next", "repeat", "details", "where" and "how long" say how much rest is
  left; "skip" ends the rest early (closing cue, session completed); "back" returns to the last
  step.
- Commands the session does not accept now (yes/no with nothing pending, a client answer outside
  a window) are logged as `Ignored` and change nothing (yes/no get a short reply); after
  the end, nothing is logged.
- Notes ("note ...", "make a note ...") are taken in every state of a session: journaled with
  the move they were said in (`NoteTaken`), answered "Noted." on the practitioner route, and
  read back there on "read notes". Like "help", neither cancels a pending "end session?" nor
  ends a pause or an answer window. A note with no words gets a hint and is not kept.
- A `now` earlier than one already seen is taken as the latest time seen (time never runs back).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from voice_guide.commands import (
    CLIENT_ANSWERS,
    CONFIRM_COMMANDS,
    GLOBAL_COMMANDS,
    Command,
    client_answer,
    normalize,
)
from voice_guide.events import (
    Action,
    CheckIn,
    CheckInReason,
    Confirm,
    ConfirmState,
    Ended,
    EndedEarly,
    EndReason,
    Feedback,
    FollowUp,
    Heard,
    Ignored,
    NoteTaken,
    Paused,
    Phase,
    PrepStarted,
    RestStarted,
    Resumed,
    Route,
    Say,
    SayKind,
    Silence,
    StepStarted,
    TimeUp,
    UnclearAnswer,
)
from voice_guide.progress import Awaiting, SessionStatus
from voice_guide.prompts import (
    ALREADY_PAUSED,
    ANSWER_UNCLEAR,
    CHECKIN_HINT,
    CONFIRM_DECLINED,
    CONFIRM_END,
    CONFIRM_LAPSED,
    ENDED_IN_PREP,
    FIRST_ITEM,
    FIRST_STEP,
    HELP_CONFIRM,
    HELP_PAUSED,
    HELP_PREP,
    HELP_REST,
    HELP_STEPS,
    NO_PREP_DETAILS,
    NO_STEP_DETAILS,
    NOT_PAUSED,
    NOTE_EMPTY,
    NOTED,
    NOTHING_TO_CONFIRM,
    PAUSED,
    PREP_INTRO,
    RELAY,
    RESUMING,
    TIME_UP,
    ended_early_text,
    notes_text,
    prep_time_text,
    prep_where_text,
    rest_left_text,
    step_text,
    step_time_text,
    where_text,
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
    checkin_min_gap_seconds: float = 120.0  # time-based check-ins are never closer than this
    # How fast the room speaker talks: the answer window starts after a question's estimated
    # length until the caller says it has played (`Session.spoken`).
    speech_words_per_minute: float = 150.0


@dataclass(frozen=True)
class PlannedCheckIn:
    """A check-in as it falls in a session where every move takes exactly its time."""

    seconds: float  # hands-on time when it is asked
    index: int  # the move it is about (asked after it, or during it)
    reason: CheckInReason
    during: bool  # asked in the middle of the move rather than after it


# How the session moved forward: a check-in is not asked after a skipped move (it was not worked).
_Move = Literal["next", "auto", "skip"]

# The kinds of the questions whose end starts the client's answer window (see `spoken`).
QUESTION_KINDS: tuple[SayKind, ...] = ("checkin", "checkin_follow_up")

# Timer names; at the same instant they fire in this order (a move's end before a check-in due
# at that instant, so the question is asked after the move rather than at the next one's start).
_CONFIRM, _ANSWER, _STEP, _CHECKIN, _REST = "confirm", "answer", "step", "checkin", "rest"
_PRIORITY = (_CONFIRM, _ANSWER, _STEP, _CHECKIN, _REST)
_SAME_INSTANT = 1e-6  # seconds: timers this close fall due together (float sums of durations)


class Session:
    def __init__(self, script: Script, settings: SessionSettings = SessionSettings()) -> None:
        if not script.steps:
            raise ValueError("a script needs at least one step")
        self.script = script
        self.settings = settings
        self._phase = Phase.IDLE
        self._schedule = Schedule(0.0, _PRIORITY)
        self._now = 0.0
        self._prep_item = 0  # 0-based
        self._index = 1
        self._station_id: str | None = None  # the station last announced
        self._step_started_active = 0.0
        self._answer_index: int | None = None  # the move an open check-in is about
        self._asking: str | None = None  # the question whose end has not been reported yet
        self._first_answer: str | None = None  # "fine" once it got the follow-up question
        self._asked: set[int] = set()  # moves a question was asked after or during
        self._checkin_left: float | None = None  # the interval timer's time left, over a rest
        self._early_end: int | None = None  # the move a confirmed early end happened at
        self._notes: list[NoteTaken] = []  # this session's notes, for "read notes"

    # --- public interface ---------------------------------------------------------------------

    def start(self, now: float, *, prep: bool = False) -> list[Action]:
        """Open the session: the preparation checklist first when `prep`, else the opening cue,
        the station and step 1. A second call does nothing."""
        if self._phase is not Phase.IDLE:
            return []
        self._schedule = Schedule(now, _PRIORITY)
        self._now = now
        if prep and self.script.preparation:
            self._phase = Phase.PREP
            self._prep_item = 0
            return [
                PrepStarted(len(self.script.preparation)),
                Say(PREP_INTRO, kind="prep_intro"),
                self._say_prep_item(),
            ]
        return self._begin_steps(now)

    def heard(self, heard: Heard, now: float) -> list[Action]:
        """Process every timer due up to `now` first, then the command."""
        if self._phase in (Phase.IDLE, Phase.ENDED):
            return []
        now = max(now, self._now)
        actions = self._run_timers(now)
        if self._phase is Phase.ENDED:
            return actions
        command = heard.command
        if command not in self.accepts():
            ignored: list[Action] = [Ignored(command)]
            if command in CONFIRM_COMMANDS:  # the practitioner expects an answer to "yes"
                ignored.append(Say(NOTHING_TO_CONFIRM, kind="notice"))
            return actions + ignored
        return actions + self._handle(heard, now)

    def tick(self, now: float) -> list[Action]:
        """Process every timer due up to `now`, in time order, each at its own deadline: so
        `tick(t1); tick(t2)` leaves exactly the state `tick(t2)` alone does."""
        if self._phase in (Phase.IDLE, Phase.ENDED):
            return []
        return self._run_timers(max(now, self._now))

    def spoken(self, kind: SayKind, now: float) -> list[Action]:
        """A `Say` of `kind` has finished playing (the live player knows when). The question of
        the open check-in starts the client's answer window now: it counts from the end of the
        question, which may have waited behind other speech or played slower than estimated."""
        if self._phase in (Phase.IDLE, Phase.ENDED):
            return []
        now = max(now, self._now)
        actions = self._run_timers(now)
        if self._answer_index is not None and kind == self._asking:
            self._asking = None
            self._schedule.set_real(_ANSWER, self._answer_seconds, now)
        return actions

    def not_understood(self, phrase: str, now: float) -> list[Action]:
        """Words that were neither a command nor an answer. During a check-in they were most
        likely the client's: the practitioner is told, on their own route (the client is not
        quizzed by a machine), and the window stays open. Otherwise only the timers run."""
        if self._phase in (Phase.IDLE, Phase.ENDED):
            return []
        now = max(now, self._now)
        actions = self._run_timers(now)
        if self._answer_index is None:
            return actions
        return [*actions, UnclearAnswer(phrase),
                Say(ANSWER_UNCLEAR, kind="feedback")]

    def accepts(self) -> frozenset[Command]:
        """The commands meaningful now (narrows the recognizer's grammar)."""
        if self._phase in (Phase.IDLE, Phase.ENDED):
            return frozenset()
        accepted = set(GLOBAL_COMMANDS)
        if self._schedule.pending(_CONFIRM):
            accepted |= CONFIRM_COMMANDS
        if self._answer_index is not None:
            accepted |= CLIENT_ANSWERS
        return frozenset(accepted)

    def next_deadline(self) -> float | None:
        """When `tick` will next do something (None: not until a command comes)."""
        if self._phase in (Phase.IDLE, Phase.ENDED):
            return None
        return self._schedule.next_deadline()

    def status(self, now: float) -> SessionStatus:
        """Where the session is, as of the last processed event, with times measured at `now`."""
        now = max(now, self._now)
        steps = self.script.steps
        in_step = left_in_step = 0.0
        step: Step | None = None
        rest_left: float | None = None
        if self._phase is Phase.STEPS:
            step = steps[self._index - 1]
            in_step = self._schedule.active(now) - self._step_started_active
            left_in_step = max(0.0, step.seconds - in_step)
            later = sum(s.seconds for s in steps[self._index :])
            left_in_session = left_in_step + later + self._rest_seconds
        elif self._phase is Phase.REST:  # the step times measure the rest period
            rest_left = self._schedule.left(_REST, now) or 0.0
            in_step, left_in_step = max(0.0, self._rest_seconds - rest_left), rest_left
            left_in_session = rest_left
        elif self._phase is Phase.ENDED:
            left_in_session = 0.0
        else:
            left_in_session = float(self.script.total_seconds + self._rest_seconds)
        if self._schedule.pending(_CONFIRM):
            awaiting: Awaiting | None = Awaiting.CONFIRM_END
        elif self._answer_index is not None:
            awaiting = Awaiting.CLIENT_ANSWER
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
            prep_item=self._prep_item + 1 if self._phase is Phase.PREP else None,
            prep_items=len(self.script.preparation),
            seconds_left_in_rest=rest_left,
        )

    @property
    def ended(self) -> bool:
        return self._phase is Phase.ENDED

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
    def _checkin_interval(self) -> float:
        return max(self._checkin_every_seconds, self.settings.checkin_min_gap_seconds)

    def _speech_seconds(self, text: str) -> float:
        """About how long `text` takes to say on the room speaker."""
        return len(text.split()) * 60.0 / self.settings.speech_words_per_minute

    @property
    def _rest_seconds(self) -> float:
        seconds = self.settings.rest_seconds
        return float(self.script.rest.seconds if seconds is None else seconds)

    # --- timers -------------------------------------------------------------------------------

    def _run_timers(self, now: float) -> list[Action]:
        actions: list[Action] = []
        while self._phase not in (Phase.IDLE, Phase.ENDED) and (due := self._schedule.pop_due(now)):
            self._now = max(self._now, due.at)
            actions += self._fire(due.name, due.at)
        self._now = now
        return actions

    def _fire(self, name: str, at: float) -> list[Action]:
        if name == _CONFIRM:
            return [Confirm(ConfirmState.LAPSED), Say(CONFIRM_LAPSED, kind="confirm")]
        if name == _ANSWER:
            return [self._close_window(None)]
        if name == _CHECKIN:
            asked = self._ask(self._index, at, reason=CheckInReason.INTERVAL)
            if not asked:  # a question is open now: it counts, the interval starts again
                self._schedule.set_active(_CHECKIN, self._checkin_interval, at)
            return asked
        if name == _STEP:
            actions: list[Action] = [TimeUp(self._index)]
            if self.settings.auto:
                return actions + self._forward(at, how="auto")
            return [*actions, Say(TIME_UP, kind="time_up")]
        if name == _REST:
            return self._finish_rest()
        raise AssertionError(f"unknown timer {name!r}")

    # --- commands -----------------------------------------------------------------------------

    def _handle(self, heard: Heard, now: float) -> list[Action]:
        command = heard.command
        if command in CLIENT_ANSWERS:
            return self._client_answer(heard, now)
        if command in CONFIRM_COMMANDS:
            return self._confirm_answer(command, now)
        if command is Command.NOTE:  # the practitioner's words, whatever else is going on
            return self._note(heard.text)
        if command is Command.READ_NOTES:
            return [Say(notes_text(self._notes), kind="notes")]
        actions: list[Action] = []
        if self._schedule.pending(_CONFIRM) and command is Command.HELP:
            return [Say(HELP_CONFIRM, kind="help")]  # asking what to say is not a "no"
        if self._schedule.pending(_CONFIRM) and command is not Command.END:
            self._schedule.cancel(_CONFIRM)
            actions.append(Confirm(ConfirmState.CANCELLED))
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
        if self._phase is Phase.PREP:
            if self._prep_item + 1 < len(self.script.preparation):
                self._prep_item += 1
                return [self._say_prep_item()]
            return self._begin_steps(now)
        if self._phase is Phase.REST:
            return [self._say_rest_left(now)]
        return self._forward(now, how="next")

    def _skip(self, now: float) -> list[Action]:
        if self._phase is Phase.PREP:
            return self._begin_steps(now)
        if self._phase is Phase.REST:
            return self._finish_rest()
        return self._forward(now, how="skip")

    def _back(self, now: float) -> list[Action]:
        if self._phase is Phase.PREP:
            if self._prep_item == 0:
                return [Say(FIRST_ITEM, kind="notice")]
            self._prep_item -= 1
            return [self._say_prep_item()]
        if self._phase is Phase.REST:  # back to the last move (or the one an early end left)
            self._schedule.cancel(_REST)
            index = self._early_end or len(self.script.steps)
            self._early_end = None
            if self._checkin_left is not None:
                self._schedule.set_active(_CHECKIN, self._checkin_left, now)
            return self._enter_step(index, now)
        if self._index == 1:
            return [Say(FIRST_STEP, kind="notice")]
        return self._enter_step(self._index - 1, now)

    def _repeat(self, now: float) -> list[Action]:
        if self._phase is Phase.PREP:
            return [self._say_prep_item()]
        if self._phase is Phase.REST:
            return [self._say_rest_left(now)]
        return [Say(step_text(self._step), kind="step")]

    def _details(self, now: float) -> list[Action]:
        if self._phase is Phase.PREP:
            return [Say(NO_PREP_DETAILS, kind="details")]
        if self._phase is Phase.REST:
            return [self._say_rest_left(now)]
        return [Say(self._step.details.strip() or NO_STEP_DETAILS, kind="details")]

    def _where(self, now: float) -> list[Action]:
        if self._phase is Phase.PREP:
            text = prep_where_text(self._prep_item + 1, len(self.script.preparation))
            return [Say(text, kind="where")]
        if self._phase is Phase.REST:
            return [self._say_rest_left(now)]
        last_number = max(s.number for s in self.script.steps)
        return [Say(where_text(self._step, last_number), kind="where")]

    def _time_left(self, now: float) -> list[Action]:
        if self._phase is Phase.REST:
            return [self._say_rest_left(now)]
        status = self.status(now)
        if self._phase is Phase.PREP:
            text = prep_time_text(status.seconds_left_in_session)
        else:
            text = step_time_text(status.seconds_left_in_step, status.seconds_left_in_session)
        return [Say(text, kind="time_left")]

    def _pause(self, now: float) -> list[Action]:
        if self._schedule.paused:  # "stop" again: stop talking, and say it is still paused
            return [Silence(), Say(ALREADY_PAUSED, kind="notice")]
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
        elif self._phase is Phase.PREP:
            text = HELP_PREP
        elif self._phase is Phase.REST:
            text = HELP_REST
        else:
            text = HELP_STEPS
        return [Say(text, kind="help")]

    def _ask_end(self, now: float) -> list[Action]:
        self._schedule.set_real(_CONFIRM, self.settings.confirm_seconds, now)
        return [Confirm(ConfirmState.ASKED), Say(CONFIRM_END, kind="confirm")]

    def _confirm_answer(self, command: Command, now: float) -> list[Action]:
        self._schedule.cancel(_CONFIRM)
        if command is not Command.YES:
            return [Confirm(ConfirmState.DECLINED), Say(CONFIRM_DECLINED, kind="confirm")]
        if self._phase is Phase.PREP:
            return [Say(ENDED_IN_PREP, kind="ended"), *self._finish(EndReason.ENDED)]
        if self._phase is Phase.REST:  # the rest cut short still ends with the water cue
            return self._finish_rest()
        # Ended early: the client still gets the rest, the practitioner the closing cue (a
        # pause is over: the rest runs on the clock of the massage).
        step = self._step
        last = max(s.number for s in self.script.steps)
        self._early_end = self._index
        resumed: list[Action] = [Resumed()] if self._schedule.paused else []
        self._schedule.resume(now)
        return [
            EndedEarly(self._index, step.number),
            *resumed,
            Say(ended_early_text(step.number, last), kind="ended"),
            *self._start_rest(now),
        ]

    def _note(self, text: str) -> list[Action]:
        text = " ".join(text.split())
        if not text:
            return [Say(NOTE_EMPTY, kind="note")]
        if self._phase is Phase.PREP:
            note = NoteTaken(text, 0, 0, self._phase)
        else:
            note = NoteTaken(text, self._index, self._step.number, self._phase)
        self._notes.append(note)
        return [note, Say(NOTED, kind="note")]

    def _client_answer(self, heard: Heard, now: float) -> list[Action]:
        command, checkins = heard.command, self.script.checkins
        word = _answer_word(heard.phrase)
        if (command is Command.GOOD and checkins.follow_up and self._first_answer is None
                and word in checkins.follow_up_on):
            # "Fine" may be said in an unconvincing tone, which a machine cannot hear: ask on.
            self._first_answer = word
            index = self._answer_index
            assert index is not None  # client answers are accepted only while a window is open
            return [
                FollowUp(index, word),
                self._question(checkins.follow_up, "checkin_follow_up", now),
            ]
        return [Say(RELAY[command], kind="feedback"), self._close_window(str(command))]

    def _close_window(self, answer: str | None) -> Feedback:
        """The check-in is over: its one feedback record. No `answer`: the first one ("fine"),
        unconfirmed, when the follow-up went unanswered; else None (no answer)."""
        self._schedule.cancel(_ANSWER)
        index, self._answer_index = self._answer_index, None
        first, self._asking, self._first_answer = self._first_answer, None, None
        unconfirmed = answer is None and first is not None
        return Feedback(first if unconfirmed else answer,
                        index if index is not None else self._index, unconfirmed)

    # --- moving through the session -----------------------------------------------------------

    @property
    def _step(self) -> Step:
        return self.script.steps[self._index - 1]

    def _begin_steps(self, at: float) -> list[Action]:
        self._schedule.set_active(_CHECKIN, self._checkin_interval, at)
        return [Say(self.script.opening, Route.ROOM, kind="opening"), *self._enter_step(1, at)]

    def _forward(self, at: float, *, how: _Move) -> list[Action]:
        completed = self._index
        if completed == len(self.script.steps):
            return self._start_rest(at)
        return self._checkin_after(completed, at, how=how) + self._enter_step(completed + 1, at)

    def _enter_step(self, index: int, at: float) -> list[Action]:
        self._phase = Phase.STEPS
        self._index = index
        step = self._step
        actions: list[Action] = [StepStarted(index, step.number, step.origin)]
        if step.station.id != self._station_id:
            self._station_id = step.station.id
            actions.append(Say(step.station.announce, kind="station"))
        actions.append(Say(step_text(step), kind="step"))
        self._step_started_active = self._schedule.active(at)
        self._schedule.set_active(_STEP, step.seconds, at)
        return actions

    def _checkin_after(self, completed: int, at: float, *, how: _Move) -> list[Action]:
        """At a forward boundary: the question a flagged move asks for, or the time-based one
        when it falls due at this very instant."""
        if self.script.steps[completed - 1].checkin and how != "skip":
            return self._ask(completed, at, reason=CheckInReason.STEP)
        left = self._schedule.left(_CHECKIN, at)
        if left is not None and left < _SAME_INSTANT:
            return self._ask(completed, at, reason=CheckInReason.INTERVAL)
        return []

    def _ask(self, index: int, at: float, *, reason: CheckInReason) -> list[Action]:
        """Ask the client about pressure, about move `index`; [] when it need not be asked."""
        repeated = reason is CheckInReason.STEP and index in self._asked
        if self._answer_index is not None or repeated:
            return []
        self._asked.add(index)
        self._answer_index = index
        self._schedule.set_active(_CHECKIN, self._checkin_interval, at)
        return [
            CheckIn(index, reason),
            Say(CHECKIN_HINT, kind="checkin_hint"),
            self._question(self.script.checkins.question, "checkin", at),
        ]

    def _question(self, text: str, kind: SayKind, at: float) -> Say:
        """A question to the client; its answer window ends `answer_seconds` after it has been
        said (estimated here, reported by `spoken`)."""
        self._asking = kind
        self._schedule.set_real(_ANSWER, self._speech_seconds(text) + self._answer_seconds, at)
        return Say(text, Route.ROOM, kind=kind)

    def _start_rest(self, at: float) -> list[Action]:
        self._phase = Phase.REST
        self._schedule.cancel(_STEP)
        self._checkin_left = self._schedule.left(_CHECKIN, at)  # kept for "back"
        self._schedule.cancel(_CHECKIN)
        self._schedule.set_active(_REST, self._rest_seconds, at)
        return [
            RestStarted(self._rest_seconds),
            Say(self.script.rest.say, Route.ROOM, kind="rest"),
        ]

    def _finish_rest(self) -> list[Action]:
        reason = EndReason.COMPLETED if self._early_end is None else EndReason.ENDED
        return [Say(self.script.rest.closing, kind="closing"), *self._finish(reason)]

    def _finish(self, reason: EndReason) -> list[Action]:
        actions: list[Action] = []
        if self._answer_index is not None:  # every check-in gets its feedback record
            actions.append(self._close_window(None))
        self._schedule.cancel_all()
        self._phase = Phase.ENDED
        return [*actions, Ended(reason)]

    def _say_prep_item(self) -> Say:
        return Say(self.script.preparation[self._prep_item], kind="prep")

    def _say_rest_left(self, now: float) -> Say:
        left = self._schedule.left(_REST, now) or 0.0
        return Say(rest_left_text(left), kind="rest_left")


def planned_checkins(
    script: Script, settings: SessionSettings = SessionSettings()
) -> tuple[PlannedCheckIn, ...]:
    """The check-ins of a session that moves on as each move's time is up, nobody answering:
    the rules above run by the session itself, so what `check` shows is what a session does."""
    session = Session(script, dataclasses.replace(settings, auto=True))
    planned: list[PlannedCheckIn] = []

    def collect(t: float, actions: list[Action]) -> None:
        moved = any(isinstance(a, StepStarted) for a in actions)
        for action in actions:
            if isinstance(action, CheckIn):
                planned.append(PlannedCheckIn(t, action.index, action.reason, not moved))

    collect(0.0, session.start(0.0))
    while (deadline := session.next_deadline()) is not None:
        collect(deadline, session.tick(deadline))
    return tuple(planned)


def _answer_word(phrase: str) -> str:
    """The word that decided a client's answer ("it's fine" -> "fine")."""
    answer = client_answer(phrase)
    return answer[1] if answer is not None else normalize(phrase)
