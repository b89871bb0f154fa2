"""Speaker profiles on real human voices: what enrolling one or two takes buys.

    .venv/bin/python -m benchmarks.enroll [--split validate] [--takes 1,2] [--show]
                                          [--condition clean|room]
                                          [--enroll-condition clean,room]
                                          [--set KEY=VALUE ...]

Reads `../shared/corpus` (`tests/human_corpus.py`), split by speaker: `tune` is what the
profile's thresholds were calibrated on, `validate` (default) is what figures are quoted on.
Speakers who said "go" more than once (the only phrase with several takes per speaker in the
corpus) are cross-validated: each enrolls `--takes` of their takes (each take in turn, as
`voice-guide enroll --from` would: the same utterance finding and embeddings), and their other
takes go through what `voice-guide listen --json --profile NAME` does (read, segmenter,
whisper, the profile recognizer, full vocabulary). Figures, with and without the profile:
- the enrolled speaker's other takes of "go": right / wrong / missed;
- the same speakers' other words (cat, down, up, ...): accepted as a command; their stop, yes
  and no (the corpus has them from some of these speakers): right;
- words by voices that did not enroll (a fixed sample of the split's other speakers);
- false accepts per hour of talk and noise, each profile in turn;
- what the profile costs per utterance the base heard nothing in.
Each recording is decoded by Whisper once and each utterance embedded once (cached in
memory); every profile's decision is `ProfileRecognizer.rescue`, the code `listen` runs.
`--set max_distance=0.05` etc. try profile settings without editing code.

`--condition room` hears every recording that is listened to (the enrolled speakers' other
takes and other words, the other voices' words, the talk and noise) in a treatment room, as
`benchmarks.room` builds one (`in_room`): reverberated by a synthetic room (RT60 0.25-0.6 s,
direct-to-reverberant -3 to +6 dB), at the recording's own level (a little lower where it
would clip), with ROOM_PAD_S of a bed before and after it (the segmenter has to cut the word
out of the bed) and under it, the bed (pink noise, a fan, rain, the corpus's music or
animals) 10, 15 or 20 dB under the recording's active level; all drawn from a seed of the
recording's name, so a recording is always heard in the same room. `--enroll-condition` says
how the enrolled takes are heard: `clean` (the default: the corpus's own recordings), `room`
(the takes heard in a room the same way), or both, comma-separated (one report each, sharing
the decoding of what is listened to).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import math
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from benchmarks import room
from tests import human_corpus
from tests.human_corpus import Recording
from voice_guide.commands import ALL_COMMANDS, Command
from voice_guide.events import Heard
from voice_guide.listen.engine import SAMPLE_RATE, Segment
from voice_guide.listen.enrollment import take_utterance
from voice_guide.listen.pipeline import listen_to
from voice_guide.listen.profile import Profile, ProfileRecognizer, ProfileSettings, distances
from voice_guide.wav import read_wav_16k

OTHER_VOICES = 300  # words by speakers who did not enroll, the same sample for every profile
CONDITIONS = ("clean", "room")
ROOM_PAD_S = 1.0  # seconds of the bed before and after a recording heard in the room
ROOM_PEAK = 0.9  # of full scale: the highest peak of a recording heard in the room
SYNTHETIC_BEDS = ("pink", "fan", "rain")  # the beds `room.make_bed` makes with no recording


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.enroll")
    parser.add_argument("--split", choices=human_corpus.SPLITS, default="validate")
    parser.add_argument("--takes", default="1,2", help="takes enrolled, comma-separated")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a profile setting (ProfileSettings)")
    parser.add_argument("--show", action="store_true", help="print every miss and false accept")
    parser.add_argument("--condition", choices=CONDITIONS, default="clean",
                        help="how what is listened to is heard: the recordings as they are "
                             "(clean), or in a treatment room (room)")
    parser.add_argument("--enroll-condition", default="clean", metavar="clean,room",
                        help="how the enrolled takes are heard, comma-separated for both")
    args, _ = parser.parse_known_args(argv)  # run_all passes every benchmark the same extras
    enroll_conditions = [c.strip() for c in args.enroll_condition.split(",") if c.strip()]
    unknown = [c for c in enroll_conditions if c not in CONDITIONS]
    if unknown or not enroll_conditions:
        parser.error(f"--enroll-condition: {', '.join(unknown) or 'none given'} (choose from "
                     f"{', '.join(CONDITIONS)})")
    if not human_corpus.available():
        print(f"benchmarks.enroll: {human_corpus.ABSENT}; nothing measured")
        return 0
    settings = _settings(args.set)
    bench = Bench(settings, args.condition)
    speakers = multi_take_speakers(args.split)
    enrolled = {s for s in speakers}
    own_words = [r for s in speakers for r in speakers[s]["other"]]
    strangers = [r for r in human_corpus.recordings("word", args.split)
                 if r.speaker not in enrolled]
    rng = np.random.default_rng(11)
    sample = [strangers[i] for i in sorted(rng.choice(len(strangers), min(OTHER_VOICES,
                                                                          len(strangers)),
                                                      replace=False))]
    talk = [*human_corpus.recordings("talk", args.split), *human_corpus.recordings("noise")]
    takes = sum(len(v["go"]) for v in speakers.values())
    print(f"speaker profiles on human speech, split {args.split}: {len(speakers)} speakers "
          f"with 2+ takes of \"go\" ({takes} takes), {len(own_words)} other words by them; "
          f"{len(sample)} words by {len({r.speaker for r in sample})} voices that did not "
          f"enroll; {sum(r.seconds for r in talk) / 60:.1f} min of talk and noise")
    if args.condition == "room":
        print(f"heard in a room: each recording reverberated (a synthetic room, RT60 "
              f"{room.RT60_S[0]:g}-{room.RT60_S[1]:g} s, direct-to-reverberant "
              f"{room.DRR_DB[0]:+g} to {room.DRR_DB[1]:+g} dB) at its own level (lower where it "
              f"would clip), {ROOM_PAD_S:g} s of a bed before and after it, the bed "
              f"{'/'.join(f'{snr:g}' for snr in room.SNRS_DB)} dB under its active level")
    if args.set:
        print(f"settings: {settings}")
    began = time.perf_counter()
    for enroll_condition in enroll_conditions:
        for counts in [int(n) for n in args.takes.split(",")]:
            report(bench, speakers, sample, talk, counts, args.show, enroll_condition)
    embed = bench.front_end.times
    print(f"\ncost of a profile, per utterance the base heard nothing in: embedding median "
          f"{_median(embed):.0f} ms (p95 {_p95(embed):.0f} ms); when a take is close, Whisper's "
          f"forced score of the phrase median {_median(bench.score_ms):.0f} ms (p95 "
          f"{_p95(bench.score_ms):.0f} ms, asked for {len(bench.score_ms)} of {len(embed)} "
          f"utterances); {time.perf_counter() - began:.0f} s in all")
    return 0


def multi_take_speakers(split: str) -> dict[str, dict[str, list[Recording]]]:
    """speaker -> {"go": their takes of go, "other": their other words}, for the speakers of
    `split` who said "go" at least twice."""
    by: dict[str, dict[str, list[Recording]]] = defaultdict(lambda: {"go": [], "other": []})
    for item in human_corpus.recordings("word", split):
        by[item.speaker]["go" if item.label == "go" else "other"].append(item)
    return {s: v for s, v in by.items() if len(v["go"]) >= 2}


@dataclass
class Tally:
    right: int = 0
    wrong: int = 0
    missed: int = 0
    base_right: int = 0
    base_wrong: int = 0
    own_words: int = 0
    own_accepted: int = 0
    own_base_accepted: int = 0
    own_commands: int = 0  # their other words that are commands (stop, yes, no)
    own_commands_right: int = 0
    own_commands_base_right: int = 0
    strangers: int = 0
    strangers_accepted: int = 0
    strangers_base_accepted: int = 0
    strangers_go: int = 0
    strangers_go_right: int = 0
    strangers_go_base_right: int = 0
    talk_seconds: float = 0.0
    talk_accepted: int = 0
    talk_base_accepted: int = 0
    worse_speakers: int = 0
    speakers: int = 0
    profiles: int = 0
    shown: list[str] = field(default_factory=list)


def report(bench: Bench, speakers: dict[str, dict[str, list[Recording]]],
           sample: list[Recording], talk: list[Recording], counts: int, show: bool,
           enroll_condition: str = "clean") -> None:
    tally = Tally()
    for speaker, words in speakers.items():
        gos = words["go"]
        if len(gos) <= counts:
            continue
        tally.speakers += 1
        with_profile = without = 0
        for k in range(len(gos)):  # each take in turn begins the enrolled ones
            chosen = [gos[(k + i) % len(gos)] for i in range(counts)]
            profile = bench.enroll(speaker, chosen, enroll_condition)
            if profile is None:
                continue
            tally.profiles += 1
            for item in gos:
                if item in chosen:
                    continue
                heard, base = bench.hear(item, profile)
                right, base_right = heard == [Command.NEXT], base == [Command.NEXT]
                tally.right += right
                tally.base_right += base_right
                with_profile += right
                without += base_right
                tally.wrong += bool(heard) and not right
                tally.base_wrong += bool(base) and not base_right
                tally.missed += not heard
                if show and not right:
                    tally.shown.append(f"    {speaker} {item.path.name}: "
                                       f"{', '.join(map(str, heard)) or 'nothing'}")
            for item in words["other"]:
                heard, base = bench.hear(item, profile)
                if item.command is not None:  # stop, yes, no: right when heard as themselves
                    tally.own_commands += 1
                    tally.own_commands_right += heard == [item.command]
                    tally.own_commands_base_right += base == [item.command]
                    if show and heard != base:
                        tally.shown.append(f"    {speaker} {item.path.name} ({item.label}): "
                                           f"{', '.join(map(str, heard)) or 'nothing'}")
                    continue
                tally.own_words += 1
                tally.own_accepted += bool(heard)
                tally.own_base_accepted += bool(base)
                if show and len(heard) > len(base):
                    tally.shown.append(f"    {speaker} {item.path.name} ({item.label}): "
                                       f"{', '.join(map(str, heard))}")
            if k:  # other voices and talk: each speaker's first profile
                continue
            for item in sample:
                heard, base = bench.hear(item, profile)
                if item.command is Command.NEXT:
                    tally.strangers_go += 1
                    tally.strangers_go_right += heard == [Command.NEXT]
                    tally.strangers_go_base_right += base == [Command.NEXT]
                elif item.command is None:
                    tally.strangers += 1
                    tally.strangers_accepted += bool(heard)
                    tally.strangers_base_accepted += bool(base)
                    if show and len(heard) > len(base):
                        tally.shown.append(f"    other voice {item.path.name} ({item.label}) "
                                           f"with {speaker}'s profile: "
                                           f"{', '.join(map(str, heard))}")
            for item in talk:
                heard, base = bench.hear(item, profile)
                tally.talk_seconds += item.seconds + (2 * ROOM_PAD_S
                                                      if bench.condition == "room" else 0.0)
                tally.talk_accepted += len(heard)
                tally.talk_base_accepted += len(base)
                if show and len(heard) > len(base):
                    tally.shown.append(f"    talk {item.path.name} with {speaker}'s profile: "
                                       f"{', '.join(map(str, heard))}")
        tally.worse_speakers += with_profile < without
    t = tally
    total = t.right + t.wrong + t.missed
    hours = t.talk_seconds / 3600 or 1.0
    where = ("" if enroll_condition == bench.condition == "clean" else
             " from clean takes" if enroll_condition == "clean" else
             " from takes heard in the room")
    in_the_room = " (heard in the room)" if bench.condition == "room" else ""
    print(f"\n{counts} take{'s' if counts > 1 else ''} of \"go\" enrolled{where} ({t.profiles} "
          f"profiles of {t.speakers} speakers, each take in turn){in_the_room}:")
    print(f"  their other takes of go: right {_pct(t.right, total)}  wrong "
          f"{_pct(t.wrong, total)}  missed {_pct(t.missed, total)}  (of {total}; without "
          f"a profile: right {_pct(t.base_right, total)}, wrong {_pct(t.base_wrong, total)})")
    print(f"  speakers heard worse with their profile than without: {t.worse_speakers} of "
          f"{t.speakers}")
    print(f"  their other words accepted as a command: {_pct(t.own_accepted, t.own_words)} "
          f"(of {t.own_words} that are no command; without a profile "
          f"{_pct(t.own_base_accepted, t.own_words)}); their stop, yes and no right "
          f"{_pct(t.own_commands_right, t.own_commands)} (of {t.own_commands}; without "
          f"{_pct(t.own_commands_base_right, t.own_commands)})")
    print(f"  words by voices that did not enroll, accepted: "
          f"{_pct(t.strangers_accepted, t.strangers)} (of {t.strangers}, each against one "
          f"profile per speaker; without {_pct(t.strangers_base_accepted, t.strangers)}); "
          f"their \"go\" right {_pct(t.strangers_go_right, t.strangers_go)} (without "
          f"{_pct(t.strangers_go_base_right, t.strangers_go)})")
    print(f"  talk and noise: {t.talk_accepted / hours:.1f} false accepts per hour with a "
          f"profile ({t.talk_accepted} in {t.talk_seconds / 60:.0f} min), without "
          f"{t.talk_base_accepted / hours:.1f}")
    for line in t.shown:
        print(line)


class Bench:
    """Whisper decoding each recording once, and every profile deciding on the cached
    transcripts and embeddings with `ProfileRecognizer.rescue`."""

    def __init__(self, settings: ProfileSettings, condition: str = "clean") -> None:
        from voice_guide.listen.embedding import EmbeddingFrontEnd
        from voice_guide.listen.whisper_engine import WhisperRecognizer

        self.condition = condition  # how what is listened to is heard
        self.whisper = WhisperRecognizer()
        self.front_end = CachedFrontEnd(EmbeddingFrontEnd())
        self.profile = ProfileRecognizer(self.whisper, Profile(name="bench"), self.front_end,
                                         settings)
        scorer = self.profile._scorer
        assert scorer is not None
        self.score_ms: list[float] = []
        scorer.phrase_logprob = _cached(scorer.phrase_logprob, self.score_ms)  # type: ignore[method-assign]
        self.decisions: dict[tuple[str, float, int, bool], tuple[Heard | None, Any]] = {}
        self._takes: dict[tuple[str, str], np.ndarray | None] = {}
        self._base: dict[str, tuple[list[Command], np.ndarray | None]] = {}
        self._unheard: dict[str, list[Segment]] = defaultdict(list)  # base heard nothing

    def enroll(self, speaker: str, takes: list[Recording],
               condition: str = "clean") -> Profile | None:
        """The profile `enroll --from` makes of these takes, heard in `condition` (None when
        no take has speech)."""
        features = [f for f in (self._take(item, condition) for item in takes) if f is not None]
        if not features:
            return None
        return Profile(name=speaker.replace(":", "-"), templates={"go": np.stack(features)})

    def _take(self, item: Recording, condition: str) -> np.ndarray | None:
        key = (condition, str(item.path))
        if key not in self._takes:
            utterance, _ = take_utterance(audio_heard(item, condition))
            self._takes[key] = (None if utterance is None
                                else self.front_end.features(utterance.audio))
        return self._takes[key]

    def hear(self, item: Recording, profile: Profile) -> tuple[list[Command], list[Command]]:
        """What `listen --profile` hears in the recording, and what `listen` hears."""
        key = str(item.path)
        if key not in self._base:
            audio = audio_heard(item, self.condition)
            base = [h.command for h in listen_to(_Decider(self, key, False), audio, ALL_COMMANDS)]
            unheard = [self.front_end.features(s.audio) for s in self._unheard.pop(key, [])]
            self._base[key] = (base, np.stack(unheard) if unheard else None)
        base, unheard = self._base[key]
        # The profile can only step in where the base heard nothing, and only near a take:
        # when no such utterance is near one, `listen --profile` hears what `listen` hears.
        if unheard is None or not self._near(unheard, profile):
            return base, base
        self.profile.use(profile)
        audio = audio_heard(item, self.condition)
        with_profile = listen_to(_Decider(self, key, True), audio, ALL_COMMANDS)
        return [h.command for h in with_profile], base

    def _near(self, unheard: np.ndarray, profile: Profile) -> bool:
        limit = self.profile.settings.max_distance
        return any(float(distances(template, unheard).min()) <= limit  # DTW is symmetric
                   for takes in profile.templates.values() for template in takes)


@functools.lru_cache(maxsize=16)
def audio_heard(item: Recording, condition: str) -> np.ndarray:
    """The recording as the microphone hears it in `condition` (int16, 16 kHz)."""
    return in_room(item).audio if condition == "room" else read_wav_16k(item.path)


@dataclass(frozen=True)
class InRoom:
    """A recording heard in a treatment room, and the room it was heard in."""

    tracks: room.Tracks  # the reverberated recording, ROOM_PAD_S in, and the bed
    start: float  # where the recording (its direct sound) begins, and ends, in seconds
    end: float
    bed: str  # one of room.BED_KINDS
    bed_source: str  # the corpus recording it is made of (the kind, for a synthetic bed)
    snr_db: float  # the bed's level under the recording's active level
    rt60: float
    drr_db: float
    gain_db: float  # 0, or how much lower a loud recording is heard so as not to clip

    @property
    def audio(self) -> np.ndarray:
        return room.mixdown(self.tracks)


def in_room(item: Recording) -> InRoom:
    """`item` heard in a treatment room as `benchmarks.room` builds one: reverberated by a
    synthetic room response (`room.synthetic_response`, `room.reverberate`) and kept at its
    own active level (lowered only where it would clip: ROOM_PEAK), ROOM_PAD_S of a bed
    (`room.make_bed`) before and after it, the bed 10, 15 or 20 dB under its active level
    (`room.words_power`). The room, the bed and their
    noise are drawn from a seed of the recording's name: the same every time."""
    rng = np.random.default_rng(room_seed(item))
    dry = read_wav_16k(item.path).astype(np.float64)
    rt60 = float(rng.uniform(*room.RT60_S))
    drr_db = float(rng.uniform(*room.DRR_DB))
    wet = room.reverberate(dry, room.synthetic_response(rt60, drr_db, rng))
    wet *= math.sqrt(room.active_power(dry) / room.active_power(wet))
    pad = round(ROOM_PAD_S * SAMPLE_RATE)
    samples = pad + len(dry) + pad  # the reverberant tail (at most RT60) rings into the bed
    speech = np.zeros(samples)
    wet = wet[: samples - pad]
    speech[pad : pad + len(wet)] = wet
    sources = room.bed_sources()
    kinds = [k for k in room.BED_KINDS if k in SYNTHETIC_BEDS or sources.get(k)]
    kind = kinds[int(rng.integers(len(kinds)))]
    source = (sources[kind][int(rng.integers(len(sources[kind])))].path.name
              if kind not in SYNTHETIC_BEDS else kind)
    snr_db = float(rng.choice(room.SNRS_DB))
    bed = room.make_bed(kind, source, samples, rng)
    start, end = pad / SAMPLE_RATE, (pad + len(dry)) / SAMPLE_RATE
    span = room.Placed(kind=item.kind, label=item.label, command=item.command, start=start,
                       end=end, source=item.path.name)
    level = room.words_power(speech, [span])
    bed *= math.sqrt(level / 10 ** (snr_db / 10) / np.mean(bed**2))
    # a microphone's gain leaves headroom: a loud recording whose mix with its reverberation
    # and the bed would clip is heard a little lower, all of it alike
    gain = min(1.0, ROOM_PEAK * 32768.0 / max(1.0, float(np.max(np.abs(speech + bed)))))
    return InRoom(room.Tracks(speech * gain, bed * gain), start, end, kind, source, snr_db,
                  rt60, drr_db, 20 * math.log10(gain))


def room_seed(item: Recording) -> int:
    """A seed from the recording's name (its path in the corpus)."""
    try:
        name = item.path.relative_to(human_corpus.CORPUS).as_posix()
    except ValueError:
        name = item.path.name
    return int.from_bytes(hashlib.sha1(name.encode()).digest()[:8], "big")


class _Decider:
    name = "whisper+profile"

    def __init__(self, bench: Bench, path: str, profile: bool) -> None:
        self.bench, self.path, self.with_profile = bench, path, profile

    def recognize(self, segment: Segment, commands: frozenset[Command]) -> Heard | None:
        b = self.bench
        key = (self.path, segment.start, len(segment.audio), segment.provisional)
        if key not in b.decisions:
            b.profile._transcript = None
            heard = b.whisper.recognize(segment, commands)
            b.decisions[key] = (heard, b.profile._transcript)
        heard, transcript = b.decisions[key]
        if heard is None and not self.with_profile:
            b._unheard[self.path].append(segment)
        if heard is not None or not self.with_profile:
            return heard
        return b.profile.rescue(segment, commands, transcript)


class CachedFrontEnd:
    """The embedding front end, each distinct utterance embedded once."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.cache: dict[bytes, np.ndarray] = {}
        self.times: list[float] = []  # ms per utterance embedded

    def features(self, audio: np.ndarray) -> np.ndarray:
        key = hashlib.sha1(np.ascontiguousarray(audio).tobytes()).digest()
        if key not in self.cache:
            began = time.perf_counter()
            self.cache[key] = self.inner.features(audio)
            self.times.append(1000 * (time.perf_counter() - began))
        return self.cache[key]


def _cached(score: Callable[[np.ndarray, str], float],
            times: list[float]) -> Callable[[np.ndarray, str], float]:
    cache: dict[tuple[bytes, str], float] = {}

    def cached(audio: np.ndarray, phrase: str) -> float:
        key = (hashlib.sha1(np.ascontiguousarray(audio).tobytes()).digest(), phrase)
        if key not in cache:
            began = time.perf_counter()
            cache[key] = score(audio, phrase)
            times.append(1000 * (time.perf_counter() - began))
        return cache[key]

    return cached


def _settings(pairs: list[str]) -> ProfileSettings:
    settings = ProfileSettings()
    kinds = {f.name: f.type for f in fields(settings)}
    changes: dict[str, Any] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in kinds:
            raise SystemExit(f"benchmarks.enroll: no setting {key!r} (one of "
                             f"{', '.join(kinds)})")
        changes[key] = int(value) if kinds[key] in (int, "int") else float(value)
    return replace(settings, **changes)


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def _p95(values: list[float]) -> float:
    return sorted(values)[int(0.95 * (len(values) - 1))] if values else 0.0


if __name__ == "__main__":
    sys.exit(main())
