"""Voice activity detection and endpointing: int16 16 kHz blocks in, utterances (`Segment`s) out.

Energy against an adaptive noise floor, per 10 ms frame:
- the floor follows the quiet frames down at once and creeps up slowly, so stationary room noise
  (fans, traffic hum) becomes the floor and a change of noise level is learned in seconds;
- an utterance opens after ~60 ms of frames well above the floor and closes after `hangover`
  of frames back near it. The hangover is short (200 ms) so a command is acted on soon after it
  ends; word gaps inside a command are far shorter;
- speech running longer than `max_speech` is not a command: it is dropped whole (and everything
  until the next pause with it), so "the next thing I do is..." never reaches a recognizer.
Silence costs one vectorized energy computation per block and a short loop over its frames.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from voice_guide.listen.engine import SAMPLE_RATE, Segment

FRAME = 160  # samples: 10 ms at 16 kHz


@dataclass(frozen=True)
class SegmenterSettings:
    start_db: float = 6.0  # a frame this far above the noise floor is speech-like
    stop_db: float = 3.0  # below floor + this, a frame counts as silence again
    min_level_dbfs: float = -60.0  # quieter frames are never speech (dither, digital silence)
    onset: float = 0.05  # seconds of speech-like frames before an utterance opens
    hangover: float = 0.2  # seconds of silence that end an utterance
    min_speech: float = 0.08  # shorter bursts (clicks, knocks) are dropped
    max_speech: float = 2.0  # longer speech is not a command: dropped
    pre_roll: float = 0.25  # audio kept before the detected start (soft onsets)
    post_roll: float = 0.2  # audio kept after the last speech frame (<= hangover)
    floor_rise_db_per_s: float = 2.0  # how fast the floor follows a louder background
    floor_rise_in_speech_db_per_s: float = 0.5


class Segmenter:
    """Cuts a stream into utterances. Feed any block size; times are seconds of stream time."""

    def __init__(self, settings: SegmenterSettings = SegmenterSettings(), start: float = 0.0):
        self.settings = settings
        self._samples_seen = round(start * SAMPLE_RATE)
        self._remainder = np.zeros(0, np.int16)
        self._floor: float | None = None
        s = settings
        self._onset_frames = max(1, round(s.onset * 100))
        self._hangover_frames = max(1, round(s.hangover * 100))
        self._post_frames = min(round(s.post_roll * 100), self._hangover_frames)
        self._max_frames = round(s.max_speech * 100)
        self._min_frames = round(s.min_speech * 100)
        self._rise = s.floor_rise_db_per_s / 100
        self._rise_in_speech = s.floor_rise_in_speech_db_per_s / 100
        history = round(s.pre_roll * 100) + self._onset_frames
        self._history: deque[np.ndarray] = deque(maxlen=history)
        self._reset_state()

    @property
    def time(self) -> float:
        """Stream time (seconds) of the next sample to be fed."""
        return (self._samples_seen + len(self._remainder)) / SAMPLE_RATE

    @property
    def in_speech(self) -> bool:
        """True while an utterance is open (or long speech is being skipped)."""
        return self._state != "silence"

    @property
    def noise_floor_dbfs(self) -> float | None:
        return self._floor

    def feed(self, block: np.ndarray) -> list[Segment]:
        """Take the next samples (int16 mono 16 kHz); return utterances that ended in them."""
        samples = np.asarray(block, dtype=np.int16).reshape(-1)
        if len(self._remainder):
            samples = np.concatenate([self._remainder, samples])
        usable = len(samples) // FRAME * FRAME
        self._remainder = samples[usable:]
        if usable == 0:
            return []
        frames = samples[:usable].reshape(-1, FRAME)
        levels = _levels_dbfs(frames)
        segments: list[Segment] = []
        for frame, level in zip(frames, levels, strict=True):
            segment = self._step(frame, float(level))
            self._samples_seen += FRAME
            if segment is not None:
                segments.append(segment)
        return segments

    def flush(self) -> list[Segment]:
        """End of stream: the open utterance, if it is long enough to count."""
        segment = self._close() if self._state == "speech" else None
        self._reset_state()
        return [segment] if segment is not None else []

    def skip(self, samples: int) -> None:
        """Advance stream time without listening (muted input): any open utterance is dropped."""
        self._samples_seen += len(self._remainder) + samples
        self._remainder = np.zeros(0, np.int16)
        self._history.clear()
        self._reset_state()

    def _reset_state(self) -> None:
        self._state = "silence"  # "silence" | "speech" | "skipping"
        self._onset_count = 0
        self._frames: list[np.ndarray] = []
        self._first_sample = 0  # stream sample index of self._frames[0]
        self._speech_frames = 0  # from the onset to the last speech-like frame
        self._silent_run = 0

    def _step(self, frame: np.ndarray, level: float) -> Segment | None:
        s = self.settings
        floor = self._track_floor(level)
        loud = level > max(floor + s.start_db, s.min_level_dbfs)
        if self._state == "silence":
            self._history.append(frame)
            if loud:
                self._onset_count += 1
                if self._onset_count >= self._onset_frames:
                    self._open()
            elif self._onset_count > 0:
                self._onset_count -= 1  # tolerate a dip, but two quiet frames undo one loud one
                if level <= floor + s.stop_db:
                    self._onset_count = max(0, self._onset_count - 1)
            return None
        voiced = level > max(floor + s.stop_db, s.min_level_dbfs)
        if self._state == "skipping":
            self._silent_run = 0 if voiced else self._silent_run + 1
            if self._silent_run >= self._hangover_frames:
                self._reset_state()
            return None
        self._frames.append(frame)
        if voiced:
            self._speech_frames += self._silent_run + 1
            self._silent_run = 0
            if self._speech_frames > self._max_frames:
                self._frames = []
                self._state = "skipping"
            return None
        self._silent_run += 1
        if self._silent_run >= self._hangover_frames:
            segment = self._close()
            self._reset_state()
            return segment
        return None

    def _open(self) -> None:
        frames = list(self._history)
        self._history.clear()
        self._frames = frames
        self._first_sample = self._samples_seen + FRAME - len(frames) * FRAME
        self._speech_frames = self._onset_count
        self._silent_run = 0
        self._state = "speech"

    def _close(self) -> Segment | None:
        if self._speech_frames < self._min_frames:
            return None
        keep = len(self._frames) - self._silent_run + self._post_frames
        audio = np.concatenate(self._frames[:keep])
        start = self._first_sample / SAMPLE_RATE
        return Segment(audio=audio, start=start, end=start + len(audio) / SAMPLE_RATE)

    def _track_floor(self, level: float) -> float:
        if self._floor is None or level < self._floor:
            self._floor = level  # quiet frames pull the floor down at once
        else:
            rise = self._rise_in_speech if self._state == "speech" else self._rise
            self._floor = min(level, self._floor + rise)
        return self._floor


def _levels_dbfs(frames: np.ndarray) -> np.ndarray:
    """RMS level of each frame in dB relative to full scale (floored at -100 dBFS)."""
    x = frames.astype(np.float32)
    x -= x.mean(axis=1, keepdims=True)  # DC offset of cheap microphones is not speech
    power = np.mean(x * x, axis=1) / (32768.0 * 32768.0)
    return 10.0 * np.log10(np.maximum(power, 1e-10))
