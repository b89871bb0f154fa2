"""`voice-guide check [PROTOCOL] [--json]`, in process and as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from voice_guide.cli import main
from voice_guide.protocol import load

PROTOCOLS = Path(__file__).parent / "protocols"
STEP_FIELDS = {"index", "number", "origin", "title", "station", "side", "say", "seconds"}


def check_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["check", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_shape_of_the_default_protocol(capsys: pytest.CaptureFixture[str]) -> None:
    data = check_json(capsys)
    steps = data["steps"]
    assert len(steps) == len(load().steps)
    for position, step in enumerate(steps, start=1):
        assert step.keys() >= STEP_FIELDS
        assert step["index"] == position
        assert isinstance(step["number"], int) and 1 <= step["number"] <= 22
        assert isinstance(step["origin"], int)
        assert step["side"] in ("right", "left", None)
        assert isinstance(step["station"], str)
        assert isinstance(step["say"], str) and step["say"]
        assert isinstance(step["seconds"], int) and step["seconds"] > 0
    assert data["total_seconds"] == sum(step["seconds"] for step in steps)
    copies = [s for s in steps if s["number"] == 17]
    assert [s["origin"] for s in copies] == list(range(8, 17))
    assert {s["side"] for s in copies} == {"left"}
    assert [s["station"] for s in copies] == ["right"] * 6 + ["head"] * 3
    assert {"question", "follow_up", "follow_up_on", "every_minutes", "answer_seconds",
            "planned"} <= data["checkins"].keys()
    assert data["checkins"]["follow_up_on"] == ["fine"]
    planned = data["checkins"]["planned"]
    assert [c["index"] for c in planned] == [s["index"] for s in steps if s["checkin"]]
    assert planned[0] == {"seconds": 315.0, "index": 4, "reason": "step", "during": False}
    assert {"seconds", "say", "closing"} <= data["rest"].keys()
    assert data["preparation"] and data["opening"]


def test_json_of_another_routine(capsys: pytest.CaptureFixture[str]) -> None:
    data = check_json(capsys, str(PROTOCOLS / "neck_and_shoulders.yaml"))
    assert data["name"] == "Seated neck and shoulders"
    assert [(s["number"], s["origin"], s["side"]) for s in data["steps"]] == [
        (1, 1, None), (2, 2, None), (3, 3, "right"), (4, 1, "left"), (4, 3, "left"), (5, 5, None)]
    assert data["total_seconds"] == 285


def test_text_output_lists_every_move_and_the_total(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    script = load()
    assert f"total {script.total_seconds} s" in out
    assert "Stand at the head of the table." in out
    for step in script.steps:
        assert step.title in out
    assert out.startswith("Back massage for beginners: 22 steps, 34 moves, 46:30 hands-on")


def move_rows(out: str) -> dict[int, list[str]]:
    """The table's rows by move: move, step, copies (may be blank), station, side, time, start."""
    rows = {}
    header = next(line for line in out.splitlines() if line.lstrip().startswith("move"))
    copies_end = header.index("copies") + len("copies")
    for line in out.splitlines():
        first = line.split()[:1]
        if first and first[0].isdigit() and len(line) > copies_end:
            copies = line[copies_end - 6:copies_end].strip()
            rest = line[copies_end:].split()
            rows[int(first[0])] = [first[0], line.split()[1], copies, *rest[:4]]
    return rows


def test_text_output_shows_each_moves_step_copy_and_station(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "move  step  copies  station" in out
    rows = move_rows(out)
    assert len(rows) == 34
    assert rows[1] == ["1", "1", "", "head", "-", "1:30", "0:00"]
    assert rows[19] == ["19", "17", "8", "right", "left", "1:15", "24:30"]  # step 17 copies 8
    assert rows[25][:5] == ["25", "17", "14", "head", "left"]  # 14-16 from the head again


def test_text_output_shows_when_the_check_ins_fall_and_the_rule(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    after_4 = next(line for line in out.splitlines() if line.startswith("   4 "))
    assert after_4.endswith("+ check-in 5:15")
    assert ("check-ins when each move takes its time: 6, at 5:15, 13:15, 20:30, 25:45, 33:00, "
            "39:45") in out
    assert "whenever 8 min of hands-on time pass without a question" in out
    assert ("\"How is the pressure?\"; on 'fine': \"Would you like it lighter or deeper?\"; "
            "answer window 8 s from the end of each question") in out


def test_a_check_in_the_clock_asks_for_is_shown_with_its_reason(
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    long = (PROTOCOLS / "tiny.yaml").read_text().replace("seconds: 90", "seconds: 600")
    path = tmp_path / "long.yaml"
    path.write_text(long)
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    knead = next(line for line in out.splitlines() if line.startswith("   2 "))
    assert knead.endswith("+ check-in 8:00 (8 min without one) during the move")


def test_a_bad_file_prints_its_error_lines_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    path = PROTOCOLS / "bad_unknown_key.yaml"
    assert main(["check", str(path), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"voice-guide: {path}:28: step 2, secnds: unknown field (did you mean 'seconds', which "
        "is required and missing?)\n")


def test_a_missing_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["check", str(tmp_path / "absent.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err


def run_module(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voice_guide", "check", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )


def test_subprocess_json() -> None:
    done = run_module("--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert [s["index"] for s in data["steps"]] == list(range(1, len(data["steps"]) + 1))
    assert all(s.keys() >= STEP_FIELDS for s in data["steps"])
    assert data["total_seconds"] == load().total_seconds


def test_subprocess_bad_file_has_no_traceback() -> None:
    done = run_module(str(PROTOCOLS / "bad_syntax.yaml"))
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1
    assert "bad_syntax.yaml:28: YAML syntax error" in done.stderr


def run_limited(*args: str, memory: int = 500 * 2**20) -> subprocess.CompletedProcess[str]:
    """`voice-guide check` with its address space capped: a file read whole would fail."""
    import resource

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return subprocess.run(
        [sys.executable, "-m", "voice_guide", "check", *args],
        capture_output=True, text=True, timeout=60, check=False, preexec_fn=cap,
    )


def test_dev_zero_is_one_line_in_little_memory() -> None:
    # Before the cap, /dev/zero was read until the machine ran out of memory; under 500 MB of
    # address space that is a MemoryError within a second.
    done = run_limited("/dev/zero")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "voice-guide: /dev/zero: too large for a protocol file: more than 1 MB (only the first "
        "1 MB was read; a protocol is a few kilobytes of text)\n")


def test_a_utf16_file_checks_like_its_utf8_original(tmp_path: Path) -> None:
    original = PROTOCOLS / "neck_and_shoulders.yaml"
    copy = tmp_path / "utf16.yaml"
    copy.write_bytes(original.read_text(encoding="utf-8").encode("utf-16"))  # with its BOM
    done, expected = run_module(str(copy)), run_module(str(original))
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected.stdout.replace(str(original), str(copy))


def test_a_latin_1_file_is_one_line_with_its_line_and_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    text = (PROTOCOLS / "tiny.yaml").read_text().replace("Relax now.", "Détendez-vous.")
    path.write_bytes(text.encode("latin-1"))
    done = run_module(str(path))
    assert done.returncode == 2
    assert done.stderr == (
        f"voice-guide: {path}:15: not UTF-8 text: byte 0xe9 (byte 9 of the line) is not valid "
        "UTF-8; save the file as UTF-8\n")


def test_one_mistake_in_a_repeat_is_one_line() -> None:
    # `repeat: 1-9` on the repeat step of three steps printed seven lines, one per number.
    path = PROTOCOLS / "bad_repeat_wide.yaml"
    done = run_module(str(path))
    assert done.returncode == 2
    assert done.stderr == (
        f"voice-guide: {path}:32: step 3, repeat: step 3 cannot repeat itself; steps 4-9 do not "
        "exist (steps are 1, 2, 3)\n")


def test_one_step_reads_in_the_singular_and_a_very_long_protocol_warns(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    head = (PROTOCOLS / "tiny.yaml").read_text().split("steps:\n")[0] + "steps:\n"
    one = tmp_path / "one.yaml"
    one.write_text(head + "  - {number: 1, station: head, title: Hold, say: Hold., seconds: 60}\n")
    assert main(["check", str(one)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("Tiny routine: 1 step, 1 move, 1:00 hands-on") and err == ""
    long = tmp_path / "long.yaml"
    long.write_text(head + "".join(
        f"  - {{number: {n}, station: head, title: Hold, say: Hold., seconds: 60}}\n"
        for n in range(1, 501)))
    assert main(["check", str(long)]) == 0  # a warning, not an error
    out, err = capsys.readouterr()
    assert out.startswith("Tiny routine: 500 steps, 500 moves, 8:20:00 hands-on")
    assert err == (f"voice-guide: warning: {long}: 500 steps, 500 moves: the session takes "
                   "8 hours 22 minutes with the rest, longer than 3 hours; check the seconds "
                   "of its steps and its repeats\n")
