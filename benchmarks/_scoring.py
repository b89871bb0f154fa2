"""Scoring shared by the recognition benchmarks (not a benchmark: run_all skips `_` names)."""

from __future__ import annotations

import time
from collections import Counter

import numpy as np

from voice_guide.listen.engine import Recognizer
from voice_guide.listen.pipeline import listen_to


def score_command(
    recognizer: Recognizer, audio: np.ndarray, command: str
) -> tuple[str, list[str], float]:
    """Decode one command clip through the whole pipeline: (correct | wrong | missed, the commands
    heard, CPU seconds spent)."""
    began = time.process_time()
    heard = [str(h.command) for h in listen_to(recognizer, audio)]
    cpu = time.process_time() - began
    outcome = "correct" if heard == [command] else "missed" if not heard else "wrong"
    return outcome, heard, cpu


def rates(tally: Counter[str]) -> str:
    total = tally.total() or 1
    return "/".join(f"{100 * tally[k] / total:.1f}" for k in ("correct", "wrong", "missed")) + " %"


def gain(i: int) -> float:
    """Recording levels vary: -18..+0 dB."""
    return -18.0 + (i * 7) % 19
