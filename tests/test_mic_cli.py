"""`voice-guide mic`, the real command end to end: a private PulseAudio, the `room` sink's monitor
as the microphone, sound played into the sink while the check runs (a human "go" of the corpus,
espeak-ng's "next", pink noise, nothing at all), the real Whisper recognizer."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import human_corpus
import numpy as np
import pytest
from pulse import PulseServer
from speech import ESPEAK_VOICES, noise_only, scale, synthesize

REPO = Path(__file__).resolve().parents[1]
GO = human_corpus.CORPUS / "words" / "go" / "sc_004ae714_nohash_0.wav"  # tuning half
# A quiet room's background (a real microphone never gives digital silence; after it, the
# segmenter takes a recording's own background noise for the start of speech).
ROOM = noise_only(4.0, -65, seed=1)
needs_corpus = pytest.mark.skipif(not human_corpus.available(), reason=human_corpus.ABSENT)


@pytest.fixture
def env(tmp_path: Path, pulse: PulseServer) -> dict[str, str]:
    # No config file and no speaker profile of the machine's user: the defaults are tested.
    return {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "VOICE_GUIDE_CONFIG": "none",
            "PULSE_SERVER": pulse.server, "PYTHONUNBUFFERED": "1"}


class Player:
    """Plays into the `room` sink from a thread: `play(clip)` queues a clip; between clips the
    sink gets `bed` (a steady background) or nothing."""

    def __init__(self, bed: np.ndarray | None = None) -> None:
        from voice_guide.devices import open_output_stream, resolve_output

        self._stream = open_output_stream(resolve_output("room"), samplerate=16_000, channels=1,
                                          dtype="int16")
        self._bed = bed
        self._clips: list[np.ndarray] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Player:
        self._stream.start()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._stream.stop()
        self._stream.close()

    def play(self, clip: np.ndarray) -> None:
        with self._lock:
            self._clips.append(clip)

    def _run(self) -> None:
        at = 0
        while not self._stop.is_set():
            with self._lock:
                clip = self._clips.pop(0) if self._clips else None
            if clip is None:
                if self._bed is None:
                    time.sleep(0.02)  # nothing written: the null sink's monitor is silent
                    continue
                chunk = np.take(self._bed, range(at, at + 800), mode="wrap")
                at += 800
            else:
                chunk = clip
            if self._bed is not None and clip is not None:
                bed = np.take(self._bed, range(at, at + len(clip)), mode="wrap")
                at += len(clip)
                chunk = np.clip(clip.astype(np.int32) + bed, -32768, 32767).astype(np.int16)
            self._stream.write(chunk.reshape(-1, 1))


def run_mic(env, *args: str,
            on_line: Callable[[str], None] = lambda line: None) -> tuple[int, list[str], str]:
    """`voice-guide mic ...` recording `room.monitor`; `on_line` sees each output line as it
    comes (to speak when the check asks)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "voice_guide", "mic", "--input-device", "room.monitor", *args],
        cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            on_line(lines[-1])

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        process.wait(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
    reader.join(timeout=10)
    err = process.stderr.read() if process.stderr else ""
    assert "Traceback" not in err, err
    return process.returncode, lines, err


def speak_after_background(player: Player, clip: np.ndarray) -> Callable[[str], None]:
    def on_line(line: str) -> None:
        if line.startswith("background:"):
            player.play(np.concatenate([np.zeros(4000, np.int16), clip]))
    return on_line


@needs_corpus
@pytest.mark.audio
def test_a_human_go_is_heard_and_the_levels_are_good(env: dict[str, str]):
    from voice_guide.wav import read_wav_16k

    with Player(ROOM) as player:
        code, lines, err = run_mic(env, "--seconds", "12",
                                   on_line=speak_after_background(player, read_wav_16k(GO)))
    assert "engine: whisper" in err
    assert lines[:2] == ["microphone: room.monitor",
                         "Keep quiet for a second (measuring the background), then say \"next\"."]
    assert any(line.startswith("level ") and "dBFS  peak" in line for line in lines)
    assert lines.index(next(x for x in lines if x.startswith("background:"))) < lines.index(
        next(x for x in lines if x.startswith("heard:")))
    [heard] = [line for line in lines if line.startswith("heard:")]
    assert heard.startswith('heard: "go" -> next'), lines
    assert lines[-1].startswith("ok: levels good: noise floor"), lines
    assert code == 0, (lines, err)


@pytest.mark.audio
def test_espeak_next_in_a_noisy_room_is_heard_and_called_noisy(env: dict[str, str]):
    said = synthesize("next", ESPEAK_VOICES[0])
    bed = noise_only(4.0, -36, seed=3)  # a loud fan, from before the check starts
    with Player(bed) as player:
        code, lines, _ = run_mic(env, "--seconds", "10",
                                 on_line=speak_after_background(player, scale(said, 6)))
    warnings = [line for line in lines if line.startswith("warning: noisy")]
    assert len(warnings) == 1 and "with nobody speaking" in warnings[0], lines
    assert any(line.startswith("problem: noisy") for line in lines), lines
    assert code == 1


@pytest.mark.audio
def test_nothing_played_is_silent_and_nothing_heard(env: dict[str, str]):
    code, lines, _ = run_mic(env, "--seconds", "4")
    assert any(line.startswith("warning: silent: no signal at all") for line in lines), lines
    assert "problem: silent: no signal at all (digital silence): the microphone is muted, " \
           "unplugged, or this is the wrong device" in lines
    assert lines[-1].startswith("not heard: no command in 4.0 s"), lines
    assert code == 1


@needs_corpus
@pytest.mark.audio
def test_a_clipped_take_is_called_clipping(env: dict[str, str]):
    from voice_guide.wav import read_wav_16k

    hot = scale(read_wav_16k(GO), 30)
    with Player(ROOM) as player:
        code, lines, _ = run_mic(env, "--seconds", "8",
                                 on_line=speak_after_background(player, hot))
    assert any(line.startswith("warning: clipping") for line in lines), lines
    assert any(line.startswith("problem: clipping:") for line in lines), lines
    assert code == 1


def test_an_unknown_microphone_is_one_line(tmp_path: Path):
    env = {**os.environ, "VOICE_GUIDE_CONFIG": "none", "XDG_DATA_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "voice_guide", "mic", "--input-device",
                           "no-such-microphone"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("voice-guide: mic: ") and "no-such-microphone" in line
    bad = subprocess.run([sys.executable, "-m", "voice_guide", "mic", "--seconds", "1"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--seconds must be between 2 and 600" in bad.stderr


@pytest.mark.audio
def test_another_command_than_next_is_said_and_fails_the_check(env: dict[str, str]):
    said = synthesize("stop", ESPEAK_VOICES[0])
    with Player(ROOM) as player:
        code, lines, err = run_mic(env, "--seconds", "10",
                                   on_line=speak_after_background(player, scale(said, 6)))
    [heard] = [line for line in lines if line.startswith("heard:")]
    assert heard.startswith('heard: "stop" -> pause (confidence 0.'), lines
    assert 'problem: heard "stop" (the command pause), not "next": say "next" again, on its ' \
           "own; if it is heard wrong again, `voice-guide enroll` teaches the guide your " \
           "voice" in lines
    assert code == 1, (lines, err)


def test_a_command_the_profile_heard_shows_no_confidence_figure():
    from voice_guide.cli.mic import heard_line
    from voice_guide.commands import Command
    from voice_guide.events import Heard

    item = Heard(Command.NEXT, "go", 0.0123, 1.0, 1.4)
    assert heard_line(item, None) == 'heard: "go" -> next (confidence 0.01)'
    assert heard_line(item, "default") == \
        "heard: \"go\" -> next (by your profile 'default': like your enrolled takes)"
