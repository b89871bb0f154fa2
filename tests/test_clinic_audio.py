"""`simulate --serve --audio`: minutes of human talk between clients, then "start session" and a
human "go": exactly one session, and the "go" moves it on.

The talk (read speech) and the "go" are real human recordings of the corpus's validation
speakers (`tests/human_corpus.py`); no human recording of "start session" exists, so it is said
by a generated voice (piper `joe`, as in the recognizer's tests). Everything goes through the
real segmenter and Whisper, on the recording's clock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from human_corpus import ABSENT, available, recordings
from speech import RATE, Voice, synthesize

from voice_guide.wav import read_wav_16k

REPO = Path(__file__).resolve().parent.parent
START_VOICE = Voice("piper", "joe", 0, 1.0)
TALK_SECONDS = 150.0  # "minutes of human talk" before the first session

pytestmark = pytest.mark.skipif(not available(), reason=ABSENT)


def day_recording() -> tuple[np.ndarray, float, float]:
    """(the day's audio, when "start session" is said, when "go" is said)."""
    pieces: list[np.ndarray] = []
    seconds = 0.0
    for item in recordings("talk", "validate"):
        talk = read_wav_16k(item.path).astype(np.float64)
        pieces += [talk, np.zeros(int(0.8 * RATE))]
        seconds += len(talk) / RATE + 0.8
        if seconds >= TALK_SECONDS:
            break
    start_at = seconds + 2.0
    start = synthesize("start session", START_VOICE).astype(np.float64)
    go = next(r for r in recordings("word", "validate") if r.label == "go")
    # After "start session": the welcome (earbuds) and the opening cue to the client on the
    # room speaker (the microphone is muted while it plays); the "go" comes once it is over.
    gap = 25.0
    go_at = start_at + len(start) / RATE + gap
    track = np.concatenate([*pieces, np.zeros(2 * RATE), start, np.zeros(int(gap * RATE)),
                            read_wav_16k(go.path).astype(np.float64), np.zeros(4 * RATE)])
    return np.clip(np.round(track), -32768, 32767).astype(np.int16), start_at, go_at


def test_talk_then_start_session_then_a_human_go(tmp_path: Path) -> None:
    audio, start_at, go_at = day_recording()
    path = tmp_path / "day.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(audio.tobytes())
    result = subprocess.run(
        [sys.executable, "-m", "voice_guide", "simulate", "--serve", "--audio", str(path)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env={**os.environ, "VOICE_GUIDE_CONFIG": "none"},
    )
    assert result.returncode == 0, result.stderr
    log = [json.loads(line) for line in result.stdout.splitlines()]
    headers = [r for r in log if r["type"] == "session"]
    assert len(headers) == 1 and log[0]["type"] == "session"  # nothing before it
    heard = [r for r in log if r["type"] == "heard"]
    assert [(r["command"], r["phrase"]) for r in heard] == [("next", "go")], result.stderr
    assert go_at < heard[0]["end"] < go_at + 2.0  # the recording's time: the human "go"
    # Session time counts from "start session" (heard as the phrase ends).
    assert heard[0]["t"] == pytest.approx(go_at - start_at, abs=3.0)
    steps = [r["index"] for r in log if r["type"] == "step"]
    assert steps == [1, 2]
    assert "recognized 2 commands: start@" in result.stderr
