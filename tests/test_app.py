"""The live loop on real audio streams: `voice-guide run` as a process, on a private PulseAudio.

The set-up is a small treatment room: the `earbud` null sink is the practitioner's earbuds, the
`room` null sink is the kiosk speaker, and the microphone is `room.monitor`: it hears everything
played in the room, the guide's own room prompts included, and not the earbuds. The test speaks
commands into the room (generated speech played on the `room` sink) and reads the journal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from pulse import PulseServer, Recorder, active_span
from speech import RATE, Voice, synthesize

from voice_guide.commands import CLIENT_ANSWERS
from voice_guide.journal import read_journal

REPO = Path(__file__).resolve().parent.parent
PRACTITIONER = Voice("flite", "slt", 0, 1.0)
CLIENT = Voice("flite", "rms", 0, 0.9)

# The check-in question holds command words ("lighter", "deeper"): on the room speaker the
# microphone hears it, and only the mute keeps it from being taken as the client's answer.
LIVE_PROTOCOL = """\
name: Live test routine
opening: Hello.
stations:
  head:
    announce: Stand at the head of the table.
checkins:
  question: Lighter or deeper?
  every_minutes: 0.05
  answer_seconds: 10
rest:
  seconds: 60
  say: Relax now.
  closing: Offer a glass of water.
steps:
  - number: 1
    station: head
    title: Opening hold
    say: Rest your hands on the back.
    seconds: 60
    checkin: true
  - number: 2
    station: head
    title: Palm the back
    say: Palm along the back.
    seconds: 60
"""


def play_into(sink: str, clip: np.ndarray) -> None:
    """Speak `clip` (int16, 16 kHz) into the room: played on `sink`, blocking until done."""
    from voice_guide.devices import open_output_stream, resolve_output

    stream = open_output_stream(resolve_output(sink), samplerate=RATE, channels=1, dtype="int16")
    stream.start()
    stream.write(np.concatenate([clip, np.zeros(RATE // 4, np.int16)]).reshape(-1, 1))
    stream.stop()
    stream.close()


def records(path: Path) -> list[dict]:
    return list(read_journal(path, warn=False).records) if path.exists() else []


def wait_for(predicate, timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.audio
def test_spoken_commands_drive_the_session_and_the_guide_never_hears_itself(
    pulse: PulseServer, tmp_path: Path
):
    protocol = tmp_path / "live.yaml"
    protocol.write_text(LIVE_PROTOCOL)
    journal = tmp_path / "session.jsonl"
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"}
    with Recorder("room.monitor", RATE) as room, Recorder("earbud.monitor", RATE) as earbud:
        process = subprocess.Popen(
            [sys.executable, "-m", "voice_guide", "run", str(protocol), "--skip-prep",
             "--engine", "pocketsphinx", "--input-device", "room.monitor",
             "--practitioner-device", "earbud", "--room-device", "room",
             "--journal", str(journal)],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )
        try:
            # the recognizer loaded meanwhile (step 1 is flagged: the check-in follows "next")
            wait_for(lambda: any(r["t"] >= 4.0 for r in records(journal)), what="4 s of session")
            play_into("room", synthesize("next", PRACTITIONER))
            wait_for(lambda: any(r["type"] == "step" and r["index"] == 2
                                 for r in records(journal)), what="step 2")
            wait_for(lambda: any(r.get("kind") == "checkin" for r in records(journal)),
                     what="the check-in")
            asked = time.monotonic()
            time.sleep(2.5)  # the question plays in the room (the mic hears it), then its tail
            play_into("room", synthesize("deeper", CLIENT))
            wait_for(lambda: any(r["type"] == "feedback" for r in records(journal)),
                     what="the client's answer")
        finally:
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=30)
        room_audio, earbud_audio = room.audio(), earbud.audio()
        question_at = asked - room.start_time

    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert "engine: pocketsphinx" in err
    log = records(journal)
    heard = [r["command"] for r in log if r["type"] == "heard"]
    assert heard == ["next", "deeper"]  # nothing from the guide's own "Lighter or deeper?"
    assert [r["answer"] for r in log if r["type"] == "feedback"] == ["deeper"]
    # the player said when the question had played: the answer window counts from there
    [question] = [r for r in log if r["type"] == "say" and r.get("kind") == "checkin"]
    [played] = [r for r in log if r["type"] == "spoken"]
    [feedback] = [r for r in log if r["type"] == "feedback"]
    assert played["kind"] == "checkin" and question["t"] < played["t"] <= feedback["t"]
    assert "[practitioner] Client would like deeper pressure." in out
    assert log[-1]["type"] == "exit" and log[-1]["reason"] == "interrupt"  # Ctrl-C, complete
    assert read_journal(journal, warn=False).warnings == ()

    # The routes went to their own devices: the earbuds got the practitioner's cues...
    assert active_span(earbud_audio, RATE) is not None
    # ...and the room speaker played the question, which the microphone did hear: without the
    # mute, that stretch reaches the recognizer as an utterance (whether an engine would then
    # mishear it is the engine's business; the mute keeps it from being considered at all).
    from voice_guide.listen.factory import make_recognizer
    from voice_guide.listen.pipeline import Listener

    start = max(0, int((question_at - 1.0) * RATE))
    stretch = (room_audio[start : start + int(3.2 * RATE)] * 32767).astype(np.int16)
    assert active_span(stretch.astype(np.float32) / 32768, RATE) is not None
    unmuted = Listener(make_recognizer("pocketsphinx")[0], CLIENT_ANSWERS)
    for offset in range(0, len(stretch), 1600):
        unmuted.feed(stretch[offset : offset + 1600])
    unmuted.flush()
    assert unmuted.segments >= 1, "control: unmuted, the room prompt reaches the recognizer"


def test_no_microphone_says_so_in_one_line_and_runs_in_text_mode(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), PULSE_SERVER="unix:/nonexistent/native")
    probe = subprocess.run(
        [sys.executable, "-c", "import sounddevice as sd; sd.query_devices(kind='input')"],
        env=env, capture_output=True, timeout=60,
    )
    if probe.returncode == 0:
        pytest.skip("this machine has a microphone without a sound server")
    result = subprocess.run(
        [sys.executable, "-m", "voice_guide", "run", "--skip-prep"], cwd=REPO, env=env,
        input="next\nwhere am i\n", capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if "running in text mode" in line]
    assert len(notes) == 1
    assert notes[0].startswith("voice-guide: no audio (")
    assert "Traceback" not in result.stderr
    assert "Step 2 of 22" in result.stdout


@pytest.mark.audio
def test_unplugged_earbuds_fall_back_and_the_journal_says_so(pulse: PulseServer, tmp_path: Path):
    journal = tmp_path / "session.jsonl"
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "voice_guide", "run", "--skip-prep", "--engine", "pocketsphinx",
         "--input-device", "room.monitor", "--practitioner-device", "earbud",
         "--room-device", "room", "--journal", str(journal)],
        cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_for(lambda: any(r["t"] >= 2.0 for r in records(journal)), what="2 s of session")
        pulse.unload_sink("earbud")  # mid-sentence: step 1 is still being read out
        wait_for(lambda: any(r["type"] == "route_fallback" for r in records(journal)),
                 what="the fallback")
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    [fallback] = [r for r in records(journal) if r["type"] == "route_fallback"]
    assert fallback["route"] == "practitioner" and "earbud" in fallback["failed"]
    assert "(route_fallback: route practitioner" in out
    assert records(journal)[-1]["reason"] == "interrupt"


@pytest.mark.audio
def test_a_recognizer_that_cannot_work_stops_the_start_before_a_journal(
    pulse: PulseServer, tmp_path: Path
):
    """A vosk model that is not there is one line and no session, not a journal and a quiet
    fall back to typed commands found later in the listening thread."""
    journal = tmp_path / "session.jsonl"
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    result = subprocess.run(
        [sys.executable, "-m", "voice_guide", "run", "--skip-prep", "--model",
         str(tmp_path / "no-such-model"), "--input-device", "room.monitor",
         "--practitioner-device", "earbud", "--room-device", "room", "--journal", str(journal)],
        cwd=REPO, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "no-such-model" in result.stderr and "Traceback" not in result.stderr
    assert not journal.exists()
