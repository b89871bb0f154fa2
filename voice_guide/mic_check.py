"""What the microphone check measures: the level of each block of samples (for the meter) and,
over the whole check, whether the input is silent, too quiet, clipping or noisy.

Pure: int16 16 kHz samples in, numbers and verdicts out (no device, no clock), so it is tested
on generated signals and the CLI (voice_guide/cli/mic.py) only shows what it says.

The practitioner is asked to keep quiet for the first second: the noise floor is the median
10 ms frame level of that second (a word or a click in it moves the median little). Frames well
above the floor (`sound_above_db`) are "sound", the speech being checked; its level is their
95th percentile, as enrollment measures a take. The thresholds are the ones the rest of the
guide already works with, so "ok" here means the segmenter and enrollment will be content:
- silent: no frame reaches -60 dBFS, below which the segmenter never takes a frame for speech;
- quiet: speech below -40 dBFS, enrollment's "too quiet";
- clipping: more than 0.2 % of the speech's samples at |x| >= 32000, enrollment's "clipped";
- noisy: a floor above -45 dBFS (speech said at an ordinary -30 dBFS would be less than 15 dB
  above it), or speech less than 15 dB above the floor, enrollment's "too noisy".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

SAMPLE_RATE = 16_000
FRAME = 160  # 10 ms
FULL_SCALE = 32768.0
FLOOR_DBFS = -120.0  # the level of digital silence (log of zero)

Kind = Literal["silent", "quiet", "clipping", "noisy", "ok"]


@dataclass(frozen=True)
class MicThresholds:
    noise_seconds: float = 1.0  # the quiet start: the noise floor is measured in it
    silent_dbfs: float = -60.0  # segmenter.SegmenterSettings.min_level_dbfs
    quiet_dbfs: float = -40.0  # enrollment.MIN_LEVEL_DBFS
    noisy_dbfs: float = -45.0  # the floor's limit: 15 dB under ordinary speech (-30 dBFS)
    min_snr_db: float = 15.0  # enrollment.MIN_SNR_DB
    clip_level: int = 32_000  # enrollment.CLIP_LEVEL
    max_clipped: float = 0.002  # enrollment.MAX_CLIPPED
    sound_above_db: float = 12.0  # frames this far above the floor are sound (the segmenter's
    # warm-up takes 12 dB above the quietest for speech)
    silent_after: float = 3.0  # seconds of nothing before "silent" is said during the check


@dataclass(frozen=True)
class Level:
    """One block, for the meter: RMS and peak in dBFS, and how many samples are clipped."""

    rms_dbfs: float
    peak_dbfs: float
    clipped: int


@dataclass(frozen=True)
class Verdict:
    kind: Kind
    text: str


def level(block: np.ndarray, clip_level: int = MicThresholds.clip_level) -> Level:
    """The level of one block of int16 samples."""
    samples = np.asarray(block, np.int16).reshape(-1).astype(np.float64)
    if not len(samples):
        return Level(FLOOR_DBFS, FLOOR_DBFS, 0)
    rms = float(np.sqrt(np.mean(samples ** 2)))
    peak = float(np.max(np.abs(samples)))
    return Level(dbfs(rms), dbfs(peak), int(np.count_nonzero(np.abs(samples) >= clip_level)))


def dbfs(amplitude: float) -> float:
    """An amplitude in int16 units as dB relative to full scale (digital silence: -120)."""
    return max(FLOOR_DBFS, 20.0 * float(np.log10(max(amplitude, 1e-12) / FULL_SCALE)))


class MicCheck:
    """Feed the input's blocks in order; `news()` gives warnings as soon as they are known (at
    most once each), `verdicts()` the findings over everything fed. Running sums and the sound
    frames' levels are all that is kept (no audio), so a long check costs the same per block."""

    def __init__(self, thresholds: MicThresholds = MicThresholds()) -> None:
        self.thresholds = thresholds
        self._first = max(1, round(thresholds.noise_seconds * SAMPLE_RATE / FRAME))
        self._early: list[np.ndarray] = []  # frame levels until the floor is measured
        self._early_clipped: list[np.ndarray] = []
        self._floor: float | None = None
        self._sound: list[np.ndarray] = []  # levels of the frames above the floor
        self._sound_frames = 0
        self._sound_clipped = 0  # clipped samples in those frames
        self._loudest = FLOOR_DBFS
        self._zero = True  # every sample so far exactly 0: no signal at all
        self._rest = np.zeros(0, np.int16)
        self._frames = 0
        self._told: set[Kind] = set()

    @property
    def seconds(self) -> float:
        return self._frames * FRAME / SAMPLE_RATE

    @property
    def noise_floor(self) -> float | None:
        """The median frame level of the first `noise_seconds`; None until they are fed."""
        return self._floor

    def feed(self, block: np.ndarray) -> Level:
        """Take the next int16 16 kHz samples; their level, for the meter."""
        samples = np.asarray(block, np.int16).reshape(-1)
        if np.any(samples):
            self._zero = False
        joined = np.concatenate([self._rest, samples]) if len(self._rest) else samples
        whole = len(joined) // FRAME * FRAME
        self._rest = joined[whole:]
        if whole:
            frames = joined[:whole].reshape(-1, FRAME).astype(np.float64)
            rms = np.sqrt(np.mean(frames ** 2, axis=1)) / FULL_SCALE
            levels = 20.0 * np.log10(np.maximum(rms, 1e-6))
            clipped = np.count_nonzero(np.abs(frames) >= self.thresholds.clip_level, axis=1)
            self._frames += len(frames)
            self._loudest = max(self._loudest, float(levels.max()))
            if self._floor is None:
                self._early.append(levels)
                self._early_clipped.append(clipped)
                early = np.concatenate(self._early)
                if len(early) >= self._first:
                    self._floor = float(np.median(early[: self._first]))
                    self._count(early, np.concatenate(self._early_clipped))
                    self._early, self._early_clipped = [], []
            else:
                self._count(levels, clipped)
        return level(samples, self.thresholds.clip_level)

    def news(self) -> list[Verdict]:
        """Warnings known now that were not given before: a noisy floor once it is measured,
        clipping as it happens, silence after `silent_after` seconds of it."""
        found: list[Verdict] = []
        t = self.thresholds
        if self._floor is not None and self._floor > t.noisy_dbfs:
            found.append(self._noisy_floor())
        if self._clipped_share() is not None:
            found.append(Verdict("clipping", "clipping: the input is too loud; move back a "
                                 "little or lower the input level"))
        if self.seconds >= t.silent_after and self._loudest < t.silent_dbfs:
            found.append(self._silent())
        new = [v for v in found if v.kind not in self._told]
        self._told |= {v.kind for v in new}
        return new

    def verdicts(self) -> list[Verdict]:
        """Everything found, worst first; one `ok` verdict when nothing is wrong."""
        t = self.thresholds
        if not self._frames:
            return [Verdict("silent", "no input at all: nothing was recorded")]
        if self._loudest < t.silent_dbfs:
            return [self._silent()]
        if self._floor is None:  # shorter than the quiet start: the floor of what there is
            return [Verdict("quiet", f"too short to judge ({self.seconds:.1f} s): the first "
                            f"{t.noise_seconds:g} s measure the background")]
        floor = self._floor
        speech = self.speech_level()
        found: list[Verdict] = []
        clipped = self._clipped_share()
        if clipped is not None:
            found.append(Verdict("clipping", f"clipping: {clipped:.1%} of the speech's samples "
                                 "at full scale; move back a little or lower the input level"))
        if floor > t.noisy_dbfs:
            found.append(self._noisy_floor())
        elif speech is not None and speech - floor < t.min_snr_db:
            found.append(Verdict("noisy", f"noisy: speech only {speech - floor:.0f} dB above the "
                                 "background; somewhere quieter, or closer to the microphone"))
        if speech is None:
            if floor <= t.noisy_dbfs:
                found.append(Verdict("quiet", "nothing louder than the background was heard: "
                                     "say the command closer to the microphone, or raise its "
                                     "input level"))
        elif speech < t.quiet_dbfs:
            found.append(Verdict("quiet", f"quiet: speech at {speech:.0f} dBFS, it should reach "
                                 f"{t.quiet_dbfs:.0f}; speak up, come closer, or raise the input "
                                 "level"))
        if found:
            return found
        said = "" if speech is None else (f", speech {speech:.0f} dBFS ({speech - floor:.0f} dB "
                                          "above it)")
        return [Verdict("ok", f"levels good: noise floor {floor:.0f} dBFS{said}, no clipping")]

    def speech_level(self) -> float | None:
        """The 95th percentile level of the sound frames, None when there are none."""
        if not self._sound_frames:
            return None
        return float(np.percentile(np.concatenate(self._sound), 95))

    # --- helpers ------------------------------------------------------------------------------

    def _count(self, levels: np.ndarray, clipped: np.ndarray) -> None:
        """Keep the frames that are sound: clearly above the floor, and loud enough to be
        speech at all."""
        assert self._floor is not None
        t = self.thresholds
        loud = (levels >= self._floor + t.sound_above_db) & (levels >= t.silent_dbfs)
        if np.any(loud):
            self._sound.append(levels[loud])
            self._sound_frames += int(np.count_nonzero(loud))
            self._sound_clipped += int(clipped[loud].sum())

    def _clipped_share(self) -> float | None:
        """The share of the sound's samples that are clipped, when over the limit."""
        if not self._sound_frames:
            return None
        share = self._sound_clipped / (self._sound_frames * FRAME)
        return share if share > self.thresholds.max_clipped else None

    def _silent(self) -> Verdict:
        if self._zero:
            return Verdict("silent", "silent: no signal at all (digital silence): the microphone "
                           "is muted, unplugged, or this is the wrong device")
        return Verdict("silent", f"silent: nothing reached {self.thresholds.silent_dbfs:.0f} "
                       f"dBFS (loudest {self._loudest:.0f}): raise the input level, or check "
                       "that this is the microphone you speak into")

    def _noisy_floor(self) -> Verdict:
        assert self._floor is not None
        return Verdict("noisy", f"noisy: the background is {self._floor:.0f} dBFS with nobody "
                       f"speaking (it should stay under {self.thresholds.noisy_dbfs:.0f}): a fan, "
                       "music or a hum near the microphone, or its input level is too high")
