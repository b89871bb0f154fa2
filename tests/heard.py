"""Was a text heard whole on a monitor? Robust to the gaps a busy machine puts in the sound.

A stream that underruns (its callback ran late: other processes had the cores) plays a moment
of silence and then carries on. One correlation of the whole text then falls, though every word
arrived; so the text is looked for in short pieces, each found on its own, in order.
"""

from __future__ import annotations

import numpy as np
from pulse import best_correlation

PIECE_SECONDS = 0.25
QUIET = 0.01  # RMS below this (float samples) is a pause: it matches anything, so not looked for


def pieces_heard(recorded: np.ndarray, played: np.ndarray, rate: int,
                 min_score: float = 0.9) -> float:
    """The share of `played`'s sounding pieces found in `recorded` (float samples, the same
    rate), each with a correlation above `min_score` and after the one found before it."""
    size = int(PIECE_SECONDS * rate)
    found = total = 0
    last_lag = -1
    for start in range(0, len(played) - size + 1, size):
        piece = played[start : start + size]
        if float(np.sqrt(np.mean(piece.astype(np.float64) ** 2))) < QUIET:
            continue
        total += 1
        score, lag = best_correlation(recorded, piece)
        if score > min_score and lag > last_lag:
            found += 1
            last_lag = lag
    return found / total if total else 0.0
