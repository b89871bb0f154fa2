"""Scoring shared by the recognition benchmarks (not a benchmark: run_all skips `_` names)."""

from __future__ import annotations

import time
from collections import Counter

import numpy as np

from tests.speech import HUMAN_TALK_DIR, human_talk, pad, with_noise
from voice_guide.listen.engine import SAMPLE_RATE, Recognizer
from voice_guide.listen.pipeline import Listener, listen_to


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


def command_latency(recognizer: Recognizer, clip: np.ndarray, seed: int) -> float | None:
    """Seconds from the true end of a command's speech (20 dB noise) to the end of the 10 ms
    block that returned it, plus that block's compute time; None when nothing was heard."""
    audio = with_noise(pad(clip, 0.6, 1.0), 20.0, seed=seed)
    speech_end = 0.6 + (len(clip) - int(0.03 * SAMPLE_RATE)) / SAMPLE_RATE  # clips keep 30 ms
    listener = Listener(recognizer)  # of quiet at each end
    for offset in range(0, len(audio), 160):
        began = time.perf_counter()
        heard = listener.feed(audio[offset : offset + 160])
        if heard:
            return (offset + 160) / SAMPLE_RATE + time.perf_counter() - began - speech_end
    return None


def human_talk_accepts(recognizer: Recognizer, snr: float | None) -> list[str] | None:
    """Commands heard in the 47 s of real human talk of pocketsphinx-testdata (clean, or with pink
    noise at `snr` dB), as "file: phrase"; None when the recordings are not installed."""
    if not HUMAN_TALK_DIR.is_dir():
        return None
    heard = []
    for name, audio in human_talk().items():
        padded = pad(audio, 0.5, 0.5)
        audio = padded if snr is None else with_noise(padded, snr, seed=1)
        heard += [f"{name}: {h.phrase}" for h in listen_to(recognizer, audio)]
    return heard


def print_human_talk(recognizer: Recognizer) -> int | None:
    """Print the human-talk false accepts (clean, 20 dB, 10 dB); their total, None: no data."""
    total = 0
    for snr in (None, 20.0, 10.0):
        heard = human_talk_accepts(recognizer, snr)
        if heard is None:
            print("human talk: pocketsphinx-testdata not installed (scripts/setup-system.sh)")
            return None
        total += len(heard)
        condition = "clean" if snr is None else f"{snr:g} dB"
        print(f"false accepts in 47 s of real human talk ({condition}): {len(heard)}  "
              + ", ".join(heard))
    return total


def rates(tally: Counter[str]) -> str:
    total = tally.total() or 1
    return "/".join(f"{100 * tally[k] / total:.1f}" for k in ("correct", "wrong", "missed")) + " %"


def gain(i: int) -> float:
    """Recording levels vary: -18..+0 dB."""
    return -18.0 + (i * 7) % 19
