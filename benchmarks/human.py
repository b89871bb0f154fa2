"""Recognition on real human voices: the figures that decide whether voice-guide works.

    .venv/bin/python -m benchmarks.human [--engines auto,vosk,...] [--split validate]
                                         [--snr DB] [--limit N] [--set KEY=VALUE ...]

Reads `../shared/corpus` (real recordings, outside the repository; `tests/human_corpus.py`),
split by speaker: `validate` (default) is never looked at by tuning, `tune` is. Each file goes
through exactly what `voice-guide listen --json FILE` does (read, resample, segmenter, engine,
full vocabulary), so the figures are the ones a user of `listen` gets:
- commands right / wrong / missed: isolated words that are phrases ("go", "stop", "yes", "no"):
  right when the one thing heard is that command;
- other single words accepted: isolated words that are not phrases ("cat", "down", "up", ...);
- false accepts per hour of talk (read speech) and noise (music, animals, handling noise);
- decode time per utterance the engine saw (median, p95), one process, this machine.
`--snr DB` mixes a corpus noise recording into every word at that signal-to-noise ratio.
`--set window_frames=500` etc. try Whisper settings without editing code.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from tests import human_corpus
from tests.human_corpus import Recording
from voice_guide.events import Heard
from voice_guide.listen.engine import Recognizer, Segment
from voice_guide.listen.factory import make_recognizer
from voice_guide.listen.pipeline import listen_to
from voice_guide.wav import read_wav_16k


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.human")
    parser.add_argument("--engines", default="auto", help="comma-separated engines to measure")
    parser.add_argument("--split", choices=human_corpus.SPLITS, default="validate")
    parser.add_argument("--snr", type=float, default=None, help="add corpus noise at this SNR")
    parser.add_argument("--limit", type=int, default=0, help="at most N words of each label")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a Whisper setting (window_frames, max_no_speech, min_logprob)")
    parser.add_argument("--no-talk", action="store_true", help="skip talk and noise")
    parser.add_argument("--show", action="store_true", help="print every miss and false accept")
    args, _ = parser.parse_known_args(argv)  # run_all passes every benchmark the same extras
    if not human_corpus.available():
        print(f"benchmarks.human: {human_corpus.ABSENT}; nothing measured")
        return 0
    words = list(_limited(human_corpus.recordings("word", args.split), args.limit))
    talk = [] if args.no_talk else [*human_corpus.recordings("talk", args.split),
                                    *human_corpus.recordings("noise")]
    noises = [read_wav_16k(r.path) for r in human_corpus.recordings("noise")]
    print(f"human speech, split {args.split}: {sum(r.command is not None for r in words)} "
          f"command words, {sum(r.command is None for r in words)} other words, "
          f"{sum(r.seconds for r in talk) / 60:.1f} min of talk and noise"
          + (f"; words mixed with corpus noise at {args.snr:g} dB" if args.snr is not None
             else ""))
    for engine in args.engines.split(","):
        began = time.perf_counter()
        recognizer, reason = make_recognizer(engine)
        recognizer = _with_settings(recognizer, args.set)
        loaded = time.perf_counter() - began
        print(f"\n{engine}: {reason} (loaded in {loaded:.1f} s)")
        timed = TimedRecognizer(recognizer)
        figures = measure(timed, words, talk, noises, args.snr)
        figures.print(args.show)
        for snr in (None, 30.0):
            followed, sessions, heard = spoken_sessions(recognizer, args.split, noises, snr)
            bed = "no noise" if snr is None else f"corpus music/animal sounds at {snr:g} dB"
            print(f"  short sessions spoken by human voices ({bed}) followed: {followed} of "
                  f"{sessions} ({heard} of {sessions * SESSION_WORDS} commands heard)")
        for only_music in (False, True):
            heard, said, wrong = commands_over_beds(recognizer, args.split, snr=30.0,
                                                    only_music=only_music)
            beds_named = "corpus music" if only_music else "every corpus bed (music, animals)"
            print(f"  human \"go\"s over {beds_named} at 30 dB (`listen`): heard {heard} of "
                  f"{said}, {wrong} wrong or extra")
        heard, said, wrong = music_switched_on(recognizer, args.split, snr=30.0)
        print(f"  human \"go\"s 4-24 s after corpus music is switched on in a quiet room, at "
              f"30 dB (`listen`): heard {heard} of {said}, {wrong} wrong or extra")
        heard_kal = synthetic_session(recognizer)
        print(f"  a session by flite kal16 in pink noise at 20 dB (go, go, repeat, stop, go): "
              f"heard {', '.join(heard_kal) or 'nothing'}")
    return 0


SESSION_WORDS = 5  # commands in one short session ("go" said by five different speakers)


def spoken_sessions(recognizer: Recognizer, split: str, noises: list[np.ndarray],
                    snr: float | None, count: int = 5) -> tuple[int, int, int]:
    """How many of `count` short sessions, each five human "go"s (five speakers, 3-5 s apart,
    after the opening cue; a bed of corpus sound at `snr` dB, or none), `simulate --audio`
    follows: every "go" heard, in order, and nothing else, with the session moving one step per
    command; and how many commands were heard in all."""
    from voice_guide.events import Route
    from voice_guide.protocol import load
    from voice_guide.simulate_audio import CHARS_PER_SECOND, simulate_audio
    from voice_guide.speak.gate import TAIL_SECONDS

    script = load()
    # the opening cue to the client plays on the room speaker first: the microphone is muted
    # (it would hear the guide), so the practitioner speaks after it, as in a real session
    opening = simulate_audio(script, np.zeros(16_000, np.int16), recognizer, until=1.0).log
    room = sum(len(r["text"]) for r in opening if r["type"] == "say" and r["route"] == Route.ROOM)
    quiet_until = room / CHARS_PER_SECOND + TAIL_SECONDS + 1.5
    go = [r for r in human_corpus.recordings("word", split) if r.label == "go"]
    # a bed of sound that goes on (music, animals), not the half-second handling noises, which
    # repeated end to end make a rhythmic rubbing the segmenter takes 8 s to learn
    beds = [n for n in noises if len(n) >= 5 * 16_000] or noises
    followed = commands = 0
    for session in range(count):
        pieces = [np.zeros(round(16_000 * quiet_until), np.int16)]
        for k in range(SESSION_WORDS):
            clip = read_wav_16k(go[(session * SESSION_WORDS + k) * 7 % len(go)].path)
            gap = np.zeros(16_000 * (3 + (session + k) % 3), np.int16)
            pieces += [clip, gap]
        audio = np.concatenate(pieces)
        if snr is not None:
            audio = mix(audio, beds[session % len(beds)], snr, seed=session)
        result = simulate_audio(script, audio, recognizer, until=len(audio) / 16_000)
        steps = [r["index"] for r in result.log if r["type"] == "step"]
        heard = [str(h.command) for h in result.heard]
        followed += heard == ["next"] * SESSION_WORDS and steps[-1] == 1 + SESSION_WORDS
        commands += heard.count("next")
    return followed, count, commands


MUSIC = ("guitar", "Hungarian", "Fishin", "Sugar", "Vibe", "trumpet")  # corpus noise file names


def commands_over_beds(recognizer: Recognizer, split: str, snr: float, only_music: bool,
                       sessions: int = 12) -> tuple[int, int, int]:
    """Five human "go"s (five speakers, 3-5 s apart) over a bed of corpus sound that runs the
    whole stream, at `snr` below the loudest of them, through what `listen` does: how many were
    heard (a "go" heard in an utterance overlapping the word), of how many, and how many other
    commands were heard."""
    beds = [read_wav_16k(r.path) for r in human_corpus.recordings("noise")
            if r.seconds >= 5 and (not only_music or any(m in r.path.name for m in MUSIC))]
    go = [r for r in human_corpus.recordings("word", split) if r.label == "go"]
    heard = wrong = 0
    for session in range(sessions):
        pieces, times, at = [np.zeros(16_000 * 6, np.int16)], [], 6.0
        for k in range(SESSION_WORDS):
            clip = read_wav_16k(go[(session * SESSION_WORDS + k) * 7 % len(go)].path)
            gap = np.zeros(16_000 * (3 + (session + k) % 3), np.int16)
            times.append(at)
            at += (len(clip) + len(gap)) / 16_000
            pieces += [clip, gap]
        audio = mix(np.concatenate(pieces), beds[session % len(beds)], snr, seed=session)
        found, other = _gos_heard(recognizer, audio, times)
        heard, wrong = heard + found, wrong + other
    return heard, sessions * SESSION_WORDS, wrong


def music_switched_on(recognizer: Recognizer, split: str, snr: float,
                      sessions: int = 12) -> tuple[int, int, int]:
    """A quiet room, then music from 8 s on; six human "go"s from 12 s, 4 s apart, through
    what `listen` does: (heard, said, other commands heard). The first "go"s come while the
    segmenter is still learning the music as the room's new background."""
    beds = [read_wav_16k(r.path) for r in human_corpus.recordings("noise")
            if r.seconds >= 5 and any(m in r.path.name for m in MUSIC)]
    go = [r for r in human_corpus.recordings("word", split) if r.label == "go"]
    heard = wrong = 0
    for session in range(sessions):
        pieces, times, at = [np.zeros(16_000 * 12, np.int16)], [], 12.0
        for k in range(6):
            clip = read_wav_16k(go[(session * 6 + k) * 5 % len(go)].path)
            times.append(at)
            at += len(clip) / 16_000 + 3.0
            pieces += [clip, np.zeros(16_000 * 3, np.int16)]
        quiet = np.concatenate(pieces)
        switched = 8 * 16_000
        bedded = mix(quiet, beds[session % len(beds)], snr, seed=session)
        audio = np.concatenate([quiet[:switched], bedded[switched:]])
        found, other = _gos_heard(recognizer, audio, times)
        heard, wrong = heard + found, wrong + other
    return heard, sessions * 6, wrong


def _gos_heard(recognizer: Recognizer, audio: np.ndarray, times: list[float]) -> tuple[int, int]:
    """What `listen` hears in `audio` with a "go" starting at each of `times`: how many of them
    were heard (as "next", in an utterance overlapping the word's first second), and how many
    other commands were heard."""
    found: set[int] = set()
    other = 0
    for h in listen_to(recognizer, audio):
        near = [i for i, t in enumerate(times) if h.start < t + 1.0 and h.end > t]
        if near and str(h.command) == "next":
            found.add(near[0])
        else:
            other += 1
    return len(found), other


def synthetic_session(recognizer: Recognizer, snr: float = 20.0) -> list[str]:
    """The commands `simulate --audio` hears in a short session spoken by flite's `kal16`
    voice in pink noise ("go, go, repeat, stop, go", 3-5 s apart, after the opening cue)."""
    from tests.speech import Voice, synthesize, with_noise
    from voice_guide.protocol import load
    from voice_guide.simulate_audio import simulate_audio

    voice = Voice("flite", "kal16", 0, 1.1)
    pieces = [np.zeros(16_000 * 16, np.int16)]
    for k, word in enumerate(("go", "go", "repeat", "stop", "go")):
        pieces += [synthesize(word, voice), np.zeros(16_000 * (3 + k % 3), np.int16)]
    audio = with_noise(np.concatenate(pieces), snr, seed=7)
    result = simulate_audio(load(), audio, recognizer, until=len(audio) / 16_000)
    return [h.phrase for h in result.heard]


@dataclass
class Figures:
    commands: Counter[str] = field(default_factory=Counter)  # right / wrong / missed
    per_word: dict[str, Counter[str]] = field(default_factory=dict)
    others: int = 0
    others_accepted: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)
    talk_seconds: float = 0.0
    talk_accepted: list[str] = field(default_factory=list)
    decode_ms: list[float] = field(default_factory=list)

    def print(self, show: bool) -> None:
        total = self.commands.total() or 1
        right, wrong = self.commands["right"], self.commands["wrong"]
        print(f"  commands right {100 * right / total:.1f} %  wrong {100 * wrong / total:.1f} %"
              f"  missed {100 * self.commands['missed'] / total:.1f} %  (of {total})")
        for word, tally in sorted(self.per_word.items()):
            print(f"    {word:<9} {tally['right']:4d} of {tally.total():4d} right, "
                  f"{tally['wrong']} wrong")
        print(f"  other words accepted {100 * len(self.others_accepted) / max(1, self.others):.1f}"
              f" %  ({len(self.others_accepted)} of {self.others})")
        hours = self.talk_seconds / 3600
        if hours:
            print(f"  false accepts in talk and noise: {len(self.talk_accepted)} in "
                  f"{self.talk_seconds / 60:.1f} min = {len(self.talk_accepted) / hours:.1f} "
                  "per hour")
        if self.decode_ms:
            ms = sorted(self.decode_ms)
            print(f"  decode per utterance: median {statistics.median(ms):.0f} ms, p95 "
                  f"{ms[int(0.95 * (len(ms) - 1))]:.0f} ms ({len(ms)} utterances)")
        if show:
            for line in (*self.misses, *self.others_accepted, *self.talk_accepted):
                print(f"    {line}")


def measure(recognizer: Recognizer, words: list[Recording], talk: list[Recording],
            noises: list[np.ndarray], snr: float | None) -> Figures:
    figures = Figures()
    decode = getattr(recognizer, "decode_ms", [])
    for i, item in enumerate(words):
        audio = read_wav_16k(item.path)
        if snr is not None:
            audio = mix(audio, noises[i % len(noises)], snr, seed=i)
        heard = listen_to(recognizer, audio)
        said = ", ".join(h.phrase for h in heard) or "nothing"
        if item.command is None:
            figures.others += 1
            if heard:
                figures.others_accepted.append(f"{item.path.name} ({item.label}): {said}")
            continue
        outcome = ("right" if [h.command for h in heard] == [item.command]
                   else "missed" if not heard else "wrong")
        figures.commands[outcome] += 1
        figures.per_word.setdefault(item.label, Counter())[outcome] += 1
        if outcome != "right":
            figures.misses.append(f"{item.path.name} ({item.label}) {outcome}: {said}")
    for item in talk:
        audio = read_wav_16k(item.path)
        figures.talk_seconds += len(audio) / 16_000
        figures.talk_accepted += [f"{item.path.name}: {h.phrase}"
                                  for h in listen_to(recognizer, audio)]
    figures.decode_ms = list(decode)
    return figures


def mix(audio: np.ndarray, noise: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    """`audio` with a random stretch of `noise` at `snr_db` below the speech's loud frames."""
    rng = np.random.default_rng(seed)
    if len(noise) < len(audio):
        noise = np.tile(noise, len(audio) // max(1, len(noise)) + 1)
    start = int(rng.integers(0, len(noise) - len(audio) + 1))
    bed = noise[start : start + len(audio)].astype(np.float64)
    speech = audio.astype(np.float64)
    frames = speech[: len(speech) // 160 * 160].reshape(-1, 160)
    power = np.mean(frames**2, axis=1)
    loud = power[power >= power.max() * 0.1].mean() if len(power) else 0.0
    bed_power = np.mean(bed**2) or 1.0
    bed *= np.sqrt(loud / bed_power / 10 ** (snr_db / 10))
    return np.clip(speech + bed, -32768, 32767).astype(np.int16)


class TimedRecognizer:
    """Any recognizer, with the wall time of each decode recorded. Its other attributes are the
    inner one's: the listener reads the engine's `first_look` and `offer_long`, so a wrapper
    that hid them would measure another segmenter than `listen` runs."""

    def __init__(self, inner: Recognizer) -> None:
        self.inner = inner
        self.name = inner.name
        self.decode_ms: list[float] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def recognize(self, segment: Segment, commands: frozenset) -> Heard | None:  # type: ignore[type-arg]
        began = time.perf_counter()
        try:
            return self.inner.recognize(segment, commands)
        finally:
            self.decode_ms.append(1000 * (time.perf_counter() - began))


def _with_settings(recognizer: Recognizer, pairs: list[str]) -> Recognizer:
    if not pairs:
        return recognizer
    settings = recognizer.settings  # type: ignore[attr-defined]
    changes = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        current = getattr(settings, key)
        if value.lower() == "none":
            changes[key] = None
        elif current is None:
            changes[key] = float(value)
        else:
            changes[key] = type(current)(value)
    recognizer.settings = replace(settings, **changes)  # type: ignore[attr-defined]
    return recognizer


def _limited(items: Iterable[Recording], limit: int) -> Iterable[Recording]:
    counts: Counter[str] = Counter()
    for item in items:
        counts[item.label] += 1
        if not limit or counts[item.label] <= limit:
            yield item


if __name__ == "__main__":
    sys.exit(main())
