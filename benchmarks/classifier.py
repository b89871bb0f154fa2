"""Recognition on synthetic voices the classifier was never trained on (a second opinion: the
figures that count are on human speech, `benchmarks.human`).

    .venv/bin/python -m benchmarks.classifier [--engines classifier,pocketsphinx,combined]
                                              [--quick] [--sensitivity low|normal|high]

Engines: classifier; pocketsphinx (as `--engine pocketsphinx` runs it: every command it hears
checked by the classifier); pocketsphinx-alone (no second pass); combined (the classifier when
sure, else pocketsphinx checked: `--engine combined`).

Held-out voices: the neural ones of `tests/speech.py` (the closest to human speech that installs
here) and the espeak-ng accents / flite speaker that `training.train_commands` leaves out.
Figures are given per family: "joe" (piper joe: a neural speaker training never heard),
"heart" (hibari heart at speeds/shifts training did not use: training heard this speaker at
others), "espeak", "flite". Every figure runs the whole listening pipeline (segmenter
+ recognizer, full vocabulary), with the bars of issue 3:
- commands at 20/10/5 dB SNR (pink room noise) and 10 dB babble: correct / wrong / missed %,
  per voice family;
- other single words at 10 dB: false accepts %, against the full vocabulary and against the
  commands accepted while stepping (no yes/no, no client answers);
- non-command talk (all sentences by all held-out voices, short pauses, 20 dB): false accepts
  per hour; again with long pauses (1.6-3 s), where every sentence's start gets a first look;
- real human talk (pocketsphinx-testdata, 47 s; clean, 20 dB, 10 dB): false accepts;
- latency (end of speech -> `Heard`, 10 ms blocks, including the block's compute), real-time
  factor, load time and resident memory added by the engine; for the classifier also the
  resident memory of a fresh process that loads only the engine and recognizes once.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter

import numpy as np

from benchmarks._scoring import command_latency, gain, print_human_talk, rates, score_command
from tests.speech import (
    ALL_VOICES,
    COMMAND_PHRASES,
    NEURAL_VOICES,
    OTHER_WORDS,
    SENTENCES,
    Voice,
    pad,
    scale,
    synthesize_many,
    with_noise,
)
from training.train_commands import HELD_OUT_ESPEAK_ACCENTS, HELD_OUT_FLITE
from voice_guide.commands import ALL_COMMANDS, GLOBAL_COMMANDS
from voice_guide.listen.engine import Recognizer
from voice_guide.listen.factory import SENSITIVITIES
from voice_guide.listen.pipeline import listen_to

RATE = 16_000


def held_out_voices() -> tuple[Voice, ...]:
    """Voices (and whole accents / speakers) that no classifier training clip used."""
    synthetic = tuple(
        v for v in ALL_VOICES
        if (v.engine == "espeak" and v.name.split("+")[0] in HELD_OUT_ESPEAK_ACCENTS)
        or (v.engine == "flite" and v.name in HELD_OUT_FLITE)
    )
    return NEURAL_VOICES + synthetic


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.classifier")
    parser.add_argument("--engines", default="classifier,pocketsphinx,combined")
    parser.add_argument("--quick", action="store_true", help="every other voice")
    parser.add_argument("--weights", help="classifier weights to try (default: the shipped ones)")
    parser.add_argument("--sensitivity", choices=SENSITIVITIES, default="normal",
                        help="the classifier's accept threshold (classifier and combined)")
    args = parser.parse_args()
    voices = held_out_voices()[:: 2 if args.quick else 1]
    print(f"held-out voices: {len(voices)}: " + ", ".join(v.label for v in voices))
    commands = [(p, c, v) for p, c in COMMAND_PHRASES for v in voices]
    clips = synthesize_many((p, v) for p, _, v in commands)
    words = [(w, v) for w in OTHER_WORDS for v in voices[:: max(1, len(voices) // 4)]]
    word_clips = synthesize_many(words)
    stream = _talk_stream(voices, (0.2, 1.2))
    spaced = _talk_stream(voices, (1.6, 3.0))
    for name in args.engines.split(","):
        print(f"\n== {name}")
        recognizer = _load(name, args.weights, args.sensitivity)
        _commands(recognizer, commands, clips)
        _other_words(recognizer, words, word_clips)
        began = time.process_time()
        heard = listen_to(recognizer, stream)
        talk_cpu = time.process_time() - began
        seconds = len(stream) / RATE
        print(f"false accepts in non-command talk: {len(heard)} in {seconds / 60:.1f} min = "
              f"{len(heard) / (seconds / 3600):.1f} per hour  "
              + ", ".join(f"{h.phrase}@{h.start:.0f}s" for h in heard[:8]))
        heard = listen_to(recognizer, spaced)
        minutes = len(spaced) / RATE / 60
        print(f"false accepts in talk with long pauses (1.6-3 s: every sentence start gets a "
              f"first look): {len(heard)} in {minutes:.1f} min = {len(heard) / (minutes / 60):.1f} "
              "per hour  " + ", ".join(f"{h.phrase}@{h.start:.0f}s" for h in heard[:8]))
        print_human_talk(recognizer)
        latencies = _latencies(recognizer, clips[::4])
        if latencies:
            print(f"latency end of speech -> Heard: median "
                  f"{1000 * statistics.median(latencies):.0f} ms, p95 "
                  f"{1000 * float(np.percentile(latencies, 95)):.0f} ms ({len(latencies)} heard)")
        print(f"real-time factor in continuous talk (pipeline, one core): "
              f"{talk_cpu / seconds:.4f}")
        if name == "classifier":
            print(f"resident memory of a fresh process with only the classifier engine, after a "
                  f"first recognition: {_fresh_classifier_rss_mb():.0f} MB")


def _load(name: str, weights: str | None = None, sensitivity: str = "normal") -> Recognizer:
    rss_before = _rss_mb()
    began = time.perf_counter()
    recognizer: Recognizer
    if name == "classifier":
        from voice_guide.listen.classifier_engine import ClassifierRecognizer, ClassifierSettings

        recognizer = ClassifierRecognizer(
            ClassifierSettings(weights=weights, threshold=SENSITIVITIES[sensitivity]))
    elif name in ("pocketsphinx", "pocketsphinx-alone", "combined", "whisper"):
        from voice_guide.listen.factory import make_recognizer

        engine = name if name in ("combined", "whisper") else "pocketsphinx"
        recognizer, _ = make_recognizer(engine, second_pass=name != "pocketsphinx-alone",
                                        sensitivity=sensitivity)
    else:
        raise SystemExit(f"unknown engine {name!r} (classifier, pocketsphinx: with the "
                         "classifier's check, pocketsphinx-alone, combined, whisper)")
    loaded = time.perf_counter() - began
    print(f"load time {loaded:.2f} s, resident memory added {_rss_mb() - rss_before:.0f} MB "
          f"(peak RSS of the process so far {_peak_mb():.0f} MB)")
    return recognizer


def _commands(recognizer: Recognizer, commands: list, clips: list[np.ndarray]) -> None:
    cpu = audio_seconds = 0.0
    for snr, kind in ((20.0, "pink"), (10.0, "pink"), (5.0, "pink"), (10.0, "babble")):
        tally: dict[str, Counter[str]] = {}
        confusions: Counter[str] = Counter()
        for i, ((phrase, command, voice), clip) in enumerate(zip(commands, clips, strict=True)):
            audio = with_noise(pad(scale(clip, gain(i)), 0.6, 0.6), snr, seed=i, kind=kind)
            outcome, heard, spent = score_command(recognizer, audio, command)
            cpu += spent
            audio_seconds += len(audio) / RATE
            if outcome == "wrong":
                confusions[f"{phrase!r}->{','.join(heard)}"] += 1
            for key in ("all", _family(voice)):
                tally.setdefault(key, Counter())[outcome] += 1
        line = ", ".join(f"{k}: {rates(t)}" for k, t in tally.items())
        print(f"commands at {snr:g} dB {kind} ({tally['all'].total()} clips) "
              f"correct/wrong/missed: {line}")
        if confusions:
            print("   wrong: " + ", ".join(f"{k} x{n}" for k, n in confusions.most_common(10)))
    print(f"real-time factor on command clips: {cpu / audio_seconds:.4f}")


def _other_words(recognizer: Recognizer, words: list, clips: list[np.ndarray]) -> None:
    """Single other words at 10 dB, against the full vocabulary (the bar) and against what the
    session accepts while stepping through the protocol, most of a session: no yes/no (only
    while an end is being confirmed), no client answers (only just after a check-in)."""
    for commands, what in ((ALL_COMMANDS, ""), (GLOBAL_COMMANDS, " while stepping")):
        accepted: Counter[str] = Counter()
        for i, ((word, _), clip) in enumerate(zip(words, clips, strict=True)):
            audio = with_noise(pad(scale(clip, gain(i)), 0.6, 0.6), 10.0, seed=10_000 + i)
            for h in listen_to(recognizer, audio, commands):
                accepted[f"{word}->{h.command}"] += 1
        count = sum(accepted.values())
        print(f"false accepts on other single words at 10 dB{what}: {count} of {len(words)} "
              f"({100 * count / len(words):.1f}%)  "
              + ", ".join(k for k, _ in accepted.most_common(10)))


def _talk_stream(voices: tuple[Voice, ...], pauses: tuple[float, float]) -> np.ndarray:
    """All sentences by all voices, pauses of `pauses` seconds between them, 20 dB pink
    noise."""
    items = [(s, v) for v in voices for s in SENTENCES]
    rng = np.random.default_rng(5)
    parts = []
    for i, clip in enumerate(synthesize_many(items)):
        parts.append(scale(clip, gain(i)))
        parts.append(np.zeros(int(rng.uniform(*pauses) * RATE), np.int16))
    return with_noise(np.concatenate(parts), 20.0, seed=3)


def _latencies(recognizer: Recognizer, clips: list[np.ndarray]) -> list[float]:
    """End of speech to the command, per clip heard (10 ms blocks, 20 dB)."""
    found = (command_latency(recognizer, clip, 20_000 + i) for i, clip in enumerate(clips))
    return [latency for latency in found if latency is not None]


def _family(voice: Voice) -> str:
    return {"piper": "joe", "hibari": "heart"}.get(voice.engine, voice.family)


_ONLY_THE_CLASSIFIER = """
import numpy as np
from voice_guide.commands import ALL_COMMANDS
from voice_guide.listen.classifier_engine import ClassifierRecognizer
from voice_guide.listen.engine import Segment
t = np.arange(12000) / 16000
vowel = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 20)) * np.hanning(len(t))
audio = (vowel * 8000).astype(np.int16)
ClassifierRecognizer().recognize(Segment(audio, 0.0, 0.75), ALL_COMMANDS)
print(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmRSS:")))
"""


def _fresh_classifier_rss_mb() -> float:
    """VmRSS (MB) of a new interpreter that imports only the classifier engine (no TTS, no
    benchmark) and has recognized one utterance."""
    result = subprocess.run([sys.executable, "-c", _ONLY_THE_CLASSIFIER], capture_output=True,
                            text=True, check=True, timeout=120)
    return int(result.stdout.split()[-1]) / 1024


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
