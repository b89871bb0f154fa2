"""The pieces every part of speech out shares: `Voice` (how the guide sounds), `Pcm` (rendered
speech in memory) and `SpeechError`. Nothing here renders; `tts.py` does, with `natural.py` (the
default voice) or `espeak.py`.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class SpeechError(RuntimeError):
    """Text could not be turned into speech; the message says why in one line."""


DEFAULT_VOICE = "heart"  # the natural voice (natural.py)
FALLBACK_VOICE = "en-us"  # espeak-ng, when the natural voice cannot load
CALM_RATE = 138  # words per minute: the default pace, measured (benchmarks.speech --pace)


@dataclass(frozen=True)
class Voice:
    """How the guide sounds. The default is calm and unhurried for a treatment room.

    `name` is a voice of `voice-guide voices`: `heart` (the natural voice, the default) or an
    espeak-ng English voice (`en-us`, `en-gb`, ...; `en-us+f2` adds one of espeak-ng's
    variants). `rate` is words per minute (the natural voice's pace is calibrated on measured
    speech; espeak-ng takes it as its own setting), `volume` a gain on the samples (0..1, applied
    to the PCM so it is exact), `pitch` espeak-ng's 0..99 (50 is its default; lower sounds
    calmer; the natural voice keeps its own).
    """

    name: str = DEFAULT_VOICE
    rate: int = CALM_RATE
    volume: float = 0.9
    pitch: int = 40

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("voice name is empty")
        if not 60 <= self.rate <= 400:
            raise ValueError(f"rate {self.rate} is out of range (60..400 words per minute)")
        if not 0.0 <= self.volume <= 1.0:
            raise ValueError(f"volume {self.volume} is out of range (0..1)")
        if not 0 <= self.pitch <= 99:
            raise ValueError(f"pitch {self.pitch} is out of range (0..99)")

    @property
    def natural(self) -> bool:
        """Whether this is the natural voice (else an espeak-ng one)."""
        return self.name.strip().lower() == DEFAULT_VOICE


@dataclass(frozen=True, eq=False)
class Pcm:
    """Mono 16-bit audio in memory."""

    samples: np.ndarray  # int16, shape (n,)
    rate: int

    @property
    def duration(self) -> float:
        return len(self.samples) / self.rate if self.rate else 0.0

    def write_wav(self, path: str | Path) -> None:
        """Save as a mono 16-bit WAV (only when the user asks for a file).

        The file is opened here, not by `wave.open(name)`: when that open fails (a folder, a
        missing folder, a full disk) `wave` leaves a half-built writer whose `__del__` prints an
        `Exception ignored` traceback after the caller's own one-line error."""
        with open(path, "wb") as raw, wave.open(raw, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(self.rate)
            out.writeframes(np.asarray(self.samples, dtype="<i2").tobytes())
