"""`voice-guide simulate` as a real process: mistakes in how it is asked (`--script` with
`--audio`, an `--out` that cannot be a folder, a disk that fills up under `--out`) are one line on
stderr, never a traceback; with `--auto` nothing is logged after the session's `end`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from voice_guide.wav import write_wav

RATE = 16_000


def simulate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voice_guide", "simulate", *args],
        capture_output=True, text=True, timeout=120,
    )


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    path = tmp_path / "quiet.wav"
    write_wav(path, np.zeros(RATE, np.int16))
    return path


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "script.txt"
    path.write_text("5 end session\n6 yes\n10 next\n12 not a command\n")
    return path


def test_audio_and_script_together_is_an_error(recording: Path, script: Path) -> None:
    done = simulate("--audio", str(recording), "--script", str(script))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "voice-guide: simulate: --script and --audio both drive the session; give one of them\n"
    )


def test_an_out_folder_that_cannot_be_made_is_one_line(recording: Path, tmp_path: Path) -> None:
    done = simulate("--audio", str(recording), "--out", "/proc/x")
    assert done.returncode == 2
    assert done.stderr == (
        "voice-guide: simulate: cannot make the --out folder /proc/x: No such file or directory\n"
    )
    afile = tmp_path / "afile"
    afile.write_text("")
    done = simulate("--audio", str(recording), "--out", str(afile))
    assert done.returncode == 2
    assert done.stderr == (
        f"voice-guide: simulate: --out {afile} is a file; --out names a folder for the WAV "
        "files\n"
    )


def test_a_disk_that_fills_up_under_out_is_one_line(recording: Path, tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        done = simulate("--audio", str(recording), "--engine", "whisper",
                        "--out", str(disk / "wavs"))
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"voice-guide: simulate: cannot write the WAV files in {disk / 'wavs'}: "
        "No space left on device"
    )


def test_with_auto_nothing_is_logged_after_the_end(tmp_path: Path) -> None:
    # --auto runs the whole session (46.5 min and the rest) by itself; these lines come later
    late = tmp_path / "late.txt"
    late.write_text("60 how long\n9000 next\n9001 not a command\n")
    done = simulate("--script", str(late), "--auto")
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert records[-1]["type"] == "end" and records[-1]["reason"] == "completed"
    assert [r["t"] for r in records if r["type"] == "heard"] == [60.0]
    assert not [r for r in records if r["type"] == "unknown"]


def test_the_protocol_is_named_positionally_as_run_and_check_take_it(tmp_path: Path) -> None:
    tiny = Path(__file__).parent / "protocols" / "tiny.yaml"
    late = tmp_path / "next.txt"
    late.write_text("1 next\n")
    done = simulate(str(tiny), "--script", str(late), "--until", "2")
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    default = simulate("--script", str(late), "--until", "2")
    assert records != [json.loads(line) for line in default.stdout.splitlines()]
    assert any(r["type"] == "step" for r in records)
    done = simulate(str(tmp_path / "none.yaml"), "--script", str(late))
    assert done.returncode == 2
    assert done.stderr == f"voice-guide: {tmp_path / 'none.yaml'}: no such file\n"


def test_auto_without_a_script_runs_the_whole_session_with_nothing_said() -> None:
    done = simulate("--auto")
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert records[-1] == {"t": records[-1]["t"], "type": "end", "reason": "completed"}
    assert not [r for r in records if r["type"] == "heard"]
    nothing = simulate()
    assert nothing.returncode == 2
    assert nothing.stderr == (
        "voice-guide: simulate needs --script FILE (one 'SECONDS PHRASE' per line), --audio "
        "FILE.wav, or --auto (the session runs by itself, nothing said)\n")


def test_a_binary_script_is_one_line_not_a_codec_error(recording: Path, tmp_path: Path) -> None:
    done = simulate("--script", str(recording))
    assert done.returncode == 2
    assert done.stderr == (f"voice-guide: {recording}: a WAV recording, not a command script (a "
                           "recording drives the session with --audio FILE.wav)\n")
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"5 next\n10 caf\xe9\n")
    done = simulate("--script", str(latin))
    assert done.returncode == 2
    assert done.stderr == (f"voice-guide: {latin}:2: not UTF-8 text: byte 0xe9 (byte 7 of the "
                           "line) is not valid UTF-8; a command script is text, one 'SECONDS "
                           "PHRASE' a line\n")
    assert "codec" not in done.stderr
