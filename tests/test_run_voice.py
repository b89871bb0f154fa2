"""`voice-guide run --voice/--rate/--volume`, as real processes on the private PulseAudio server:
the start-up line names the voice that speaks (the natural `heart` by default, espeak-ng's when
asked for or when the natural voice cannot load), and a wrong voice stops the start in one line
before a journal is made."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pulse import PulseServer, Recorder, active_span

REPO = Path(__file__).resolve().parent.parent
ROUTES = ("--practitioner-device", "earbud", "--room-device", "room")


def run(*args: str, tmp_path: Path, stdin: str = "", prelude: str = "", hold: float = 0.0):  # type: ignore[no-untyped-def]
    """`voice-guide run ARGS` in a new process; its typed input comes after `hold` seconds (the
    session ends at the end of input, without waiting for speech: hold it to hear some)."""
    code = f"import sys\n{prelude}\nfrom voice_guide.cli import main\nsys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-c", code, "run", *args], cwd=REPO, env=env, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    time.sleep(hold)
    out, err = process.communicate(stdin, timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def journals(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "data").rglob("*.jsonl"))


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (("--voice", "klingon"), "voice-guide: run: unknown voice 'klingon'; the voices are heart "
         "(natural, the default), or espeak-ng's en-us, "),
        (("--voice", "en-gb+nobody"), "voice-guide: run: unknown voice variant 'en-gb+nobody'"),
        (("--rate", "300"), "voice-guide: run: rate 300 is out of range for heart (94..284 "
         "words per minute)"),
        (("--voice", "en-us", "--rate", "500"), "voice-guide: run: rate 500 is out of range "
         "(60..400 words per minute)"),
        (("--volume", "2"), "voice-guide: run: volume 2.0 is out of range (0..1)"),
    ],
)
def test_a_wrong_voice_stops_the_start_in_one_line(
    tmp_path: Path, args: tuple[str, ...], complaint: str
) -> None:
    done = run("--text", "--silent", *args, tmp_path=tmp_path, stdin="next\n")
    assert done.returncode == 2
    assert done.stderr.startswith(complaint) and len(done.stderr.splitlines()) == 1
    assert done.stdout == "" and journals(tmp_path) == []


@pytest.mark.audio
def test_the_natural_voice_speaks_by_default_and_says_so(
    pulse: PulseServer, tmp_path: Path
) -> None:
    with Recorder("earbud.monitor") as earbud:
        done = run("--text", "--skip-prep", *ROUTES, tmp_path=tmp_path, stdin="where am i\n",
                   hold=4.0)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert "voice-guide: voice: heart (natural, hibari-tts; 138 words a minute)" in lines
    assert "Traceback" not in done.stderr and "terminate called" not in done.stderr
    assert active_span(earbud.audio(), 22050) is not None  # the welcome and step 1 were heard


@pytest.mark.audio
def test_an_espeak_voice_with_its_own_pace(pulse: PulseServer, tmp_path: Path) -> None:
    done = run("--text", "--skip-prep", *ROUTES, "--voice", "en-gb", "--rate", "160",
               "--volume", "0.5", tmp_path=tmp_path, stdin="where am i\n")
    assert done.returncode == 0, done.stderr
    assert "voice-guide: voice: en-gb (espeak-ng; 160 words a minute)" in done.stderr.splitlines()


@pytest.mark.audio
def test_espeak_speaks_when_the_natural_voice_cannot_load(
    pulse: PulseServer, tmp_path: Path
) -> None:
    with Recorder("earbud.monitor") as earbud:
        done = run("--text", "--skip-prep", *ROUTES, tmp_path=tmp_path, stdin="where am i\n",
                   prelude="sys.modules['hibari'] = None  # as on a machine without it",
                   hold=3.0)
    assert done.returncode == 0, done.stderr
    [line] = [line for line in done.stderr.splitlines() if line.startswith("voice-guide: voice:")]
    assert line.startswith("voice-guide: voice: en-us (espeak-ng, the fallback: the natural "
                           "voice heart cannot load (")
    assert line.endswith("; 138 words a minute)")
    assert active_span(earbud.audio(), 22050) is not None
