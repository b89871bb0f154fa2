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
from pathlib import Path

import numpy as np
import pytest
from live_helpers import REPO, live_env, play_into, records, start_room_run, wait_for
from pulse import PulseServer, Recorder, active_span, best_correlation
from speech import RATE, Voice, synthesize

from voice_guide.commands import CLIENT_ANSWERS
from voice_guide.journal import read_journal

PRACTITIONER = Voice("flite", "slt", 0, 1.0)
CLIENT = Voice("flite", "rms", 0, 0.9)
QUIET_SECONDS = 1.0  # the room recording quiet this long: nothing of ours is playing there

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


def quiet_for(recorder: Recorder, seconds: float) -> bool:
    """The last `seconds` of what `recorder` recorded hold no sound."""
    audio = recorder.audio()
    return len(audio) >= seconds * recorder.rate and active_span(
        audio[-int(seconds * recorder.rate):], recorder.rate) is None


def located(recorded: np.ndarray, clip: np.ndarray, after: int = 0) -> tuple[int, int]:
    """(start, end) sample of `clip` (int16) in `recorded` (float32), found in the audio itself
    (cross-correlation), not from when the test thinks it played it."""
    score, lag = best_correlation(recorded[after:], clip.astype(np.float32) / 32768)
    assert score > 0.5, f"the clip is not in the recording (best match {score:.2f})"
    return after + lag, after + lag + len(clip)


@pytest.mark.audio
def test_spoken_commands_drive_the_session_and_the_guide_never_hears_itself(
    pulse: PulseServer, tmp_path: Path
):
    """Every window of this test comes from what was recorded, never from the test's own
    clock: it acts when the journal says the session got there (listening, step 2, the question
    played out) and the room is quiet in the recording; the control cuts the room audio between
    where the test's own two clips are found in it. So a busy machine only makes it slower."""
    protocol = tmp_path / "live.yaml"
    protocol.write_text(LIVE_PROTOCOL)
    journal = tmp_path / "session.jsonl"
    said_next, said_deeper = synthesize("next", PRACTITIONER), synthesize("deeper", CLIENT)
    with Recorder("room.monitor", RATE) as room, Recorder("earbud.monitor", RATE) as earbud:
        process = subprocess.Popen(
            [sys.executable, "-m", "voice_guide", "run", str(protocol), "--skip-prep",
             "--engine", "whisper", "--input-device", "room.monitor",
             "--practitioner-device", "earbud", "--room-device", "room",
             "--journal", str(journal)],
            cwd=REPO, env=live_env(tmp_path), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )
        try:
            # The recognizer is listening, and the opening cue has played in the room.
            wait_for(lambda: any(r["type"] == "listening" for r in records(journal)),
                     "listening")
            wait_for(lambda: active_span(room.audio(), RATE) is not None, "the opening cue")
            wait_for(lambda: quiet_for(room, QUIET_SECONDS), "the room to be quiet")
            play_into("room", said_next)  # step 1 is flagged: the check-in follows "next"
            wait_for(lambda: any(r["type"] == "step" and r["index"] == 2
                                 for r in records(journal)), "step 2")
            # The question plays in the room (the microphone hears it, muted), then its tail.
            wait_for(lambda: any(r["type"] == "spoken" for r in records(journal)),
                     "the question to have played")
            wait_for(lambda: quiet_for(room, QUIET_SECONDS), "the room to be quiet again")
            play_into("room", said_deeper)
            wait_for(lambda: any(r["type"] == "feedback" for r in records(journal)),
                     "the client's answer")
        finally:
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=60)
        room_audio, earbud_audio = room.audio(), earbud.audio()

    assert process.returncode == 130, err  # Ctrl-C: its exit status
    assert "Traceback" not in err
    assert "engine: whisper" in err
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
    # The stretch: from the end of the test's "next" to the start of its "deeper", as found in
    # the room recording; nothing but the question played in the room in between.
    from voice_guide.listen.factory import make_recognizer
    from voice_guide.listen.pipeline import Listener

    _, next_end = located(room_audio, said_next)
    deeper_start, _ = located(room_audio, said_deeper, after=next_end)
    stretch = (room_audio[next_end + RATE // 10 : deeper_start - RATE // 20] * 32767)
    stretch = stretch.astype(np.int16)
    assert active_span(stretch.astype(np.float32) / 32768, RATE) is not None
    unmuted = Listener(make_recognizer("whisper")[0], CLIENT_ANSWERS)
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
def test_a_whisper_model_that_cannot_load_leaves_typed_commands_and_one_line_why(
    pulse: PulseServer, tmp_path: Path
):
    """No engine at all (the Whisper model is broken and there is no vosk model): the session
    still runs, from typed commands, and one line says why."""
    env = {**live_env(tmp_path), "VOICE_GUIDE_WHISPER": str(tmp_path / "no-whisper"),
           "HOME": str(tmp_path)}  # no vosk cache either
    env.pop("VOICE_GUIDE_MODEL", None)
    result = subprocess.run(
        [sys.executable, "-m", "voice_guide", "run", "--skip-prep", "--silent",
         "--input-device", "room.monitor", "--journal", str(tmp_path / "session.jsonl")],
        cwd=REPO, env=env, input="next\nwhere am i\n", capture_output=True, text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    [note] = [line for line in result.stderr.splitlines() if "text mode" in line]
    assert note.startswith("voice-guide: cannot listen (whisper cannot load ($VOICE_GUIDE_WHISPER=")
    assert "no English vosk model" in note and note.endswith("type the commands")
    assert "Step 2 of 22" in result.stdout


@pytest.mark.audio
def test_unplugged_earbuds_fall_back_and_the_journal_says_so(pulse: PulseServer, tmp_path: Path):
    journal = tmp_path / "session.jsonl"
    process = start_room_run(tmp_path, journal)
    try:
        wait_for(lambda: any(r["t"] >= 2.0 for r in records(journal)), "2 s of session")
        pulse.unload_sink("earbud")  # mid-sentence: step 1 is still being read out
        wait_for(lambda: any(r["type"] == "route_fallback" for r in records(journal)),
                 "the fallback")
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
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
