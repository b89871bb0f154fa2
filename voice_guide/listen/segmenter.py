"""Voice activity detection and endpointing: int16 16 kHz blocks in, utterances (`Segment`s) out.

Two signals per 10 ms frame: energy against a learned picture of the background, and Silero
VAD's probability of speech (`vad.py`, its latest 32 ms window). A frame is speech-like when its
energy rises above the background, or when the detector is sure of speech in a frame above the
background's floor (a word that the bed's own peaks hide), unless the room itself has been
speech for seconds (babble, someone talking on), where the detector cannot tell them apart:
- the background is the level of the frames heard outside utterances over the last few seconds:
  its floor (a low percentile) and its top (a high percentile). Steady noise (fans, traffic) and
  fluctuating noise that never pauses (other people talking, a wobbling fan) both become
  background: speech must rise clearly above the floor and above the background's own peaks;
- an utterance opens after ~50 ms of such frames and closes after `hangover` of frames back
  inside the background. The hangover is short (200 ms) so a command is acted on soon after it
  ends; word gaps inside a command are far shorter. Halfway (`first_look`, 100 ms) the open
  utterance is also offered provisionally: a listener may answer a command that cannot go on
  ("stop", "where am i") 100 ms sooner, and must wait for the final segment otherwise;
- speech running longer than `max_speech` is not a command: it is dropped whole (and everything
  until the next pause with it), so "the next thing I do is..." never reaches a recognizer.
  With `offer_long` (an engine that transcribes, and so rejects a sentence by its words) its
  first `max_speech` is offered once as a `cut_off` segment instead: over music or animal
  sounds a word's end is often lost in the bed, and the utterance only looks long. With
  `max_utterance` (an engine that writes free speech) the whole of it, up to that long, is
  also offered when it ends: a note, or a client's answer in a sentence. Sound
  that goes on without any pause for `learn_after` seconds is a new background, not a speaker:
  its levels are learned, so continuous babble, or music switched on, does not deafen the
  segmenter for long; when that sound stops, the quieter background before it is back at once;
- every segment says how long the stream was quiet before its speech began (`pause_before`), so
  the listener can require commands to be whole utterances (said after a pause).
Silence costs one vectorized energy computation per block, the detector (about 70 µs per 32 ms),
a short loop over the frames and a percentile over a few hundred numbers every 100 ms.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, replace

import numpy as np

from voice_guide.listen.engine import SAMPLE_RATE, Segment
from voice_guide.listen.vad import WINDOW, SpeechProbability

FRAME = 160  # samples: 10 ms at 16 kHz
FRAMES_PER_S = SAMPLE_RATE // FRAME


@dataclass(frozen=True)
class SegmenterSettings:
    start_db: float = 6.0  # a frame this far above the background floor is speech-like...
    above_top_db: float = 3.0  # ...if it is also this far above the background's own peaks
    stop_db: float = 3.0  # below floor + this (or below the peaks), a frame is background again
    min_level_dbfs: float = -60.0  # quieter frames are never speech (dither, digital silence)
    onset: float = 0.05  # seconds of speech-like frames before an utterance opens
    hangover: float = 0.2  # seconds of background that end an utterance
    first_look: float | None = 0.1  # seconds of background before a provisional segment (None:
    # never). Stop closures inside words ("what step") last under ~0.1 s
    min_speech: float = 0.08  # shorter bursts (clicks, knocks) are dropped
    max_speech: float = 2.0  # longer speech is not a command: dropped...
    offer_long: bool = False  # ...or offered once, its first `max_speech`, as a cut-off segment
    max_utterance: float | None = None  # ...and kept whole up to this long, offered when it
    # ends (a note, a client's sentence: an engine that transcribes); None: dropped
    pre_roll: float = 0.25  # audio kept before the detected start (soft onsets)
    post_roll: float = 0.2  # audio kept after the last speech frame (<= hangover)
    background: float = 3.0  # seconds of background levels remembered
    floor_percentile: float = 10.0
    top_percentile: float = 95.0
    learn_after: float = 2.5  # sound without a pause this long is background, not a speaker
    restore_after: float = 0.4  # such sound gone this long (quieter than it ever was, back to
    # the background before it): the background before it is back at once
    warmup: float = 0.5  # the first stretch of the stream, looked at whole for its background
    # (and for speech in it: `_end_warmup`)
    warmup_speech_db: float = 12.0  # in the warm-up, frames this far above its quietest are speech
    # Silero VAD's speech probability (`vad.py`) beside the energy (False: energy alone). A
    # frame it is this sure of opens an utterance (and keeps one open) even where the energy
    # does not rise above the bed. It is a second signal, not a gate: measured on the room
    # streams (benchmarks.room), it gives some reverberant human words under 0.02 all through,
    # so energy that it does not confirm must still count
    vad: bool = True
    vad_open: float = 0.5
    vad_keep: float = 0.3
    # ...unless the room has been speech itself (the detector's mean over `background` seconds
    # above this: others talking on, babble): then energy above that background decides alone
    vad_busy: float = 0.5


class Segmenter:
    """Cuts a stream into utterances. Feed any block size; times are seconds of stream time."""

    def __init__(self, settings: SegmenterSettings = SegmenterSettings(), start: float = 0.0):
        self.settings = settings
        s = settings
        self._samples_seen = round(start * SAMPLE_RATE)
        self._remainder = np.zeros(0, np.int16)
        self._onset_frames = max(1, round(s.onset * FRAMES_PER_S))
        self._hangover_frames = max(1, round(s.hangover * FRAMES_PER_S))
        first_look = round(s.first_look * FRAMES_PER_S) if s.first_look is not None else 0
        # only a look before the end is worth offering
        self._first_look_frames = first_look if 0 < first_look < self._hangover_frames else None
        self._post_frames = min(round(s.post_roll * FRAMES_PER_S), self._hangover_frames)
        self._max_frames = round(s.max_speech * FRAMES_PER_S)
        self._longest_frames = round((s.max_utterance or 0.0) * FRAMES_PER_S)
        self._min_frames = round(s.min_speech * FRAMES_PER_S)
        self._learn_frames = round(s.learn_after * FRAMES_PER_S)
        self._restore_frames = max(1, round(s.restore_after * FRAMES_PER_S))
        self._warmup_frames = max(self._onset_frames, round(s.warmup * FRAMES_PER_S))
        self._warmup: list[tuple[np.ndarray, float]] = []  # the first frames, until a floor
        history = round(s.pre_roll * FRAMES_PER_S) + self._onset_frames
        self._history: deque[np.ndarray] = deque(maxlen=history)
        self._pending_levels: deque[float] = deque(maxlen=history)
        self._levels = np.zeros(max(10, round(s.background * FRAMES_PER_S)), np.float32)
        self._levels_count = 0  # background levels ever stored (ring index = count % size)
        self._floor: float | None = None
        self._top: float | None = None
        self._last_speech_end = -math.inf  # stream time the last utterance's speech ended
        # the background before a long sound was learned in its place, and how many frames in a
        # row have since been back at it
        self._before: tuple[np.ndarray, int, float | None, float | None] | None = None
        self._back_run = 0
        self._vad = SpeechProbability() if s.vad else None
        self._vad_fed = 0  # samples fed to the detector since its last reset
        self._speech_p = 0.0  # the detector's latest window: the probability of the frame now
        self._busy = 0.0  # the detector's running mean over about `background` seconds (the
        # plain mean of the frames so far, until there are that many)
        self._busy_frames = max(1, round(s.background * FRAMES_PER_S))
        self._frames_heard = 0
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

    @property
    def last_speech_end(self) -> float:
        """Stream time the latest utterance's speech ended (-inf: none yet, or input muted)."""
        return self._last_speech_end

    @property
    def speech_began(self) -> float | None:
        """Stream time the speech now going on began (None while the stream is quiet)."""
        if self._state == "silence":
            return None
        return self._onset_sample / SAMPLE_RATE

    @property
    def slack(self) -> int:
        """Samples that can be fed before any utterance could be returned: none while one is
        open or in the warm-up. In silence, one needs the rest of the onset, the speech an
        utterance must have, and a first look's (or a hangover's) quiet after it: a caller may
        hold that much input back and feed it at once without anything being heard later."""
        if self._state != "silence" or self._floor is None:
            return 0
        quiet = self._first_look_frames or self._hangover_frames
        frames = (self._onset_frames - self._onset_count
                  + max(0, self._min_frames - self._onset_frames) + quiet)
        # the earliest segment comes at the end of frame `frames`: feed less than that
        return max(0, (frames - 1) * FRAME - len(self._remainder))

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
        speech_p = self._speech_probabilities(samples[:usable], len(frames))
        segments: list[Segment] = []
        for frame, level, p in zip(frames, levels.tolist(), speech_p, strict=True):
            self._speech_p = p
            self._frames_heard += 1
            self._busy += (p - self._busy) / min(self._frames_heard, self._busy_frames)
            segment = self._step(frame, level)
            self._samples_seen += FRAME
            if segment is not None:
                segments.append(segment)
        return segments

    def flush(self) -> list[Segment]:
        """End of stream: the open utterance, if it is long enough to count."""
        if self._floor is None and self._warmup:  # a stream shorter than the warm-up
            ended = self._end_warmup(self._samples_seen)
            if ended is not None:
                self._reset_state()
                return [ended]
        segment = self._close() if self._state == "speech" else None
        self._reset_state()
        return [segment] if segment is not None else []

    def skip(self, samples: int) -> None:
        """Advance stream time without listening (muted input): any open utterance is dropped.

        What was said before the mute does not count against what follows it."""
        self._samples_seen += len(self._remainder) + samples
        self._remainder = np.zeros(0, np.int16)
        self._history.clear()
        self._warmup = []
        self._last_speech_end = -math.inf
        if self._vad is not None:  # what follows the mute is a new stream to the detector
            self._vad.reset()
            self._vad_fed, self._speech_p = 0, 0.0
        self._reset_state()

    def _reset_state(self) -> None:
        self._state = "silence"  # "silence" | "speech" | "skipping"
        self._onset_count = 0
        self._frames: list[np.ndarray] = []
        self._first_sample = 0  # stream sample index of self._frames[0]
        self._onset_sample = 0  # stream sample index where the speech-like frames began
        self._speech_frames = 0  # from the onset to the last speech-like frame
        self._silent_run = 0
        self._pause_peak = -math.inf  # loudest frame of the current pause (long sound only)
        self._unbroken = 0  # frames in a row above the floor since the sound began
        self._snapshot: tuple[np.ndarray, int, float | None, float | None] | None = None
        self._long_pause: float | None = None  # set while long speech is kept whole: its
        # pause_before, taken when it went past `max_speech`

    def _step(self, frame: np.ndarray, level: float) -> Segment | None:
        s = self.settings
        if self._state == "silence":
            # a frame is background once it has left the pre-roll without opening an utterance:
            # the onset of quiet speech must not teach the background its own level
            if self._floor is None:
                self._warmup.append((frame, level))  # nothing known yet: looked at below
                if len(self._warmup) == self._warmup_frames:
                    return self._end_warmup(self._samples_seen + FRAME)
                return None
            else:
                if self._before is not None and self._back_to_before(level):
                    return None
                if len(self._pending_levels) == self._pending_levels.maxlen:
                    self._learn(self._pending_levels[0])
                self._pending_levels.append(level)
        elif self._snapshot is not None:
            self._learn(level)  # sound without pauses: learning it as the new background
        else:
            # a speaker's words have gaps that fall back to the floor; steady babble has none.
            # Sound with gaps that never pauses for a whole hangover (hands rubbing, a squeaky
            # table) is background too, after twice as long: a speaker pauses long before that
            assert self._floor is not None
            unbroken = level > self._floor + s.stop_db
            self._unbroken = self._unbroken + 1 if unbroken else 0
            endless = self._speech_frames >= 2 * self._learn_frames
            if (self._unbroken >= self._learn_frames or endless) and self._state == "skipping":
                self._snapshot = (self._levels.copy(), self._levels_count, self._floor,
                                  self._top)
                self._levels_count = 0  # the new background replaces the old one at once
        floor, top = self._floor, self._top
        assert floor is not None and top is not None
        if self._state == "silence":
            self._history.append(frame)
            loud = self._speech_like(
                level > max(floor + s.start_db, top + s.above_top_db, s.min_level_dbfs),
                level, s.vad_open)
            if loud:
                self._onset_count += 1
                if self._onset_count >= self._onset_frames:
                    self._open()
            elif self._onset_count > 0:
                self._onset_count -= 1  # tolerate a dip, but two quiet frames undo one loud one
                if level <= max(floor + s.stop_db, top):
                    self._onset_count = max(0, self._onset_count - 1)
            return None
        voiced = self._speech_like(level > max(floor + s.stop_db, top, s.min_level_dbfs), level,
                                   s.vad_keep)
        if self._state == "skipping":
            self._speech_frames += 1
            if self._long_pause is not None:  # kept whole, unless a bed or over the longest
                self._frames.append(frame)
                if self._snapshot is not None or len(self._frames) > self._longest_frames:
                    self._frames, self._long_pause = [], None
            if voiced:
                self._silent_run = 0
                self._pause_peak = -math.inf
                self._last_speech_end = (self._samples_seen + FRAME) / SAMPLE_RATE
            else:
                self._silent_run += 1
                self._pause_peak = max(self._pause_peak, level)
            if self._silent_run >= self._hangover_frames:
                return self._end_long_sound()
            return None
        self._frames.append(frame)
        if voiced:
            self._speech_frames += self._silent_run + 1
            self._silent_run = 0
            if self._speech_frames > self._max_frames:
                cut = self._segment(provisional=False, cut_off=True) if s.offer_long else None
                if self._longest_frames:
                    self._long_pause = cut.pause_before if cut else self._pause_before()
                else:
                    self._frames = []
                self._state = "skipping"
                self._last_speech_end = (self._samples_seen + FRAME) / SAMPLE_RATE
                return cut
            return None
        self._silent_run += 1
        if self._silent_run >= self._hangover_frames:
            segment = self._close()
            self._reset_state()
            return segment
        # no first look over a loud sound learned as background: it may be someone talking on,
        # and a sentence's first word must wait for the words after it
        if (self._silent_run == self._first_look_frames and self._speech_frames >= self._min_frames
                and self._before is None):
            return self._segment(provisional=True)
        return None

    def _speech_like(self, energetic: bool, level: float, sure: float) -> bool:
        """Energy above the background, or the detector at least `sure` of speech in a frame
        above the background's floor (while the room is not all speech)."""
        s = self.settings
        if energetic or self._vad is None:
            return energetic
        assert self._floor is not None
        return (self._speech_p >= sure and self._busy < s.vad_busy
                and level > max(self._floor + s.stop_db, s.min_level_dbfs))

    def _speech_probabilities(self, samples: np.ndarray, frames: int) -> list[float]:
        """The detector's probability for each of `frames` 10 ms frames of `samples`: that of
        the latest 32 ms window complete at the frame's end (at most one window late)."""
        if self._vad is None:
            return [0.0] * frames
        windows = self._vad.feed(samples)
        fed = self._vad_fed
        self._vad_fed += len(samples)
        done = (fed + FRAME * np.arange(1, frames + 1)) // WINDOW - fed // WINDOW
        latest = np.concatenate([[self._speech_p], windows.astype(np.float64)])
        return latest[done].tolist()

    def _end_warmup(self, end_sample: int) -> Segment | None:
        """The first `warmup` of the stream, looked at as a whole. A recording, or a session, may
        begin with a command: frames well above the warm-up's quietest tenth (`warmup_speech_db`)
        for `onset` are speech, which opens an utterance that starts at the stream's first
        sample, and only the frames near the quietest are learned as the background (it must not
        be learned from the speech itself). Without such frames, all of them are background
        (babble and fluctuating noise have peaks of their own)."""
        s = self.settings
        frames = [f for f, _ in self._warmup]
        levels = np.array([level for _, level in self._warmup], np.float32)
        self._warmup = []
        quietest = float(np.percentile(levels, s.floor_percentile))
        speech = levels > max(quietest + s.warmup_speech_db, s.min_level_dbfs)
        runs = np.convolve(speech, np.ones(self._onset_frames), "valid") >= self._onset_frames
        background = levels[levels <= quietest + s.start_db] if runs.any() else levels
        for level in background:
            self._learn(float(level))
        if not runs.any():
            self._history.extend(frames)
            return None
        floor, top = self._floor, self._top
        assert floor is not None and top is not None
        first = int(np.argmax(runs))
        voiced = levels > max(floor + s.stop_db, top, s.min_level_dbfs)
        last_voiced = len(levels) - 1 - int(np.argmax(voiced[::-1]))
        self._frames = frames
        self._first_sample = end_sample - len(frames) * FRAME
        self._onset_sample = self._first_sample + first * FRAME
        self._speech_frames = last_voiced - first + 1
        self._silent_run = len(levels) - 1 - last_voiced
        self._state = "speech"
        if self._silent_run >= self._hangover_frames:
            segment = self._close()
            self._reset_state()
            return segment
        return None

    def _end_long_sound(self) -> Segment | None:
        """Long sound paused. If the pause fell back to the background known before it, it was
        someone talking at length: forget its levels. If not, the room got louder: keep them.
        Speech kept whole (`max_utterance`) is the segment returned."""
        long = None
        if self._long_pause is not None and self._frames:
            long = replace(self._segment(provisional=False), pause_before=self._long_pause)
        if self._snapshot is not None:
            levels, count, floor, top = self._snapshot
            if top is not None and self._pause_peak <= top + self.settings.stop_db:
                self._levels, self._levels_count, self._floor, self._top = (
                    levels, count, floor, top)
            else:  # (or someone talking on through pauses that never fell back: the next
                # utterance still counts its pause from this sound's end)
                self._before, self._back_run = self._snapshot, 0
        self._reset_state()
        return long

    def _back_to_before(self, level: float) -> bool:
        """After a long sound became the background: when it stops (`restore_after` of frames
        quieter than its own floor and back at the background before it), that background is
        back at once. Otherwise its top would hold for `background` seconds, and a command said
        soon after someone talked at length, or after the music stopped, would go unheard."""
        assert self._before is not None and self._floor is not None
        levels, count, floor, top = self._before
        back = top is not None and level < self._floor and level <= top + self.settings.stop_db
        self._back_run = self._back_run + 1 if back else 0
        if self._back_run < self._restore_frames:
            return False
        self._levels, self._levels_count, self._floor, self._top = levels, count, floor, top
        # it may have been someone talking at length after all: what follows is judged by the
        # pause since it stopped (a word after a comma is not a command said after silence)
        self._last_speech_end = (self._samples_seen - (self._back_run - 1) * FRAME) / SAMPLE_RATE
        self._before, self._back_run = None, 0
        self._history.clear()
        self._pending_levels.clear()
        self._onset_count = 0
        return True

    def _open(self) -> None:
        frames = list(self._history)
        self._history.clear()
        self._pending_levels.clear()
        self._frames = frames
        next_sample = self._samples_seen + FRAME
        self._first_sample = next_sample - len(frames) * FRAME
        self._onset_sample = next_sample - self._onset_frames * FRAME
        self._speech_frames = self._onset_count
        self._silent_run = 0
        self._state = "speech"

    def _close(self) -> Segment | None:
        if self._speech_frames < self._min_frames:
            return None  # a click: neither an utterance nor speech that a pause must follow
        segment = self._segment(provisional=False)
        self._last_speech_end = segment.last_speech
        return segment

    def _segment(self, provisional: bool, cut_off: bool = False) -> Segment:
        """The open utterance: its frames up to `post_roll` after the last speech frame."""
        keep = len(self._frames) - self._silent_run + self._post_frames
        audio = np.concatenate(self._frames[:keep])
        start = self._first_sample / SAMPLE_RATE
        pause_before = self._pause_before()
        speech_end = start + (len(self._frames) - self._silent_run) * FRAME / SAMPLE_RATE
        return Segment(audio=audio, start=start, end=start + len(audio) / SAMPLE_RATE,
                       pause_before=pause_before, provisional=provisional, speech_end=speech_end,
                       cut_off=cut_off)

    def _pause_before(self) -> float:
        return self._onset_sample / SAMPLE_RATE - self._last_speech_end

    def _learn(self, level: float) -> None:
        """Store one background level; refresh floor and top every 100 ms (and at first)."""
        size = len(self._levels)
        self._levels[self._levels_count % size] = level
        self._levels_count += 1
        if self._levels_count % 10 == 0 or self._floor is None or self._levels_count < 10:
            known = self._levels[: min(self._levels_count, size)]
            floor, top = np.percentile(
                known, [self.settings.floor_percentile, self.settings.top_percentile]
            )
            self._floor, self._top = float(floor), float(top)


def _levels_dbfs(frames: np.ndarray) -> np.ndarray:
    """RMS level of each frame in dB relative to full scale (floored at -100 dBFS)."""
    x = frames.astype(np.float32)
    x -= x.mean(axis=1, keepdims=True)  # DC offset of cheap microphones is not speech
    power = np.mean(x * x, axis=1) / (32768.0 * 32768.0)
    return 10.0 * np.log10(np.maximum(power, 1e-10))
