"""`simulate --audio`: a whole session driven by a recording, end to end.

The recording is built at test time from generated speech: the practitioner's commands with
realistic pauses, the client's chatter between them (some with command words inside), the
client's answer to a pressure check-in, all over room noise. It goes through the real segmenter,
the real Whisper recognizer, the session and scheduler; the guide's speech is rendered by
the real TTS. The test asserts the steps, prompts and routes that result.
"""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from speech import RATE, Voice, noise_only, scale, synthesize

from voice_guide.cli import main
from voice_guide.listen.factory import make_recognizer
from voice_guide.protocol import DEFAULT_PROTOCOL, load
from voice_guide.session import SessionSettings
from voice_guide.simulate_audio import simulate_audio, speech_renderer

REPO = Path(__file__).resolve().parent.parent
PRACTITIONER = Voice("flite", "slt", 0, 1.0)
CLIENT = Voice("flite", "rms", 0, 0.9)

# (seconds, text, speaker, gain dB). The opening cue plays on the room speaker for the first
# ~12 s: the microphone is muted then, so the "next" at 5 s must NOT be heard.
TIMELINE = [
    (5.0, "next", PRACTITIONER, 0),
    (16.0, "next", PRACTITIONER, 0),
    (20.0, "The weather has been strange this week, warm in the morning and cold at night.",
     CLIENT, -4),
    (27.0, "where am i", PRACTITIONER, 0),
    (32.0, "stop", PRACTITIONER, 0),
    (37.0, "The next thing I want to do is book another appointment for next month.",
     CLIENT, -4),
    (44.0, "resume", PRACTITIONER, 0),
    (52.0, "next", PRACTITIONER, 0),  # on to move 3
    # 42 s hands-on (32.5 s before the pause, then from 44.5 s on): at about 54 s the check-in
    # timer asks on the room speaker, in the middle of move 3 (and again 42 s later)
    (59.0, "deeper", CLIENT, -2),  # the client's answer, after the question
    (64.0, "end session", PRACTITIONER, 0),
    (68.5, "no", PRACTITIONER, 0),
]
LENGTH = 72.0
SETTINGS = SessionSettings(checkin_every_minutes=0.7, checkin_min_gap_seconds=20)


def build_recording() -> np.ndarray:
    track = noise_only(LENGTH, -52, seed=7).astype(np.float64)  # the room: fan, hiss
    for t, text, voice, gain in TIMELINE:
        clip = scale(synthesize(text, voice), gain).astype(np.float64)
        start = int(t * RATE)
        track[start : start + len(clip)] += clip
    return np.clip(np.round(track), -32768, 32767).astype(np.int16)


@pytest.fixture(scope="module")
def recording() -> np.ndarray:
    return build_recording()


@pytest.fixture(scope="module")
def recognizer():
    return make_recognizer("whisper")[0]


@pytest.fixture(scope="module")
def render():
    render = speech_renderer()
    if render is None:
        pytest.fail("text-to-speech must work here (espeak-ng is installed by make setup)")
    return render


def says(log: list[dict], **match) -> list[dict]:
    return [r for r in log if r["type"] == "say" and all(r.get(k) == v for k, v in match.items())]


def test_a_recorded_session_gives_the_steps_prompts_and_routes(
    recording, recognizer, render, tmp_path: Path
):
    out = tmp_path / "out"
    result = simulate_audio(
        load(DEFAULT_PROTOCOL), recording, recognizer, settings=SETTINGS, render=render, out=out
    )
    log = result.log

    heard = [(r["command"], r["start"]) for r in log if r["type"] == "heard"]
    assert [c for c, _ in heard] == [
        "next", "where", "pause", "resume", "next", "deeper", "end", "no"
    ]
    assert heard[0][1] == pytest.approx(16.0, abs=0.3)  # the muted "next" at 5 s was not heard
    assert [r["index"] for r in log if r["type"] == "step"] == [1, 2, 3]

    # routes: the client hears the opening and the check-ins; the practitioner gets the rest
    assert says(log, kind="opening")[0]["route"] == "room"
    questions = says(log, kind="checkin")
    for question in questions:
        assert question["route"] == "room" and "pressure" in question["text"].lower()
    assert says(log, kind="checkin_hint")[0]["route"] == "practitioner"
    [relay] = says(log, kind="feedback")
    assert relay["text"] == "Client would like deeper pressure."
    assert relay["route"] == "practitioner"
    # every 42 s of hands-on time, mid-move: at about 54 s (answered), and after the recording
    # at about 96 s (silence), before move 3's time is up at about 127.5 s, where the
    # simulation stops: only the practitioner can move the session on from there
    asked = [r for r in log if r["type"] == "checkin"]
    assert [(r["index"], r["reason"]) for r in asked] == [(3, "interval"), (3, "interval")]
    assert [r["t"] for r in asked] == pytest.approx([54.0, 96.0], abs=1.0)
    assert [q["t"] for q in questions] == [r["t"] for r in asked]
    feedback = [r for r in log if r["type"] == "feedback"]
    assert [(r["answer"], r["index"]) for r in feedback] == [("deeper", 3), (None, 3)]
    assert relay["t"] == feedback[0]["t"] < asked[1]["t"]
    assert log[-3]["type"] == "time_up" and log[-3]["t"] == pytest.approx(127.5, abs=1.0)
    assert log[-2]["kind"] == "time_up"
    assert log[-1] == {"t": log[-3]["t"], "type": "exit", "reason": "eof"}  # as `run` journals
    assert says(log)[0]["kind"] == "welcome"
    assert "Step 2 of 22" in says(log, kind="where")[0]["text"]
    assert [r["type"] for r in log if r["type"] in ("pause", "resume", "silence")] == [
        "silence", "pause", "resume"
    ]
    assert says(log, text="Carrying on.")
    # every command is acted on soon after it ends (the segmenter's endpointing, not seconds)
    for record in (r for r in log if r["type"] == "heard"):
        assert record["t"] - record["end"] < 0.6

    # --out: one WAV per prompt, named in the log, holding speech
    assert len(result.files) == len(says(log)) > 0
    for record in says(log):
        path = out / record["wav"]
        assert record["route"] in record["wav"] and record["plays_at"] >= record["t"]
        with wave.open(str(path)) as wav:
            assert wav.getnchannels() == 1 and wav.getnframes() > wav.getframerate() * 0.3


def test_the_same_recording_gives_the_same_log(recording, recognizer, render):
    first = simulate_audio(load(DEFAULT_PROTOCOL), recording, recognizer, settings=SETTINGS,
                           render=render).log
    second = simulate_audio(load(DEFAULT_PROTOCOL), recording, recognizer, settings=SETTINGS,
                            render=render).log
    assert first == second


def test_nothing_is_written_without_out(recording, tmp_path: Path, monkeypatch, capsys):
    wav_path = tmp_path / "session.wav"
    with wave.open(str(wav_path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(recording[: int(30 * RATE)].tobytes())
    monkeypatch.chdir(tmp_path)
    assert main(["simulate", "--audio", str(wav_path), "--engine", "whisper"]) == 0
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert [r["command"] for r in records if r["type"] == "heard"] == ["next", "where"]
    assert "recognized 2 commands: next@" in captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["session.wav"]


def test_the_cli_prints_the_log_and_writes_the_prompts_under_out(recording, tmp_path: Path):
    wav_path = tmp_path / "session.wav"
    with wave.open(str(wav_path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(recording[: int(30 * RATE)].tobytes())
    out = tmp_path / "prompts"
    result = subprocess.run(
        [sys.executable, "-m", "voice_guide", "simulate", "--audio", str(wav_path),
         "--out", str(out), "--engine", "whisper", "--until", "40"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["command"] for r in records if r["type"] == "heard"] == ["next", "where"]
    assert [r["index"] for r in records if r["type"] == "step"] == [1, 2]
    spoken = [r for r in records if r["type"] == "say"]
    assert sorted(p.name for p in out.iterdir()) == sorted(r["wav"] for r in spoken)
    assert "engine: whisper" in result.stderr


def test_cli_errors_are_one_line(tmp_path: Path):
    missing = tmp_path / "missing.wav"
    result = subprocess.run(
        [sys.executable, "-m", "voice_guide", "simulate", "--audio", str(missing)],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == f"voice-guide: {missing}: no such file\n"
