"""Recognition in a treatment room: human commands in one-minute streams over a spa bed.

    .venv/bin/python -m benchmarks.room [--split tune|validate] [--engine auto] [--streams N]
                                        [--conditions room,dry,quiet,digital] [--true-cuts]
                                        [--show] [--json]

A massage room is never silent (music, a water feature, rain, a fan) and its walls echo. Each
stream, built from `../shared/corpus` (`tests/human_corpus.py`, split by speaker like
`benchmarks.human`), holds 6 human commands (go / yes / no / stop, several speakers), 2 other
single words (bed, cat, down, ...) and a clip of talk (at most 8 s), in random order, 3-7 s
apart, and goes through exactly what `voice-guide listen --json` does (`listen_to`, the full
vocabulary). The same streams are heard in four conditions:
- `room`: a bed 10, 15 or 20 dB under the speech (its level on the words' active frames), the
  speech reverberated (the corpus's 3 real impulse responses, or a synthetic room: an
  exponentially decaying noise tail, RT60 0.25-0.6 s, direct-to-reverberant -3 to +6 dB);
- `dry`: the bed, no reverberation; `quiet`: reverberation and a -65 dBFS noise floor, no bed;
- `digital`: the words with exact zeros between them (noise-suppressing headsets deliver that).
Beds: the corpus's music and animal recordings of 5 s or more (looped; not the song with
vocals: a singer is a talker, not a bed), and synthetic pink noise, a fan (low-passed noise,
mains hum, blade tone) and rain on water (band-passed noise, droplet clicks).

Scored by time overlap: a command heard is matched to the item whose span, widened to 0.3 s
before and 0.5 s after (a segment may start early in the bed, a reverberant tail ends late),
it overlaps most. A command item is right when the one command heard on it is its own, wrong
when another was heard, missed when none was; another word is accepted when any command is
heard on it; commands heard on talk or in the bed between items are false accepts (per hour
of stream). `build_streams` and `score` are the Python API for tuning scripts.

`--true-cuts` also gives the engine alone each command and other word cut out of the stream at
its true span (+-0.3 s, `score_true_cuts`), with no segmenter: how much of a condition's loss is
the engine's own, and how much the cutting's.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import butter, fftconvolve, sosfilt

from benchmarks.human import TimedRecognizer
from tests import human_corpus
from tests.human_corpus import Recording
from voice_guide.commands import ALL_COMMANDS, Command
from voice_guide.events import Heard
from voice_guide.listen.engine import SAMPLE_RATE, Recognizer, Segment
from voice_guide.listen.pipeline import listen_to

CONDITIONS = ("room", "dry", "quiet", "digital")
BED_KINDS = ("music", "animals", "pink", "fan", "rain")
SNRS_DB = (10.0, 15.0, 20.0)
COMMAND_WORDS = ("go", "yes", "no", "stop")  # the product's words the corpus has people saying
COMMANDS_PER_STREAM = 6
OTHERS_PER_STREAM = 2
GAP_S = (3.0, 7.0)  # quiet (bed) between one item's end and the next one's start
TAIL_S = 3.0  # bed after the last item (room for its reverberation)
TALK_MAX_S = 8.0
SPEECH_DBFS = -26.0  # each speech item's active level, +- TALKER_SPREAD_DB
TALKER_SPREAD_DB = 3.0
FLOOR_DBFS = -65.0  # the `quiet` room's noise floor (RMS)
ACTIVE_WITHIN_DB = 20.0  # a speech frame is active within this of the item's loudest frame
RT60_S = (0.25, 0.6)
DRR_DB = (-3.0, 6.0)
REAL_ROOM_EVERY = 4  # every 4th stream is heard through one of the corpus's impulse responses
BEFORE_S, AFTER_S = 0.3, 0.5  # an item's span, widened for matching what was heard
CUT_MARGIN_S = 0.3  # a true cut (`score_true_cuts`): the item's span widened this much each side
FRAME = 160  # 10 ms
SPLIT_SEEDS = {"tune": 1, "validate": 2, "all": 3}

Listen = Callable[[Recognizer, np.ndarray], list[Heard]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.room")
    parser.add_argument("--split", choices=("tune", "validate"), default="validate")
    parser.add_argument("--engine", default="auto")
    parser.add_argument("--streams", type=int, default=30, help="streams per condition")
    parser.add_argument("--conditions", default=",".join(CONDITIONS),
                        help=f"comma-separated, of {', '.join(CONDITIONS)}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--true-cuts", action="store_true",
                        help="also the engine alone on each word cut out at its true span")
    parser.add_argument("--show", action="store_true", help="list every miss and false accept")
    parser.add_argument("--json", action="store_true", help="one JSON object with the figures")
    args, _ = parser.parse_known_args(argv)  # run_all passes every benchmark the same extras
    conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
    unknown = [c for c in conditions if c not in CONDITIONS]
    if unknown:
        parser.error(f"--conditions: unknown {', '.join(unknown)} (choose from "
                     f"{', '.join(CONDITIONS)})")
    if not human_corpus.available():
        print(f"benchmarks.room: {human_corpus.ABSENT}; nothing measured")
        return 0
    from voice_guide.listen.factory import make_recognizer

    began = time.perf_counter()
    recognizer, reason = make_recognizer(args.engine)
    print(f"{args.engine}: {reason} (loaded in {time.perf_counter() - began:.1f} s)",
          file=sys.stderr if args.json else sys.stdout)
    results: dict[str, Any] = {"split": args.split, "engine": args.engine, "reason": reason,
                               "streams": args.streams, "seed": args.seed, "conditions": {}}
    for condition in conditions:
        began = time.perf_counter()
        streams = build_streams(args.split, condition, args.streams, args.seed)
        figures = score(recognizer, streams)
        took = time.perf_counter() - began
        if args.json:
            print(f"{condition}: scored in {took:.0f} s", file=sys.stderr)
            results["conditions"][condition] = figures.as_json()
        else:
            print(f"\n{condition} ({DESCRIPTIONS[condition]}), split {args.split}: "
                  f"(built and scored in {took:.0f} s)")
            figures.print(args.show)
        if args.true_cuts:
            cuts = score_true_cuts(recognizer, streams)
            if args.json:
                results["conditions"][condition]["true_cuts"] = cuts.as_json()
            else:
                print(f"  the engine alone, each word cut out at its true span "
                      f"(+-{CUT_MARGIN_S:g} s, no segmenter):")
                cuts.print_cuts(args.show)
    if args.json:
        print(json.dumps(results))
    return 0


DESCRIPTIONS = {
    "room": "a bed 10-20 dB under the speech, reverberation",
    "dry": "a bed 10-20 dB under the speech, no reverberation",
    "quiet": "reverberation, a -65 dBFS noise floor, no bed",
    "digital": "the words with exact zeros between them",
}


# --- Streams -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Placed:
    """One recording placed in a stream: where its audio is (seconds of stream time)."""

    kind: str  # "command", "other" (a single word that is no command) or "talk"
    label: str  # the word said; for talk, the corpus's description
    command: Command | None
    start: float
    end: float  # the end of the recording as said; its reverberation rings on after it
    source: str  # the corpus file's name


@dataclass(frozen=True, eq=False)
class Stream:
    name: str  # "validate-07": the split and the stream's index
    condition: str
    audio: np.ndarray  # int16 mono 16 kHz
    items: tuple[Placed, ...]
    bed: str  # one of BED_KINDS, or "none"
    bed_source: str
    snr_db: float | None  # the bed's level under the words' active level
    room: str  # "synthetic", an impulse response's file name, or "none"

    @property
    def seconds(self) -> float:
        return len(self.audio) / SAMPLE_RATE


def build_streams(split: str, condition: str, count: int = 30, seed: int = 0) -> list[Stream]:
    """The first `count` streams of a split heard in one condition. The words, their order and
    times, the bed and the room depend on (split, index, seed) only: every condition hears the
    same streams, and fewer streams are the first ones of more."""
    if condition not in CONDITIONS:
        raise ValueError(f"unknown condition {condition!r} (choose from {', '.join(CONDITIONS)})")
    if not human_corpus.available():
        raise FileNotFoundError(human_corpus.ABSENT)
    streams = []
    for index in range(count):
        plan = plan_stream(split, index, seed)
        streams.append(Stream(
            name=f"{split}-{index:02d}", condition=condition,
            audio=mixdown(render(plan, condition)), items=plan.items,
            bed=plan.bed if condition in ("room", "dry") else "none",
            bed_source=plan.bed_source if condition in ("room", "dry") else "",
            snr_db=plan.snr_db if condition in ("room", "dry") else None,
            room=plan.room if condition in ("room", "quiet") else "none"))
    return streams


# --- Scoring -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScoredItem:
    stream: Stream
    item: Placed
    heard: tuple[Heard, ...]
    decoded: tuple[tuple[float, float], ...] = ()  # utterances the engine was given over it

    @property
    def cut(self) -> bool:
        """Whether the segmenter cut an utterance out over this item (a miss then is the
        engine's rejection, or a bad cut; otherwise the segmenter's)."""
        return bool(self.decoded)

    @property
    def outcome(self) -> str:
        """right / wrong / missed for a command; accepted / rejected for another word;
        the number of false accepts, as text, for talk."""
        commands = [h.command for h in self.heard]
        if self.item.kind == "command":
            return ("right" if commands == [self.item.command] else
                    "missed" if not commands else "wrong")
        if self.item.kind == "other":
            return "accepted" if commands else "rejected"
        return str(len(commands))


@dataclass
class RoomFigures:
    items: list[ScoredItem] = field(default_factory=list)
    in_bed: list[tuple[Stream, Heard]] = field(default_factory=list)  # heard between items
    seconds: float = 0.0
    decode_ms: list[float] = field(default_factory=list)

    def commands(self, keep: Callable[[ScoredItem], bool] = lambda s: True) -> Counter[str]:
        return Counter(s.outcome for s in self.items if s.item.kind == "command" and keep(s))

    @property
    def others(self) -> list[ScoredItem]:
        return [s for s in self.items if s.item.kind == "other"]

    @property
    def false_accepts(self) -> list[tuple[Stream, Heard]]:
        on_talk = [(s.stream, h) for s in self.items if s.item.kind == "talk" for h in s.heard]
        return sorted([*on_talk, *self.in_bed], key=lambda pair: (pair[0].name, pair[1].start))

    def as_json(self) -> dict[str, Any]:
        tally = self.commands()
        total = tally.total()
        accepted = sum(s.outcome == "accepted" for s in self.others)
        hours = self.seconds / 3600
        ms = sorted(self.decode_ms)

        streams = {id(s.stream): s.stream for s in self.items}.values()
        return {
            "streams": len(streams), "minutes": round(self.seconds / 60, 1),
            "commands": total, "right": tally["right"], "wrong": tally["wrong"],
            "missed": tally["missed"],
            "missed_not_cut": sum(s.outcome == "missed" and not s.cut for s in self.items),
            "right_pct": round(100 * tally["right"] / max(1, total), 1),
            "wrong_pct": round(100 * tally["wrong"] / max(1, total), 1),
            "other_words": len(self.others), "other_words_accepted": accepted,
            "other_words_accepted_pct": round(100 * accepted / max(1, len(self.others)), 1),
            "false_accepts": len(self.false_accepts),
            "false_accepts_on_talk": len(self.false_accepts) - len(self.in_bed),
            "false_accepts_in_bed": len(self.in_bed),
            "false_accepts_per_hour": round(len(self.false_accepts) / hours, 2) if hours else 0.0,
            "per_word": self._rates_by(lambda s: s.item.label),
            "per_bed": self._rates_by(lambda s: s.stream.bed),
            "per_snr": self._rates_by(lambda s: _snr_name(s.stream.snr_db)),
            "per_room": self._rates_by(lambda s: s.stream.room),
            "utterances": len(ms),
            "decode_ms_median": round(statistics.median(ms), 1) if ms else None,
            "decode_ms_p95": round(ms[int(0.95 * (len(ms) - 1))], 1) if ms else None,
        }

    def _rates_by(self, key: Callable[[ScoredItem], str]) -> dict[str, dict[str, Any]]:
        """The commands' outcomes per group (word, bed, ...), the product's words first."""
        groups: dict[str, Counter[str]] = {}
        for s in self.items:
            if s.item.kind == "command":
                groups.setdefault(key(s), Counter())[s.outcome] += 1
        order = {word: k for k, word in enumerate(COMMAND_WORDS)}
        return {name: {"commands": part.total(), "right": part["right"], "wrong": part["wrong"],
                       "missed": part["missed"],
                       "right_pct": round(100 * part["right"] / max(1, part.total()), 1)}
                for name, part in sorted(groups.items(),
                                         key=lambda pair: (order.get(pair[0], 99), pair[0]))}

    def print(self, show: bool) -> None:
        figures = self.as_json()
        talk = sum(s.item.kind == "talk" for s in self.items)
        print(f"  {figures['streams']} streams, {figures['minutes']} min: {figures['commands']} "
              f"commands, {figures['other_words']} other words, {talk} clips of talk")
        print(f"  commands right {figures['right_pct']:.1f} %  wrong {figures['wrong_pct']:.1f} %"
              f"  missed {100 * figures['missed'] / max(1, figures['commands']):.1f} %")
        print(f"  of the misses, {figures['missed_not_cut']} had no utterance cut out over them, "
              f"{figures['missed'] - figures['missed_not_cut']} were decoded and rejected")
        print(f"  other words accepted {figures['other_words_accepted_pct']:.1f} %  "
              f"({figures['other_words_accepted']} of {figures['other_words']})")
        print(f"  false accepts {figures['false_accepts_per_hour']:.1f} per hour "
              f"({figures['false_accepts_on_talk']} on talk, {figures['false_accepts_in_bed']} "
              f"in the bed, in {figures['minutes']} min)")
        for title, key in (("word", "per_word"), ("bed", "per_bed"), ("SNR", "per_snr"),
                           ("room", "per_room")):
            if len(figures[key]) > 1 or key == "per_word":
                print(f"    right per {title}: {_rates_text(figures[key])}")
        if figures["utterances"]:
            print(f"  decode per utterance: median {figures['decode_ms_median']:.0f} ms, p95 "
                  f"{figures['decode_ms_p95']:.0f} ms ({figures['utterances']} utterances)")
        if show:
            for line in self.failures():
                print(f"    {line}")

    def print_cuts(self, show: bool) -> None:
        """The figures of `score_true_cuts`: no time, so no false accepts per hour."""
        figures = self.as_json()
        print(f"    commands right {figures['right_pct']:.1f} %  wrong {figures['wrong_pct']:.1f} %"
              f"  other words accepted {figures['other_words_accepted_pct']:.1f} % "
              f"({figures['other_words_accepted']} of {figures['other_words']})")
        print(f"    right per word: {_rates_text(figures['per_word'])}")
        if show:
            for line in self.failures():
                print(f"      {line}")

    def failures(self) -> list[str]:
        """Every miss, wrong command, other word accepted and false accept, with its time."""
        lines = []
        for s in self.items:
            if s.outcome in ("right", "rejected", "0"):
                continue
            said = ", ".join(f"{h.phrase} ({h.start:.1f}-{h.end:.1f} s)" for h in s.heard)
            if s.outcome == "missed":
                said = "nothing; " + (", ".join(f"decoded {a:.1f}-{b:.1f} s" for a, b in s.decoded)
                                      or "no utterance cut out there")
            what = {"command": "", "other": "other word ", "talk": "talk "}[s.item.kind]
            lines.append(f"{_where(s.stream)} {s.item.start:6.1f} s  {what}{s.item.label} "
                         f"[{s.item.source}] {_outcome_name(s.outcome)}: {said or 'nothing'}")
        lines += [f"{_where(stream)} {h.start:6.1f} s  in the bed: {h.phrase}"
                  for stream, h in self.in_bed]
        return lines


def _rates_text(rates: dict[str, dict[str, Any]]) -> str:
    """`RoomFigures._rates_by` as one line: "go 36/45 (2 wrong), yes 38/42, ..."."""
    return ", ".join(f"{name} {r['right']}/{r['commands']}"
                     + (f" ({r['wrong']} wrong)" if r["wrong"] else "")
                     for name, r in rates.items())


def score(recognizer: Recognizer, streams: Sequence[Stream],
          listen: Listen = listen_to) -> RoomFigures:
    """What `listen` (by default exactly what `voice-guide listen` runs: `listen_to` with the
    full vocabulary) hears in each stream, matched to the items by time."""
    timed = _Watched(recognizer)
    figures = RoomFigures()
    for stream in streams:
        timed.spans = []
        heard = listen(timed, stream.audio)
        on_items: dict[int, list[Heard]] = {k: [] for k in range(len(stream.items))}
        for h in heard:
            k = match(h.start, h.end, stream.items)
            if k is None:
                figures.in_bed.append((stream, h))
            else:
                on_items[k].append(h)
        decoded: dict[int, list[tuple[float, float]]] = {k: [] for k in range(len(stream.items))}
        for start, end in timed.spans:
            k = match(start, end, stream.items)
            if k is not None:
                decoded[k].append((start, end))
        figures.items += [ScoredItem(stream, item, tuple(on_items[k]), tuple(decoded[k]))
                          for k, item in enumerate(stream.items)]
        figures.seconds += stream.seconds
    figures.decode_ms = list(timed.decode_ms)
    return figures


def score_true_cuts(recognizer: Recognizer, streams: Sequence[Stream]) -> RoomFigures:
    """The engine alone on each command and other word of the streams, cut out at its true span
    widened by CUT_MARGIN_S (a final utterance, as the segmenter would end it): what the engine
    hears when the cutting is perfect. Talk is left out (no command is a sentence)."""
    timed = TimedRecognizer(recognizer)
    figures = RoomFigures()
    for stream in streams:
        for item in stream.items:
            if item.kind == "talk":
                continue
            first = max(0, round((item.start - CUT_MARGIN_S) * SAMPLE_RATE))
            last = min(len(stream.audio), round((item.end + CUT_MARGIN_S) * SAMPLE_RATE))
            segment = Segment(stream.audio[first:last], start=first / SAMPLE_RATE,
                              end=last / SAMPLE_RATE)
            heard = timed.recognize(segment, ALL_COMMANDS)
            figures.items.append(ScoredItem(stream, item, (heard,) if heard else (),
                                            ((segment.start, segment.end),)))
    figures.decode_ms = list(timed.decode_ms)
    return figures


class _Watched(TimedRecognizer):
    """The engine, timed, with the span of every utterance it was given."""

    def __init__(self, inner: Recognizer) -> None:
        super().__init__(inner)
        self.spans: list[tuple[float, float]] = []

    def recognize(self, segment: Segment, commands: frozenset[Command]) -> Heard | None:
        self.spans.append((segment.start, segment.end))
        return super().recognize(segment, commands)


def match(start: float, end: float, items: Sequence[Placed]) -> int | None:
    """The index of the item whose widened span the time from `start` to `end` (what was
    heard, or decoded) overlaps most; None: in the bed between items."""
    best, most = None, -math.inf
    for k, item in enumerate(items):
        overlap = min(end, item.end + AFTER_S) - max(start, item.start - BEFORE_S)
        if overlap >= 0 and overlap > most:
            best, most = k, overlap
    return best


# --- Building a stream -------------------------------------------------------------------------

@dataclass(frozen=True)
class Clip:
    """A speech item as planned: its audio (float, dry, at its own level), where it goes."""

    placed: Placed
    audio: np.ndarray
    level_db: float  # the active level it is heard at (dBFS)


@dataclass(frozen=True)
class Plan:
    """A stream before its condition: the same for every condition."""

    seed: tuple[int, ...]
    samples: int
    clips: tuple[Clip, ...]
    bed: str
    bed_source: str
    snr_db: float
    room: str  # "synthetic" or an impulse response's file name
    rt60: float  # synthetic rooms only

    @property
    def items(self) -> tuple[Placed, ...]:
        return tuple(c.placed for c in self.clips)


@dataclass(frozen=True)
class Tracks:
    speech: np.ndarray  # float, int16 scale
    bed: np.ndarray  # the bed or the noise floor (zeros when there is none)


def plan_stream(split: str, index: int, seed: int = 0) -> Plan:
    """Stream `index` of `split`: which recordings, in which order, where; its bed and room."""
    rng = np.random.default_rng([seed, SPLIT_SEEDS[split], index])
    corpus = _corpus(split)
    used_speakers: set[str] = set()

    def pick(pool: list[Recording]) -> Recording:
        for _ in range(100):  # several speakers: no one says two things in a stream
            recording = pool[int(rng.integers(len(pool)))]
            if recording.speaker not in used_speakers:
                break
        used_speakers.add(recording.speaker)
        return recording

    labels = [*COMMAND_WORDS, *rng.choice(COMMAND_WORDS, COMMANDS_PER_STREAM - 4)]
    chosen = [("command", pick(corpus.commands[str(label)])) for label in labels]
    chosen += [("other", pick(corpus.others)) for _ in range(OTHERS_PER_STREAM)]
    chosen.append(("talk", pick(corpus.talk)))
    order = rng.permutation(len(chosen))
    clips, at = [], 0.0
    for k in order:
        kind, recording = chosen[k]
        at += float(rng.uniform(*GAP_S))
        audio = _read(recording.path).astype(np.float64)
        if kind == "talk":
            audio = _excerpt(audio)
        level = SPEECH_DBFS + float(rng.uniform(-TALKER_SPREAD_DB, TALKER_SPREAD_DB))
        start = round(at * SAMPLE_RATE) / SAMPLE_RATE
        end = start + len(audio) / SAMPLE_RATE
        placed = Placed(kind=kind, label=recording.label, command=recording.command,
                        start=start, end=end, source=recording.path.name)
        clips.append(Clip(placed, audio, level))
        at = end
    bed = BED_KINDS[index % len(BED_KINDS)]
    sources = corpus.beds.get(bed)
    bed_source = sources[int(rng.integers(len(sources)))].path.name if sources else bed
    real = index % REAL_ROOM_EVERY == REAL_ROOM_EVERY - 1 and corpus.rooms
    room = corpus.rooms[(index // REAL_ROOM_EVERY) % len(corpus.rooms)].path.name if real \
        else "synthetic"
    return Plan(seed=(seed, SPLIT_SEEDS[split], index), samples=round((at + TAIL_S) * SAMPLE_RATE),
                clips=tuple(clips), bed=bed, bed_source=bed_source,
                snr_db=SNRS_DB[index % len(SNRS_DB)], room=room,
                rt60=float(rng.uniform(*RT60_S)))


def render(plan: Plan, condition: str) -> Tracks:
    """The plan's speech and bed tracks in one condition (random parts drawn from the plan's
    seed, so `room` and `dry` have the same bed, `room` and `quiet` the same rooms)."""
    reverberant = condition in ("room", "quiet")
    rooms = np.random.default_rng([*plan.seed, 1])
    speech = np.zeros(plan.samples)
    for clip in plan.clips:
        audio = clip.audio
        if reverberant:
            audio = reverberate(audio, _response(plan, rooms))
        audio = audio * math.sqrt(10 ** (clip.level_db / 10) * 32768.0**2 / active_power(audio))
        at = round(clip.placed.start * SAMPLE_RATE)
        audio = audio[: plan.samples - at]
        speech[at : at + len(audio)] += audio
    if condition in ("room", "dry"):
        bed = make_bed(plan.bed, plan.bed_source, plan.samples,
                       np.random.default_rng([*plan.seed, 2]))
        words = [c.placed for c in plan.clips if c.placed.kind != "talk"]
        level = words_power(speech, words)
        bed *= math.sqrt(level / 10 ** (plan.snr_db / 10) / np.mean(bed**2))
    elif condition == "quiet":
        bed = np.random.default_rng([*plan.seed, 3]).standard_normal(plan.samples)
        bed *= 32768.0 * 10 ** (FLOOR_DBFS / 20)
    else:
        bed = np.zeros(plan.samples)
    return Tracks(speech, bed)


def mixdown(tracks: Tracks) -> np.ndarray:
    return np.clip(np.round(tracks.speech + tracks.bed), -32768, 32767).astype(np.int16)


def active_power(audio: np.ndarray) -> float:
    """Mean power of the frames within ACTIVE_WITHIN_DB of the loudest one (the speech, not
    the quiet around it)."""
    frames = np.asarray(audio, np.float64)[: len(audio) // FRAME * FRAME].reshape(-1, FRAME)
    power = np.mean(frames**2, axis=1)
    if not len(power) or power.max() <= 0:
        return 1.0
    return float(np.mean(power[power >= power.max() * 10 ** (-ACTIVE_WITHIN_DB / 10)]))


def words_power(speech: np.ndarray, words: Sequence[Placed]) -> float:
    """The words' level in a speech track: the mean power of each word's active frames."""
    powers = []
    for word in words:
        piece = speech[round(word.start * SAMPLE_RATE) : round(word.end * SAMPLE_RATE)]
        frames = piece[: len(piece) // FRAME * FRAME].reshape(-1, FRAME)
        power = np.mean(frames**2, axis=1)
        powers.append(power[power >= power.max() * 10 ** (-ACTIVE_WITHIN_DB / 10)])
    return float(np.mean(np.concatenate(powers)))


def reverberate(speech: np.ndarray, response: np.ndarray) -> np.ndarray:
    """`speech` heard in a room: convolved with its impulse response, the direct sound kept at
    the speech's own time; the reverberation rings on after it, so the result is
    `len(response) - 1 - direct_sound(response)` samples longer."""
    return fftconvolve(np.asarray(speech, np.float64), response)[direct_sound(response):]


def direct_sound(response: np.ndarray) -> int:
    """Where the direct sound is in an impulse response: its first sample within 10 dB of the
    peak (recorded responses have a little silence, and reflections as loud, after it)."""
    magnitude = np.abs(response)
    return int(np.argmax(magnitude >= magnitude.max() * 10 ** (-10 / 20)))


def synthetic_response(rt60: float, drr_db: float, rng: np.random.Generator) -> np.ndarray:
    """A room's impulse response: the direct sound, then after a few milliseconds an
    exponentially decaying noise tail (60 dB in `rt60` seconds) holding 1/10**(drr_db/10) of
    the direct sound's energy."""
    n = round(rt60 * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    tail = rng.standard_normal(n) * np.exp(-3 * math.log(10) * t / rt60)
    tail[: round(float(rng.uniform(0.002, 0.006)) * SAMPLE_RATE)] = 0.0  # first reflection
    tail *= math.sqrt(10 ** (-drr_db / 10) / np.sum(tail**2))
    tail[0] = 1.0
    return tail


def make_bed(kind: str, source: str, samples: int, rng: np.random.Generator) -> np.ndarray:
    """`samples` of a bed (float, unit-free: the caller sets its level)."""
    if kind == "pink":
        return _pink(samples, rng)
    if kind == "fan":
        return _fan(samples, rng)
    if kind == "rain":
        return _rain(samples, rng)
    noise = _read(human_corpus.CORPUS / "noise" / source).astype(np.float64)
    return _looped(noise, samples, rng)


def _response(plan: Plan, rng: np.random.Generator) -> np.ndarray:
    """The room's response for one speech item: the real one, or a synthetic one with the
    room's RT60 and this talker's own distance (direct-to-reverberant ratio)."""
    if plan.room != "synthetic":
        return _read(human_corpus.CORPUS / "rir" / plan.room).astype(np.float64)
    return synthetic_response(plan.rt60, float(rng.uniform(*DRR_DB)), rng)


def _pink(samples: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(samples))
    frequency = np.fft.rfftfreq(samples, 1 / SAMPLE_RATE)
    return np.fft.irfft(spectrum / np.sqrt(np.maximum(frequency, 20.0)), samples)


def _fan(samples: int, rng: np.random.Generator) -> np.ndarray:
    """Low-passed air noise, a mains hum with its harmonics and a wobbling blade tone."""
    t = np.arange(samples) / SAMPLE_RATE
    air = sosfilt(butter(2, float(rng.uniform(300, 600)), "low", fs=SAMPLE_RATE, output="sos"),
                  rng.standard_normal(samples))
    air /= np.std(air)
    air += 0.05 * rng.standard_normal(samples)  # a little hiss
    mains = float(rng.choice([50.0, 60.0]))
    hum = sum(a * np.sin(2 * np.pi * mains * h * t + rng.uniform(0, 2 * np.pi))
              for h, a in ((1, 1.0), (2, 0.5), (3, 0.25)))
    blade = float(rng.uniform(60, 160))
    wobble = 1 + 0.3 * np.sin(2 * np.pi * float(rng.uniform(0.2, 1.0)) * t)
    tone = wobble * np.sin(2 * np.pi * blade * t)
    return air + 0.25 * hum + 0.35 * tone


def _rain(samples: int, rng: np.random.Generator) -> np.ndarray:
    """Water: band-passed noise that swells slowly, and droplets (short decaying tones) at
    random times."""
    t = np.arange(samples) / SAMPLE_RATE
    wash = sosfilt(butter(2, [400.0, 5000.0], "band", fs=SAMPLE_RATE, output="sos"),
                   rng.standard_normal(samples))
    wash *= 1 + 0.3 * np.sin(2 * np.pi * float(rng.uniform(0.1, 0.5)) * t)
    wash /= np.std(wash)
    drops = np.zeros(samples + SAMPLE_RATE // 20)
    rate = float(rng.uniform(15, 40))  # per second
    for at in np.flatnonzero(rng.random(samples) < rate / SAMPLE_RATE):
        n = SAMPLE_RATE // 20
        k = np.arange(n) / SAMPLE_RATE
        decay = np.exp(-k / rng.uniform(0.002, 0.008))
        drop = np.sin(2 * np.pi * rng.uniform(1500, 5000) * k) * decay
        drops[at : at + n] += drop * rng.lognormal(0.0, 0.7)
    return wash + 0.8 * drops[:samples]


def _looped(noise: np.ndarray, samples: int, rng: np.random.Generator) -> np.ndarray:
    """A recording from a random point, looped with a 50 ms crossfade (no click at the seam)."""
    fade_n = min(800, len(noise) // 4)
    fade = np.linspace(0.0, 1.0, fade_n)
    out = noise[int(rng.integers(0, len(noise) - fade_n)):].copy()
    while len(out) < samples:
        out[-fade_n:] = out[-fade_n:] * (1 - fade) + noise[:fade_n] * fade
        out = np.concatenate([out, noise[fade_n:]])
    return out[:samples]


def _excerpt(talk: np.ndarray) -> np.ndarray:
    """At most TALK_MAX_S of talk from its start, ending at its quietest 20 ms after 5 s."""
    longest = round(TALK_MAX_S * SAMPLE_RATE)
    if len(talk) <= longest:
        return talk
    window = 320
    earliest = round(5.0 * SAMPLE_RATE)
    energy = np.convolve(talk[earliest:longest] ** 2, np.ones(window), "valid")
    end = earliest + int(np.argmin(energy)) + window // 2
    piece = talk[:end].copy()
    piece[-window:] *= np.linspace(1.0, 0.0, window)
    return piece


@dataclass(frozen=True)
class _Corpus:
    commands: dict[str, list[Recording]]
    others: list[Recording]
    talk: list[Recording]
    beds: dict[str, list[Recording]]
    rooms: list[Recording]


@functools.lru_cache(maxsize=4)
def _corpus(split: str) -> _Corpus:
    words = list(human_corpus.recordings("word", split))
    return _Corpus(
        commands={w: [r for r in words if r.label == w] for w in COMMAND_WORDS},
        others=[r for r in words if r.command is None],
        talk=list(human_corpus.recordings("talk", split)),
        beds=bed_sources(), rooms=list(human_corpus.recordings("rir")))


def bed_sources() -> dict[str, list[Recording]]:
    """The corpus's recordings a bed is made of, by kind (`music`, `animals`): those of 5 s
    or more, in manifest order (the synthetic kinds need none)."""
    beds: dict[str, list[Recording]] = {}
    for noise in human_corpus.recordings("noise"):
        kind = _bed_kind(noise.label)
        if kind is not None and noise.seconds >= 5:
            beds.setdefault(kind, []).append(noise)
    return beds


def _bed_kind(label: str) -> str | None:
    """`music` or `animals` (birds, sheep, a whale) from a corpus noise's label; None for what
    is no bed: handling noises, and music with vocals (a singer is a talker)."""
    if label.startswith("music:"):
        return "music"
    if label.startswith(("animals:", "nature:")):
        return "animals"
    return None


@functools.lru_cache(maxsize=4096)
def _read(path: Path) -> np.ndarray:
    from voice_guide.wav import read_wav_16k

    return read_wav_16k(path)


def _snr_name(snr: float | None) -> str:
    return "none" if snr is None else f"{snr:g} dB"


def _where(stream: Stream) -> str:
    parts = [f"{stream.bed} {stream.snr_db:g} dB"] if stream.snr_db is not None else []
    parts += [f"room {stream.room}"] if stream.room != "none" else []
    return f"{stream.name}" + (f" [{', '.join(parts)}]" if parts else "")


def _outcome_name(outcome: str) -> str:
    return {"accepted": "accepted as a command"}.get(outcome, outcome if not outcome.isdigit()
                                                     else f"{outcome} false accepts")


if __name__ == "__main__":
    sys.exit(main())
