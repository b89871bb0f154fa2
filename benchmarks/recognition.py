"""Recognition bars of issue 3, measured on speech generated now (espeak-ng and flite voices).

    .venv/bin/python -m benchmarks.recognition [--engine E] [--model DIR] [--quick]

Every figure runs the whole listening pipeline (segmenter + recognizer, full vocabulary):
- commands: every phrase by every voice, padded with silence, noise added at 20/10/5 dB SNR:
  correct / wrong / missed %, per synthesizer too (espeak-ng speech is recognised worse);
- other single words (not commands) at 10 dB: false accepts %;
- non-command speech: all sentences by all voices in one long stream with short pauses and
  20 dB noise: false accepts per hour;
- latency: stream time from the end of a command to the block in which `Heard` came out, plus
  the CPU time that block took (10 ms blocks), median and p95;
- real-time factor (CPU seconds per second of audio, one process) and idle CPU on silence.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter

import numpy as np

from tests.speech import (
    ALL_VOICES,
    COMMAND_PHRASES,
    OTHER_WORDS,
    QUICK_VOICES,
    SENTENCES,
    Voice,
    noise_only,
    pad,
    scale,
    synthesize_many,
    with_noise,
)
from voice_guide.listen.engine import Recognizer
from voice_guide.listen.factory import make_recognizer
from voice_guide.listen.pipeline import Listener, listen_to

RATE = 16_000


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.recognition")
    parser.add_argument("--engine", default="auto", choices=["auto", "vosk", "pocketsphinx"])
    parser.add_argument("--model", metavar="DIR")
    parser.add_argument("--quick", action="store_true", help="4 voices instead of 16")
    args = parser.parse_args()
    voices = QUICK_VOICES if args.quick else ALL_VOICES
    recognizer, reason = make_recognizer(args.engine, args.model)
    print(reason)
    print(f"voices: {len(voices)} ({sum(v.engine == 'espeak' for v in voices)} espeak-ng, "
          f"{sum(v.engine == 'flite' for v in voices)} flite)")

    commands = [(p, c, v) for p, c in COMMAND_PHRASES for v in voices]
    clips = synthesize_many((p, v) for p, _, v in commands)
    cpu = 0.0
    audio_seconds = 0.0
    for snr in (20.0, 10.0, 5.0):
        tally: dict[str, Counter[str]] = {"all": Counter(), "espeak": Counter(), "flite": Counter()}
        confusions: Counter[str] = Counter()
        for i, ((phrase, command, voice), clip) in enumerate(zip(commands, clips, strict=True)):
            audio = with_noise(pad(scale(clip, _gain(i)), 0.6, 0.6), snr, seed=i)
            began = time.process_time()
            heard = [str(h.command) for h in listen_to(recognizer, audio)]
            cpu += time.process_time() - began
            audio_seconds += len(audio) / RATE
            outcome = "correct" if heard == [command] else "missed" if not heard else "wrong"
            if outcome == "wrong":
                confusions[f"{phrase!r}->{','.join(heard)}"] += 1
            for key in ("all", voice.engine):
                tally[key][outcome] += 1
        line = ", ".join(f"{k}: {_rates(t)}" for k, t in tally.items())
        print(f"commands at {snr:g} dB SNR ({tally['all'].total()} clips): {line}")
        if confusions:
            print("   wrong: " + ", ".join(f"{k} x{n}" for k, n in confusions.most_common(12)))

    words = [(w, v) for w in OTHER_WORDS for v in voices[:: max(1, len(voices) // 4)]]
    word_clips = synthesize_many(words)
    accepted: Counter[str] = Counter()
    for i, ((word, _), clip) in enumerate(zip(words, word_clips, strict=True)):
        audio = with_noise(pad(scale(clip, _gain(i)), 0.6, 0.6), 10.0, seed=10_000 + i)
        for h in listen_to(recognizer, audio):
            accepted[f"{word}->{h.command}"] += 1
    rate = 100.0 * sum(accepted.values()) / len(words)
    print(f"false accepts on other single words at 10 dB: {sum(accepted.values())} of "
          f"{len(words)} ({rate:.1f}%)  {', '.join(k for k, _ in accepted.most_common(10))}")

    stream, seconds = _talk_stream(voices)
    began = time.process_time()
    heard = listen_to(recognizer, stream)
    talk_cpu = time.process_time() - began
    hours = seconds / 3600
    print(f"false accepts in non-command speech: {len(heard)} in {seconds / 60:.1f} min "
          f"= {len(heard) / hours:.1f} per hour  "
          + ", ".join(f"{h.phrase}@{h.start:.1f}s" for h in heard[:8]))

    latencies = _latencies(recognizer, commands, clips)
    if latencies:
        p95 = float(np.percentile(latencies, 95))
        print(f"latency end of command -> Heard: median {1000 * statistics.median(latencies):.0f} "
              f"ms, p95 {1000 * p95:.0f} ms ({len(latencies)} commands heard)")
    print(f"real-time factor (commands, pipeline, one core): {cpu / audio_seconds:.4f}; "
          f"in continuous talk: {talk_cpu / seconds:.4f}")
    quiet = noise_only(120.0, -55.0, seed=99)
    listener = Listener(recognizer)
    began = time.process_time()
    for offset in range(0, len(quiet), 1600):
        listener.feed(quiet[offset : offset + 1600])
    idle = time.process_time() - began
    print(f"idle CPU on room noise (no speech): {100 * idle / 120.0:.3f}% of one core "
          f"({listener.segments} segments decoded)")


def _rates(tally: Counter[str]) -> str:
    total = tally.total() or 1
    return "/".join(f"{100 * tally[k] / total:.1f}" for k in ("correct", "wrong", "missed")) + " %"


def _gain(i: int) -> float:
    """Recording levels vary: -18..+0 dB."""
    return -18.0 + (i * 7) % 19


def _talk_stream(voices: tuple[Voice, ...]) -> tuple[np.ndarray, float]:
    """All sentences by all voices, pauses of 0.2-1.2 s between them, 20 dB noise."""
    items = [(s, v) for v in voices for s in SENTENCES]
    clips = synthesize_many(items)
    rng = np.random.default_rng(5)
    parts = []
    for i, clip in enumerate(clips):
        parts.append(scale(clip, _gain(i)))
        parts.append(np.zeros(int(rng.uniform(0.2, 1.2) * RATE), np.int16))
    stream = with_noise(np.concatenate(parts), 20.0, seed=3)
    return stream, len(stream) / RATE


def _latencies(
    recognizer: Recognizer, commands: list, clips: list[np.ndarray]
) -> list[float]:
    """Per command heard: (stream time at the end of the block that returned it + that block's
    CPU time) - the true end of the speech, fed in 10 ms blocks, at 20 dB."""
    found: list[float] = []
    for i, clip in enumerate(clips[:: 3 if len(clips) > 200 else 1]):
        audio = with_noise(pad(clip, 0.6, 1.0), 20.0, seed=20_000 + i)
        speech_end = 0.6 + (len(clip) - int(0.03 * RATE)) / RATE  # clips keep 30 ms of quiet
        listener = Listener(recognizer)
        for offset in range(0, len(audio), 160):
            began = time.perf_counter()
            heard = listener.feed(audio[offset : offset + 160])
            spent = time.perf_counter() - began
            if heard:
                found.append((offset + 160) / RATE + spent - speech_end)
                break
    return found


if __name__ == "__main__":
    main()
