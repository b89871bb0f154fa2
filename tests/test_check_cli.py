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
    assert {"question", "every_minutes", "answer_seconds"} <= data["checkins"].keys()
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
    assert f"{len(script.steps)} moves" in out


def test_a_bad_file_prints_its_error_lines_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    path = PROTOCOLS / "bad_unknown_key.yaml"
    assert main(["check", str(path), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"voice-guide: {path}:28: steps[2].secnds: unknown field (did you mean 'seconds'?)\n")


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
