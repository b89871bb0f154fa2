"""The closed vocabulary of journal records: one class per record type, every type read or
deliberately ignored by the summary, and journals written before the vocabulary still read."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from voice_guide.cli.history import session_json, session_line
from voice_guide.commands import Command
from voice_guide.events import (
    AudioReport,
    CheckIn,
    CheckInReason,
    Confirm,
    ConfirmState,
    Ended,
    EndedEarly,
    EndReason,
    Exit,
    ExitReason,
    Feedback,
    FollowUp,
    Heard,
    Heartbeat,
    Ignored,
    JournalGap,
    ListeningStarted,
    MicrophoneBack,
    MicrophoneLost,
    NoteTaken,
    Paused,
    Phase,
    PrepStarted,
    RecordType,
    RestStarted,
    Resumed,
    ResumedSession,
    Route,
    RouteFallback,
    Say,
    Silence,
    Spoken,
    StepStarted,
    TimeUp,
    UnclearAnswer,
    Undelivered,
    Unknown,
    record_type,
)
from voice_guide.journal import (
    SUMMARY_IGNORES,
    SUMMARY_READS,
    make_header,
    read_journal,
    summarize,
)
from voice_guide.prompts import summary_speech
from voice_guide.protocol import load
from voice_guide.resume import replay
from voice_guide.session import Awaiting, planned_checkins
from voice_guide.simulate import parse_command_script, simulate

TINY = Path(__file__).parent / "protocols" / "tiny.yaml"
FULL_SESSION = Path(__file__).parent / "scripts" / "full_session.txt"


def header_record(t: float) -> dict[str, Any]:
    record = make_header(protocol=TINY, protocol_name="Tiny routine", settings={}, prep=False,
                         mode="text")
    return {**record, "t": t}


# One record of every type, at session time t.
EXAMPLES: dict[RecordType, Callable[[float], dict[str, Any]]] = {
    RecordType.SESSION: header_record,
    RecordType.HEARD: Heard(Command.REPEAT, "say again").record,
    RecordType.UNKNOWN: Unknown("hmm").record,
    RecordType.SPOKEN: Spoken("checkin").record,
    RecordType.SAY: Say("Resuming.").record,
    RecordType.SILENCE: Silence().record,
    RecordType.STEP: StepStarted(9, 9, 9).record,
    RecordType.FEEDBACK: Feedback("lighter", 1).record,
    RecordType.PAUSE: Paused().record,
    RecordType.RESUME: Resumed().record,
    RecordType.END: Ended(EndReason.COMPLETED).record,
    RecordType.PREP: PrepStarted(3).record,
    RecordType.IGNORED: Ignored(Command.YES).record,
    RecordType.UNCLEAR_ANSWER: UnclearAnswer("well").record,
    RecordType.CONFIRM: Confirm(ConfirmState.ASKED).record,
    RecordType.TIME_UP: TimeUp(1).record,
    RecordType.ENDED_EARLY: EndedEarly(1, 1).record,
    RecordType.FOLLOW_UP: FollowUp(1, "fine").record,
    RecordType.CHECKIN: CheckIn(1, CheckInReason.STEP).record,
    RecordType.REST: RestStarted(120.0).record,
    RecordType.NOTE: NoteTaken("tight left shoulder", 7, 5, Phase.STEPS).record,
    RecordType.CLOCK: Heartbeat().record,
    RecordType.EXIT: Exit(ExitReason.EOF).record,
    RecordType.RESUME_SESSION: ResumedSession(Phase.STEPS, 1, 20.0, False).record,
    RecordType.JOURNAL_GAP: JournalGap(3, 10.0, 14.0, "No space left on device").record,
    RecordType.AUDIO: AudioReport(1, 0, 2, ("snd_pcm_recover underrun occurred",), 4).record,
    RecordType.LISTENING: ListeningStarted("default", None, "whisper").record,
    RecordType.MICROPHONE_LOST: MicrophoneLost("usb", "its input stream stopped", None).record,
    RecordType.MICROPHONE_BACK: MicrophoneBack("usb").record,
    RecordType.ROUTE_FALLBACK: RouteFallback(Route.ROOM, "kiosk", "default", "gone").record,
    RecordType.UNDELIVERED: Undelivered(Route.ROOM, "How is the pressure?").record,
}


def test_every_record_type_has_a_class_that_writes_it_as_plain_json() -> None:
    assert set(EXAMPLES) == set(RecordType)
    for kind, make in EXAMPLES.items():
        record = make(12.5)
        assert record["type"] == kind and type(record["type"]) is str  # plain in the file
        assert record["t"] == 12.5
        assert json.loads(json.dumps(record)) == record


def test_records_read_back_are_the_ones_written() -> None:
    heard = Heard(Command.NEXT, "next please", 0.8, 3.0, 3.4)
    assert Heard.from_record({**heard.record(3.5), "start": 3.0, "end": 3.4}) == heard
    assert "text" not in heard.record(3.5)  # only notes carry words of their own
    for item in (Spoken("checkin_follow_up"), StepStarted(4, 3, 2), Feedback(None, 2),
                 Feedback("good", 2), Feedback("fine", 2, unconfirmed=True),
                 Ended(EndReason.ENDED), EndedEarly(5, 4), Exit(ExitReason.INTERRUPT),
                 NoteTaken("knot", 3, 2, Phase.REST),
                 Heard(Command.NOTE, "make a note", 0.9, 9.0, 9.0, "knot under the scapula")):
        assert type(item).from_record(item.record(9.0)) == item  # type: ignore[attr-defined]
    with pytest.raises(ValueError):
        Spoken.from_record({"t": 1.0, "type": "spoken", "kind": "a kind nobody says"})
    with pytest.raises(ValueError):
        Heard.from_record({"t": 1.0, "type": "heard", "command": "dance"})


def test_everything_a_whole_simulated_session_writes_is_in_the_vocabulary() -> None:
    script = load()
    log = simulate(script, parse_command_script(FULL_SESSION.read_text()))
    kinds = [record_type(record) for record in log]
    assert None not in kinds
    assert {RecordType.STEP, RecordType.CHECKIN, RecordType.FEEDBACK, RecordType.REST,
            RecordType.END, RecordType.UNKNOWN} <= set(kinds)


# --- The summary reads or ignores every type ---------------------------------------------------


def test_summary_reads_or_deliberately_ignores_every_record_type() -> None:
    assert set(RecordType) == SUMMARY_READS | SUMMARY_IGNORES
    assert not SUMMARY_READS & SUMMARY_IGNORES


# A session that stands still at 25-40 s (paused) and ends at 100 s: a record of a type the
# summary reads changes it, put at one of the probe times; one it ignores changes nothing.
BASE = [
    StepStarted(1, 1, 1).record(0.0), StepStarted(2, 2, 2).record(20.0), Paused().record(25.0),
    Resumed().record(40.0), Ended(EndReason.ENDED).record(100.0),
]
PROBES = (30.0, 45.0)


def with_record(record: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted([*BASE, record], key=lambda r: r["t"])


@pytest.mark.parametrize("kind", sorted(SUMMARY_READS))
def test_each_type_the_summary_reads_changes_it(kind: RecordType) -> None:
    base = summarize(BASE)
    assert any(summarize(with_record(EXAMPLES[kind](t))) != base for t in PROBES)


@pytest.mark.parametrize("kind", sorted(SUMMARY_IGNORES))
def test_each_type_the_summary_ignores_changes_nothing(kind: RecordType) -> None:
    base = summarize(BASE)
    assert all(summarize(with_record(EXAMPLES[kind](t))) == base for t in PROBES)


def test_rest_ends_the_time_in_the_last_move() -> None:
    # (The summary used to match a "rest_started" record too, which nothing ever wrote.)
    summary = summarize([StepStarted(1, 1, 1).record(0.0), RestStarted(120).record(50.0),
                         Ended(EndReason.COMPLETED).record(170.0)])
    assert [(s.index, s.seconds) for s in summary.steps] == [(1, 50.0)]
    assert summary.total_seconds == 170.0


# --- Journals written before the vocabulary ----------------------------------------------------

# Exactly as the previous version wrote them (before the record classes): a run stopped at end of
# input and resumed, then a record type this version does not know.
OLD_UNFINISHED = """\
{"t":0.0,"type":"session","version":1,"id":"20250301-100000-abc123","started":"2025-03-01T10:00:00+00:00","protocol":"%(protocol)s","protocol_name":"Tiny routine","protocol_sha256":null,"settings":{"auto":false,"checkin_every_minutes":null,"answer_seconds":null,"rest_seconds":null,"confirm_seconds":10.0,"checkin_min_gap_seconds":120.0,"speech_words_per_minute":150.0},"prep":false,"mode":"text"}
{"t":0.0,"type":"say","text":"Welcome to Voice Guide. Say help at any time to hear what you can say.","route":"practitioner","kind":"welcome"}
{"t":0.0,"type":"say","text":"Tell me if anything feels wrong.","route":"room","kind":"opening"}
{"t":0.0,"type":"step","index":1,"number":1,"origin":1}
{"t":0.0,"type":"say","text":"Stand at the head of the table.","route":"practitioner","kind":"station"}
{"t":0.0,"type":"say","text":"Rest your hands on the back.","route":"practitioner","kind":"step"}
{"t":2.0,"type":"clock"}
{"t":30.0,"type":"heard","command":"next","phrase":"next","confidence":1.0}
{"t":30.0,"type":"step","index":2,"number":2,"origin":2}
{"t":30.0,"type":"say","text":"Stand at the left.","route":"practitioner","kind":"station"}
{"t":30.0,"type":"say","text":"Knead the shoulder top.","route":"practitioner","kind":"step"}
{"t":40.0,"type":"heard","command":"pause","phrase":"stop","confidence":1.0}
{"t":40.0,"type":"silence"}
{"t":40.0,"type":"pause"}
{"t":40.0,"type":"say","text":"Paused. Say resume when ready.","route":"practitioner","kind":"cue"}
{"t":50.0,"type":"heard","command":"resume","phrase":"resume","confidence":1.0}
{"t":50.0,"type":"resume"}
{"t":50.0,"type":"say","text":"Resuming.","route":"practitioner","kind":"cue"}
{"t":55.0,"type":"heard","command":"yes","phrase":"yes","confidence":1.0}
{"t":55.0,"type":"ignored","command":"yes"}
{"t":55.0,"type":"say","text":"There is nothing to answer yes or no to.","route":"practitioner","kind":"notice"}
{"t":56.0,"type":"unknown","phrase":"hmm"}
{"t":60.0,"type":"audio","alsa_underruns":0,"alsa_overruns":0,"alsa_lines":0,"alsa_examples":[],"output_underflows":0}
{"t":60.0,"type":"exit","reason":"eof"}
{"t":60.0,"type":"resume_session","phase":"steps","index":2,"seconds_in_step":20.0,"paused":false}
{"t":60.0,"type":"say","text":"Welcome back. Resuming at step 2: Knead the shoulder.","route":"practitioner","kind":"resume"}
{"t":61.0,"type":"route_fallback","route":"room","failed":"kiosk","to":"default","reason":"gone"}
{"t":62.0,"type":"some_future_record","what":"a newer version wrote this"}
{"t":70.0,"type":"heard","command":"next","phrase":"next","confidence":1.0}
{"t":70.0,"type":"step","index":3,"number":3,"origin":2}
{"t":70.0,"type":"say","text":"Stand at the head of the table.","route":"practitioner","kind":"station"}
{"t":70.0,"type":"say","text":"Knead the shoulder top.","route":"practitioner","kind":"step"}
{"t":80.0,"type":"clock"}
"""  # noqa: E501 (journal lines are long)

# A finished one: a check-in answered "fine", the follow-up, then an early end and the rest.
OLD_FINISHED = """\
{"t":0.0,"type":"session","version":1,"id":"20250302-100000-def456","started":"2025-03-02T10:00:00+00:00","protocol":"%(protocol)s","protocol_name":"Tiny routine","protocol_sha256":null,"settings":{},"prep":false,"mode":"audio"}
{"t":0.0,"type":"step","index":1,"number":1,"origin":1}
{"t":60.0,"type":"checkin","index":1,"reason":"step"}
{"t":60.0,"type":"say","text":"How is the pressure?","route":"room","kind":"checkin"}
{"t":61.0,"type":"spoken","kind":"checkin"}
{"t":63.0,"type":"heard","command":"good","phrase":"fine","confidence":0.9}
{"t":63.0,"type":"follow_up","index":1,"answer":"fine"}
{"t":66.0,"type":"heard","command":"deeper","phrase":"deeper","confidence":0.9}
{"t":66.0,"type":"feedback","answer":"deeper","index":1}
{"t":70.0,"type":"step","index":2,"number":2,"origin":2}
{"t":75.0,"type":"time_up","index":2}
{"t":80.0,"type":"confirm","state":"asked"}
{"t":82.0,"type":"ended_early","index":2,"number":2}
{"t":82.0,"type":"rest","seconds":120.0}
{"t":202.0,"type":"end","reason":"ended"}
"""  # noqa: E501 (journal lines are long)


def old_journal(tmp_path: Path, text: str, name: str) -> Path:
    path = tmp_path / name
    path.write_text(text % {"protocol": TINY.resolve()}, encoding="utf-8")
    return path


def test_an_old_unfinished_journal_reads_summarizes_and_resumes(tmp_path: Path) -> None:
    journal = read_journal(old_journal(tmp_path, OLD_UNFINISHED, "old.jsonl"), warn=False)
    assert journal.warnings == () and journal.header is not None
    assert not journal.finished and journal.end_reason is None
    kinds = [record_type(record) for record in journal.records]
    assert kinds.count(None) == 1  # only the newer version's record is outside the vocabulary

    summary = summarize(journal.records)
    # Move 2: 30-40 s, paused to 50 s, then on to 70 s; the stopped run leaves no gap.
    assert [(s.index, s.seconds) for s in summary.steps] == [(1, 30.0), (2, 30.0), (3, 10.0)]
    assert summary.total_seconds == 80.0 and not summary.finished
    assert "  1:20  3 steps, 3 moves  unfinished  feedback: none" in session_line(journal)

    replayed = replay(load(TINY), journal)
    assert replayed.commands == 5  # next, stop, resume, yes, next
    status = replayed.session.status(80.0)
    assert (status.phase, status.index, status.paused) == (Phase.STEPS, 3, False)
    assert status.seconds_in_step == pytest.approx(10.0)


def test_an_old_finished_journal_summarizes_with_its_early_end(tmp_path: Path) -> None:
    path = old_journal(tmp_path, OLD_FINISHED, "done.jsonl")
    journal = read_journal(path, warn=False)
    assert journal.finished and journal.end_reason is EndReason.ENDED
    summary = summarize(journal.records)
    assert [(s.index, s.seconds) for s in summary.steps] == [(1, 70.0), (2, 12.0)]
    assert summary.feedback == (Feedback("deeper", 1),)
    assert summary.ended_early_at == 2 and summary.end_reason == "ended"
    assert summary_speech(summary) == (
        "Session ended early, at step 2: 2 steps, 2 moves in about 3 minutes. "
        "Pressure: deeper.")
    listed = session_json(journal)
    assert (listed["end_reason"], listed["ended_early_at"], listed["moves"]) == ("ended", 2, 2)
    assert json.loads(json.dumps(listed)) == listed
    assert "ended early at step 2  feedback: deeper" in session_line(journal)


# --- States keep their strings -------------------------------------------------------------------


def test_states_and_kinds_compare_and_serialize_as_the_strings_journals_hold() -> None:
    assert Phase.STEPS == "steps" and json.dumps(Phase.REST) == '"rest"'
    assert Awaiting.CONFIRM_END == "confirm_end" and EndReason.COMPLETED == "completed"
    planned = planned_checkins(load())
    assert {c.reason for c in planned} <= {"step", "interval"}
