"""A day at the clinic (issue 19): notes, clients, the report, `serve` and `simulate --serve`.

The sessions are typed (`run --text`, `serve --text`) or scripted (`simulate --serve --script`)
in real processes, each with its own data directory (`XDG_DATA_HOME`); the audio day is in
`test_clinic_audio.py`.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from live_helpers import REPO, live_env

from voice_guide.commands import Command
from voice_guide.events import Heard, NoteTaken, Phase, Route, Say
from voice_guide.guide import heard_from_phrase
from voice_guide.journal import read_journal, read_sessions
from voice_guide.protocol import load
from voice_guide.report import session_report
from voice_guide.session import Session

QUICK = REPO / "tests" / "protocols" / "neck_and_shoulders.yaml"


def voice_guide(args: list[str], env: dict[str, str], stdin: str = ""
                ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "voice_guide", *args], cwd=REPO, env=env,
                          input=stdin, capture_output=True, text=True, timeout=120)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**live_env(tmp_path), "VOICE_GUIDE_CONFIG": "none"}


def sessions_dir(env: dict[str, str]) -> Path:
    return Path(env["XDG_DATA_HOME"]) / "voice-guide" / "sessions"


# --- notes ---------------------------------------------------------------------------------------


def test_a_note_is_only_an_utterance_that_begins_with_the_note_phrase() -> None:
    heard = heard_from_phrase("note tight left shoulder", 3.0)
    assert heard == Heard(Command.NOTE, "note", 1.0, 3.0, 3.0, "tight left shoulder")
    made = heard_from_phrase("Make a note, knot under the right scapula.", 4.0)
    assert made is not None and (made.phrase, made.text) == (
        "make a note", "knot under the right scapula")
    for chatter in ("I made a note of it", "the note says hi", "notes are useful", "noted"):
        assert heard_from_phrase(chatter, 5.0) is None, chatter
    assert heard_from_phrase("read notes", 6.0) == Heard(Command.READ_NOTES, "read notes", 1.0,
                                                         6.0, 6.0)


def test_notes_are_journaled_with_their_move_and_said_on_the_practitioner_route_only() -> None:
    session = Session(load())
    session.start(0.0)
    session.heard(Heard(Command.NEXT, "next"), 5.0)
    session.heard(Heard(Command.END, "end session"), 9.0)  # a pending question stays pending
    actions = session.heard(Heard(Command.NOTE, "note", text="tight left shoulder"), 10.0)
    note = NoteTaken("tight left shoulder", 2, 2, Phase.STEPS)
    assert actions == [note, Say("Noted.", Route.PRACTITIONER, "note")]
    assert session.status(10.0).awaiting is not None
    session.heard(Heard(Command.PAUSE, "pause"), 12.0)
    session.heard(Heard(Command.NOTE, "note", text="client is cold"), 13.0)
    assert session.status(13.0).paused  # a note does not end a pause
    said = session.heard(Heard(Command.READ_NOTES, "read notes"), 14.0)
    assert said == [Say("2 notes. Step 2, move 2: tight left shoulder. Step 2, move 2: "
                        "client is cold.", Route.PRACTITIONER, "notes")]
    assert session.heard(Heard(Command.NOTE, "note"), 15.0) == [
        Say("Say note, then the note, in one go.", Route.PRACTITIONER, "note")]


# --- clients -------------------------------------------------------------------------------------


def test_two_sessions_with_a_client_the_recap_the_report_and_forget(env: dict[str, str]) -> None:
    first = voice_guide(["run", "--text", "--silent", "--skip-prep", "--client", "anna"], env,
                        "next\nnote tight left shoulder\nend session\nyes\nskip\n")
    assert first.returncode == 0, first.stderr
    second = voice_guide(["run", "--text", "--silent", "--skip-prep", "--client", "Anna"], env,
                         "end session\nyes\nskip\n")
    assert second.returncode == 0, second.stderr
    folder = sessions_dir(env)
    journals = {(j.header or {}).get("client"): j
                for j in map(read_journal, folder.glob("*.jsonl"))}
    assert set(journals) == {"anna", "Anna"}  # as typed, each time
    first_journal, second_journal = journals["anna"], journals["Anna"]
    notes = [r for r in first_journal.records if r["type"] == "note"]
    assert [(n["text"], n["index"]) for n in notes] == [("tight left shoulder", 2)]
    recaps = [r for r in second_journal.records if r.get("kind") == "client_recap"]
    assert len(recaps) == 1 and recaps[0]["route"] == "practitioner"
    assert recaps[0]["text"].startswith("Last session with Anna: today at ")
    assert "tight left shoulder" in recaps[0]["text"]
    assert not [r for r in first_journal.records if r.get("kind") == "client_recap"]

    report = voice_guide(["report", "--client", "anna"], env)
    assert report.returncode == 0, report.stderr
    assert "tight left shoulder" in report.stdout and report.stdout.count("# Session") == 2
    listed = voice_guide(["clients"], env)
    assert "anna" in listed.stdout.lower() and "2 sessions" in listed.stdout
    history = voice_guide(["history", "--client", "ANNA"], env)
    assert len(history.stdout.splitlines()) == 2

    # Health information: the user's only.
    for path in [folder, *folder.iterdir()]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path}: {oct(mode)}"
    assert (folder / "clients.sqlite").exists()

    forgot = voice_guide(["clients", "--forget", "anna"], env)
    assert forgot.returncode == 0, forgot.stderr
    assert "removed 2 session journals (1 note in them)" in forgot.stdout
    data = Path(env["XDG_DATA_HOME"])
    for path in data.rglob("*"):
        if path.is_file():
            content = path.read_bytes().lower()
            assert b"anna" not in content and b"shoulder" not in content, path
    assert "No clients yet" in voice_guide(["clients"], env).stdout


def test_a_client_name_that_cannot_be_one_is_a_one_line_error(env: dict[str, str]) -> None:
    result = voice_guide(["run", "--text", "--client", "  "], env)
    assert result.returncode == 2
    assert result.stderr.strip() == "voice-guide: --client: the name is empty"


# --- the report ----------------------------------------------------------------------------------


def test_the_report_of_a_simulated_session_has_moves_check_ins_and_notes(
        tmp_path: Path, env: dict[str, str]) -> None:
    full = (REPO / "tests" / "scripts" / "full_session.txt").read_text()
    script = tmp_path / "session.txt"
    script.write_text(full.replace("392 next", "330 note knot under the right scapula\n392 next"))
    simulated = voice_guide(["simulate", "--script", str(script), "--client", "bo"], env)
    assert simulated.returncode == 0, simulated.stderr
    log = tmp_path / "log.jsonl"  # simulate's printed log, saved to a file
    log.write_text(simulated.stdout)
    (journal,) = read_sessions(log)
    report = session_report(journal)
    assert report.client == "bo" and report.total_moves == 34 and report.state == "completed"
    assert report.done == tuple(range(1, 35)) and report.skipped == ()
    assert [(n.text, n.index, n.number) for n in report.notes] == [
        ("knot under the right scapula", 5, 5)]
    assert [(c.index, c.answer) for c in report.checkins] == [
        (4, "lighter"), (10, "deeper"), (15, "deeper"), (19, "deeper"), (24, "fine (unconfirmed)"),
        (29, "good")]
    markdown = voice_guide(["report", str(log)], env)
    assert markdown.returncode == 0, markdown.stderr
    assert "| move 4 (step 4: " in markdown.stdout and "| lighter |" in markdown.stdout
    assert "knot under the right scapula" in markdown.stdout
    out = tmp_path / "report.html"
    printed = voice_guide(["report", str(log), str(log), "--format", "html", "--out", str(out)],
                          env)
    assert printed.returncode == 0, printed.stderr
    page = out.read_text()
    assert page.count('<section class="session">') == 2 and "break-after: page" in page
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_a_skipped_move_is_reported_as_skipped(tmp_path: Path, env: dict[str, str]) -> None:
    script = tmp_path / "session.txt"
    script.write_text("10 next\n20 skip\n30 back\n40 skip\n50 skip\n")
    log = tmp_path / "log.jsonl"
    log.write_text(voice_guide(["simulate", "--script", str(script)], env).stdout)
    (journal,) = read_sessions(log)
    report = session_report(journal)  # move 2 skipped, gone back to, then skipped again
    assert report.skipped == (2, 3) and report.done == (1, 4)


# --- a day: serve and simulate --serve -----------------------------------------------------------


DAY = """\
# between clients: chatter, and command words that start nothing
5 how was your weekend
8 next
10 go
12 note this is not a note
20 start session
25 next
30 note tight left shoulder
40 end session
41 yes
45 skip
60 lovely to see you again
70 start session
75 next
"""


def test_simulate_serve_runs_a_day_of_sessions(tmp_path: Path, env: dict[str, str]) -> None:
    script = tmp_path / "day.txt"
    script.write_text(DAY)
    result = voice_guide(["simulate", "--serve", "--script", str(script)], env)
    assert result.returncode == 0, result.stderr
    log = [json.loads(line) for line in result.stdout.splitlines()]
    headers = [i for i, r in enumerate(log) if r["type"] == "session"]
    assert len(headers) == 2 and headers[0] == 0  # nothing before the first "start session"
    first, second = log[headers[0]:headers[1]], log[headers[1]:]
    assert [r["text"] for r in first if r["type"] == "note"] == ["tight left shoulder"]
    assert not [r for r in second if r["type"] == "note"]
    assert first[-1] == {**first[-1], "type": "end"}  # closed after its rest
    assert second[-1]["type"] == "exit"  # the script ended in the middle of the second
    assert [r["command"] for r in first if r["type"] == "heard"][:1] == ["next"]


def test_serve_offers_an_unfinished_session_and_resumes_it(env: dict[str, str]) -> None:
    started = voice_guide(["serve", "--text", "--silent", "--skip-prep"], env,
                          "start session\nnext\nnext\n")
    assert started.returncode == 0, started.stderr
    assert "Say start session" in started.stdout
    again = voice_guide(["serve", "--text", "--silent", "--skip-prep"], env,
                        "next\nresume\nwhere am i\n")
    assert again.returncode == 0, again.stderr
    assert ("An unfinished session at move 3 of 34. Say resume, or start session for a new "
            "one.") in again.stdout
    (journal,) = [read_journal(p) for p in sessions_dir(env).glob("*.jsonl")]
    kinds = [r["type"] for r in journal.records]
    assert kinds.count("resume_session") == 1
    heard = [r["phrase"] for r in journal.records if r["type"] == "heard"]
    assert heard == ["next", "next", "where am i"]  # the "next" before "resume" started nothing


def test_serve_prints_a_systemd_user_unit(env: dict[str, str]) -> None:
    unit = voice_guide(["serve", "--print-unit"], env).stdout
    assert "Restart=on-failure" in unit and "WantedBy=default.target" in unit
    assert " -m voice_guide serve" in unit


def test_a_resumed_session_still_reads_its_notes(tmp_path: Path) -> None:
    from voice_guide.journal import Journal
    from voice_guide.resume import replay
    from voice_guide.simulate import parse_command_script, simulate

    script = load()
    log = simulate(script, parse_command_script("10 next\n20 note tight left shoulder\n"),
                   client="anna", until=30)
    journal = Journal(tmp_path / "j.jsonl", log[0], tuple(log[1:]))
    session = replay(script, journal).session
    said = session.heard(Heard(Command.READ_NOTES, "read notes"), 31.0)
    assert said == [Say("1 note. Step 2, move 2: tight left shoulder.", Route.PRACTITIONER,
                        "notes")]
