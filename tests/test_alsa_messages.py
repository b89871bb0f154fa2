"""ALSA's own stderr lines (`snd_pcm_recover underrun occurred`) go to logging, counted, not over
the terminal; every other line, and Python's own error output, still reaches it.

Real lines from the real libraries, in real processes on the private PulseAudio of conftest.py:
an underrun (an output callback that sleeps past its buffer, or the whole process stopped for
0.4 s) and a stream on a source that does not exist. The controls show those same lines reach
the terminal without `AlsaMessages`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from live_helpers import REPO, records, start_room_run, wait_for
from pulse import PulseServer

# Makes ALSA speak: an underrun (the callback sleeps 0.4 s, its buffer is 0.05 s), then an input
# stream on a source the server does not have. `ROUTE=1`: with AlsaMessages on.
CHILD = r"""
import logging, os, sys, time
import numpy as np
from voice_guide.devices import AlsaMessages, Endpoint, open_input_stream, open_output_stream
from voice_guide.devices import resolve_input, resolve_output

logging.basicConfig(level=logging.WARNING, format="voice-guide: %(message)s")
kept = logging.FileHandler(sys.argv[1])
kept.setLevel(logging.INFO)
logging.getLogger("voice_guide.alsa").addHandler(kept)
logging.getLogger("voice_guide.alsa").setLevel(logging.INFO)
logging.getLogger("voice_guide.alsa").propagate = False  # this file only, as a log file would
messages = AlsaMessages.start() if os.environ.get("ROUTE") == "1" else None
calls = [0]
def callback(outdata, frames, time_info, status):
    calls[0] += 1
    outdata[:] = 0
    if calls[0] == 10:
        time.sleep(0.4)
stream = open_output_stream(resolve_output("earbud"), samplerate=22050, channels=1,
                            dtype="int16", latency=0.05, callback=callback)
stream.start()
while calls[0] < 40:
    time.sleep(0.05)
stream.stop()
stream.close()
mic = resolve_input("room.monitor")
try:
    open_input_stream(Endpoint(mic.device, "no_such_source", "x"), channels=1, dtype="int16")
except Exception as error:
    print("python: cannot open:", type(error).__name__, file=sys.stderr)
os.write(2, b"a C-level line that is not ALSA's\n")
logging.getLogger("voice_guide").warning("a warning")
if messages is not None:
    messages.close()
    print("summary", messages.underruns, messages.lines, messages.examples[:1], flush=True)
raise SystemExit("python: the end")
"""


def run_child(tmp_path: Path, route: bool) -> tuple[subprocess.CompletedProcess[str], str]:
    log = tmp_path / f"alsa-{int(route)}.log"
    env = {**os.environ, "ROUTE": "1" if route else "0"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(log)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    return done, log.read_text() if log.exists() else ""


@pytest.mark.audio
def test_alsa_lines_go_to_the_log_and_the_rest_to_the_terminal(
    pulse: PulseServer, tmp_path: Path
) -> None:
    control, _ = run_child(tmp_path, route=False)
    assert "ALSA lib pcm.c" in control.stderr and "underrun occurred" in control.stderr
    assert "Unable to create stream" in control.stderr  # pcm_pulse.c: the missing source

    done, logged = run_child(tmp_path, route=True)
    assert done.returncode == 1
    assert "ALSA lib" not in done.stderr and "pa_linux_alsa.c" not in done.stderr
    # Everything else is there: Python's prints, logging, a C-level line, the exit message.
    lines = done.stderr.splitlines()
    assert "python: cannot open: PortAudioError" in lines
    assert "voice-guide: a warning" in lines
    assert "a C-level line that is not ALSA's" in lines
    assert lines[-1] == "python: the end"
    # ...and ALSA's lines are in the log, counted.
    assert "(snd_pcm_recover) underrun occurred" in logged
    assert "Unable to create stream: No such entity" in logged
    summary = next(line for line in done.stdout.splitlines() if line.startswith("summary "))
    underruns, count = (int(n) for n in summary.split()[1:3])
    assert underruns >= 1 and count > underruns  # the missing source's lines too
    assert logged.count("underrun occurred") == underruns


@pytest.mark.audio
def test_a_live_run_keeps_alsa_off_the_terminal_and_journals_the_underruns(
    pulse: PulseServer, tmp_path: Path
) -> None:
    journal = tmp_path / "session.jsonl"
    process = start_room_run(tmp_path, journal)
    try:
        wait_for(lambda: process.poll() is not None
                 or any(r["type"] == "listening" for r in records(journal)), "listening")
        assert process.poll() is None, "never listened"
        for _ in range(3):  # a machine too busy to run us for 0.4 s: each output underruns
            os.kill(process.pid, signal.SIGSTOP)
            time.sleep(0.4)
            os.kill(process.pid, signal.SIGCONT)
            time.sleep(0.6)
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err  # Ctrl-C
    assert "ALSA lib" not in err and "underrun occurred" not in err
    assert "Traceback" not in err
    assert f"voice-guide: journal {journal}" in err.splitlines()  # Python's own lines: there
    assert "voice-guide: engine: whisper" in err
    log = records(journal)
    [audio] = [r for r in log if r["type"] == "audio"]
    assert log[-1]["type"] == "exit" and log[-2] is audio  # written as the session closes
    assert audio["alsa_underruns"] >= 3, audio
    assert audio["output_underflows"] >= 3, audio
    assert audio["alsa_examples"][0].endswith("(snd_pcm_recover) underrun occurred")
