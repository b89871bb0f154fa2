"""What the tests of live `voice-guide run` processes share: the environment of a process, its
journal read while it runs, waiting on it, and speaking into a sink of the private PulseAudio."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from speech import RATE

REPO = Path(__file__).resolve().parent.parent


def live_env(tmp_path: Path) -> dict[str, str]:
    """A process environment with its own data directory (journals, profiles), unbuffered."""
    return {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"}


def start_room_run(tmp_path: Path, journal: Path) -> subprocess.Popen[str]:
    """`voice-guide run` as in a treatment room of the private PulseAudio: microphone
    `room.monitor`, earbuds `earbud`, kiosk speaker `room`; whisper, the default engine."""
    return subprocess.Popen(
        [sys.executable, "-m", "voice_guide", "run", "--skip-prep", "--engine", "whisper",
         "--input-device", "room.monitor", "--practitioner-device", "earbud",
         "--room-device", "room", "--journal", str(journal)],
        cwd=REPO, env=live_env(tmp_path), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )


def records(path: Path) -> list[dict]:
    """The journal's records so far (none before it exists)."""
    from voice_guide.journal import read_journal

    return list(read_journal(path, warn=False).records) if path.exists() else []


def wait_for(predicate: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    """Until `predicate()` holds; the timeout only keeps a broken run from hanging the suite."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def play_into(sink: str, clip: np.ndarray) -> None:
    """Speak `clip` (int16, 16 kHz) into `sink`, blocking until it has played."""
    from voice_guide.devices import open_output_stream, resolve_output

    stream = open_output_stream(resolve_output(sink), samplerate=RATE, channels=1, dtype="int16")
    stream.start()
    stream.write(np.concatenate([clip, np.zeros(RATE // 4, np.int16)]).reshape(-1, 1))
    stream.stop()
    stream.close()
