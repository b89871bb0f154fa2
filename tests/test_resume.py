"""Crash and resume: a session rebuilt from its journal is the session that was interrupted.

The replay tests drive the real Session through the real Guide and journal on a virtual clock,
cut the run anywhere, rebuild from the file, and check that the rebuilt session behaves exactly
like the original from then on. The process test kills a real `voice-guide run --text` with
SIGKILL mid-session and resumes it with `run --text --resume`.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from live_helpers import REPO, live_env, records, wait_for

from voice_guide.commands import PHRASES, Command
from voice_guide.events import Heard, Route, Say
from voice_guide.guide import Guide, PrintedSpeech
from voice_guide.journal import JournalWriter, make_header, read_journal
from voice_guide.loop import HEARTBEAT_SECONDS
from voice_guide.protocol import DEFAULT_PROTOCOL, load
from voice_guide.resume import ResumeError, replay
from voice_guide.session import Session, SessionSettings
from voice_guide.status import StatusPanel

SCRIPT = load(DEFAULT_PROTOCOL)


def new_guide(path: Path, settings: SessionSettings, *, prep: bool) -> Guide:
    header = make_header(
        protocol=DEFAULT_PROTOCOL, protocol_name=SCRIPT.name,
        settings=settings.__dict__, prep=prep, mode="text",
    )
    journal = JournalWriter.create(path, header)
    panel = StatusPanel(io.StringIO(), tty=False)
    return Guide(Session(SCRIPT, settings), journal, PrintedSpeech(panel), panel)


def drive(guide: Guide, moves: list[tuple[float, Command | None]]) -> None:
    """Each move: at session time t, a command (or None: only the clock ticks)."""
    for t, command in moves:
        if command is None:  # as the live loop does when it wakes up with no input
            guide.tick(t)
            if t - guide.last_write >= HEARTBEAT_SECONDS:
                guide.heartbeat(t)
        else:
            guide.heard(Heard(command, PHRASES[command][0], 0.9, t, t), t)


def state(session: Session, now: float) -> tuple:
    return (session.status(now), session.accepts(), session.next_deadline(), session.ended)


def future(session: Session, moves: list[tuple[float, Command | None]]) -> list[dict]:
    """What the session does from here on: the records of its actions for a probe sequence."""
    records: list[dict] = []
    for t, command in moves:
        if command is None:
            actions = session.tick(t)
        else:
            actions = session.heard(Heard(command, PHRASES[command][0], 0.9, t, t), t)
        records += [a.record(t) for a in actions]
    return records


PROBE = [Command.HELP, Command.DEEPER, Command.NEXT, Command.YES, Command.PAUSE, Command.NEXT,
         Command.TIME_LEFT, Command.SKIP, Command.END, Command.NO]


def probe_from(t: float) -> list[tuple[float, Command | None]]:
    moves: list[tuple[float, Command | None]] = []
    for i, command in enumerate(PROBE):
        t += 7.0 + 3 * i
        moves += [(t, command), (t + 95.0, None)]
        t += 95.0
    return moves


def assert_resumes_identically(path: Path, original: Session, now: float) -> None:
    journal = read_journal(path, warn=False)
    rebuilt = replay(SCRIPT, journal)
    # A tick that journaled nothing (no action, heartbeat not due) is the only thing lost.
    assert now - HEARTBEAT_SECONDS <= rebuilt.last_t <= now
    rebuilt.session.tick(now)
    assert state(rebuilt.session, now) == state(original, now)
    assert future(rebuilt.session, probe_from(now)) == future(original, probe_from(now))


# A session with everything worth resuming in the middle of: prep, steps, a check-in and its
# answer window, a pause, a pending "end session?", the rest period.
STORY: list[tuple[float, Command | None]] = [
    (5.0, Command.NEXT), (9.0, Command.SKIP),  # prep item 2, then skip the checklist
    (60.0, None), (100.0, Command.NEXT), (170.0, Command.NEXT), (175.0, Command.WHERE),
    (260.0, Command.NEXT), (300.0, Command.PAUSE), (340.0, Command.TIME_LEFT),
    (400.0, Command.RESUME), (460.0, Command.NEXT), (463.0, Command.LIGHTER),
    (530.0, Command.NEXT), (531.0, None), (600.0, Command.END), (604.0, None),
    *[(700.0 + 80 * i, Command.NEXT) for i in range(40)],  # on to the rest
    (4000.0, None),
]


# 1: prep, 2-6: the first steps, 8-9: paused, 11: a check-in's answer window open, 15: a pending
# "end session?", 46-47: the rest period, 55 and the end: ended.
@pytest.mark.parametrize(
    "cut", [1, 2, 4, 6, 8, 9, 10, 11, 12, 14, 15, 20, 40, 46, 47, 55, len(STORY)]
)
def test_a_session_cut_anywhere_is_rebuilt_exactly(tmp_path: Path, cut: int):
    path = tmp_path / "s.jsonl"
    guide = new_guide(path, SessionSettings(), prep=True)
    guide.open(0.0, prep=True)
    drive(guide, STORY[:cut])
    now = STORY[cut - 1][0]
    guide.journal.close()  # what a SIGKILL leaves: every record written so far, no exit record
    if guide.ended:
        with pytest.raises(ResumeError, match="already ended"):
            replay(SCRIPT, read_journal(path, warn=False))
        return
    assert_resumes_identically(path, guide.session, now)


def test_resume_restores_a_pending_checkin_and_the_time_spent(tmp_path: Path):
    path = tmp_path / "s.jsonl"
    guide = new_guide(path, SessionSettings(checkin_every_minutes=2), prep=False)
    guide.open(0.0, prep=False)
    # The 2-minute timer asks at 120 s, in the middle of move 1 (90 s, left only at 124); the
    # window ends 8 s after the question (about 1.6 s said): at about 129.6 s, during move 2.
    drive(guide, [(121.0, None), (124.0, Command.NEXT), (128.0, None)])
    asked = [r for r in guide.records if r["type"] == "checkin"]
    assert [(r["t"], r["index"], r["reason"]) for r in asked] == [(121.0, 1, "interval")]
    original = guide.session.status(128.0)
    assert original.awaiting == "client_answer"
    assert original.index == 2 and original.seconds_in_step == pytest.approx(4.0)
    guide.journal.close()

    rebuilt = replay(SCRIPT, read_journal(path, warn=False)).session
    status = rebuilt.status(128.0)
    assert status == original
    assert rebuilt.next_deadline() == pytest.approx(guide.session.next_deadline())
    assert Command.DEEPER in rebuilt.accepts()
    records = future(rebuilt, [(129.0, Command.DEEPER)])
    assert {"t": 129.0, "type": "feedback", "answer": "deeper", "index": 1} in records


def test_resume_counts_the_answer_window_from_the_end_of_the_journaled_question(tmp_path: Path):
    path = tmp_path / "s.jsonl"
    guide = new_guide(path, SessionSettings(checkin_every_minutes=2), prep=False)
    guide.open(0.0, prep=False)
    drive(guide, [(121.0, None)])  # asked at 120 s; estimated, the window would end at 129.6 s
    question = Say(SCRIPT.checkins.question, Route.ROOM, kind="checkin")
    guide.played(question, 125.0)  # it played late: the window ends at 133 s
    # "fine" gets the follow-up question, which played at 131: its window ends at 139 s
    guide.phrase("it's fine", 130.0)
    follow_up = Say(SCRIPT.checkins.follow_up or "", Route.ROOM, kind="checkin_follow_up")
    guide.played(follow_up, 131.0)
    drive(guide, [(136.0, None)])
    assert [r["kind"] for r in guide.records if r["type"] == "spoken"] == [
        "checkin", "checkin_follow_up"]
    assert guide.session.status(136.0).awaiting == "client_answer"
    assert guide.session.next_deadline() == pytest.approx(139.0)
    guide.journal.close()

    rebuilt = replay(SCRIPT, read_journal(path, warn=False)).session
    assert state(rebuilt, 136.0) == state(guide.session, 136.0)
    assert rebuilt.next_deadline() == pytest.approx(139.0)
    moves = [(138.5, Command.DEEPER), *probe_from(140.0)]  # the answer, still in its window
    records = future(rebuilt, moves)
    assert {"t": 138.5, "type": "feedback", "answer": "deeper", "index": 1} in records
    assert records == future(guide.session, moves)


def test_resume_after_a_question_played_late_keeps_its_window_open(tmp_path: Path):
    path = tmp_path / "s.jsonl"
    guide = new_guide(path, SessionSettings(checkin_every_minutes=2), prep=False)
    guide.open(0.0, prep=False)
    drive(guide, [(121.0, None)])
    guide.played(Say(SCRIPT.checkins.question, Route.ROOM, kind="checkin"), 125.0)
    drive(guide, [(131.0, None)])  # past the estimate (129.6 s), within the real window (133 s)
    guide.journal.close()
    assert guide.session.status(131.0).awaiting == "client_answer"

    rebuilt = replay(SCRIPT, read_journal(path, warn=False)).session
    assert rebuilt.status(131.0).awaiting == "client_answer"
    assert rebuilt.next_deadline() == pytest.approx(133.0)
    assert_resumes_identically(path, guide.session, 131.0)


def test_replay_survives_a_torn_last_line(tmp_path: Path):
    path = tmp_path / "s.jsonl"
    guide = new_guide(path, SessionSettings(), prep=False)
    guide.open(0.0, prep=False)
    drive(guide, [(50.0, Command.NEXT), (80.0, Command.NEXT)])
    guide.journal.close()
    with open(path, "ab") as handle:
        handle.write(b'{"t":95.0,"type":"heard","command":"ne')  # the write in flight
    journal = read_journal(path, warn=False)
    assert len(journal.warnings) == 1
    assert replay(SCRIPT, journal).session.status(80.0).index == 3


commands_strategy = st.lists(
    st.tuples(st.floats(0.0, 200.0), st.sampled_from([*Command, None])), max_size=40
)


@settings(
    max_examples=40, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(moves=commands_strategy, prep=st.booleans(), auto=st.booleans())
def test_any_command_sequence_replays_to_the_same_state(tmp_path: Path, moves, prep, auto):
    path = tmp_path / f"s-{os.getpid()}-{time.monotonic_ns()}.jsonl"
    guide = new_guide(path, SessionSettings(auto=auto), prep=prep)
    guide.open(0.0, prep=prep)
    t = 0.0
    timed = []
    for gap, command in moves:
        t = round(t + gap, 3)
        timed.append((t, command))
    drive(guide, timed)
    guide.journal.close()
    if guide.ended:
        return
    assert_resumes_identically(path, guide.session, t)


# --- the real process, killed ------------------------------------------------------------------


def voice_guide(*args: str, env: dict[str, str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "voice_guide", *args], cwd=REPO, env=env,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        **kwargs,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return live_env(tmp_path)


def test_sigkill_mid_session_then_resume_continues_at_the_same_step(tmp_path: Path, env):
    journal = tmp_path / "data" / "voice-guide" / "sessions"
    process = voice_guide("run", "--text", "--silent", "--skip-prep", env=env)
    try:
        assert process.stdin is not None
        process.stdin.write("next\nnext\n")
        process.stdin.flush()
        files: list[Path] = []

        def at_step_3() -> bool:
            files[:] = sorted(journal.glob("*.jsonl"))
            return bool(files) and any(
                r["type"] == "step" and r["index"] == 3 for r in records(files[0])
            )

        wait_for(at_step_3, "step 3")
        path = files[0]
        step_3_at = next(r["t"] for r in records(path) if r["type"] == "step" and r["index"] == 3)
        wait_for(lambda: records(path)[-1]["t"] >= step_3_at + 2.5,  # heartbeats keep the time
                 "2.5 s into step 3")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    before = records(path)
    assert before[-1]["type"] != "exit"  # killed: no clean end
    killed_at = before[-1]["t"]

    resumed = subprocess.run(
        [sys.executable, "-m", "voice_guide", "run", "--text", "--silent", "--resume"],
        cwd=REPO, env=env, input="where am i\nhow long\n", capture_output=True, text=True,
        timeout=30,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming at step 3: " in resumed.stdout
    assert "Step 3 of 22" in resumed.stdout  # "where am i", answered by the resumed session
    after = records(path)[len(before):]
    marker = after[0]
    assert marker["type"] == "resume_session" and marker["index"] == 3
    assert marker["seconds_in_step"] == pytest.approx(killed_at - step_3_at, abs=0.2)
    assert marker["seconds_in_step"] >= 2.4
    assert all(r["t"] >= killed_at for r in after)  # session time carries on, never back
    assert after[-1]["type"] == "exit" and after[-1]["reason"] == "eof"
    assert not [p for p in journal.glob("*") if p != path]  # the same journal, no new file


def test_sigkill_while_paused_resumes_paused(tmp_path: Path, env):
    path = tmp_path / "j.jsonl"
    process = voice_guide("run", "--text", "--silent", "--skip-prep", "--journal", str(path),
                          env=env)
    try:
        assert process.stdin is not None
        process.stdin.write("next\nstop\n")
        process.stdin.flush()
        wait_for(lambda: any(r["type"] == "pause" for r in records(path)), "the pause")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    resumed = subprocess.run(
        [sys.executable, "-m", "voice_guide", "run", "--text", "--silent", "--resume",
         "--journal", str(path)],
        cwd=REPO, env=env, input="resume\n", capture_output=True, text=True, timeout=30,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "The session is paused. Say resume to continue." in resumed.stdout
    assert "Resuming." in resumed.stdout
    types = [r["type"] for r in records(path)]
    assert types.count("resume_session") == 1 and types[-2:] == ["say", "exit"]
    assert json.loads(path.read_text().splitlines()[0])["type"] == "session"


def test_discard_closes_an_unfinished_session_for_good(tmp_path: Path):
    from voice_guide.events import EndReason
    from voice_guide.journal import JournalBusy, summarize
    from voice_guide.resume import discard

    path = tmp_path / "j.jsonl"
    guide = new_guide(path, SessionSettings(), prep=False)
    guide.open(0.0, prep=False)
    drive(guide, [(30.0, Command.NEXT), (45.0, None)])
    with pytest.raises(JournalBusy):  # still running in this process: not given up under it
        discard(path)
    guide.journal.close()
    discard(path)
    journal = read_journal(path, warn=False)
    assert journal.records[-1] == {"t": journal.last_t, "type": "end", "reason": "discarded"}
    assert journal.finished and journal.end_reason is EndReason.DISCARDED
    assert [s.index for s in summarize(journal.records).steps] == [1, 2]  # kept as it was
    with pytest.raises(ResumeError, match="already ended"):
        discard(path)
    with pytest.raises(ResumeError, match="already ended"):
        replay(SCRIPT, journal)
    other = tmp_path / "notes.txt"
    other.write_text("not a journal\n")
    with pytest.raises(ResumeError, match="not a session journal: 1 line could not be read"):
        discard(other)
    assert other.read_text() == "not a journal\n"  # left alone
