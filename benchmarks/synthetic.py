"""Recognition on synthetic voices, per voice family: a second opinion beside the human
figures of `benchmarks.human` (synthetic figures predicted human ones badly before).

    .venv/bin/python -m benchmarks.synthetic [--engine E] [--model DIR] [--quick]

Voice families (tests/speech.py): espeak-ng, flite, and neural (piper `joe`, hibari `heart` with
US and British pronunciation, plus resampled variants). The neural voices are the closest thing
to human speech available offline; espeak-ng is far from it. Every figure runs the whole
listening pipeline (segmenter + recognizer, full vocabulary):
- commands: every phrase by every voice, padded with silence; noise at 20/10/5 dB SNR (on the
  active speech) cycling pink / babble / fan-hum, and every other clip of three through a
  synthetic room impulse response (reverb): correct / wrong / missed %;
- other single words (not commands) at 10 dB: false accepts %;
- non-command speech: sentences in one long stream per family with short pauses, 20 dB noise:
  false accepts per hour;
- latency: stream time from the end of a command to the block in which `Heard` came out, plus
  the CPU time that block took (10 ms blocks), median and p95;
- real-time factor (CPU seconds per second of audio, one process) and idle CPU on room noise.
- real human talk that holds no command (pocketsphinx-testdata, 47 s): false accepts.
`--quick` (a dev loop of a few minutes): 2 espeak-ng, 2 flite and 4 neural voices, 10 dB only,
fewer words and sentences. A summary table closes the output.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter, defaultdict

import numpy as np

from benchmarks._scoring import command_latency, gain, print_human_talk, rates, score_command
from tests.speech import (
    ALL_VOICES,
    COMMAND_PHRASES,
    ESPEAK_VOICES,
    FLITE_VOICES,
    NEURAL_VOICES,
    NOISE_KINDS,
    OTHER_WORDS,
    SENTENCES,
    Voice,
    noise_only,
    pad,
    reverberate,
    scale,
    synthesize_many,
    with_noise,
)
from voice_guide.listen.engine import Recognizer
from voice_guide.listen.factory import ENGINES, make_recognizer
from voice_guide.listen.pipeline import Listener, listen_to

RATE = 16_000
FAMILIES = ("espeak", "flite", "neural")
QUICK_VOICES = ESPEAK_VOICES[:1] + ESPEAK_VOICES[4:5] + FLITE_VOICES[:1] + FLITE_VOICES[2:3] + (
    NEURAL_VOICES[:4]
)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.synthetic")
    parser.add_argument("--engine", default="auto", choices=ENGINES)
    parser.add_argument("--model", metavar="DIR")
    parser.add_argument("--quick", action="store_true", help="8 voices, 10 dB only")
    args, _ = parser.parse_known_args()  # `make bench` passes its extra arguments to every module
    voices = QUICK_VOICES if args.quick else ALL_VOICES + NEURAL_VOICES
    recognizer, reason = make_recognizer(args.engine, args.model)
    print(reason)
    counts = Counter(v.family for v in voices)
    print(f"voices: {len(voices)} ({', '.join(f'{counts[f]} {f}' for f in FAMILIES)})")
    summary: dict[str, dict[str, str]] = defaultdict(dict)

    commands = [(p, c, v) for p, c in COMMAND_PHRASES for v in voices]
    clips = synthesize_many((p, v) for p, _, v in commands)
    cpu = 0.0
    audio_seconds = 0.0
    for snr in (10.0,) if args.quick else (20.0, 10.0, 5.0):
        tally: dict[str, Counter[str]] = defaultdict(Counter)
        confusions: Counter[str] = Counter()
        for i, ((phrase, command, voice), clip) in enumerate(zip(commands, clips, strict=True)):
            audio = _condition(clip, i, snr)
            outcome, heard, spent = score_command(recognizer, audio, command)
            cpu += spent
            audio_seconds += len(audio) / RATE
            if outcome == "wrong":
                confusions[f"{phrase!r}->{','.join(heard)}"] += 1
            kind = NOISE_KINDS[i % len(NOISE_KINDS)] + ("+reverb" if _reverb(i) else "")
            for key in ("all", voice.family, kind):
                tally[key][outcome] += 1
        line = ", ".join(f"{k}: {rates(tally[k])}" for k in ("all", *FAMILIES) if tally[k])
        print(f"commands at {snr:g} dB SNR ({tally['all'].total()} clips), correct/wrong/missed: "
              f"{line}")
        kinds = sorted(k for k in tally if k not in ("all", *FAMILIES))
        print("   by condition: " + ", ".join(f"{k}: {rates(tally[k])}" for k in kinds))
        if confusions:
            print("   wrong: " + ", ".join(f"{k} x{n}" for k, n in confusions.most_common(12)))
        for family in ("all", *FAMILIES):
            if tally[family]:
                total = tally[family].total()
                summary[f"correct @{snr:g} dB (%)"][family] = (
                    f"{100 * tally[family]['correct'] / total:.1f}")
                summary[f"wrong @{snr:g} dB (%)"][family] = (
                    f"{100 * tally[family]['wrong'] / total:.1f}")

    word_list = OTHER_WORDS[::2] if args.quick else OTHER_WORDS
    word_voices = voices if args.quick else voices[:: max(1, len(voices) // 8)]
    words = [(w, v) for i, w in enumerate(word_list) for v in word_voices[i % 2 :: 2]]
    word_clips = synthesize_many(words)
    accepted: Counter[str] = Counter()
    per_family: dict[str, Counter[str]] = defaultdict(Counter)
    for i, ((word, voice), clip) in enumerate(zip(words, word_clips, strict=True)):
        audio = _condition(clip, 10_000 + i, 10.0)
        heard = listen_to(recognizer, audio)
        for h in heard:
            accepted[f"{word}->{h.command}"] += 1
        for key in ("all", voice.family):
            per_family[key]["clips"] += 1
            per_family[key]["accepted"] += bool(heard)
    for family in ("all", *FAMILIES):
        if per_family[family]["clips"]:
            summary["other words accepted (%)"][family] = (
                f"{100 * per_family[family]['accepted'] / per_family[family]['clips']:.1f}")
    print(f"false accepts on other single words at 10 dB: {per_family['all']['accepted']} of "
          f"{len(words)} ({summary['other words accepted (%)']['all']}%)  "
          + ", ".join(f"{k} x{n}" for k, n in accepted.most_common(12)))

    talk_seconds = 0.0
    talk_cpu = 0.0
    talk_heard = 0
    sentences = SENTENCES[::2] if args.quick else SENTENCES
    for family in FAMILIES:
        family_voices = tuple(v for v in voices if v.family == family)
        if not family_voices:
            continue
        stream, seconds = _talk_stream(family_voices, sentences)
        began = time.process_time()
        heard = listen_to(recognizer, stream)
        talk_cpu += time.process_time() - began
        talk_seconds += seconds
        talk_heard += len(heard)
        summary["talk false accepts (/h)"][family] = f"{len(heard) / (seconds / 3600):.1f}"
        print(f"false accepts in non-command speech ({family}): {len(heard)} in "
              f"{seconds / 60:.1f} min = {len(heard) / (seconds / 3600):.1f} per hour  "
              + ", ".join(f"{h.phrase}@{h.start:.1f}s" for h in heard[:8]))
    summary["talk false accepts (/h)"]["all"] = f"{talk_heard / (talk_seconds / 3600):.1f}"
    human = print_human_talk(recognizer)
    if human is not None:
        summary["human talk accepts (of 141 s)"]["all"] = str(human)

    latencies = _latencies(recognizer, commands, clips, 4 if args.quick else 3)
    for family in ("all", *FAMILIES):
        found = [t for f, t in latencies if family in ("all", f)]
        if found:
            summary["latency median (ms)"][family] = f"{1000 * statistics.median(found):.0f}"
    if latencies:
        found = [t for _, t in latencies]
        p95 = float(np.percentile(found, 95))
        print(f"latency end of command -> Heard: median {1000 * statistics.median(found):.0f} "
              f"ms, p95 {1000 * p95:.0f} ms ({len(found)} commands heard)")
    rtf = cpu / audio_seconds
    summary["real-time factor"]["all"] = f"{rtf:.3f}"
    print(f"real-time factor (commands, pipeline, one core): {rtf:.4f}; "
          f"in continuous talk: {talk_cpu / talk_seconds:.4f}")
    quiet = noise_only(120.0, -55.0, seed=99)
    listener = Listener(recognizer)
    began = time.process_time()
    for offset in range(0, len(quiet), 1600):
        listener.feed(quiet[offset : offset + 1600])
    idle = time.process_time() - began
    summary["idle CPU (% of a core)"]["all"] = f"{100 * idle / 120.0:.2f}"
    print(f"idle CPU on room noise (no speech): {100 * idle / 120.0:.3f}% of one core "
          f"({listener.segments} segments decoded)")
    _print_summary(summary)


BARS = {
    "correct @10 dB (%)": ">= 97",
    "wrong @10 dB (%)": "<= 1",
    "other words accepted (%)": "<= 2",
    "talk false accepts (/h)": "<= 1",
    "latency median (ms)": "<= 300",
    "real-time factor": "<= 0.1",
    "idle CPU (% of a core)": "near 0",
}


def _print_summary(summary: dict[str, dict[str, str]]) -> None:
    columns = ("all", *FAMILIES, "bar")
    print("\nsummary" + " " * 22 + "".join(f"{c:>9}" for c in columns))
    for row, values in summary.items():
        cells = [values.get(c, "-") for c in columns[:-1]] + [BARS.get(row, "")]
        print(f"{row:<29}" + "".join(f"{c:>9}" for c in cells))


def _condition(clip: np.ndarray, i: int, snr: float) -> np.ndarray:
    """The clip as recorded: level, room (reverb every other clip of three), noise kind."""
    audio = scale(clip, gain(i))
    if _reverb(i):
        audio = reverberate(audio, rt60=0.25 + 0.05 * (i % 7), seed=i)
    return with_noise(pad(audio, 0.6, 0.6), snr, seed=i, kind=NOISE_KINDS[i % len(NOISE_KINDS)])


def _reverb(i: int) -> bool:
    return (i // len(NOISE_KINDS)) % 3 == 1


def _talk_stream(
    voices: tuple[Voice, ...], sentences: tuple[str, ...]
) -> tuple[np.ndarray, float]:
    """All sentences by all voices, pauses of 0.2-1.2 s between them, 20 dB pink noise."""
    items = [(s, v) for v in voices for s in sentences]
    clips = synthesize_many(items)
    rng = np.random.default_rng(5)
    parts = []
    for i, clip in enumerate(clips):
        parts.append(scale(clip, gain(i)))
        parts.append(np.zeros(int(rng.uniform(0.2, 1.2) * RATE), np.int16))
    stream = with_noise(np.concatenate(parts), 20.0, seed=3)
    return stream, len(stream) / RATE


def _latencies(
    recognizer: Recognizer, commands: list, clips: list[np.ndarray], every: int
) -> list[tuple[str, float]]:
    """Per command heard: (family, end of speech to the command), 10 ms blocks, 20 dB."""
    found: list[tuple[str, float]] = []
    for i in range(0, len(clips), every):
        latency = command_latency(recognizer, clips[i], 20_000 + i)
        if latency is not None:
            found.append((commands[i][2].family, latency))
    return found


if __name__ == "__main__":
    main()
