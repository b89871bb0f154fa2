"""Train the command classifier of the classifier engine on synthetic speech only.

    .venv/bin/python -m training.train_commands [--seed N] [--out FILE] [--quick]

1. Corpus: every command phrase by TRAINING_VOICES (espeak-ng accents/variants/pitches/speeds
   and flite speakers), and negatives: common words (none of the words the benchmarks test
   with), short fragments of talk (many with command words inside: "next week", "go ahead"),
   random word strings, and noise/hum/babble alone.
2. Augmentation, several copies per clip: speed (and so pitch) 0.85-1.15, gain, reverb
   (synthetic room responses), noise of random colour at 0-20 dB SNR (not the benchmark's noise
   recipe). Each copy goes through the real `Segmenter`, so the classifier sees utterances cut
   exactly as at run time; a command the segmenter split in two is left out.
3. Features: the frozen embedding front end of `classifier_engine` (centre jitter +-150 ms).
4. Network: one ReLU layer in numpy, softmax over the phrases + "other", Adam, dropout, weight
   decay; 10% of the clips (whole clips, all their copies) held out for the figures printed.
Deterministic for a seed. Voices in HELD_OUT_* are never used: benchmarks evaluate on them.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.signal import fftconvolve, resample_poly

from tests.speech import OTHER_WORDS, SENTENCES, Voice, synthesize_many
from voice_guide.commands import PHRASES, parse
from voice_guide.listen.classifier_engine import DEFAULT_WEIGHTS, OTHER, EmbeddingFrontEnd
from voice_guide.listen.common_words import COMMON_WORDS
from voice_guide.listen.segmenter import Segmenter

RATE = 16_000
PHRASE_CLASSES: tuple[str, ...] = tuple(p for ps in PHRASES.values() for p in ps)

# Voices the benchmarks evaluate on: never trained on (whole accents and speakers held out).
HELD_OUT_ESPEAK_ACCENTS = frozenset({"en-gb-scotland", "en-us-nyc", "en-029"})
HELD_OUT_FLITE = frozenset({"kal", "kal16"})

_ACCENTS = ("en-us", "en", "en-gb", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
_VARIANTS = ("", "+m2", "+m3", "+m5", "+m7", "+f1", "+f2", "+f3", "+f5", "+klatt2", "+klatt4",
             "+Andy", "+john", "+linda", "+max", "+iven", "+belinda", "+david")


def training_voices(seed: int = 0) -> tuple[Voice, ...]:
    """28 espeak-ng voices (accent x variant x pitch x speed, drawn with `seed`) + 6 flite."""
    rng = np.random.default_rng(seed)
    espeak = tuple(
        Voice("espeak", f"{_ACCENTS[i % len(_ACCENTS)]}{rng.choice(_VARIANTS)}",
              int(rng.integers(25, 80)), round(float(rng.uniform(0.8, 1.25)), 2))
        for i in range(28)
    )
    flite = (Voice("flite", "slt", 0, 0.95), Voice("flite", "awb", 0, 1.05),
             Voice("flite", "rms", 0, 1.1), Voice("flite", "slt", 170, 0.9),
             Voice("flite", "awb", 140, 1.0), Voice("flite", "rms", 110, 0.85))
    return espeak + flite


def negative_words(count: int = 420) -> list[str]:
    """Common words that are neither command phrases nor any word the benchmarks test with."""
    tested = {w for text in OTHER_WORDS + SENTENCES for w in _words(text)}
    return [w for w in COMMON_WORDS if parse(w) is None and w not in tested][:count]


# Talk that is not a command, much of it built around command words.
FRAGMENTS: tuple[str, ...] = (
    "next week", "next time", "the next one", "go ahead", "go home", "let's go", "go to sleep",
    "good morning", "good night", "very good", "not good", "no problem", "no thanks",
    "yes please", "oh yes", "not yet", "hold it", "hold my hand", "stop it", "stop there please",
    "wait a minute", "wait for me", "help me", "can you help", "back then", "my back hurts",
    "come back", "lower back", "again and again", "never again", "how are you", "how much is it",
    "what time is it", "what a day", "which one", "where is it", "time flies", "left side",
    "right there", "a bit lower", "that feels nice", "that's nice", "that's right",
    "that's enough", "that's it", "more oil", "tell me", "tell me why", "say that",
    "say hello", "ready for dinner", "are you ready", "skip breakfast", "skip it",
    "finish line", "end of the day", "the end", "session time", "much better", "a little softer",
    "harder than that", "fine thanks", "just fine", "perfect timing", "repeat after me",
    "explain why", "the details", "pause it", "resume work", "forward it", "move forward",
    "previous time", "backward step", "step by step", "one more step", "the first step",
    "what is this", "what can you do", "where was I", "I am here", "continue reading",
    "continue with the oil", "so much time", "less than that", "deeper breath", "is that good",
    "okay then", "thank you", "all right", "mm hmm", "uh huh", "hmm let me see", "oh wow",
)


@dataclass(frozen=True)
class Example:
    text: str
    label: int  # index into classes; the last class is "other"
    voice: Voice


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m training.train_commands")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default=str(DEFAULT_WEIGHTS))
    parser.add_argument("--quick", action="store_true", help="a small corpus, for trying things")
    parser.add_argument("--hidden", type=int, default=96)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--cache", metavar="FILE.npz",
                        help="keep the corpus' features here (not audio) and reuse them")
    args = parser.parse_args()
    began = time.perf_counter()
    if args.cache and Path(args.cache).exists():
        with np.load(args.cache) as cached:
            features, labels, groups = cached["features"], cached["labels"], cached["groups"]
    else:
        features, labels, groups = build_corpus(args.seed, quick=args.quick)
        if args.cache:
            np.savez(args.cache, features=features, labels=labels, groups=groups)
    print(f"corpus: {len(labels)} utterances ({int(np.sum(labels < len(PHRASE_CLASSES)))} "
          f"commands) in {time.perf_counter() - began:.0f} s")
    rng = np.random.default_rng(args.seed)
    unique = np.unique(groups)
    held = set(rng.choice(unique, size=len(unique) // 10, replace=False).tolist())
    test = np.array([g in held for g in groups])
    network = train(features[~test], labels[~test], args.seed, args.hidden, args.epochs)
    report(network, features[test], labels[test], "held-out clips (training voices)")
    network = train(features, labels, args.seed, args.hidden, args.epochs)  # all data
    info = {"seed": args.seed, "utterances": len(labels), "hidden": args.hidden,
            "epochs": args.epochs, "voices": [v.label for v in training_voices(args.seed)]}
    save(network, Path(args.out), info)
    print(f"wrote {args.out} ({Path(args.out).stat().st_size // 1024} KB) in "
          f"{time.perf_counter() - began:.0f} s")


def build_corpus(seed: int, quick: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features (n, 16, 96), labels (n,), clip group ids (n,)) of augmented utterances."""
    voices = training_voices(seed)
    if quick:
        voices = voices[::4]
    other = len(PHRASE_CLASSES)
    rng = np.random.default_rng(seed)
    examples = [Example(p, i, v) for i, p in enumerate(PHRASE_CLASSES) for v in voices]
    words = negative_words(140 if quick else 420)
    examples += [Example(w, other, voices[int(rng.integers(len(voices)))])
                 for w in words for _ in range(2)]
    random_strings = [" ".join(rng.choice(words, size=int(rng.integers(2, 5))))
                      for _ in range(60 if quick else 240)]
    for text in FRAGMENTS + tuple(random_strings):
        examples += [Example(text, other, voices[int(rng.integers(len(voices)))])
                     for _ in range(2)]
    clips = synthesize_many((e.text, e.voice) for e in examples)
    babble = [c for e, c in zip(examples, clips, strict=True) if len(e.text.split()) >= 3]
    front_end = EmbeddingFrontEnd()
    features: list[np.ndarray] = []
    labels: list[int] = []
    groups: list[int] = []
    copies = {True: 2 if quick else 4, False: 2}
    for index, (example, clip) in enumerate(zip(examples, clips, strict=True)):
        is_command = example.label != other
        for _ in range(copies[is_command]):
            audio = augment(clip, rng, babble)
            segments = segment(audio)
            if is_command and len(segments) != 1:
                continue  # split or lost by the segmenter: not a clean example of the phrase
            for piece in segments:
                shift = int(rng.integers(-2400, 2401))
                features.append(front_end.features(piece, shift))
                labels.append(example.label)
                groups.append(index)
    for n in range(300 if quick else 1200):  # noise, hum and babble alone
        audio = background(rng, int(rng.uniform(0.5, 3.0) * RATE), babble)
        for piece in segment(audio):
            features.append(front_end.features(piece))
            labels.append(other)
            groups.append(len(examples) + n)
    return np.stack(features), np.array(labels), np.array(groups)


def augment(clip: np.ndarray, rng: np.random.Generator, babble: list[np.ndarray]) -> np.ndarray:
    """Speed, reverb, gain, then padding and background noise at 0-20 dB SNR (or none)."""
    x = clip.astype(np.float64)
    factor = rng.uniform(0.85, 1.15)
    if abs(factor - 1) > 0.01:
        x = resample_poly(x, 100, round(100 * factor))
    if rng.random() < 0.5:
        x = reverberate(x, rng)
    x *= 10.0 ** (rng.uniform(-24.0, 0.0) / 20.0) * 8000.0 / (np.sqrt(_power(x)) + 1e-9)
    x = np.concatenate([np.zeros(int(rng.uniform(0.3, 0.8) * RATE)), x,
                        np.zeros(int(rng.uniform(0.4, 0.8) * RATE))])
    if rng.random() < 0.85:
        noise = background(rng, len(x), babble).astype(np.float64)
        snr = rng.uniform(0.0, 20.0)
        noise *= np.sqrt(_power(x) / 10.0 ** (snr / 10.0) / (np.mean(noise**2) + 1e-9))
        x += noise
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def background(rng: np.random.Generator, n: int, babble: list[np.ndarray]) -> np.ndarray:
    """Noise of random colour (1/f^a, a in 0..2), sometimes mains hum or far-off babble."""
    spectrum = np.fft.rfft(rng.standard_normal(max(n, 2)))
    freqs = np.maximum(np.arange(len(spectrum), dtype=np.float64), 1.0)
    x = np.fft.irfft(spectrum / freqs ** (rng.uniform(0.0, 2.0) / 2.0), max(n, 2))[:n]
    x /= np.sqrt(np.mean(x**2)) + 1e-12
    t = np.arange(n) / RATE
    if rng.random() < 0.2:
        mains = rng.choice([50.0, 60.0])
        x += rng.uniform(0.3, 1.5) * sum(np.sin(2 * np.pi * mains * k * t) / k for k in (1, 2, 3))
    if babble and rng.random() < 0.25:
        voices = [babble[int(rng.integers(len(babble)))] for _ in range(4)]
        mix = np.zeros(n)
        for v in voices:
            start = int(rng.integers(0, max(1, n - 1)))
            piece = np.resize(v.astype(np.float64), n - start)
            mix[start:] += piece / (np.sqrt(_power(piece)) + 1e-9)
        x += rng.uniform(0.3, 1.0) * mix
    level = 10.0 ** (rng.uniform(-60.0, -30.0) / 20.0) * 32768.0
    return np.clip(x / (np.sqrt(np.mean(x**2)) + 1e-12) * level, -32768, 32767)


def reverberate(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A synthetic room: direct sound + exponentially decaying noise tail (RT60 0.1-0.6 s)."""
    rt60 = rng.uniform(0.1, 0.6)
    length = int(rt60 * RATE)
    t = np.arange(length) / RATE
    response = rng.standard_normal(length) * np.exp(-6.9 * t / rt60)
    response *= rng.uniform(0.05, 0.4) / (np.sqrt(np.sum(response**2)) + 1e-12)
    response[0] = 1.0
    return fftconvolve(x, response)[: len(x) + length // 2]


def segment(audio: np.ndarray) -> list[np.ndarray]:
    """The utterances the run-time segmenter cuts from `audio`."""
    segmenter = Segmenter()
    return [s.audio for s in segmenter.feed(audio) + segmenter.flush()]


# --- the network -------------------------------------------------------------------------------


@dataclass
class Network:
    mean: np.ndarray
    scale: np.ndarray
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray

    def logits(self, x: np.ndarray) -> np.ndarray:
        hidden = np.maximum((x - self.mean) / self.scale @ self.w1 + self.b1, 0.0)
        return hidden @ self.w2 + self.b2


def train(features: np.ndarray, labels: np.ndarray, seed: int, hidden: int = 96,
          epochs: int = 40, batch: int = 128) -> Network:
    """Softmax over one ReLU layer; Adam, input dropout 0.1, hidden dropout 0.3, L2 1e-4.
    "other" examples are weighted so that the class counts as much as 8 phrases."""
    rng = np.random.default_rng(seed)
    x = features.reshape(len(features), -1).astype(np.float32)
    classes = len(PHRASE_CLASSES) + 1
    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-3
    z = (x - mean) / scale
    w1 = rng.standard_normal((z.shape[1], hidden)).astype(np.float32) * np.sqrt(2 / z.shape[1])
    b1 = np.zeros(hidden, np.float32)
    w2 = rng.standard_normal((hidden, classes)).astype(np.float32) * np.sqrt(1 / hidden)
    b2 = np.zeros(classes, np.float32)
    params = [w1, b1, w2, b2]
    counts = np.bincount(labels, minlength=classes).astype(np.float64)
    weight = np.where(counts > 0, counts.sum() / classes / np.maximum(counts, 1), 0.0)
    weight[-1] *= 8.0
    weight = (weight / np.average(weight, weights=counts)).astype(np.float32)
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    step = 0
    rate, decay = 2e-3, 1e-4
    for epoch in range(epochs):
        order = rng.permutation(len(z))
        lr = rate * 0.5 * (1 + np.cos(np.pi * epoch / epochs))
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            xb = z[idx] * (rng.random(z[idx].shape) > 0.1) / 0.9
            yb = labels[idx]
            pre = xb @ w1 + b1
            h = np.maximum(pre, 0.0)
            keep = (rng.random(h.shape) > 0.3) / 0.7
            hd = h * keep
            out = hd @ w2 + b2
            out -= out.max(axis=1, keepdims=True)
            p = np.exp(out)
            p /= p.sum(axis=1, keepdims=True)
            wb = weight[yb][:, None]
            grad_out = (p - np.eye(classes, dtype=np.float32)[yb]) * wb / len(idx)
            g_w2 = hd.T @ grad_out + decay * w2
            g_b2 = grad_out.sum(axis=0)
            grad_h = (grad_out @ w2.T) * keep * (pre > 0)
            g_w1 = xb.T @ grad_h + decay * w1
            g_b1 = grad_h.sum(axis=0)
            step += 1
            for i, g in enumerate((g_w1, g_b1, g_w2, g_b2)):
                m[i] = 0.9 * m[i] + 0.1 * g
                v[i] = 0.999 * v[i] + 0.001 * g * g
                mh = m[i] / (1 - 0.9**step)
                vh = v[i] / (1 - 0.999**step)
                params[i] -= (lr * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)
    return Network(mean, scale, *params)


def report(network: Network, features: np.ndarray, labels: np.ndarray, title: str) -> None:
    """Phrase-level confusion folded to commands, at the engine's default thresholds."""
    from voice_guide.listen.classifier_engine import ClassifierSettings

    settings = ClassifierSettings()
    logits = network.logits(features.reshape(len(features), -1))
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    commands = [parse(c) for c in PHRASE_CLASSES]
    correct = wrong = missed = false = negatives = 0
    for probs, label in zip(p, labels, strict=True):
        per: dict = {}
        for i, c in enumerate(commands):
            per[c] = per.get(c, 0.0) + probs[i]
        ranked = sorted(per.items(), key=lambda kv: -kv[1])
        (best, score), runner = ranked[0], max(ranked[1][1], probs[-1])
        accepted = score >= settings.threshold and score - runner >= settings.margin
        if label == len(PHRASE_CLASSES):
            negatives += 1
            false += accepted
        elif not accepted:
            missed += 1
        elif best == commands[label]:
            correct += 1
        else:
            wrong += 1
    total = max(1, correct + wrong + missed)
    print(f"{title}: commands {correct}/{total} correct ({100 * correct / total:.1f}%), "
          f"{wrong} wrong, {missed} missed; other: {false}/{negatives} accepted "
          f"({100 * false / max(1, negatives):.1f}%)")


def save(network: Network, path: Path, info: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path, mean=network.mean.astype(np.float16), scale=network.scale.astype(np.float16),
        w1=network.w1.astype(np.float16), b1=network.b1, w2=network.w2.astype(np.float16),
        b2=network.b2, classes=np.array([*PHRASE_CLASSES, OTHER]), info=json.dumps(info),
    )


def _power(x: np.ndarray) -> float:
    frames = x[: len(x) // 160 * 160].reshape(-1, 160)
    if len(frames) == 0:
        return float(np.mean(x**2) + 1e-9)
    energies = np.mean(frames**2, axis=1)
    loud = energies[energies > energies.max() * 1e-3]
    return float(np.mean(loud)) + 1e-9 if len(loud) else 1e-9


def _words(text: str) -> Iterator[str]:
    yield from text.lower().replace(",", " ").replace(".", " ").replace("?", " ").split()


if __name__ == "__main__":
    main()
