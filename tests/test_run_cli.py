"""`voice-guide run --text` and `voice-guide history`, as real processes.

Typed commands go in on stdin, prompts come out on stdout, the journal lands in a private data
directory (`XDG_DATA_HOME`). Short protocols make a whole session, rest included, take seconds.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from live_helpers import REPO, live_env, records, wait_for

from voice_guide.journal import read_journal

QUICK_PROTOCOL = """\
name: Quick routine
preparation:
  - Warm the room.
  - Warm the oil in your hands.
opening: Tell me if anything feels wrong for your body.
stations:
  head:
    announce: Stand at the head of the table.
  left:
    announce: Stand at the left.
checkins:
  question: How is the pressure?
  every_minutes: 0.01  # so 1-second steps get a check-in
  answer_seconds: 3
rest:
  seconds: 1
  say: Relax now, no need to talk.
  closing: Offer a glass of water.
steps:
  - number: 1
    station: head
    title: Opening hold
    say: Rest your hands on the back.
    seconds: 1
    checkin: true
  - number: 2
    station: left
    side: right
    title: Knead the shoulder
    say: Knead the shoulder top.
    seconds: 3
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return live_env(tmp_path)


@pytest.fixture
def quick(tmp_path: Path) -> Path:
    path = tmp_path / "quick.yaml"
    path.write_text(QUICK_PROTOCOL)
    return path


def sessions(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "data" / "voice-guide" / "sessions").glob("*.jsonl"))


def run(*args: str, env: dict[str, str], stdin: str = "", timeout: float = 60):
    return subprocess.run(
        [sys.executable, "-m", "voice_guide", *args], cwd=REPO, env=env, input=stdin,
        capture_output=True, text=True, timeout=timeout,
    )


def test_typed_commands_drive_the_session_and_end_of_input_leaves_it_resumable(
    tmp_path: Path, env
):
    result = run("run", "--text", "--silent", env=env,
                 stdin="next\nskip\ngo on\nwhere am i\nhow much time\nfoo bar\nhelp\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # welcome with how to get help; then the preparation checklist is offered
    assert out.splitlines()[0].startswith("[practitioner] Welcome to Voice Guide. Say help")
    assert "Preparation checklist." in out and "skip to skip the checklist" in out
    assert "[room] Before we start" in out  # the opening cue goes to the client
    assert "Step 2 of 22" in out  # skip left the checklist at step 1; "go on" moved to step 2
    assert "(not a command: 'foo bar'; say help)" in out
    assert "== STEP 2  MOVE 2/34" in out
    [path] = sessions(tmp_path)
    assert f"journal {path}" in result.stderr
    journal = read_journal(path, warn=False)
    assert journal.header is not None and journal.header["prep"] is True
    heard = [r["command"] for r in journal.records if r["type"] == "heard"]
    assert heard == ["next", "skip", "next", "where", "time_left", "help"]
    assert journal.records[-1]["type"] == "exit" and journal.records[-1]["reason"] == "eof"
    assert not journal.finished


def test_skip_prep_starts_at_step_one(tmp_path: Path, env):
    result = run("run", "--text", "--silent", "--skip-prep", env=env, stdin="where am i\n")
    assert result.returncode == 0, result.stderr
    assert "Preparation checklist" not in result.stdout
    assert "Step 1 of 22" in result.stdout


def test_a_whole_quick_session_with_auto_runs_to_the_rest_and_the_summary(
    tmp_path: Path, env, quick: Path
):
    process = subprocess.Popen(
        [sys.executable, "-m", "voice_guide", "run", str(quick), "--text", "--silent",
         "--skip-prep", "--auto"],
        cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    lines = []
    for line in process.stdout:  # answer the check-in when the client is asked
        lines.append(line)
        if line.startswith("[room] How is the pressure?"):
            process.stdin.write("deeper\n")
            process.stdin.flush()
    process.wait(timeout=30)
    out = "".join(lines)
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
    assert "[practitioner] Client would like deeper pressure." in out
    assert "[room] Relax now, no need to talk." in out
    assert "[practitioner] Offer a glass of water." in out
    assert "Total time:" in out and "Pressure feedback: step 1: deeper" in out
    assert "[practitioner] Session complete. 2 steps" in out
    [path] = sessions(tmp_path)
    journal = read_journal(path, warn=False)
    assert journal.finished and journal.end_reason == "completed"
    assert [r["index"] for r in journal.records if r["type"] == "step"] == [1, 2]

    history = run("history", "--json", env=env)
    assert history.returncode == 0
    [entry] = [json.loads(line) for line in history.stdout.splitlines()]
    assert entry["protocol"] == "Quick routine"
    assert entry["finished"] and entry["end_reason"] == "completed"
    assert entry["feedback"] == [{"index": 1, "answer": "deeper"}]
    assert (entry["steps"], entry["moves"], entry["ended_early_at"]) == (2, 2, None)
    assert 2.0 <= entry["duration_seconds"] < 20
    text = run("history", env=env).stdout
    assert "Quick routine" in text and "completed" in text and "feedback: deeper" in text
    assert "2 steps, 2 moves  completed" in text


def test_end_session_asks_and_yes_ends_it(tmp_path: Path, env):
    # yes with nothing pending, no, then yes: an early end goes to the client's rest, which
    # skip ends; the "next" after the end must change nothing.
    result = run("run", "--text", "--silent", "--skip-prep", env=env,
                 stdin="yes\nend session\nno\nend session\nyes\nskip\nnext\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "There is nothing to answer yes or no to." in out
    assert out.count("End the session now? Say yes or no.") == 2
    assert "Carrying on." in out
    early = "Session ended early, at step 1 of 22. Now the client's rest; say skip to end it."
    assert early in out
    rest, closing = "Take a few minutes to relax.", "offer a glass of water"
    assert out.index(early) < out.index(rest) < out.index(closing)
    journal = read_journal(sessions(tmp_path)[0], warn=False)
    assert journal.finished and journal.end_reason == "ended"
    types = [r["type"] for r in journal.records]
    assert types.index("ended_early") < types.index("rest") < types.index("end")
    assert journal.records[-1]["type"] == "end"  # nothing after the end, no exit record
    resume = run("run", "--text", "--silent", "--resume", env=env)
    assert resume.returncode == 2
    assert resume.stderr.strip() == (
        f"voice-guide: no unfinished session to resume in {tmp_path / 'data/voice-guide/sessions'}"
    )


def test_ctrl_c_ends_cleanly_with_a_complete_journal(tmp_path: Path, env):
    path = tmp_path / "j.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "voice_guide", "run", "--text", "--silent", "--skip-prep",
         "--journal", str(path)],
        cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    assert process.stdin is not None
    process.stdin.write("next\n")
    process.stdin.flush()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if path.exists() and '"index":2' in path.read_text():
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=15)
    assert process.returncode == 130, err  # the exit status of Ctrl-C
    assert "Traceback" not in err
    # Said once it has stopped: saved, and how to carry on (issue 20, 4).
    assert err.splitlines()[-1] == (
        f"voice-guide: stopped; the session is saved in {path}: `voice-guide run --resume "
        f"--journal {path}` carries on where it stopped")
    journal = read_journal(path, warn=False)
    assert journal.warnings == ()
    assert journal.records[-1]["type"] == "exit"
    assert journal.records[-1]["reason"] == "interrupt"


def test_sigterm_ends_cleanly_and_its_exit_status_says_so(tmp_path: Path, env):
    path = tmp_path / "j.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "voice_guide", "run", "--text", "--silent", "--skip-prep",
         "--journal", str(path)],
        cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    wait_for(lambda: any(r["type"] == "step" for r in records(path)), "step 1")
    process.terminate()
    _, err = process.communicate(timeout=15)
    assert process.returncode == 143, err  # 128 + SIGTERM, as a shell reports it
    assert "Traceback" not in err
    assert records(path)[-1] == {**records(path)[-1], "type": "exit", "reason": "interrupt"}


def test_the_end_of_the_session_exits_0(tmp_path: Path, env):
    done = run("run", "--text", "--silent", "--skip-prep", env=env,
               stdin="end session\nyes\nskip\n")
    assert done.returncode == 0, done.stderr
    [journal] = sessions(tmp_path)
    assert records(journal)[-1] == {**records(journal)[-1], "type": "end", "reason": "ended"}


def test_user_errors_are_one_line(tmp_path: Path, env):
    existing = tmp_path / "j.jsonl"
    existing.write_text("")
    result = run("run", "--text", "--journal", str(existing), env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"voice-guide: {existing}: journal already exists (add --resume to continue it)"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsteps: []\n")
    result = run("run", "--text", str(bad), env=env)
    assert result.returncode == 2
    assert result.stderr.startswith(f"voice-guide: {bad}")
    assert "Traceback" not in result.stderr


def test_resume_skips_a_corrupt_journal_line_with_a_warning(tmp_path: Path, env):
    path = tmp_path / "j.jsonl"
    first = run("run", "--text", "--silent", "--skip-prep", "--journal", str(path), env=env,
                stdin="next\nnext\n")
    assert first.returncode == 0
    lines = path.read_text().splitlines()
    lines.insert(3, '{"t": 0.5, "type": "say", "te\x00\x00')  # damaged in the middle
    path.write_text("\n".join(lines) + "\n")
    resumed = run("run", "--text", "--silent", "--resume", "--journal", str(path), env=env,
                  stdin="where am i\n")
    assert resumed.returncode == 0, resumed.stderr
    assert f"warning: {path}:4: skipped corrupt journal line" in resumed.stderr
    assert "Step 3 of 22" in resumed.stdout


def test_history_with_no_sessions(env):
    result = run("history", env=env)
    assert result.returncode == 0
    assert result.stdout.startswith("No sessions yet")
    assert run("history", "--json", env=env).stdout == ""


def test_resume_refuses_a_session_still_running_in_another_process(tmp_path: Path, env):
    path = tmp_path / "j.jsonl"
    running = subprocess.Popen(
        [sys.executable, "-m", "voice_guide", "run", "--text", "--silent", "--skip-prep",
         "--journal", str(path)],
        cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not (path.exists() and '"step"' in path.read_text()):
            time.sleep(0.05)
        second = run("run", "--text", "--silent", "--resume", "--journal", str(path), env=env)
        assert second.returncode == 2
        assert second.stderr == (
            f"voice-guide: {path}: the session is still running in another process\n"
        )
    finally:
        running.communicate(input="", timeout=15)  # end of input: the first run ends cleanly
    assert running.returncode == 0
    resumed = run("run", "--text", "--silent", "--resume", "--journal", str(path), env=env)
    assert resumed.returncode == 0, resumed.stderr  # free again once that process has ended


def test_version_comes_from_the_package_metadata(env):
    from importlib import metadata

    result = run("--version", env=env)
    assert result.returncode == 0
    assert result.stdout == f"voice-guide {metadata.version('voice-guide')}\n"
    assert result.stdout == "voice-guide 0.1.0\n"


def test_a_journal_that_is_a_folder_is_named_as_such(tmp_path: Path, env):
    for resume in ((), ("--resume",)):
        result = run("run", "--text", "--silent", *resume, "--journal", str(tmp_path), env=env)
        assert result.returncode == 2
        assert result.stderr == (
            f"voice-guide: {tmp_path} is a folder; --journal names the journal file "
            f"(e.g. {tmp_path / 'session.jsonl'})\n"
        )


def test_history_of_a_folder_that_does_not_exist_says_so(tmp_path: Path, env):
    missing = tmp_path / "nowhere"
    result = run("history", "--dir", str(missing), env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"voice-guide: history: {missing} does not exist (--dir names the folder of the "
        "journals)\n"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run("history", "--dir", str(empty), env=env)
    assert result.returncode == 0
    assert result.stdout == f"No sessions yet (journals are kept in {empty}).\n"


# --- sessions a user can get out of (issue 20, 4) -----------------------------------------------


def test_a_session_whose_protocol_is_gone_names_how_to_discard_it(tmp_path: Path, quick, env):
    first = run("run", "--text", "--silent", "--skip-prep", str(quick), env=env, stdin="next\n")
    assert first.returncode == 0, first.stderr
    [path] = sessions(tmp_path)
    quick.unlink()
    resumed = run("run", "--text", "--silent", "--resume", env=env)
    assert resumed.returncode == 2
    assert resumed.stderr == (
        f"voice-guide: {quick}: no such file; the session in {path} cannot be resumed without "
        "it (`voice-guide run --discard` gives it up)\n")
    discarded = run("run", "--discard", env=env)
    assert discarded.returncode == 0, discarded.stderr
    assert discarded.stdout.startswith("Discarded the session of ")
    assert f"its journal {path} is kept and will not be resumed" in discarded.stdout
    assert records(path)[-1] == {**records(path)[-1], "type": "end", "reason": "discarded"}
    again = run("run", "--text", "--silent", "--resume", env=env)
    assert again.stderr.startswith("voice-guide: no unfinished session to resume in ")
    listed = run("history", env=env).stdout
    assert "Quick routine" in listed and f"discarded  feedback: none  {path}" in listed
    assert run("run", "--discard", "--journal", str(path), env=env).stderr == (
        f"voice-guide: {path}: that session has already ended\n")


def test_a_session_where_nothing_happened_is_not_offered_nor_listed(tmp_path: Path, env):
    real = run("run", "--text", "--silent", "--skip-prep", env=env, stdin="next\n")
    assert real.returncode == 0, real.stderr
    [real_path] = sessions(tmp_path)
    time.sleep(1.1)  # the journals' start times are to the second
    opened = run("run", "--text", "--silent", env=env, stdin="")  # opened, nothing said
    assert opened.returncode == 0, opened.stderr
    [empty_path] = [p for p in sessions(tmp_path) if p != real_path]
    resumed = run("run", "--text", "--silent", "--resume", env=env, stdin="where am i\n")
    assert resumed.returncode == 0, resumed.stderr
    assert f"journal {real_path}" in resumed.stderr  # the newer, empty one is passed by
    assert "Step 2 of 22" in resumed.stdout
    listed = run("history", env=env).stdout.splitlines()
    assert len(listed) == 2 and str(real_path) in listed[0]
    assert listed[1] == "(1 session where nothing happened left out: --all lists it)"
    every = run("history", "--all", env=env).stdout
    assert f"nothing happened  feedback: none  {empty_path}" in every


def test_resuming_a_file_that_is_no_journal_is_one_line(tmp_path: Path, env):
    import numpy as np

    from voice_guide.wav import write_wav

    wav = tmp_path / "file.wav"
    write_wav(wav, np.random.default_rng(1).integers(-9000, 9000, 16_000 * 2, dtype=np.int16))
    lines = len([line for line in wav.read_bytes().split(b"\n") if line.strip()])
    result = run("run", "--text", "--silent", "--resume", "--journal", str(wav), env=env)
    assert result.returncode == 2
    assert result.stderr == (
        f"voice-guide: {wav}: not a session journal: {lines} lines could not be read as journal "
        "records\n")
    assert lines > 100  # one line instead of one warning each
