"""Train the command classifier of the classifier engine on synthetic speech only.

    .venv/bin/python -m training.train_commands [--seed N] [--out FILE] [--cache PREFIX]
        [--jobs 2] [--quick]

Takes about 35 minutes on this 2-core machine: synthesis ~3 min, features of ~55k utterances
~17 min (2 processes), two trainings ~5 min each. With `--cache PREFIX`, the features of the
two parts of the corpus are kept (not audio) and a rerun only trains. The defaults made the
shipped weights (192 channels, time masking 0.5: both measured better on unseen voices than
96 channels without masking; a third corpus part of 30 more voices measured no better).

1. Corpus, in two parts with their own random streams:
   - base: every command phrase by 46 voices: espeak-ng accents/variants/pitches/speeds, flite
     speakers and the neural hibari `heart` voice (US and British rules) at speeds and
     resampling shifts the benchmarks do not use. Negatives: common words, HARD_NEGATIVES
     (words and short phrases that sound like a command: "neck"/"next", "keeper"/"deeper"),
     fragments of talk (many with command words inside: "next week", "go ahead"), random word
     strings, and noise/hum/babble alone.
   - extension: 54 more voices (espeak-ng variants the base does not use, flite at other
     pitches, and hibari `heart` with its pitch track scaled 0.5-0.75 (male-sounding) or
     1.2-1.3 while its formants stay, `tests.speech.Voice.f0`); all ~1300 usable common words,
     MORE_HARD_NEGATIVES and MORE_FRAGMENTS.
   No negative is a word the benchmarks test with, nor a homophone of a command ("know",
   "weight", "paws").
2. Augmentation, several copies per clip (10 per base command clip, 5 per extension one):
   speed (and so pitch) 0.85-1.15, gain, reverb (synthetic room responses), noise of random
   colour at 0-20 dB SNR (not the benchmark's noise recipe). Each copy goes through the real
   `Segmenter`, so the classifier sees utterances cut exactly as at run time; a command the
   segmenter split in two is left out.
3. Features: the frozen embedding front end of `classifier_engine` (centre jitter +-150 ms), in
   `--jobs` processes, each example with its own random stream (same corpus for any --jobs).
4. Network (numpy): a temporal convolution over the embeddings, mean+max pooled, softmax over
   the phrases + "other" ("dense": one ReLU layer instead); Adam, dropout, weight
   decay. First trained without the VALIDATION voices: the accept threshold and margin are
   calibrated on those unseen voices (most commands right while <= MAX_WORDS_ACCEPTED of single
   negative words are accepted) and saved with the weights; then trained on everything.
Deterministic for a seed. Never used: piper `joe` (a whole neural speaker), the espeak-ng
accents in HELD_OUT_ESPEAK_ACCENTS and the flite speakers in HELD_OUT_FLITE: the benchmarks
evaluate on them (and on hibari `heart` at other speeds/shifts, a seen speaker).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.signal import fftconvolve, resample_poly

from tests.speech import OTHER_WORDS, SENTENCES, Voice, synthesize_many
from voice_guide.commands import PHRASES, parse
from voice_guide.listen.classifier_engine import (
    CONV_WIDTH,
    DEFAULT_WEIGHTS,
    OTHER,
    EmbeddingFrontEnd,
    conv_inputs,
)
from voice_guide.listen.common_words import COMMON_WORDS
from voice_guide.listen.segmenter import Segmenter

RATE = 16_000
PHRASE_CLASSES: tuple[str, ...] = tuple(p for ps in PHRASES.values() for p in ps)

# Voices the benchmarks evaluate on: never trained on (whole accents and speakers held out).
HELD_OUT_ESPEAK_ACCENTS = frozenset({"en-gb-scotland", "en-us-nyc", "en-029"})
HELD_OUT_FLITE = frozenset({"kal", "kal16"})
HELD_OUT_NEURAL = frozenset({"piper"})  # piper joe: the neural speaker never trained on

_ACCENTS = ("en-us", "en", "en-gb", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
_VARIANTS = ("", "+m2", "+m3", "+m5", "+m7", "+f1", "+f2", "+f3", "+f5", "+klatt2", "+klatt4",
             "+Andy", "+john", "+linda", "+max", "+iven", "+belinda", "+david")

# hibari heart (US / British rules) at (speed, semitone shift) pairs that the benchmark's
# NEURAL_VOICES do not use: a female voice shifted -5..-7 semitones sounds like a larger speaker.
_HIBARI = (("heart", 0.8, -5.0), ("heart", 1.05, -2.0), ("heart", 1.25, 1.0),
           ("heart", 0.95, 3.5), ("heart", 1.1, -6.5), ("heart", 1.0, -1.0),
           ("heart-gb", 0.85, -1.0), ("heart-gb", 1.2, -5.0), ("heart-gb", 1.05, 2.5),
           ("heart-gb", 1.1, 4.0), ("heart-gb", 0.95, -7.0), ("heart-gb", 1.0, -3.5))


def training_voices(seed: int = 0) -> tuple[Voice, ...]:
    """The base voices, then the extension's (corpus voice indexes point into this)."""
    return base_voices(seed) + extension_voices(seed)


def base_voices(seed: int = 0) -> tuple[Voice, ...]:
    """28 espeak-ng voices (accent x variant x pitch x speed, drawn with `seed`), 6 flite and
    12 hibari."""
    espeak = _espeak_voices(np.random.default_rng(seed), 28, _VARIANTS, (25, 80), (0.8, 1.25))
    flite = (Voice("flite", "slt", 0, 0.95), Voice("flite", "awb", 0, 1.05),
             Voice("flite", "rms", 0, 1.1), Voice("flite", "slt", 170, 0.9),
             Voice("flite", "awb", 140, 1.0), Voice("flite", "rms", 110, 0.85))
    hibari = tuple(Voice("hibari", name, 0, speed, shift) for name, speed, shift in _HIBARI)
    return espeak + flite + hibari


def _espeak_voices(rng: np.random.Generator, count: int, variants: tuple[str, ...],
                   pitches: tuple[int, int], speeds: tuple[float, float]) -> tuple[Voice, ...]:
    """espeak-ng voices cycling the accents, each with a variant, pitch and speed drawn."""
    return tuple(
        Voice("espeak", f"{_ACCENTS[i % len(_ACCENTS)]}{rng.choice(variants)}",
              int(rng.integers(*pitches)), round(float(rng.uniform(*speeds)), 2))
        for i in range(count)
    )


def validation_voices(voices: tuple[Voice, ...]) -> frozenset[int]:
    """Indexes of the training voices left out of the calibration run (whole voices, so
    calibration sees speakers the network has not): of the base voices 5 espeak-ng, 1 flite,
    3 hibari; of the extension's 5 espeak-ng, 1 flite, 4 hibari."""
    base = len(base_voices(0))  # the same count for any seed

    def chosen(indexes: range) -> list[int]:
        espeak = [i for i in indexes if voices[i].engine == "espeak"]
        flite = [i for i in indexes if voices[i].engine == "flite"]
        hibari = [i for i in indexes if voices[i].engine == "hibari"]
        return espeak[2::6] + flite[1:2] + hibari[1::4]

    return frozenset(chosen(range(min(base, len(voices)))) + chosen(range(base, len(voices))))


# The extension: new timbres (espeak-ng variants the base voices do not use, flite at other
# pitches) and hibari `heart` with its pitch track lowered or raised while its formants stay
# (`Voice.f0`): lower, male-sounding voices, which the base corpus lacks among neural voices.
_EXTENSION_VARIANTS = (
    "+m1", "+m6", "+m8", "+f4", "+klatt", "+klatt3", "+klatt5", "+klatt6", "+Alex", "+Alicia",
    "+Andrea", "+Annie", "+Gene", "+Lee", "+Michael", "+Mike", "+adam", "+anika", "+aunty",
    "+benjamin", "+boris", "+caleb", "+ed", "+edward", "+grandma", "+grandpa", "+norbert",
    "+paul", "+quincy", "+rob", "+robert", "+shelby", "+steph", "+travis", "+victor", "+zac",
    "+Denis", "+Hugo", "+Jacky", "+Mario", "+iven2", "+iven3",
)
# (voice, speed, semitone shift, f0 scale): f0 0.5-0.75 with the vocal tract a little larger
# sounds like a man; 1.15-1.3 a higher voice.
_HIBARI_F0 = (
    ("heart", 1.0, -1.5, 0.6), ("heart", 0.9, -2.5, 0.55), ("heart", 1.1, -0.5, 0.65),
    ("heart", 1.2, -3.0, 0.7), ("heart", 0.85, 0.0, 0.75), ("heart", 1.05, -4.0, 0.6),
    ("heart", 0.95, 1.5, 1.2), ("heart", 1.15, 0.5, 1.3), ("heart", 1.0, -2.0, 0.5),
    ("heart-gb", 1.0, -2.0, 0.6), ("heart-gb", 0.9, -1.0, 0.55), ("heart-gb", 1.15, -3.0, 0.65),
    ("heart-gb", 1.05, 0.0, 0.7), ("heart-gb", 0.8, -3.5, 0.75), ("heart-gb", 1.1, 1.0, 1.25),
    ("heart-gb", 0.95, -1.5, 0.5),
)


def extension_voices(seed: int = 0) -> tuple[Voice, ...]:
    """32 espeak-ng voices with other variants, 6 flite at other pitches/speeds, 16 hibari with
    a scaled pitch track."""
    espeak = _espeak_voices(np.random.default_rng([seed, 1]), 32, _EXTENSION_VARIANTS,
                            (15, 90), (0.75, 1.3))
    flite = (Voice("flite", "slt", 150, 1.2), Voice("flite", "awb", 100, 0.9),
             Voice("flite", "rms", 130, 1.0), Voice("flite", "slt", 200, 0.8),
             Voice("flite", "awb", 160, 1.15), Voice("flite", "rms", 80, 1.2))
    hibari = tuple(Voice("hibari", name, 0, speed, shift, f0)
                   for name, speed, shift, f0 in _HIBARI_F0)
    return espeak + flite + hibari


def negative_words(count: int = 420) -> list[str]:
    """Common words that are neither command phrases nor any word the benchmarks test with."""
    return [w for w in COMMON_WORDS if _usable_negative(w)][:count]


# Never negatives: they sound exactly like a command.
HOMOPHONES = frozenset({"know", "weight", "paws", "pores", "pours", "foreword", "four word",
                        "nose", "knows", "whey", "weigh", "gooed", "stop.", "yes."})

# Words and short phrases that sound like a command (one or two sounds away), so that "almost
# a command" has a class to go to. None of them is a benchmark word (those are filtered out).
HARD_NEGATIVES: tuple[str, ...] = (
    # next / next step / text
    "necks", "nix", "nick", "knack", "nets", "vex", "flex", "hex", "next door", "next year",
    "next stop", "mixed", "sixth", "desk", "deck", "nexus", "net", "next to",
    # go / go on / continue / forward / ready
    "goal", "goat", "ghost", "grow", "glow", "toe", "sew", "gone", "going", "golf", "gown",
    "go home", "going on", "goes on", "dawn", "continent", "contain", "country", "coward",
    "toward", "fort", "forehead", "ford", "red", "freddy", "steady", "already", "teddy",
    "heady", "rainy", "reading", "bready",
    # back / go back / previous / backward
    "backs", "bake", "buck", "beck", "bat", "bath", "snack", "track", "back up", "go bad",
    "precious", "previews", "devious", "awkward", "backyard", "backwards and",
    # repeat / again / say again
    "repeal", "report", "receipt", "retreat", "reheat", "complete", "compete", "a game",
    "against", "begin", "gain", "a gain", "again and again", "safe again", "stay again",
    "see again",
    # time left / how long / how much ...
    "so long", "headlong", "along", "belong", "how wrong", "hong kong", "how much tea",
    "how much", "time lapse", "tide left", "how much lower", "how much money", "how long ago",
    # where am i / what step / which step
    "where are my", "where is my", "we're on it", "what stuff", "which stop", "witch",
    "what steps", "watched it", "whiskey",
    # pause / stop / wait / hold on
    "pose", "pass", "pies", "boss", "cause", "applause", "paused", "stopwatch", "stomp",
    "spot", "step", "stop sign", "wade", "white", "way", "date", "gate", "wake", "waiter",
    "eight", "hold", "holder", "golden", "old one", "hold out",
    # resume / skip / details / explain / tell me more
    "presume", "assume", "consume", "perfume", "reason", "rezone", "ski", "skit", "skid",
    "kip", "script", "skipper", "ski trip", "retails", "the tails", "cocktails", "tails",
    "dental", "complain", "explode", "expand", "airplane", "explore", "tell me", "tell me why",
    "tell more", "smell more",
    # help / what can i say / end session / finish session
    "held", "health", "kelp", "yelp", "hell", "helmet", "what can i see", "what can i do",
    "and then", "ending", "the end", "engine", "session", "section", "lesson",
    "finish", "finished", "finnish", "famished",
    # yes / no
    "yeah", "yep", "yell", "yesss", "guess", "chess", "jess", "mess", "yen", "yes and",
    "nope", "nor", "known", "note", "noon", "new", "knee", "snow", "row", "nah", "oh no no",
    # lighter / softer / less / deeper / harder / firmer
    "light", "lightning", "writer", "fighter", "liter", "tighter", "lightly", "slighter",
    "sofa", "safer", "soft", "software", "often", "offer", "lace", "lens", "bless", "lest",
    "keeper", "sleeper", "beeper", "diaper", "dipper", "leaper", "hard", "larder", "hardy",
    "carter", "charter", "farmer", "former", "firm", "framer", "murmur", "fern",
    # good / fine / perfect / that's good
    "goods", "goose", "guard", "gourd", "foot", "five", "vine", "fire", "fan", "sign",
    "prefect", "protect", "perhaps", "affect", "perfection", "that's wood", "that good",
    "that's gold", "that's cool", "it's good",
)


def _usable_negative(text: str) -> bool:
    """Not a command, not a homophone of one, not a benchmark item; a single word also not
    any word of the benchmark's sentences (phrases may share everyday words with them)."""
    if parse(text) is not None or text in HOMOPHONES or text in OTHER_WORDS:
        return False
    words = list(_words(text))
    return not (len(words) == 1 and words[0] in _TESTED_WORDS)


def _words(text: str) -> Iterator[str]:
    yield from text.lower().replace(",", " ").replace(".", " ").replace("?", " ").split()


_TESTED_WORDS = frozenset(w for text in OTHER_WORDS + SENTENCES for w in _words(text))


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

# More near-misses and talk for the extension corpus (benchmark words are filtered out).
MORE_HARD_NEGATIVES: tuple[str, ...] = (
    "necktie", "necklace", "nectar", "mixer", "annex", "index", "complex", "wrecks", "max",
    "gopher", "gosh", "ago", "logo", "cargo", "goon", "go out", "go up", "go in", "contour",
    "can't you", "four", "farewell", "foreman", "reddish", "redo", "reed", "radio", "eddy",
    "betty", "petty", "bank", "batch", "bug", "backing", "pecan", "rebate", "repaint", "peat",
    "repel", "agate", "a gun", "regain", "how loud", "how low", "how lovely", "how much wine",
    "tie left", "timeless", "time limit", "where are we", "what's up", "which stuff",
    "what stop", "pulse", "purse", "pods", "posh", "stopper", "stab", "sob", "stoop", "wet",
    "weird", "west", "waist", "hold one", "holding", "old man", "cold one", "zoom", "reuse",
    "presumed", "skim", "skill", "skiff", "slip", "decals", "the tales", "plain", "sustain",
    "tell me now", "tell her more", "sell me more", "tell them all", "whelp", "hemp", "self",
    "what can i pay", "what can i play", "ten sessions", "end section", "in session",
    "finish this", "finish lesson", "dress", "press", "jest", "yeast", "knot", "gnome", "noah",
    "lifter", "lighten", "liked her", "tiger", "spider", "wider", "rider", "sifter",
    "soft air", "shifter", "after", "laughter", "lets", "lease", "loss", "lass", "list",
    "reaper", "creeper", "jeep", "weeper", "sleepier", "ardor", "heart", "hardware", "hotter",
    "hunter", "header", "femur", "first", "furnace", "goodbye", "goody", "gut", "cook", "hook",
    "fin", "fun", "fight", "fiber", "perfume", "prefix", "prospect", "that's gone",
)
MORE_FRAGMENTS: tuple[str, ...] = (
    "go for it", "let's continue tomorrow", "step back a bit", "tell me about it",
    "how long have you been", "yes I think so", "no not really", "that's good to know",
    "I want to go back home", "we can finish later", "hold on to that", "wait till you see",
    "stop by tomorrow", "skip the small talk", "it feels fine now", "much softer than before",
    "harder to reach", "a firmer mattress", "the lighter one", "again tomorrow",
    "my previous appointment", "help yourself", "explain it to me later", "ready or not",
    "where are my keys", "which step was it", "what can I bring", "good for you",
    "no no it's fine", "back and forth", "the next morning", "pause for a second then",
)
COMMAND, WORD, TALK, NOISE = 0, 1, 2, 3  # kinds of utterance, for the calibration figures
COMMAND_COPIES = 10
MAX_WORDS_ACCEPTED = 0.02  # of the validation voices' single negative words: the bar
NEGATIVE_COPIES = 3


@dataclass(frozen=True)
class Example:
    text: str
    label: int  # index into classes; the last class is "other"
    voice: int  # index into training_voices()
    copies: int


@dataclass(frozen=True)
class Corpus:
    features: np.ndarray  # (n, 16, 96) float32
    labels: np.ndarray  # (n,) class index; len(PHRASE_CLASSES) = "other"
    groups: np.ndarray  # (n,) source clip: all copies of one clip share it
    voices: np.ndarray  # (n,) index into training_voices(), -1 for noise alone
    kinds: np.ndarray  # (n,) COMMAND, WORD (one negative word), TALK, NOISE

    def subset(self, keep: np.ndarray) -> Corpus:
        return Corpus(self.features[keep], self.labels[keep], self.groups[keep],
                      self.voices[keep], self.kinds[keep])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m training.train_commands")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default=str(DEFAULT_WEIGHTS))
    parser.add_argument("--quick", action="store_true", help="a small corpus, for trying things")
    parser.add_argument("--model", choices=("conv", "dense"), default="conv")
    parser.add_argument("--hidden", type=int, default=192, help="channels (conv) or units")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--time-mask", type=float, default=0.5,
                        help="share of training examples with 1-3 embeddings masked")
    parser.add_argument("--jobs", type=int, default=2, help="processes computing features")
    parser.add_argument("--cache", metavar="PREFIX",
                        help="keep the corpus' features (not audio) in PREFIX.base.npz and "
                        "PREFIX.extension.npz and reuse them")
    parser.add_argument("--calibration-net", metavar="FILE.npz",
                        help="also keep the network trained without the validation voices")
    args = parser.parse_args()
    began = time.perf_counter()
    corpus = join(
        cached(args.cache and f"{args.cache}.base.npz",
               lambda: build_corpus(args.seed, args.jobs, quick=args.quick)),
        cached(args.cache and f"{args.cache}.extension.npz",
               lambda: build_extension(args.seed, args.jobs, quick=args.quick)),
    )
    counts = np.bincount(corpus.kinds, minlength=4)
    print(f"corpus: {len(corpus.labels)} utterances ({counts[COMMAND]} commands, {counts[WORD]} "
          f"single negative words, {counts[TALK]} other talk, {counts[NOISE]} noise) in "
          f"{time.perf_counter() - began:.0f} s")
    voices = training_voices(args.seed)
    held = np.isin(corpus.voices, sorted(validation_voices(voices)))
    print("validation voices: " + ", ".join(voices[i].label
                                             for i in sorted(validation_voices(voices))))
    network = train(corpus.subset(~held), args.seed, args.model, args.hidden, args.epochs,
                    time_mask=args.time_mask)
    network = as_shipped(network)  # calibrate the weights as they will be saved (float16)
    threshold, margin = calibrate(network, corpus.subset(held))
    if args.calibration_net:
        save(network, Path(args.calibration_net), {"threshold": threshold, "margin": margin})
    network = train(corpus, args.seed, args.model, args.hidden, args.epochs,
                    time_mask=args.time_mask)  # all data
    info = {"seed": args.seed, "utterances": len(corpus.labels), "model": args.model,
            "hidden": args.hidden, "epochs": args.epochs, "time_mask": args.time_mask,
            "threshold": threshold, "margin": margin,
            "voices": [v.label for v in voices]}
    save(network, Path(args.out), info)
    print(f"wrote {args.out} ({Path(args.out).stat().st_size // 1024} KB) in "
          f"{time.perf_counter() - began:.0f} s")


def cached(path: str | None, build: Callable[[], Corpus]) -> Corpus:
    """The corpus kept at `path`, or built (and kept there when a path is given)."""
    if path and Path(path).exists():
        with np.load(path) as kept:
            return Corpus(**{k: kept[k] for k in Corpus.__dataclass_fields__})
    corpus = build()
    if path:
        np.savez(path, **{k: getattr(corpus, k) for k in Corpus.__dataclass_fields__})
    return corpus


def join(*parts: Corpus) -> Corpus:
    return Corpus(*(np.concatenate([getattr(p, k) for p in parts])
                    for k in Corpus.__dataclass_fields__))


def build_corpus(seed: int, jobs: int = 2, quick: bool = False) -> Corpus:
    """Augmented utterances of every example (see the module's docstring), features computed
    in `jobs` processes."""
    voices = base_voices(seed)
    everyone = range(0, len(voices), 3 if quick else 1)
    other = len(PHRASE_CLASSES)
    rng = np.random.default_rng(seed)

    def anyone() -> int:
        return everyone[int(rng.integers(len(everyone)))]

    examples = [Example(p, i, v, COMMAND_COPIES // (2 if quick else 1))
                for i, p in enumerate(PHRASE_CLASSES) for v in everyone]
    words = negative_words(140 if quick else 420)
    examples += [Example(w, other, anyone(), NEGATIVE_COPIES) for w in words for _ in range(2)]
    hard = [h for h in HARD_NEGATIVES if _usable_negative(h)]
    examples += [Example(h, other, anyone(), NEGATIVE_COPIES)
                 for h in hard[:: 3 if quick else 1] for _ in range(4)]
    random_strings = [" ".join(rng.choice(words, size=int(rng.integers(2, 5))))
                      for _ in range(60 if quick else 240)]
    examples += [Example(t, other, anyone(), 2)
                 for t in FRAGMENTS + tuple(random_strings) for _ in range(2)]
    # each (text, voice) once: tests.speech's file cache is not safe for a pair asked twice at once
    pairs = sorted({(e.text, e.voice) for e in examples})
    made = dict(zip(pairs, synthesize_many((t, voices[v]) for t, v in pairs), strict=True))
    clips = [made[(e.text, e.voice)] for e in examples]
    print(f"synthesized {len(clips)} clips in {len(everyone)} voices")
    return _corpus_of(examples, clips, [seed], 300 if quick else 1200, jobs)


def build_extension(seed: int, jobs: int = 2, quick: bool = False) -> Corpus:
    """The extension corpus (its own voices and random streams, so the base corpus stays as
    it was): every phrase by every extension voice, EXTENSION_COPIES augmented copies; all
    usable common words (three times as many as the base corpus has), HARD_NEGATIVES +
    MORE_HARD_NEGATIVES and talk, by extension voices."""
    first = len(base_voices(seed))
    voices = training_voices(seed)
    everyone = range(first, len(voices), 3 if quick else 1)
    other = len(PHRASE_CLASSES)
    rng = np.random.default_rng([seed, 1])

    def anyone() -> int:
        return everyone[int(rng.integers(len(everyone)))]

    examples = [Example(p, i, v, EXTENSION_COPIES) for i, p in enumerate(PHRASE_CLASSES)
                for v in everyone]
    words = negative_words(400 if quick else len(COMMON_WORDS))  # all of them: ~1300
    examples += [Example(w, other, anyone(), NEGATIVE_COPIES) for w in words for _ in range(2)]
    hard = [h for h in HARD_NEGATIVES + MORE_HARD_NEGATIVES if _usable_negative(h)]
    examples += [Example(h, other, anyone(), NEGATIVE_COPIES)
                 for h in hard[:: 3 if quick else 1] for _ in range(4)]
    random_strings = [" ".join(rng.choice(words, size=int(rng.integers(2, 5))))
                      for _ in range(60 if quick else 240)]
    examples += [Example(t, other, anyone(), 2)
                 for t in FRAGMENTS + MORE_FRAGMENTS + tuple(random_strings) for _ in range(2)]
    pairs = sorted({(e.text, e.voice) for e in examples})
    made = dict(zip(pairs, synthesize_many((t, voices[v]) for t, v in pairs), strict=True))
    clips = [made[(e.text, e.voice)] for e in examples]
    print(f"extension: synthesized {len(clips)} clips in {len(everyone)} voices")
    part = _corpus_of(examples, clips, [seed, 1], 100 if quick else 400, jobs)
    return Corpus(part.features, part.labels, part.groups + EXTENSION_GROUPS, part.voices,
                  part.kinds)


EXTENSION_GROUPS = 1_000_000  # extension clips' group numbers start here
EXTENSION_COPIES = 5


def _corpus_of(examples: list[Example], clips: list[np.ndarray], stream: list[int],
               noise_alone: int, jobs: int) -> Corpus:
    """Features of the augmented copies of every example and of `noise_alone` stretches of
    noise, in `jobs` processes; task k draws from the random stream `stream + [k]`."""
    babble = [c for e, c in zip(examples, clips, strict=True) if len(e.text.split()) >= 3]
    _WORK.update(examples=examples, clips=clips, babble=babble, stream=stream)
    tasks = list(range(len(examples) + noise_alone))
    chunks = [tasks[i : i + 100] for i in range(0, len(tasks), 100)]
    if jobs > 1:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            parts = pool.map(_utterances, chunks)
    else:
        parts = [_utterances(chunk) for chunk in chunks]
    rows = [row for part in parts for row in part]
    return Corpus(np.stack([r[0] for r in rows]),
                  *(np.array([r[k] for r in rows]) for k in range(1, 5)))


_WORK: dict = {}  # what the worker processes need, inherited through fork


def _utterances(tasks: list[int]) -> list[tuple[np.ndarray, int, int, int, int]]:
    """(features, label, group, voice, kind) of every utterance the tasks give: the augmented
    copies of an example, or (index past the examples) noise/hum/babble alone."""
    if "front_end" not in _WORK:
        _WORK["front_end"] = EmbeddingFrontEnd()
    front_end: EmbeddingFrontEnd = _WORK["front_end"]
    examples: list[Example] = _WORK["examples"]
    other = len(PHRASE_CLASSES)
    rows = []
    for task in tasks:
        rng = np.random.default_rng([*_WORK["stream"], task])
        if task >= len(examples):
            audio = background(rng, int(rng.uniform(0.5, 3.0) * RATE), _WORK["babble"])
            rows += [(front_end.features(piece), other, task, -1, NOISE)
                     for piece in segment(audio)]
            continue
        example, clip = examples[task], _WORK["clips"][task]
        is_command = example.label != other
        kind = COMMAND if is_command else WORD if len(example.text.split()) == 1 else TALK
        for _ in range(example.copies):
            segments = segment(augment(clip, rng, _WORK["babble"]))
            if is_command and len(segments) != 1:
                continue  # split or lost by the segmenter: not a clean example of the phrase
            for piece in segments:
                shift = int(rng.integers(-2400, 2401))
                rows.append((front_end.features(piece, shift), example.label, task,
                             example.voice, kind))
    return rows


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
    """The utterances the run-time segmenter cuts from `audio` (final segments only: a
    provisional first look holds the same audio when the utterance ends there)."""
    segmenter = Segmenter()
    return [s.audio for s in segmenter.feed(audio) + segmenter.flush()
            if not getattr(s, "provisional", False)]


# --- the network -------------------------------------------------------------------------------


@dataclass
class Network:
    """The classifier as `classifier_engine.CommandClassifier` runs it ("conv" or "dense")."""

    mean: np.ndarray
    scale: np.ndarray
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray

    def logits(self, x: np.ndarray) -> np.ndarray:
        if self.w1.shape[0] == CONV_WIDTH * self.mean.size:  # conv
            z = (x.reshape(len(x), -1, self.mean.size) - self.mean) / self.scale
            hidden = np.maximum(conv_inputs(z) @ self.w1 + self.b1, 0.0)
            pooled = np.concatenate([hidden.mean(axis=1), hidden.max(axis=1)], axis=1)
            return pooled @ self.w2 + self.b2
        hidden = np.maximum((x.reshape(len(x), -1) - self.mean) / self.scale @ self.w1
                            + self.b1, 0.0)
        return hidden @ self.w2 + self.b2


def train(corpus: Corpus, seed: int, model: str = "conv", hidden: int = 96, epochs: int = 30,
          batch: int = 128, time_mask: float = 0.0) -> Network:
    """Softmax classifier, Adam with a cosine schedule, input dropout 0.1, dropout 0.3 before
    the output layer, L2 1e-4. "other" examples are weighted so that the class counts as much
    as 8 phrases. model "conv": `hidden` channels over CONV_WIDTH neighbouring embeddings, mean
    and max over time; "dense": one ReLU layer of `hidden` units over the flattened sequence.
    `time_mask` (conv): that share of each batch gets 1-3 neighbouring embeddings masked."""
    rng = np.random.default_rng(seed)
    x = corpus.features.astype(np.float32)
    labels = corpus.labels
    classes = len(PHRASE_CLASSES) + 1
    conv = model == "conv"
    flat = x.reshape(-1, x.shape[2]) if conv else x.reshape(len(x), -1)
    mean, scale = flat.mean(axis=0), flat.std(axis=0) + 1e-3
    z = (x - mean) / scale if conv else (x.reshape(len(x), -1) - mean) / scale
    fan = CONV_WIDTH * x.shape[2] if conv else z.shape[1]
    pooled_size = 2 * hidden if conv else hidden
    params = [rng.standard_normal((fan, hidden)).astype(np.float32) * np.sqrt(2 / fan),
              np.zeros(hidden, np.float32),
              rng.standard_normal((pooled_size, classes)).astype(np.float32)
              * np.sqrt(1 / pooled_size),
              np.zeros(classes, np.float32)]
    counts = np.bincount(labels, minlength=classes).astype(np.float64)
    weight = np.where(counts > 0, counts.sum() / classes / np.maximum(counts, 1), 0.0)
    weight[-1] *= 8.0
    weight = (weight / np.average(weight, weights=counts)).astype(np.float32)
    one_hot = np.eye(classes, dtype=np.float32)
    adam = _Adam(params, decay=1e-4)
    for epoch in range(epochs):
        order = rng.permutation(len(z))
        rate = 2e-3 * 0.5 * (1 + np.cos(np.pi * epoch / epochs))
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            xb = z[idx] * (rng.random(z[idx].shape, dtype=np.float32) > 0.1) / 0.9
            if conv and time_mask > 0:
                xb = _mask_time(xb, rng, time_mask)
            w1, b1, w2, b2 = params
            if conv:
                u = conv_inputs(xb)  # (b, steps, fan)
                pre = u @ w1 + b1
                h = np.maximum(pre, 0.0)
                steps = h.shape[1]
                h_max = h.argmax(axis=1)
                pooled = np.concatenate([h.mean(axis=1), h.max(axis=1)], axis=1)
            else:
                pre = xb @ w1 + b1
                pooled = np.maximum(pre, 0.0)
            keep = (rng.random(pooled.shape, dtype=np.float32) > 0.3) / 0.7
            dropped = pooled * keep
            out = dropped @ w2 + b2
            out -= out.max(axis=1, keepdims=True)
            p = np.exp(out)
            p /= p.sum(axis=1, keepdims=True)
            grad_out = (p - one_hot[labels[idx]]) * weight[labels[idx]][:, None] / len(idx)
            grad_pooled = (grad_out @ w2.T) * keep
            if conv:
                grad_h = np.repeat(grad_pooled[:, None, :hidden] / steps, steps, axis=1)
                rows, cols = np.meshgrid(np.arange(len(idx)), np.arange(hidden), indexing="ij")
                grad_h[rows, h_max, cols] += grad_pooled[:, hidden:]
                grad_pre = grad_h * (pre > 0)
                g_w1 = u.reshape(-1, fan).T @ grad_pre.reshape(-1, hidden)
                g_b1 = grad_pre.sum(axis=(0, 1))
            else:
                grad_pre = grad_pooled * (pre > 0)
                g_w1 = xb.T @ grad_pre
                g_b1 = grad_pre.sum(axis=0)
            adam.step((g_w1, g_b1, dropped.T @ grad_out, grad_out.sum(axis=0)), rate)
    return Network(mean, scale, *params)


def _mask_time(xb: np.ndarray, rng: np.random.Generator, rate: float) -> np.ndarray:
    """SpecAugment on the embedding sequence: in a `rate` share of the examples, 1-3
    neighbouring embeddings set to the mean (0 once standardized), so that no single
    moment of the utterance decides alone."""
    xb = xb.copy()
    steps = xb.shape[1]
    for row in np.flatnonzero(rng.random(len(xb)) < rate):
        width = int(rng.integers(1, 4))
        start = int(rng.integers(0, steps - width + 1))
        xb[row, start : start + width] = 0.0
    return xb


class _Adam:
    """Adam with L2 weight decay on the matrices, updating `params` in place."""

    def __init__(self, params: list[np.ndarray], decay: float) -> None:
        self.params, self.decay, self.count = params, decay, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def step(self, grads: tuple[np.ndarray, ...], rate: float) -> None:
        self.count += 1
        for i, (param, grad) in enumerate(zip(self.params, grads, strict=True)):
            if param.ndim == 2:
                grad = grad + self.decay * param
            self.m[i] = 0.9 * self.m[i] + 0.1 * grad
            self.v[i] = 0.999 * self.v[i] + 0.001 * grad * grad
            m = self.m[i] / (1 - 0.9**self.count)
            v = self.v[i] / (1 - 0.999**self.count)
            param -= (rate * m / (np.sqrt(v) + 1e-8)).astype(np.float32)


def calibrate(network: Network, corpus: Corpus) -> tuple[float, float]:
    """The (threshold, margin) that gets most validation commands right while accepting at
    most MAX_WORDS_ACCEPTED of single negative words (full vocabulary, as the benchmarks
    decode); prints the figures around it. Half of those words are HARD_NEGATIVES ("necks",
    "yeah", "nope"), so this is stricter than the benchmark's list of other words."""
    best, score, rival = decisions(network, corpus.features)
    truth = np.array([_COMMAND_INDEX[PHRASE_CLASSES[label]] if label < len(PHRASE_CLASSES)
                      else -1 for label in corpus.labels])
    is_command, is_word = corpus.kinds == COMMAND, corpus.kinds == WORD
    is_talk = corpus.kinds == TALK
    rows = []
    for threshold in (0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.985, 0.99,
                      0.993, 0.995, 0.997, 0.998, 0.999):
        for margin in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6):
            accepted = (score >= threshold) & (score - rival >= margin)
            right = float(np.mean(accepted[is_command] & (best == truth)[is_command]))
            wrong = float(np.mean(accepted[is_command] & (best != truth)[is_command]))
            words = float(np.mean(accepted[is_word]))
            talk = float(np.mean(accepted[is_talk]))
            rows.append((round(float(threshold), 3), round(float(margin), 2), right, wrong,
                         words, talk))
    allowed = [r for r in rows if r[4] <= MAX_WORDS_ACCEPTED] or [min(rows, key=lambda r: r[4])]
    chosen = max(allowed, key=lambda r: (r[2] - 3 * r[3], -r[0] - r[1]))
    print(f"calibration on validation voices ({int(is_command.sum())} commands, "
          f"{int(is_word.sum())} single words, {int(is_talk.sum())} talk):")
    for r in rows:
        if r[1] == chosen[1] and r[0] >= 0.6:
            mark = " <- chosen" if r == chosen else ""
            print(f"  threshold {r[0]:.3f} margin {r[1]:.1f}: commands {100 * r[2]:.1f}% right "
                  f"{100 * r[3]:.1f}% wrong; words accepted {100 * r[4]:.1f}%, talk "
                    f"{100 * r[5]:.1f}%{mark}")
    return chosen[0], chosen[1]


def decisions(network: Network, features: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per utterance, with every command accepted: the best command's index, its probability
    (summed over its phrases) and the best alternative's (the next command, or "other")."""
    logits = network.logits(features.reshape(len(features), -1))
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    folded = np.zeros((len(p), len(_COMMANDS)))
    for i, phrase in enumerate(PHRASE_CLASSES):
        folded[:, _COMMAND_INDEX[phrase]] += p[:, i]
    ranked = np.sort(folded, axis=1)
    rival = np.maximum(ranked[:, -2], p[:, -1])
    return folded.argmax(axis=1), ranked[:, -1], rival


_COMMANDS = list(PHRASES)
_COMMAND_INDEX = {p: _COMMANDS.index(parse(p)) for p in PHRASE_CLASSES}


def as_shipped(network: Network) -> Network:
    """The network with the precision `save` gives it."""
    half = [getattr(network, k).astype(np.float16).astype(np.float32)
            for k in ("mean", "scale", "w1")]
    return Network(*half, network.b1, network.w2.astype(np.float16).astype(np.float32),
                   network.b2)


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


if __name__ == "__main__":
    main()
