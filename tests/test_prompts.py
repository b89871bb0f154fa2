"""The guide's wording: one rounding of minutes, one clock, and the texts rendered ahead."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from voice_guide import prompts
from voice_guide.commands import Command, client_answer, parse
from voice_guide.events import Action, Heard, Say
from voice_guide.journal import StepTime, Summary
from voice_guide.prompts import (
    about_minutes,
    clock,
    known_texts,
    minutes,
    minutes_short,
    resume_text,
    summary_speech,
    whole_minutes,
)
from voice_guide.protocol import Script, load
from voice_guide.session import Session, SessionSettings

FULL_SESSION = Path(__file__).parent / "scripts" / "full_session.txt"


@cache
def real_script() -> Script:
    return load()


# --- minutes and the clock ---------------------------------------------------------------------


@pytest.mark.parametrize(("seconds", "whole"), [
    (0, 0), (29.9, 0), (30, 1), (89.9, 1), (90, 2), (150, 3), (151, 3), (-5, 0),
])
def test_minutes_round_half_up(seconds: float, whole: int) -> None:
    # Half up, never to even: 150 s is 3 minutes (Python's round() would say 2).
    assert whole_minutes(seconds) == whole


def test_spoken_and_shown_minutes_round_alike() -> None:
    assert minutes(59.9) == "less than a minute"
    assert minutes(60) == "1 minute"
    assert minutes(89) == "1 minute"
    assert minutes(150) == "3 minutes"
    assert about_minutes(59) == "less than a minute"
    assert about_minutes(150) == "about 3 minutes"
    assert minutes_short(0) == "0 min"
    assert minutes_short(59) == "under 1 min"
    assert minutes_short(150) == "3 min"
    # From an hour on, in hours (a 500-step protocol is not "about 501 minutes").
    assert minutes(3600) == "1 hour"
    assert minutes(3660) == "1 hour 1 minute"
    assert about_minutes(30_060) == "about 8 hours 21 minutes"
    assert minutes_short(30_060) == "8 h 21 min"
    assert minutes_short(3599) == "1 h 0 min"  # 59:59 rounds to the hour, as spoken
    # The closing summary says its total the same way as "how long" does.
    summary = Summary((StepTime(1, 1, 150.0),), 150.0, (), True, "completed")
    assert summary_speech(summary) == "Session complete. 1 step, 1 move in about 3 minutes."
    brief = Summary((), 45.0, (), True, "ended")
    assert summary_speech(brief) == "Session ended: 0 steps, 0 moves in less than a minute."


@pytest.mark.parametrize(("seconds", "shown"), [
    (0, "0:00"), (-3, "0:00"), (59.4, "0:59"), (59.5, "1:00"), (65.4, "1:05"),
    (314.9999, "5:15"),  # a float sum of move times shows the time it stands for
    (3599.6, "1:00:00"), (3725, "1:02:05"),
])
def test_clock_rounds_half_up_to_the_second(seconds: float, shown: str) -> None:
    assert clock(seconds) == shown


# --- texts rendered ahead ------------------------------------------------------------------------


def test_known_texts_start_with_what_is_said_first_and_hold_each_text_once() -> None:
    script = real_script()
    texts = known_texts(script)
    first = script.steps[0]
    assert texts[:2] == [prompts.WELCOME, script.opening]
    assert texts.index(first.station.announce) < texts.index(prompts.PAUSED)
    assert texts.index(prompts.step_text(first)) < texts.index(prompts.PAUSED)
    assert len(texts) == len(set(texts))
    assert "" not in texts
    # Every registered sentence, and no rare one.
    assert set(prompts._RENDERED_AHEAD) <= set(texts)
    assert prompts.PREP_INTRO in texts and prompts.HELP_CONFIRM in texts
    assert set(prompts.RELAY.values()) <= set(texts)
    assert prompts.MIC_LOST not in texts and prompts.NO_STEP_DETAILS not in texts
    # Each step's "where am I" answer and details: known from the script, so rendered too, last.
    last = max(step.number for step in script.steps)
    wheres = [prompts.where_text(step, last) for step in script.steps]
    assert set(wheres) <= set(texts) and texts.index(wheres[0]) > texts.index(prompts.PAUSED)
    assert {step.details.strip() for step in script.steps} - {""} <= set(texts)


# Texts built from the clock: rendered when said.
BUILT_WHEN_SAID = {"time_left", "rest_left"}


def test_everything_a_whole_session_says_was_rendered_ahead_unless_built_when_said() -> None:
    """A whole session on the shipped protocol (the scripted one of the README), run on the
    real Session: each fixed text it says is one of `known_texts`."""
    script = real_script()
    session = Session(script, SessionSettings())
    said: list[Say] = []

    def keep(actions: list[Action]) -> None:
        said.extend(a for a in actions if isinstance(a, Say))

    keep(session.start(0.0))
    for raw in FULL_SESSION.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        seconds, phrase = line.split(maxsplit=1)
        t = float(seconds)
        while (deadline := session.next_deadline()) is not None and deadline <= t:
            keep(session.tick(deadline))
        command = parse(phrase)
        if command is None and (answer := client_answer(phrase)) is not None:
            command = answer[0]
        if command is not None:
            keep(session.heard(Heard(command, phrase), t))
        else:
            keep(session.not_understood(phrase, t))
    while (deadline := session.next_deadline()) is not None and deadline < 10_000:
        keep(session.tick(deadline))
    assert session.ended
    # The checklist's own words, from a session started with it.
    prep = Session(script, SessionSettings())
    keep(prep.start(0.0, prep=True))
    for t, command in enumerate([Command.HELP, Command.BACK, Command.NEXT, Command.SKIP], 1):
        keep(prep.heard(Heard(command, str(command)), float(t)))
    kinds = {say.kind for say in said}
    assert {"step", "station", "checkin", "feedback", "rest", "closing", "cue", "prep_intro",
            "prep", "help", "notice"} <= kinds
    missing = {say.text for say in said if say.kind not in BUILT_WHEN_SAID} - set(
        known_texts(script))
    assert missing == set()


# --- resuming ------------------------------------------------------------------------------------


def test_resume_text_says_where_the_session_carries_on() -> None:
    script = real_script()
    session = Session(script, SessionSettings())
    session.start(0.0)
    repeat = next(step for step in script.steps if step.origin != step.number)
    for t in range(1, repeat.index):  # on to the first move that repeats an earlier step
        session.heard(Heard(Command.NEXT, "next"), float(t))
    status = session.status(float(repeat.index))
    assert resume_text(status) == (
        f"Welcome back. Resuming at step {repeat.number}, repeating step {repeat.origin}: "
        f"{repeat.title}.")
    session.heard(Heard(Command.PAUSE, "stop"), 40.0)
    assert resume_text(session.status(41.0)).endswith(
        "The session is paused. Say resume to continue.")

    prep = Session(script, SessionSettings())
    prep.start(0.0, prep=True)
    assert resume_text(prep.status(1.0)) == "Welcome back. Resuming the preparation checklist."
