"""The session journal: append-only JSON lines, readable after a crash, summarised at the end."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from voice_guide.commands import Command
from voice_guide.events import (
    Ended,
    Feedback,
    Heard,
    Heartbeat,
    Paused,
    Resumed,
    Route,
    Say,
    StepStarted,
)
from voice_guide.journal import (
    JournalBusy,
    JournalWriter,
    find_unfinished,
    list_journals,
    make_header,
    nothing_happened,
    read_journal,
    sessions_dir,
    summarize,
)
from voice_guide.prompts import summary_lines, summary_speech

PROTOCOL_TEXT = "name: test\n"


@pytest.fixture
def protocol(tmp_path: Path) -> Path:
    path = tmp_path / "protocol.yaml"
    path.write_text(PROTOCOL_TEXT)
    return path


def header(protocol: Path, minutes_ago: int = 0, sid: str | None = None) -> dict:
    started = datetime(2025, 3, 1, 10, 0, tzinfo=UTC) - timedelta(minutes=minutes_ago)
    return make_header(
        protocol=protocol, protocol_name="test", settings={"auto": False}, prep=False,
        mode="text", started=started, session_id=sid,
    )


def write_session(path: Path, protocol: Path, *, end: bool, minutes_ago: int = 0) -> None:
    writer = JournalWriter.create(path, header(protocol, minutes_ago, sid=path.stem))
    writer.event(0.0, StepStarted(1, 1, 1))
    writer.event(0.0, Say("Opening hold.", Route.PRACTITIONER, "step"))
    writer.event(60.0, Heard(Command.NEXT, "next"))
    writer.event(60.0, StepStarted(2, 2, 2))
    if end:
        writer.event(90.0, Ended("ended"))
    writer.close()


def test_every_record_is_one_json_line_in_the_simulate_form(tmp_path: Path, protocol: Path):
    path = tmp_path / "s.jsonl"
    writer = JournalWriter.create(path, header(protocol))
    events = [
        (0.0, StepStarted(1, 1, 1)),
        (0.0, Say("Step one.", Route.PRACTITIONER, "step")),
        (12.5, Heard(Command.PAUSE, "stop", 0.91)),
        (12.5, Paused()),
        (20.0, Resumed()),
        (30.25, Feedback("lighter", 1)),
    ]
    for t, item in events:
        writer.event(t, item)
    writer.close()

    lines = path.read_text().splitlines()
    assert len(lines) == 1 + len(events)
    first = json.loads(lines[0])
    assert first["type"] == "session" and first["t"] == 0.0
    assert first["protocol"] == str(protocol)
    assert len(first["protocol_sha256"]) == 64
    assert first["settings"] == {"auto": False}
    assert first["started"].startswith("2025-03-01T10:00:00")
    assert [json.loads(line) for line in lines[1:]] == [item.record(t) for t, item in events]

    journal = read_journal(path)
    assert journal.header == first
    assert journal.records == tuple(item.record(t) for t, item in events)
    assert journal.warnings == ()
    assert journal.last_t == 30.25
    assert not journal.finished


def test_create_refuses_to_overwrite(tmp_path: Path, protocol: Path):
    path = tmp_path / "s.jsonl"
    JournalWriter.create(path, header(protocol)).close()
    with pytest.raises(FileExistsError):
        JournalWriter.create(path, header(protocol))


def test_truncated_last_line_is_skipped_with_a_warning_and_nothing_before_is_lost(
    tmp_path: Path, protocol: Path, caplog: pytest.LogCaptureFixture
):
    path = tmp_path / "s.jsonl"
    write_session(path, protocol, end=False)
    whole = read_journal(path).records
    with open(path, "ab") as handle:  # a power loss in the middle of a write
        handle.write(b'{"t":61.0,"type":"say","text":"Palm rhom')

    journal = read_journal(path)
    assert journal.records == whole
    assert len(journal.warnings) == 1
    assert "truncated" in journal.warnings[0] and ":6:" in journal.warnings[0]
    assert "skipped truncated journal line" in caplog.text


def test_corrupt_lines_in_the_middle_are_skipped_and_the_rest_kept(tmp_path: Path, protocol: Path):
    path = tmp_path / "s.jsonl"
    write_session(path, protocol, end=True)
    lines = path.read_bytes().split(b"\n")
    garbage = [b"\x00\x00\x00\x00", b"[1, 2]", b'{"type": "say"}', b"\xff\xfe{", b'{"t": 1, "ty']
    damaged = lines[:3] + garbage + lines[3:]
    path.write_bytes(b"\n".join(damaged))

    journal = read_journal(path, warn=False)
    assert [r["type"] for r in journal.records] == ["step", "say", "heard", "step", "end"]
    assert len(journal.warnings) == len(garbage)
    assert all("corrupt" in w for w in journal.warnings)
    assert journal.finished and journal.end_reason == "ended"


def test_a_journal_without_a_readable_header_still_reads(tmp_path: Path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"t": 0, "ty\n{"t": 3.0, "type": "step", "index": 1, "number": 1}\n')
    journal = read_journal(path, warn=False)
    assert journal.header is None
    assert journal.records == ({"t": 3.0, "type": "step", "index": 1, "number": 1},)
    assert any("no session header" in w for w in journal.warnings)


def test_reopen_after_a_torn_line_starts_a_fresh_line(tmp_path: Path, protocol: Path):
    path = tmp_path / "s.jsonl"
    write_session(path, protocol, end=False)
    with open(path, "ab") as handle:
        handle.write(b'{"t":61.0,"ty')
    writer = JournalWriter.reopen(path)
    writer.event(61.0, Heard(Command.WHERE, "where am i"))
    writer.close()

    journal = read_journal(path, warn=False)
    assert journal.records[-1] == Heard(Command.WHERE, "where am i").record(61.0)
    assert len(journal.warnings) == 1  # only the torn line; the new record is intact


def test_find_unfinished_picks_the_most_recent_session_that_has_not_ended(
    tmp_path: Path, protocol: Path
):
    directory = tmp_path / "sessions"
    assert find_unfinished(directory) is None
    write_session(directory / "a.jsonl", protocol, end=False, minutes_ago=300)
    write_session(directory / "b.jsonl", protocol, end=False, minutes_ago=100)
    write_session(directory / "c.jsonl", protocol, end=True, minutes_ago=10)
    (directory / "junk.jsonl").write_bytes(b"\x00\x00garbage")
    assert find_unfinished(directory) == directory / "b.jsonl"
    assert [j.path.name for j in list_journals(directory)][-3:] == ["a.jsonl", "b.jsonl", "c.jsonl"]


def test_a_session_only_opened_is_passed_by_and_said_not_a_journal_in_one_line(
    tmp_path: Path, protocol: Path, caplog: pytest.LogCaptureFixture
):
    directory = tmp_path / "sessions"
    write_session(directory / "a.jsonl", protocol, end=False, minutes_ago=100)
    opened = JournalWriter.create(directory / "b.jsonl", header(protocol, 10, sid="b"))
    opened.event(0.0, Say("Welcome to Voice Guide.", Route.PRACTITIONER, "welcome"))
    opened.event(0.0, StepStarted(1, 1, 1))  # --skip-prep: step 1 at once; then nothing
    opened.event(12.0, Heartbeat())
    opened.close()
    assert read_journal(directory / "b.jsonl").empty
    assert not read_journal(directory / "a.jsonl").empty  # a command was heard
    assert find_unfinished(directory) == directory / "a.jsonl"
    # Silent for longer than EMPTY_SECONDS in step 1: the massage went on, worth resuming.
    assert not nothing_happened([StepStarted(1, 1, 1).record(0.0), Heartbeat().record(45.0)])
    assert nothing_happened([Say("Preparation checklist.").record(0.0),
                             Heartbeat().record(300.0)])  # no step, no command: only opened
    # A file that is no journal: one warning, not one per line of it.
    wav = tmp_path / "x.wav"
    wav.write_bytes(b"RIFF\x00\xff" + b"\n\x80\x81" * 50)
    caplog.clear()
    journal = read_journal(wav)
    assert journal.unreadable == 51 and journal.header is None
    assert caplog.messages == [
        f"warning: {wav}: not a session journal: 51 lines could not be read as journal records"]
    # A journal with a few damaged lines: the first three, then how many more.
    damaged = tmp_path / "d.jsonl"
    damaged.write_text((directory / "a.jsonl").read_text() + "garbage\n" * 6)
    caplog.clear()
    read_journal(damaged)
    assert len(caplog.messages) == 4
    assert caplog.messages[-1] == f"warning: {damaged}: 3 more journal lines skipped"


def test_sessions_dir_follows_xdg_data_home(tmp_path: Path):
    assert sessions_dir({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path / "voice-guide" / "sessions"
    default = sessions_dir({})
    assert default.parts[-4:] == (".local", "share", "voice-guide", "sessions")
    assert sessions_dir({"XDG_DATA_HOME": "relative/ignored"}) == default


def test_summary_counts_time_per_step_without_pauses_and_lists_feedback():
    records = [
        StepStarted(1, 1, 1).record(0.0),
        Heard(Command.NEXT, "next").record(50.0),
        StepStarted(2, 2, 2).record(50.0),
        Paused().record(60.0),
        Resumed().record(100.0),  # 40 s paused: not time in step 2
        Feedback("deeper", 2).record(110.0),
        StepStarted(3, 3, 3).record(130.0),
        {"t": 150.0, "type": "exit", "reason": "eof"},  # process stopped, later resumed
        {"t": 150.0, "type": "resume_session"},
        Feedback(None, 3).record(170.0),
        Ended("completed").record(200.0),
    ]
    summary = summarize(records)
    assert [(s.index, s.seconds) for s in summary.steps] == [(1, 50.0), (2, 40.0), (3, 70.0)]
    assert summary.total_seconds == 200.0
    assert summary.feedback == (Feedback("deeper", 2), Feedback(None, 3))
    assert summary.finished and summary.end_reason == "completed"
    lines = summary_lines(summary)
    assert lines[0] == "Total time: 3:20 (3 steps, 3 moves)"
    assert lines[1:4] == ["  move  1 (step 1): 0:50", "  move  2 (step 2): 0:40",
                          "  move  3 (step 3): 1:10"]
    assert "step 2: deeper, step 3: no answer" in lines[-1]
    assert summary_speech(summary) == (
        "Session complete. 3 steps, 3 moves in about 3 minutes. Pressure: deeper.")
    assert summary.as_json()["steps"][1] == {"index": 2, "number": 2, "seconds": 40.0}


def test_summary_words_steps_and_moves_and_says_an_early_end():
    # Step 6 repeats 3-5: moves 6 and 7 belong to step 6. Feedback names the step.
    records = [
        StepStarted(1, 5, 5).record(0.0),
        StepStarted(2, 6, 3).record(30.0),
        Feedback("lighter", 2).record(40.0),
        StepStarted(3, 6, 4).record(50.0),
        {"t": 55.0, "type": "ended_early", "index": 3, "number": 6},
        {"t": 55.0, "type": "rest", "seconds": 180.0},
        Ended("ended").record(235.0),
    ]
    summary = summarize(records)
    assert summary.ended_early_at == 6
    lines = summary_lines(summary)
    assert lines[:2] == ["Total time: 3:55 (2 steps, 3 moves)", "Ended early, at step 6"]
    assert lines[-1] == "Pressure feedback: step 6: lighter"
    assert summary_speech(summary) == (
        "Session ended early, at step 6: 2 steps, 3 moves in about 4 minutes. "
        "Pressure: lighter.")
    # A "fine" whose follow-up went unanswered is kept as said, never "good" (issue 20, 2).
    unconfirmed = summarize([*records[:2], Feedback("fine", 2, unconfirmed=True).record(40.0),
                             *records[3:]])
    assert summary_lines(unconfirmed)[-1] == "Pressure feedback: step 6: fine (unconfirmed)"
    assert summary_speech(unconfirmed).endswith(
        "Pressure: fine, with no answer to the follow-up.")
    # Not "Session complete" for a session ended before its first step either.
    before = summarize([Ended("ended").record(20.0)])
    assert summary_speech(before) == "Session ended: 0 steps, 0 moves in less than a minute."


def test_only_one_writer_at_a_time(tmp_path: Path, protocol: Path):
    path = tmp_path / "s.jsonl"
    first = JournalWriter.create(path, header(protocol))
    with pytest.raises(JournalBusy, match="still running in another process"):
        JournalWriter.reopen(path)
    first.close()
    JournalWriter.reopen(path).close()  # free once the first writer is gone


def test_a_file_too_large_to_be_a_journal_is_refused_not_read_whole(
    tmp_path: Path, protocol: Path, caplog: pytest.LogCaptureFixture
):
    from voice_guide.journal import MAX_JOURNAL_BYTES

    write_session(tmp_path / "a.jsonl", protocol, end=True)
    huge = tmp_path / "b.jsonl"
    with open(huge, "wb") as handle:  # sparse: no disk space is used
        handle.truncate(MAX_JOURNAL_BYTES + 1)
    with pytest.raises(OSError, match="larger than 64 MB, too large for a session journal"):
        read_journal(huge)
    assert [j.path.name for j in list_journals(tmp_path)] == ["a.jsonl"]
    assert f"{huge}: cannot read (larger than 64 MB" in caplog.text


def test_resume_reopen_closes_off_a_torn_line_only_once_records_follow(
    tmp_path: Path, protocol: Path
):
    path = tmp_path / "s.jsonl"
    write_session(path, protocol, end=False)
    with open(path, "ab") as handle:
        handle.write(b'{"t":61.0,"ty')
    JournalWriter.reopen(path).close()  # opened and closed: nothing written, nothing lost
    assert path.read_bytes().endswith(b'{"t":61.0,"ty')
    writer = JournalWriter.reopen(path)
    assert writer.write({"t": 62.0, "type": "clock"}) is None  # written: no notice
    writer.close()
    assert read_journal(path, warn=False).records[-1] == {"t": 62.0, "type": "clock"}


def test_history_counts_steps_and_moves_and_says_where_a_session_ended_early(
    tmp_path: Path, protocol: Path
):
    from voice_guide.cli.history import session_json, session_line

    # Moves 2 and 3 are copies made by step 6 (a repeat of 3-5): 2 steps, 3 moves.
    path = tmp_path / "s.jsonl"
    writer = JournalWriter.create(path, header(protocol))
    for t, item in [
        (0.0, StepStarted(1, 5, 5)), (30.0, StepStarted(2, 6, 3)), (40.0, Feedback("lighter", 2)),
        (50.0, StepStarted(3, 6, 4)),
    ]:
        writer.event(t, item)
    writer.write({"t": 55.0, "type": "ended_early", "index": 3, "number": 6})
    writer.write({"t": 55.0, "type": "rest", "seconds": 180.0})
    writer.event(235.0, Ended("ended"))
    writer.close()
    journal = read_journal(path, warn=False)
    data = session_json(journal)
    assert (data["steps"], data["moves"], data["ended_early_at"]) == (2, 3, 6)
    assert data["feedback"] == [{"index": 2, "answer": "lighter"}]
    line = session_line(journal)
    assert "  3:55  2 steps, 3 moves  ended early at step 6  feedback: lighter" in line

    one = tmp_path / "one.jsonl"
    write_session(one, protocol, end=True)  # steps 1 and 2, one move each, ended (not early)
    data = session_json(read_journal(one, warn=False))
    assert (data["steps"], data["moves"], data["ended_early_at"]) == (2, 2, None)
    assert "2 steps, 2 moves  ended early  feedback: none" in session_line(
        read_journal(one, warn=False))
