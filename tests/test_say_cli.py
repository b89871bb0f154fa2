"""`voice-guide say`: the sound check, run as a separate process against the private PulseAudio
server (a fresh process also checks that PortAudio finds the server on its own)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from pulse import PulseServer, Recorder, active_span

pytestmark = pytest.mark.audio


def say(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voice_guide", "say", *args],
        capture_output=True, text=True, timeout=60, env=dict(os.environ),
    )


def heard_on(pulse: PulseServer, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    with Recorder("room.monitor") as room, Recorder("earbud.monitor") as earbud:
        done = say(*args)
        time.sleep(0.2)
    return done, {"room": room.audio(), "earbud": earbud.audio()}


def loud(audio: np.ndarray) -> bool:
    return active_span(audio, 22050) is not None


def test_say_on_the_room_route(pulse: PulseServer) -> None:
    done, heard = heard_on(pulse, "Time to rest.", "--route", "room", "--room-device", "room")
    assert done.returncode == 0, done.stderr
    assert "said on room (room)" in done.stdout and "voice heart" in done.stdout  # the default
    assert loud(heard["room"]) and not loud(heard["earbud"])
    assert done.stderr == ""


def test_say_with_an_espeak_voice_by_its_language_code(pulse: PulseServer) -> None:
    """`--voice en-gb` used to fail inside espeak-ng (and print the text)."""
    done, heard = heard_on(pulse, "Time to rest.", "--device", "room", "--voice", "en-gb",
                           "--pitch", "35")
    assert done.returncode == 0, done.stderr
    assert "voice en-gb" in done.stdout and "Time to rest." not in done.stdout
    assert loud(heard["room"])


def test_say_on_a_device_given_by_part_of_its_name(pulse: PulseServer) -> None:
    done, heard = heard_on(pulse, "Next move.", "--device", "bud", "--rate", "170")
    assert done.returncode == 0, done.stderr
    assert loud(heard["earbud"]) and not loud(heard["room"])


def test_say_out_writes_a_wav_and_plays_nothing(pulse: PulseServer, tmp_path: Path) -> None:
    out = tmp_path / "check.wav"
    done, heard = heard_on(pulse, "Sound check.", "--out", str(out), "--volume", "0.5")
    assert done.returncode == 0, done.stderr
    assert "22050 Hz mono, voice heart" in done.stdout
    with wave.open(str(out)) as audio:
        assert audio.getnchannels() == 1 and audio.getframerate() == 22050
        assert audio.getnframes() > 0.5 * 22050
    assert not loud(heard["room"]) and not loud(heard["earbud"])


def test_unknown_device_lists_what_exists(pulse: PulseServer) -> None:
    done = say("Hello.", "--device", "kitchen")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "kitchen" in lines[0] and "earbud" in lines[0] and "room" in lines[0]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("option", "value", "complaint"),
    [
        ("--rate", "1000", "rate"),
        ("--volume", "3", "volume"),
        ("--voice", "no-such-voice", "no-such-voice"),
        ("--voice", "klingon", "unknown voice 'klingon'; the voices are heart (natural, the "
         "default), or espeak-ng's en-us, "),
        ("--voice", "en-us+nobody", "unknown voice variant 'en-us+nobody'"),
        ("--rate", "300", "rate 300 is out of range for heart (94..284 words per minute)"),
        ("--pitch", "30", "--pitch is for the espeak-ng voices; heart keeps its own pitch"),
    ],
)
def test_bad_voice_settings_are_one_line_errors(
    pulse: PulseServer, option: str, value: str, complaint: str
) -> None:
    """`--voice klingon` used to speak with some other voice; now nothing is said or printed
    but the one line."""
    done, heard = heard_on(pulse, "Hello.", option, value)
    assert done.returncode == 2
    assert complaint in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and done.stdout == ""
    assert not loud(heard["room"]) and not loud(heard["earbud"])


def test_voices_lists_what_can_be_chosen() -> None:
    done = subprocess.run([sys.executable, "-m", "voice_guide", "voices", "--check"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("natural voice (hibari-tts")
    assert lines[1].split()[0] == "heart" and "(default 138)" in lines[1]
    names = [line.split()[0] for line in lines if line.startswith("  ")]
    assert names[:2] == ["heart", "en-us"] and {"en-gb", "en-gb-x-rp", "en-us-nyc"} <= set(names)
    assert any(line.startswith("espeak-ng variants") and " f2 " in line for line in lines)
    assert lines[-1] == "check: voice: heart (natural, hibari-tts; 138 words a minute): loads " \
        "and speaks"
    for name in names:  # every voice listed can be chosen
        chosen = say("Hi.", "--voice", name, "--out", os.devnull + "-not-a-folder/x.wav")
        assert "unknown voice" not in chosen.stderr, name


def test_no_audio_without_a_sound_server(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PULSE_SERVER"}
    env["PULSE_SERVER"] = f"unix:{tmp_path}/nothing-here"
    done = subprocess.run(
        [sys.executable, "-m", "voice_guide", "say", "Hello.", "--device", "room"],
        capture_output=True, text=True, timeout=60, env=env,
    )
    assert done.returncode == 2
    assert "room" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
