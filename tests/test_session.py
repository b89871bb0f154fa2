"""The dialogue manager: whole sessions on the real protocol.yaml, one rule at a time on small
scripts, and property-based tests for robustness and the determinism contract."""

from __future__ import annotations

import dataclasses
import itertools
import re
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scripts_factory import CLOSING, OPENING, QUESTION, REST_SAY, Move, make_script, uniform_script

from voice_guide.commands import CLIENT_ANSWERS, CONFIRM_COMMANDS, GLOBAL_COMMANDS, Command, parse
from voice_guide.events import (
    Action,
    Confirm,
    ConfirmState,
    Ended,
    EndedEarly,
    Feedback,
    FollowUp,
    Heard,
    Ignored,
    Paused,
    RecordType,
    RestStarted,
    Resumed,
    Route,
    Say,
    Silence,
    StepStarted,
    UnclearAnswer,
)
from voice_guide.prompts import (
    ALREADY_PAUSED,
    ANSWER_UNCLEAR,
    CHECKIN_HINT,
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
    NO_STEP_DETAILS,
    NOT_PAUSED,
    NOTHING_TO_CONFIRM,
    PAUSED,
    PREP_INTRO,
    RELAY,
    TIME_UP,
    ended_early_text,
)
from voice_guide.protocol import CheckIns, Script, load
from voice_guide.session import (
    PlannedCheckIn,
    Session,
    SessionSettings,
    planned_checkins,
)

FOLLOW_UP = "Would you like it lighter or deeper?"
QUESTION_SECONDS = 4 * 60 / 150  # "How is the pressure?" at the default speaking rate
FOLLOW_UP_SECONDS = 7 * 60 / 150


def with_follow_up(script: Script, *, answer_seconds: float = 8.0) -> Script:
    """`script` with the seed's two questions, as the shipped protocol has them."""
    checkins = CheckIns(QUESTION, script.checkins.every_minutes, answer_seconds, FOLLOW_UP,
                        ("fine",))
    return dataclasses.replace(script, checkins=checkins)


@cache
def real_script() -> Script:
    return load()


class Driver:
    """Runs a Session the way a live loop does: ticks at every deadline, logs (t, action)."""

    def __init__(
        self, script: Script, settings: SessionSettings | None = None, *, prep: bool = False
    ) -> None:
        self.session = Session(script, settings or SessionSettings())
        self.log: list[tuple[float, Action]] = []
        self.now = 0.0
        self._add(0.0, self.session.start(0.0, prep=prep))

    def run_to(self, t: float) -> None:
        while (deadline := self.session.next_deadline()) is not None and deadline <= t:
            self._add(deadline, self.session.tick(deadline))
        self.now = max(self.now, t)

    def say(self, phrase: str, t: float, command: Command | None = None) -> list[Action]:
        """Speak `phrase` at `t`; returns the command's own actions (timers ran before)."""
        self.run_to(t)
        command = command or parse(phrase)
        assert command is not None, phrase
        actions = self.session.heard(Heard(command, phrase), t)
        self._add(t, actions)
        return actions

    def spoken(self, kind: str, t: float) -> list[Action]:
        """The player reports that a `Say` of `kind` finished playing at `t`."""
        self.run_to(t)
        actions = self.session.spoken(kind, t)
        self._add(t, actions)
        return actions

    def _add(self, t: float, actions: list[Action]) -> None:
        self.log += [(t, action) for action in actions]

    def of(self, kind: type) -> list[tuple[float, Action]]:
        return [(t, a) for t, a in self.log if isinstance(a, kind)]

    def says(self, kind: str | None = None) -> list[tuple[float, Say]]:
        return [
            (t, a) for t, a in self.log if isinstance(a, Say) and (kind is None or a.kind == kind)
        ]

    def records(self, type_: RecordType) -> list[tuple[float, dict[str, Any]]]:
        """The logged actions of one record type, as they are journaled."""
        return [(t, a.record(t)) for t, a in self.log if a.record(t)["type"] == type_]

    def status(self) -> object:
        return self.session.status(self.now)


def texts(actions: list[Action]) -> list[str]:
    return [a.text for a in actions if isinstance(a, Say)]


# --- whole sessions on protocol.yaml ------------------------------------------------------------


def test_whole_session_walks_every_expanded_step_in_order() -> None:
    script = real_script()
    steps = script.steps
    driver = Driver(script)
    t = 0.0
    next_times = []
    for step in steps:
        t += step.seconds + 1  # "next" a second after the time-up cue
        next_times.append(t)
        driver.say("next", t)
    driver.run_to(t + 10_000)

    started = [(t, a) for t, a in driver.of(StepStarted)]
    assert [(a.index, a.number, a.origin) for _, a in started] == [
        (s.index, s.number, s.origin) for s in steps
    ]
    assert [t for t, _ in started] == [0.0, *next_times[:-1]]
    assert len(steps) == 34  # 22 seed steps, repeats expanded

    # Each station is announced once, when it changes, right after its step starts.
    changes = [s for i, s in enumerate(steps) if i == 0 or s.station.id != steps[i - 1].station.id]
    announced = driver.says("station")
    assert [a.text for _, a in announced] == [s.station.announce for s in changes]
    starts_by_time = {t: a.index for t, a in started}
    assert [starts_by_time[t] for t, _ in announced] == [s.index for s in changes]

    # The opening cue goes to the client, the step instructions to the practitioner.
    assert driver.log[0][1] == Say(script.opening, Route.ROOM, kind="opening")
    step_says = driver.says("step")
    assert len(step_says) == len(steps)
    assert all(a.route is Route.PRACTITIONER for _, a in step_says)
    for (_, said), step in zip(step_says, steps, strict=True):
        assert said.text.startswith(step.say.strip())
        assert all(cue in said.text for cue in step.cues)

    # The time-up cue once per step, at the step's end.
    assert [n["index"] for _, n in driver.records(RecordType.TIME_UP)] == [s.index for s in steps]
    assert [t for t, _ in driver.says("time_up")] == [t - 1 for t in next_times]

    # Rest, then the closing cue and the end, by themselves.
    (rest_t, rest_note), = driver.records(RecordType.REST)
    assert rest_t == next_times[-1]
    assert rest_note["seconds"] == script.rest.seconds
    (_, rest_say), = driver.says("rest")
    assert rest_say == Say(script.rest.say, Route.ROOM, kind="rest")
    end_t = rest_t + script.rest.seconds
    assert driver.log[-2] == (end_t, Say(script.rest.closing, kind="closing"))
    assert driver.log[-1] == (end_t, Ended("completed"))
    assert driver.session.ended


def test_whole_session_checks_in_after_every_flagged_move_and_every_8_minutes_at_most() -> None:
    script = real_script()
    driver = Driver(script)
    t = 0.0
    for step in script.steps:
        t += step.seconds + 5  # "next" a few seconds after the time-up cue
        if step.index == 12:
            t += 60  # and a long linger over one move
        driver.say("next", t)
        if step.index == 4:
            driver.say("lighter", t + 2)
    driver.run_to(t + 10_000)

    flagged = [s.index for s in script.steps if s.checkin]
    checkins = driver.records(RecordType.CHECKIN)
    asked_about = [n["index"] for _, n in checkins]
    # checkin: true always asks (after the move, or during it when the clock came first).
    assert set(flagged) <= set(asked_about)
    assert all(n["reason"] in ("step", "interval") for _, n in checkins)
    # every_minutes is a maximum that holds: hands-on time equals session time here.
    every = script.checkins.every_minutes * 60
    rest_t = driver.records(RecordType.REST)[0][0]
    times = [0.0] + [t for t, _ in checkins] + [rest_t]
    assert max(b - a for a, b in itertools.pairwise(times)) <= every
    # The question goes to the client, the hint to the practitioner.
    for t, _ in checkins:
        at_t = [a for tt, a in driver.log if tt == t and isinstance(a, Say)]
        assert Say(script.checkins.question, Route.ROOM, kind="checkin") in at_t
        assert Say(CHECKIN_HINT, Route.PRACTITIONER, kind="checkin_hint") in at_t

    # Every check-in gets exactly one feedback record: the answer after step 4, none otherwise,
    # logged when the answer window closes (counted from the question's estimated end).
    feedback = driver.of(Feedback)
    assert [a.index for _, a in feedback] == asked_about
    assert feedback[0][1] == Feedback("lighter", 4)
    assert Say(RELAY[Command.LIGHTER], kind="feedback") in [a for _, a in driver.says()]
    for (asked_t, _), (told_t, told) in zip(checkins[1:], feedback[1:], strict=True):
        assert told.answer is None
        assert told_t == pytest.approx(asked_t + QUESTION_SECONDS + script.checkins.answer_seconds)


def test_step_17_sends_the_practitioner_to_the_right_then_back_to_the_head() -> None:
    script = real_script()
    driver = Driver(script)
    for k in range(1, len(script.steps) + 1):
        driver.say("next", 100.0 * k)
    starts = {t: a for t, a in driver.of(StepStarted)}
    announced = [(starts[t].number, starts[t].origin, a.text) for t, a in driver.says("station")]
    right = "Stand at the client's right side. Reach over to the left side of the back."
    assert (17, 8, right) in announced
    assert (17, 14, "Stand at the head of the table.") in announced  # 14-16 from the head
    assert (18, 3, "Stand at the head of the table.") not in announced  # already there


def test_auto_runs_the_whole_protocol_by_itself() -> None:
    script = real_script()
    driver = Driver(script, SessionSettings(auto=True))
    driver.run_to(100_000)
    started = driver.of(StepStarted)
    assert [a.index for _, a in started] == list(range(1, len(script.steps) + 1))
    boundaries = [0]
    for step in script.steps:
        boundaries.append(boundaries[-1] + step.seconds)
    assert [t for t, _ in started] == boundaries[:-1]
    assert driver.says("time_up") == []  # auto advances instead of saying time is up
    assert driver.records(RecordType.CHECKIN)
    assert driver.log[-1] == (script.total_seconds + script.rest.seconds, Ended("completed"))


def test_prep_reads_the_whole_checklist_then_opens() -> None:
    script = real_script()
    driver = Driver(script, prep=True)
    assert [a.text for _, a in driver.says("prep")] == [script.preparation[0]]
    assert driver.says("prep_intro")[0][1].text == PREP_INTRO
    assert driver.session.next_deadline() is None  # no step clock during the checklist
    for k in range(1, len(script.preparation)):
        assert texts(driver.say("next", k)) == [script.preparation[k]]
    opened = driver.say("next", 100)
    assert opened[0] == Say(script.opening, Route.ROOM, kind="opening")
    assert opened[1] == StepStarted(1, 1, 1)
    assert driver.session.status(100).phase == "steps"
    assert driver.session.next_deadline() == 100 + script.steps[0].seconds


# --- one rule at a time ---------------------------------------------------------------------------


def test_opening_without_prep_is_opening_station_then_step_one() -> None:
    script = uniform_script(3)
    actions = Session(script).start(5.0)
    assert actions == [
        Say(OPENING, Route.ROOM, kind="opening"),
        StepStarted(1, 1, 1),
        Say(script.steps[0].station.announce, kind="station"),
        Say("Do move 1. Cue for move 1.", kind="step"),
    ]


def test_station_is_announced_on_each_change_only() -> None:
    script = make_script([Move("head"), Move("head"), Move("left"), Move("left"), Move("head")])
    driver = Driver(script)
    for t, phrase in [(10, "next"), (20, "next"), (30, "next"), (40, "next"), (50, "back"),
                      (60, "back"), (70, "next"), (80, "next")]:
        driver.say(phrase, t)
    stations = [(t, a.text.split(".")[0]) for t, a in driver.says("station")]
    assert stations == [
        (0, "Stand at the head of the table"),
        (20, "Stand at the left"),  # 3
        (40, "Stand at the head of the table"),  # 5
        (50, "Stand at the left"),  # back across the boundary to 4: announced again
        (80, "Stand at the head of the table"),  # 3 -> 4 stays at the left; 4 -> 5 does not
    ]


def test_repeat_details_and_where() -> None:
    script = make_script([
        Move(details="Slow circles, all the way up."),
        Move("left", side="right", number=2, repeats=1),
    ])
    driver = Driver(script)
    assert driver.say("say again", 5) == [Say("Do move 1. Cue for move 1.", kind="step")]
    assert driver.say("tell me more", 6) == [Say("Slow circles, all the way up.", kind="details")]
    (where,) = texts(driver.say("where am i", 7))
    assert where == "Step 1 of 2: Move 1. Stand at the head of the table."
    driver.say("next", 8)
    assert texts(driver.say("details", 9)) == [NO_STEP_DETAILS]
    (where,) = texts(driver.say("which step", 10))
    assert where.startswith("Step 2 of 2, repeating step 1: Move 2. Right side of the back.")
    assert where.endswith("Stand at the left. Reach over to the right.")


def test_how_long_speaks_minutes_for_the_step_and_the_session() -> None:
    script = make_script([Move(seconds=120), Move(seconds=600)], rest_seconds=120)
    driver = Driver(script)
    assert texts(driver.say("how long", 0)) == [
        "About 2 minutes left in this step, 14 minutes in the session."
    ]
    assert texts(driver.say("how much time", 100)) == [
        "Less than a minute left in this step, 12 minutes in the session."
    ]
    assert texts(driver.say("time left", 130)) == [
        "This step's time is up. About 12 minutes left in the session."
    ]
    driver.say("next", 131)
    assert texts(driver.say("how much longer", 131 + 29)) == [
        "About 10 minutes left in this step, 12 minutes in the session."
    ]


def test_time_up_is_said_once_gently() -> None:
    driver = Driver(uniform_script(2, seconds=60))
    driver.run_to(10_000)
    assert driver.says("time_up") == [(60.0, Say(TIME_UP, Route.PRACTITIONER, kind="time_up"))]
    assert driver.session.status(10_000).index == 1  # it waits for "next"
    driver.say("next", 10_001)
    driver.run_to(20_000)
    assert [t for t, _ in driver.says("time_up")] == [60.0, 10_061.0]


def test_pause_freezes_the_step_clock() -> None:
    driver = Driver(uniform_script(2, seconds=60))
    assert driver.say("stop", 20) == [
        Silence(), Paused(), Say("Paused. Say resume when ready.", kind="cue")
    ]
    left_at_pause = driver.session.status(20).seconds_left_in_step
    spoken_at_pause = texts(driver.say("how long", 21))
    driver.run_to(500)  # nothing falls due while paused
    assert driver.says("time_up") == []
    assert driver.session.next_deadline() is None
    assert driver.session.status(500).seconds_left_in_step == left_at_pause == 40
    assert texts(driver.say("how long", 500)) == spoken_at_pause
    assert driver.session.status(500).paused
    assert driver.say("resume", 600) == [Resumed(), Say("Resuming.", kind="cue")]
    driver.run_to(10_000)
    assert [t for t, _ in driver.says("time_up")] == [640.0]


def test_next_while_paused_resumes_without_moving_and_pause_twice_just_silences() -> None:
    driver = Driver(uniform_script(3))
    driver.say("wait", 10)
    assert driver.say("hold on", 11) == [Silence(), Say(ALREADY_PAUSED, kind="notice")]
    assert driver.say("go", 30) == [Resumed(), Say("Resuming.", kind="cue")]
    assert driver.session.status(30).index == 1
    assert texts(driver.say("resume", 31)) == [NOT_PAUSED]
    driver.say("pause", 40)
    moved = driver.say("skip", 50)  # an explicit move resumes and moves
    assert moved[0] == Resumed()
    assert StepStarted(2, 2, 2) in moved
    assert not driver.session.status(50).paused


def test_every_n_minutes_rule_at_step_boundaries() -> None:
    script = uniform_script(10, seconds=60, every_minutes=3)
    driver = Driver(script)
    for k in range(1, 11):
        driver.say("next", 60 * k)
    assert [(t, n["index"], n["reason"]) for t, n in driver.records(RecordType.CHECKIN)] == [
        (180, 3, "interval"),
        (360, 6, "interval"),
        (540, 9, "interval"),
    ]


def test_every_minutes_holds_even_just_before_a_flagged_move() -> None:
    moves = [Move(), Move(), Move(), Move(checkin=True), *[Move() for _ in range(5)]]
    driver = Driver(make_script(moves, every_minutes=3))
    for k in range(1, 10):
        driver.say("next", 60 * k + 10)  # each move lingered over for 10 s
    assert [(t, n["index"], n["reason"]) for t, n in driver.records(RecordType.CHECKIN)] == [
        (180, 3, "interval"),  # mid-move: 3 minutes since the start
        (250, 4, "step"),  # the flagged move still asks
        (430, 7, "interval"),
    ]


def test_a_move_longer_than_every_minutes_is_asked_during_it() -> None:
    driver = Driver(make_script([Move(seconds=600), Move()], every_minutes=3))
    driver.run_to(700)
    assert [(t, n["index"]) for t, n in driver.records(RecordType.CHECKIN)] == [
        (180, 1), (360, 1), (540, 1)]


def test_time_based_check_ins_keep_a_minimum_gap_and_freeze_while_paused() -> None:
    driver = Driver(make_script([Move(seconds=600)], every_minutes=0.01))
    driver.say("pause", 50)
    driver.say("resume", 150)
    driver.run_to(500)
    # every_minutes of 0.6 s would ask without pause: never closer than the 120 s gap, and the
    # 100 s paused do not count as hands-on time.
    assert [t for t, _ in driver.records(RecordType.CHECKIN)] == [220, 340, 460]


def test_checkin_true_always_asks_except_after_a_skip_and_into_the_rest() -> None:
    moves = [Move(checkin=True), Move(checkin=True), Move(), Move(checkin=True),
             Move(checkin=True), Move(checkin=True)]
    driver = Driver(make_script(moves))
    driver.say("next", 60)  # after 1
    driver.say("next", 120)  # after 2: only 60 s after the last one, asked all the same
    driver.say("next", 180)
    driver.say("next", 240)  # after 4
    driver.say("skip", 400)  # 5 was skipped, not worked: no flagged check-in
    driver.say("next", 460)  # 6 is the last: the rest begins, no question into it
    assert [n["index"] for _, n in driver.records(RecordType.CHECKIN)] == [1, 2, 4]
    assert driver.session.status(460).phase == "rest"


def test_a_flagged_move_asks_once_and_not_over_an_open_question() -> None:
    moves = [Move(checkin=True), Move(checkin=True), Move(), Move()]
    driver = Driver(make_script(moves))
    driver.say("next", 60)  # after 1: asked
    driver.say("next", 62)  # after 2, while the client is still being asked: that one counts
    driver.say("back", 100)
    driver.say("back", 101)  # back to 1 and over it again: it was asked already
    driver.say("next", 160)
    assert [n["index"] for _, n in driver.records(RecordType.CHECKIN)] == [1]


def test_client_answer_is_relayed_and_the_window_closes() -> None:
    driver = Driver(make_script([Move(checkin=True), Move(seconds=300)]))
    assert CLIENT_ANSWERS.isdisjoint(driver.session.accepts())
    asked = driver.say("next", 60)
    assert Say(QUESTION, Route.ROOM, kind="checkin") in asked
    assert driver.session.accepts() >= CLIENT_ANSWERS
    assert driver.session.status(60).awaiting == "client_answer"
    # Practitioner commands stay active during the window.
    assert texts(driver.say("where am i", 61))[0].startswith("Step 2")
    assert driver.say("harder", 63) == [
        Say("Client would like deeper pressure.", Route.PRACTITIONER, kind="feedback"),
        Feedback("deeper", 1),
    ]
    assert CLIENT_ANSWERS.isdisjoint(driver.session.accepts())
    assert driver.say("lighter", 64) == [Ignored(Command.LIGHTER)]
    driver.run_to(400)
    assert len(driver.of(Feedback)) == 1


def test_no_answer_is_logged_as_none_and_nothing_is_said() -> None:
    driver = Driver(make_script([Move(checkin=True), Move(seconds=300)], answer_seconds=8))
    driver.say("next", 60)
    said_before = len(driver.says())
    driver.run_to(100)
    # The window counts from the question's end: estimated from its words until it is known.
    assert driver.of(Feedback) == [(60 + QUESTION_SECONDS + 8, Feedback(None, 1))]
    assert len(driver.says()) == said_before
    assert driver.session.status(100).awaiting is None


def test_pause_does_not_stop_the_answer_window() -> None:
    driver = Driver(make_script([Move(checkin=True), Move(seconds=300)], answer_seconds=8))
    driver.say("next", 60)
    driver.say("pause", 61)
    driver.run_to(200)
    assert driver.of(Feedback) == [(60 + QUESTION_SECONDS + 8, Feedback(None, 1))]


def test_the_answer_window_counts_from_the_end_of_the_question() -> None:
    # The case: a 5 s window, a question that took 3.7 s to play (it waited behind other
    # speech), "deeper" 0.7 s after it ended. Before, the window ran from the queueing.
    script = make_script([Move(checkin=True), Move(seconds=300)], answer_seconds=5)
    driver = Driver(script)
    driver.say("next", 60)
    assert driver.session.next_deadline() == pytest.approx(60 + QUESTION_SECONDS + 5)
    driver.spoken("checkin_hint", 62)  # another text's end moves nothing
    assert driver.session.next_deadline() == pytest.approx(60 + QUESTION_SECONDS + 5)
    driver.spoken("checkin", 63.7)  # the player: the question has played
    assert driver.session.next_deadline() == pytest.approx(68.7)
    assert driver.say("deeper", 64.4)[-1] == Feedback("deeper", 1)
    # Later than the window after the question's end: no answer.
    late = Driver(script)
    late.say("next", 60)
    late.spoken("checkin", 63.7)
    late.spoken("checkin", 66)  # reported once: a second report does not restart it
    assert late.say("deeper", 68.8) == [Ignored(Command.DEEPER)]
    assert late.of(Feedback) == [(68.7, Feedback(None, 1))]
    assert late.spoken("checkin", 70) == []  # after the window: nothing


def test_fine_gets_the_follow_up_question_with_its_own_window() -> None:
    script = with_follow_up(make_script([Move(checkin=True), Move(seconds=300)]))
    driver = Driver(script)
    driver.say("next", 60)
    asked = driver.say("fine", 63, Command.GOOD)
    assert asked == [
        FollowUp(1, "fine"),
        Say(FOLLOW_UP, Route.ROOM, kind="checkin_follow_up"),
    ]
    assert driver.session.status(63).awaiting == "client_answer"
    assert driver.session.next_deadline() == pytest.approx(63 + FOLLOW_UP_SECONDS + 8)
    driver.spoken("checkin_follow_up", 66)  # its window, too, counts from its end
    assert driver.session.next_deadline() == 74
    assert driver.say("a little deeper", 73, Command.DEEPER) == [
        Say(RELAY[Command.DEEPER], kind="feedback"), Feedback("deeper", 1)]
    assert driver.of(Feedback) == [(73, Feedback("deeper", 1))]


def test_after_the_follow_up_fine_again_is_good_and_silence_keeps_fine_unconfirmed() -> None:
    script = with_follow_up(make_script([Move(checkin=True), Move(checkin=True), Move()]))
    driver = Driver(script)
    driver.say("next", 60)
    driver.say("it's fine", 62, Command.GOOD)  # the client's own words: "fine" decides
    assert driver.say("fine", 66, Command.GOOD) == [  # asked once only; said twice: good
        Say(RELAY[Command.GOOD], kind="feedback"), Feedback("good", 1)]
    driver.say("next", 120)
    driver.say("fine", 122, Command.GOOD)
    driver.run_to(200)  # no answer to the follow-up: "fine" as said, never "good"
    assert [a for _, a in driver.of(Feedback)] == [
        Feedback("good", 1), Feedback("fine", 2, unconfirmed=True)]
    assert len(driver.says("checkin_follow_up")) == 2


def test_a_session_ending_while_the_follow_up_waits_keeps_fine_unconfirmed() -> None:
    driver = Driver(with_follow_up(make_script([Move(checkin=True), Move()])))
    driver.say("next", 60)
    driver.say("fine", 62, Command.GOOD)
    driver.say("end session", 63)
    driver.say("yes", 64)  # an early end: the rest
    driver.say("skip", 65)  # the rest over: the session ends, the follow-up with it
    assert driver.session.ended
    assert [a for _, a in driver.of(Feedback)] == [Feedback("fine", 1, unconfirmed=True)]


@pytest.mark.parametrize("phrase", ["perfect", "good", "that's perfect"])
def test_perfect_and_good_close_the_check_in_at_once(phrase: str) -> None:
    driver = Driver(with_follow_up(make_script([Move(checkin=True), Move()])))
    driver.say("next", 60)
    assert driver.say(phrase, 62, Command.GOOD) == [
        Say(RELAY[Command.GOOD], kind="feedback"), Feedback("good", 1)]
    assert driver.says("checkin_follow_up") == []


def test_without_a_follow_up_in_the_protocol_fine_closes_it() -> None:
    driver = Driver(make_script([Move(checkin=True), Move()]))  # an older file: question only
    driver.say("next", 60)
    assert driver.say("fine", 62)[-1] == Feedback("good", 1)


def test_an_answer_not_understood_is_told_to_the_practitioner_only() -> None:
    driver = Driver(make_script([Move(checkin=True), Move()]))
    assert driver.session.not_understood("hmm", 10) == []  # no check-in: nothing to say
    driver.say("next", 60)
    actions = driver.session.not_understood("well it is sort of", 62)
    assert actions == [UnclearAnswer("well it is sort of"),
                       Say(ANSWER_UNCLEAR, Route.PRACTITIONER, kind="feedback")]
    assert driver.session.status(62).awaiting == "client_answer"  # still listening
    assert driver.say("lighter", 63)[-1] == Feedback("lighter", 1)


def test_back_at_the_first_step_and_yes_with_nothing_pending() -> None:
    driver = Driver(uniform_script(3))
    assert driver.say("back", 5) == [Say(FIRST_STEP, kind="notice")]
    assert driver.say("yes", 6) == [
        Ignored(Command.YES), Say(NOTHING_TO_CONFIRM, kind="notice")]
    assert driver.say("no", 7) == [
        Ignored(Command.NO), Say(NOTHING_TO_CONFIRM, kind="notice")]
    assert driver.session.status(7).index == 1


def test_end_asks_and_yes_ends() -> None:
    driver = Driver(uniform_script(3))
    assert CONFIRM_COMMANDS.isdisjoint(driver.session.accepts())
    assert driver.say("end session", 10) == [
        Confirm(ConfirmState.ASKED), Say(CONFIRM_END, kind="confirm")
    ]
    assert driver.session.accepts() >= CONFIRM_COMMANDS
    assert driver.session.status(10).awaiting == "confirm_end"
    assert texts(driver.say("help", 11)) == [HELP_CONFIRM]  # help does not cancel it
    assert driver.say("yes", 12) == [  # ended early: said so, and the client still rests
        EndedEarly(1, 1),
        Say(ended_early_text(1, 3), kind="ended"),
        RestStarted(120.0),
        Say(REST_SAY, Route.ROOM, kind="rest"),
    ]
    assert texts(driver.say("help", 13)) == [HELP_REST]
    driver.run_to(1000)  # the rest ends with the water cue
    assert driver.log[-2:] == [(132.0, Say(CLOSING, kind="closing")), (132.0, Ended("ended"))]
    assert driver.session.ended
    assert driver.session.accepts() == frozenset()
    assert driver.session.next_deadline() is None
    assert driver.session.status(1000).phase == "ended"
    for command in Command:
        assert driver.session.heard(Heard(command, str(command)), 1001) == []
    assert driver.session.tick(100_000) == []


def test_end_answered_no_or_left_unanswered_carries_on() -> None:
    driver = Driver(uniform_script(3), SessionSettings(confirm_seconds=10))
    driver.say("finish session", 5)
    assert texts(driver.say("no", 6)) == ["Carrying on."]
    assert texts(driver.say("yes", 7)) == [NOTHING_TO_CONFIRM]
    driver.say("end session", 20)
    driver.run_to(40)
    lapsed = Confirm(ConfirmState.LAPSED)
    assert driver.records(RecordType.CONFIRM)[-1] == (30.0, lapsed.record(30.0))
    assert (30.0, Say(CONFIRM_LAPSED, kind="confirm")) in driver.says()
    assert texts(driver.say("yes", 41)) == [NOTHING_TO_CONFIRM]
    assert not driver.session.ended


def test_another_command_cancels_a_pending_end_and_is_handled() -> None:
    driver = Driver(uniform_script(3))
    driver.say("end session", 5)
    actions = driver.say("next", 6)
    assert actions[0] == Confirm(ConfirmState.CANCELLED)
    assert StepStarted(2, 2, 2) in actions
    assert driver.say("yes", 7)[0] == Ignored(Command.YES)
    # "end session" again asks again (restarting the wait); a client answer leaves it pending.
    driver.say("end session", 8)
    assert texts(driver.say("end session", 15)) == [CONFIRM_END]
    assert driver.session.next_deadline() == 25


def test_client_answer_leaves_a_pending_end_alone() -> None:
    driver = Driver(make_script([Move(checkin=True), Move(seconds=300)]))
    driver.say("next", 60)
    driver.say("end session", 61)
    driver.say("lighter", 62)
    assert driver.session.status(62).awaiting == "confirm_end"
    assert EndedEarly(2, 2) in driver.say("yes", 63)


def test_rest_next_back_and_skip() -> None:
    driver = Driver(uniform_script(2, seconds=60, rest_seconds=180))
    driver.say("next", 60)
    rest = driver.say("next", 120)
    assert rest == [
        RestStarted(180.0), Say(REST_SAY, Route.ROOM, kind="rest")
    ]
    assert driver.session.status(120).phase == "rest"
    assert driver.session.status(120).index == 2
    resting = driver.session.status(150)
    assert (resting.seconds_in_step, resting.seconds_left_in_step) == (30, 150)
    assert resting.seconds_left_in_rest == resting.seconds_left_in_session == 150
    assert texts(driver.say("next", 150)) == ["Resting. About 3 minutes of rest left."]
    assert texts(driver.say("help", 151)) == [HELP_REST]
    back = driver.say("back", 160)  # the last step again; the rest is off
    assert back == [StepStarted(2, 2, 2), Say("Do move 2. Cue for move 2.", kind="step")]
    driver.say("next", 170)
    driver.say("pause", 200)  # the rest freezes too
    driver.run_to(1000)
    assert not driver.session.ended
    driver.say("resume", 1000)
    done = driver.say("skip", 1010)  # skip ends the rest now
    assert done == [Say(CLOSING, kind="closing"), Ended("completed")]


def test_rest_ends_by_itself_with_the_closing_cue() -> None:
    driver = Driver(uniform_script(1, seconds=60, rest_seconds=90))
    driver.say("next", 70)
    driver.run_to(1000)
    assert driver.log[-2:] == [(160.0, Say(CLOSING, kind="closing")), (160.0, Ended("completed"))]


def test_prep_navigation_and_skip() -> None:
    script = uniform_script(2)
    driver = Driver(script, prep=True)
    assert driver.session.status(0).phase == "prep"
    assert driver.session.status(0).prep_item == 1
    assert driver.say("back", 1) == [Say(FIRST_ITEM, kind="notice")]
    driver.say("next", 2)
    assert driver.session.status(2).prep_item == 2
    assert texts(driver.say("back", 3)) == [script.preparation[0]]
    assert texts(driver.say("repeat", 4)) == [script.preparation[0]]
    assert texts(driver.say("help", 5)) == [HELP_PREP]
    assert texts(driver.say("where am i", 6)) == ["Preparation, item 1 of 3."]
    assert "minutes" in texts(driver.say("how long", 7))[0] or "minute" in texts(
        driver.say("how long", 7)
    )[0]
    skipped = driver.say("skip", 8)
    assert skipped[0] == Say(OPENING, Route.ROOM, kind="opening")
    assert skipped[1] == StepStarted(1, 1, 1)
    assert driver.session.next_deadline() == 68


def test_end_during_prep_and_rest() -> None:
    driver = Driver(uniform_script(2), prep=True)
    driver.say("end session", 1)
    assert driver.say("yes", 2) == [Say(ENDED_IN_PREP, kind="ended"), Ended("ended")]
    # Ending the rest after the last move: the water cue is not skipped.
    driver = Driver(uniform_script(1, rest_seconds=100))
    driver.say("next", 60)
    driver.say("end session", 70)
    assert driver.say("yes", 71) == [Say(CLOSING, kind="closing"), Ended("completed")]


def test_ending_early_then_ending_the_rest_too_still_gives_the_water_cue() -> None:
    driver = Driver(uniform_script(3, rest_seconds=100))
    driver.say("next", 60)
    driver.say("end session", 70)
    (said,) = [a for a in driver.say("yes", 71) if isinstance(a, Say) and a.kind == "ended"]
    assert said.text == ("Session ended early, at step 2 of 3. Now the client's rest; say skip "
                         "to end it.")
    driver.say("end session", 80)
    assert driver.say("yes", 81) == [Say(CLOSING, kind="closing"), Ended("ended")]


def test_ending_early_while_paused_lets_the_rest_run() -> None:
    driver = Driver(uniform_script(3, rest_seconds=100))
    driver.say("pause", 10)
    driver.say("end session", 20)
    assert Resumed() in driver.say("yes", 21)
    driver.run_to(1000)
    assert driver.log[-2:] == [(121.0, Say(CLOSING, kind="closing")), (121.0, Ended("ended"))]


def test_back_during_an_early_end_rest_returns_to_where_it_ended() -> None:
    driver = Driver(uniform_script(3, rest_seconds=100))
    driver.say("next", 60)
    driver.say("end session", 70)
    driver.say("yes", 71)
    back = driver.say("back", 80)
    assert StepStarted(2, 2, 2) in back
    driver.say("next", 90)
    driver.say("next", 100)
    driver.run_to(1000)  # the end was called off: the session completes normally
    assert driver.log[-1][1] == Ended("completed")


def test_help_mid_session_mentions_skip() -> None:
    driver = Driver(uniform_script(3))
    (said,) = texts(driver.say("help", 5))
    assert said == HELP_STEPS
    assert "skip" in said


def test_planned_check_ins_are_what_a_session_walked_in_time_asks() -> None:
    script = real_script()
    planned = planned_checkins(script)
    ends, t = {}, 0
    for step in script.steps:
        t += step.seconds
        ends[step.index] = t
    flagged = [s.index for s in script.steps if s.checkin]
    assert planned == tuple(PlannedCheckIn(ends[i], i, "step", False) for i in flagged)
    # A move longer than the interval: asked during it, by the clock.
    long = make_script([Move(seconds=400), Move(checkin=True), Move()], every_minutes=3)
    assert planned_checkins(long) == (
        PlannedCheckIn(180, 1, "interval", True), PlannedCheckIn(360, 1, "interval", True),
        PlannedCheckIn(460, 2, "step", False))


@pytest.mark.parametrize(
    "text",
    [HELP_STEPS, HELP_PAUSED, HELP_PREP, HELP_REST, HELP_CONFIRM, TIME_UP, PAUSED, PREP_INTRO,
     CONFIRM_END],
)
def test_prompts_only_offer_phrases_the_vocabulary_knows(text: str) -> None:
    offered = []
    for sentence in text.split("."):
        said = re.search(r"\bsay (.*)", sentence, re.IGNORECASE)
        if said is None:
            continue
        for part in re.split(r",\s*|\s+or\s+", said.group(1)):
            part = re.sub(r"^or\s+", "", part.strip())
            phrase = re.split(r"\s+(?:to|for|when|after)\s+", part)[0]
            if phrase:
                offered.append(phrase)
    assert offered
    for phrase in offered:
        assert parse(phrase) is not None, (text, phrase)


def test_help_while_paused() -> None:
    driver = Driver(uniform_script(2))
    driver.say("pause", 1)
    assert texts(driver.say("what can i say", 2)) == [HELP_PAUSED]
    assert texts(driver.say("help", 2))[0] == HELP_PAUSED


def test_commands_before_start_do_nothing_and_start_twice_does_nothing() -> None:
    session = Session(uniform_script(2))
    assert session.heard(Heard(Command.NEXT, "next"), 0) == []
    assert session.tick(100) == []
    assert session.accepts() == frozenset()
    assert session.status(0).phase == "idle"
    assert session.start(0)
    assert session.start(1) == []


def test_time_never_runs_back() -> None:
    driver = Driver(uniform_script(2, seconds=60))
    driver.say("next", 100)
    status = driver.session.status(100)
    actions = driver.session.heard(Heard(Command.TIME_LEFT, "how long"), 50)  # an older stamp
    assert texts(actions) == ["About 1 minute left in this step, 3 minutes in the session."]
    assert driver.session.status(50) == status


# --- property-based: any sequence ---------------------------------------------------------------

commands = st.sampled_from(list(Command))
delays = st.one_of(st.floats(0, 5), st.floats(0, 200), st.sampled_from([0.0, 8.0, 10.0, 60.0]))
sequences = st.lists(st.tuples(commands, delays), max_size=60)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequence=sequences, auto=st.booleans(), prep=st.booleans())
def test_any_sequence_never_crashes_and_stays_in_range(
    sequence: list[tuple[Command, float]], auto: bool, prep: bool
) -> None:
    script = real_script()
    total = len(script.steps)
    session = Session(script, SessionSettings(auto=auto))
    session.start(0.0, prep=prep)
    now = 0.0
    for command, delay in sequence:
        now += delay
        timers = session.tick(now)
        before = session.status(now)
        accepted = session.accepts()
        actions = session.heard(Heard(command, str(command)), now)
        assert all(isinstance(a, Action) for a in timers + actions)
        assert all(a.text.strip() for a in timers + actions if isinstance(a, Say))
        status = session.status(now)
        assert 1 <= status.index <= total
        assert status.seconds_left_in_step >= 0 and status.seconds_left_in_session >= 0
        _check_accepts(session, now)
        if before.phase == "ended":
            assert actions == []
        elif command not in accepted:  # not meaningful now: logged, changes nothing
            assert actions[0] == Ignored(command)
            assert actions[1:] == ([Say(NOTHING_TO_CONFIRM, kind="notice")]
                                   if command in CONFIRM_COMMANDS else [])
            assert status == before
    session.tick(now + 100_000)
    _check_accepts(session, now + 100_000)
    if auto and not session.status(now).paused and session.status(now).phase != "prep":
        assert session.ended  # auto runs to the end by itself (the checklist waits for "next")


def _check_accepts(session: Session, now: float) -> None:
    status = session.status(now)
    accepts = session.accepts()
    if session.ended:
        assert accepts == frozenset()
        assert session.next_deadline() is None
        return
    assert accepts >= GLOBAL_COMMANDS
    assert (accepts >= CONFIRM_COMMANDS) == (status.awaiting == "confirm_end")
    if status.awaiting == "client_answer":
        assert accepts >= CLIENT_ANSWERS
    assert CONFIRM_COMMANDS.isdisjoint(accepts) or accepts >= CONFIRM_COMMANDS
    assert CLIENT_ANSWERS.isdisjoint(accepts) or accepts >= CLIENT_ANSWERS


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sequence=sequences,
    tick_fractions=st.lists(st.floats(0, 1), max_size=60),
    auto=st.booleans(),
    prep=st.booleans(),
)
def test_tick_granularity_and_replay_do_not_change_anything(
    sequence: list[tuple[Command, float]], tick_fractions: list[float], auto: bool, prep: bool
) -> None:
    """The determinism contract: a live loop ticking at arbitrary moments and a replay of the
    same commands with one final tick give the same actions, in order, and the same state."""
    script = real_script()
    settings_ = SessionSettings(auto=auto)
    live, replay = Session(script, settings_), Session(script, settings_)
    live_actions = live.start(0.0, prep=prep)
    replay_actions = replay.start(0.0, prep=prep)
    now = 0.0
    for i, (command, delay) in enumerate(sequence):
        if i < len(tick_fractions):  # the live loop ticks somewhere in between, maybe twice
            live_actions += live.tick(now + delay * tick_fractions[i])
            live_actions += live.tick(now + delay * tick_fractions[i])
        now += delay
        heard = Heard(command, str(command))
        live_actions += live.heard(heard, now)
        replay_actions += replay.heard(heard, now)
        assert live.status(now) == replay.status(now)
        assert live.accepts() == replay.accepts()
        assert live.next_deadline() == replay.next_deadline()
    end = now + 5_000
    live_actions += live.tick(end - 1_000) + live.tick(end)
    replay_actions += replay.tick(end)
    assert live_actions == replay_actions
    assert live.status(end) == replay.status(end)
    assert live.next_deadline() == replay.next_deadline()
