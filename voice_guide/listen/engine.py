"""The one interface every recognizer engine implements.

The segmenter cuts the 16 kHz mono stream into utterances (`Segment`); an engine decides whether
one utterance is, as a whole, one of the commands the session accepts right now.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from voice_guide.commands import Command
from voice_guide.events import Heard

SAMPLE_RATE = 16_000


@dataclass(frozen=True, eq=False)
class Segment:
    """One utterance: int16 mono samples at 16 kHz, with its place in stream time (seconds).

    `pause_before`: seconds of quiet between the previous utterance's speech and this one's
    (inf when nothing was said before, or the input was muted in between).
    `speech_end`: where its last speech-like frame ends (`end` minus the quiet kept after it).
    `provisional`: a first look after a short pause (`SegmenterSettings.first_look`), so a
    command can be answered sooner; the utterance may still go on, and its final segment (same
    `start`) follows unless the listener acted on this one.
    `cut_off`: the sound went on past the segmenter's `max_speech`; this is its beginning only
    (offered when the engine asks for it, `SegmenterSettings.offer_long`)."""

    audio: np.ndarray
    start: float
    end: float
    pause_before: float = math.inf
    provisional: bool = False
    speech_end: float | None = None  # None: `end`
    cut_off: bool = False

    @property
    def last_speech(self) -> float:
        return self.end if self.speech_end is None else self.speech_end


class Recognizer(Protocol):
    name: str

    def recognize(self, segment: Segment, commands: frozenset[Command]) -> Heard | None:
        """The command this whole utterance is, among `commands`; None for anything else."""
        ...
