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
    (inf when nothing was said before, or the input was muted in between)."""

    audio: np.ndarray
    start: float
    end: float
    pause_before: float = math.inf


class Recognizer(Protocol):
    name: str

    def recognize(self, segment: Segment, commands: frozenset[Command]) -> Heard | None:
        """The command this whole utterance is, among `commands`; None for anything else."""
        ...
