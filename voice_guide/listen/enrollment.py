"""Enrollment: takes of the vocabulary's phrases in, a `Profile` out.

A take is a recording of one phrase. Its utterance is found exactly as `voice-guide listen`
would find it (the segmenter and the listener's rules, `take_utterance`), and its speech
embeddings are what the profile keeps. Each take is checked (`take_problems`): no speech, too
quiet, clipped, cut off, too noisy, or not like the other takes of the same phrase; and the
engine must not hear another command in it (`heard_instead`: "back" said for "next"). The
interactive `voice-guide enroll` asks again with the reason; `enroll --from` leaves out a take
with no speech or another command in it, and warns about the rest.

The self-test (`self_test`) hears each take with a profile made of the other takes (the take
itself left out), through the same recognizer `listen --profile` uses.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voice_guide.commands import ALL_COMMANDS, CLIENT_ANSWERS, Command, normalize, parse
from voice_guide.events import Heard
from voice_guide.listen.engine import SAMPLE_RATE, Recognizer, Segment
from voice_guide.listen.profile import ENROLL_PHRASES, Profile, ProfileRecognizer, distances

# Take checks, in dBFS of 10 ms frames' RMS, and seconds
MIN_LEVEL_DBFS = -40.0  # the utterance's loud frames must reach this ("too quiet")
MIN_SNR_DB = 15.0  # loud frames above the recording's background ("too noisy"; 10 % of the
# corpus's recordings are below 14 dB)
CLIP_LEVEL = 32_000  # |sample| at or above this is clipped...
MAX_CLIPPED = 0.002  # ...and more than this share of the utterance's samples is "clipped"
EDGE_SECONDS = 0.03  # a recording whose first or last 30 ms are speech (within EDGE_DB of the
EDGE_DB = 10.0  # utterance's loud frames) was cut off
# A take farther than this from every other take of its phrase is "not like the other takes".
# Measured on the corpus (tuning half): a speaker's take of "go" is 0.026 from the nearest of
# their other takes (median), 0.057 at the 95th percentile, 0.078 at the 99th; their other
# words are 0.076 from their nearest "go" (median). So the check catches a take that is
# clearly something else (a cough, another word said differently), not every other word.
MAX_TAKE_DISTANCE = 0.08
# Within the utterance, its loud frames (95th percentile of those within 30 dB of the loudest)
# must stand this far above its quiet ones (10th percentile): noise over the whole word, with
# quiet around it, passes the background check but not this one. Measured (2026-12-06): the
# 267 takes of go, stop, yes and no of the corpus's tuning half that pass the other checks
# are all 11 dB or more apart; the same words under pink noise, babble or music 5 dB louder
# than the speech mostly fall under 10.
MIN_INNER_SPREAD_DB = 10.0



class EnrollError(Exception):
    """A take or a manifest row cannot be used; the message names it, in one line."""


def phrase_of(written: str) -> str | None:
    """The vocabulary phrase a manifest cell or a `--phrases` item names ("Go!" -> "go"), or
    None when it is none a practitioner enrolls."""
    phrase = normalize(written)
    return phrase if phrase in ENROLL_PHRASES else None


def why_not_a_phrase(written: str) -> str:
    phrase = normalize(written)
    command = parse(phrase)
    if command in CLIENT_ANSWERS:
        return (f"{written.strip()!r} is one of the client's answers, which are not enrolled "
                "(any voice is heard saying them)")
    return (f"{written.strip()!r} is not a phrase of the vocabulary (e.g. go, next, stop, yes, "
            "no, go back, repeat, pause, how long)")


# --- one take -----------------------------------------------------------------------------


class _Capture:
    """A recognizer that hears nothing and keeps, per utterance, the last segment it was given:
    what an engine decodes for that utterance in `listen`."""

    name = "capture"

    def __init__(self) -> None:
        self.segments: dict[float, Segment] = {}

    def recognize(self, segment: Segment, commands: frozenset[Command]) -> Heard | None:
        self.segments[segment.start] = segment
        return None


def take_utterances(audio: np.ndarray) -> list[Segment]:
    """Every utterance `voice-guide listen` would decode in this recording, in order."""
    from voice_guide.listen.pipeline import listen_to

    capture = _Capture()
    listen_to(capture, audio)
    return [capture.segments[start] for start in sorted(capture.segments)]


def take_utterance(audio: np.ndarray) -> tuple[Segment | None, int]:
    """The take's utterance (the one with the most speech energy when there are several) and
    how many utterances there were."""
    found = take_utterances(audio)
    if not found:
        return None, 0
    best = max(found, key=lambda s: float(np.sum(s.audio.astype(np.float64) ** 2)))
    return best, len(found)


def _frame_db(audio: np.ndarray) -> np.ndarray:
    x = np.asarray(audio, np.float64).reshape(-1)
    frames = x[: len(x) // 160 * 160].reshape(-1, 160)
    if not len(frames):
        return np.full(1, -120.0)
    rms = np.sqrt(np.mean(frames ** 2, axis=1)) / 32768.0
    return np.asarray(20 * np.log10(np.maximum(rms, 1e-6)))


def take_problems(
    recording: np.ndarray, utterance: Segment | None, utterances: int = 1,
    others: np.ndarray | None = None, features: np.ndarray | None = None,
    stopped_early: bool = False,
) -> list[str]:
    """What is wrong with one take, worst first (an empty list: a good take).

    `recording`: all the audio of the take (int16, 16 kHz); `utterance`: its utterance
    (`take_utterance`); `others`/`features`: the embeddings of the phrase's takes kept so far
    and of this one, for "not like the other takes"; `stopped_early`: the recording ended
    (time limit) before the utterance could end. Pure: no audio device, no model."""
    if utterance is None:
        return ["no speech heard (or longer than a command: say only the phrase)"]
    problems: list[str] = []
    speech = _frame_db(utterance.audio)
    level = float(np.percentile(speech, 95))
    if level < MIN_LEVEL_DBFS:
        problems.append(f"too quiet ({level:.0f} dBFS): speak up or come closer to the "
                        "microphone")
    samples = np.abs(np.asarray(utterance.audio, np.int32))
    if len(samples) and np.mean(samples >= CLIP_LEVEL) > MAX_CLIPPED:
        problems.append("clipped (too loud): move back a little or lower the input level")
    edges = _frame_db(recording)
    edge = max(1, round(EDGE_SECONDS * 100))  # frames
    if stopped_early or float(edges[-edge:].mean()) >= level - EDGE_DB:
        problems.append("cut off at the end: wait for the prompt, then say the phrase and "
                        "stop")
    elif float(edges[:edge].mean()) >= level - EDGE_DB:
        problems.append("cut off at the start: wait a moment after the prompt before "
                        "speaking")
    background = _background_db(recording, utterance)
    if background is not None and level - background < MIN_SNR_DB:
        problems.append(f"too noisy (speech only {level - background:.0f} dB above the "
                        "background): somewhere quieter, or closer to the microphone")
    elif _inner_spread(speech) < MIN_INNER_SPREAD_DB:
        problems.append("too noisy (a noise as loud as the speech while you spoke): say it "
                        "again when it is quiet, or closer to the microphone")
    if utterances > 1:
        problems.append("heard more than one thing: say only the phrase, once")
    if others is not None and features is not None and len(others):
        nearest = float(distances(features, others).min())
        if nearest > MAX_TAKE_DISTANCE:
            problems.append("not like the other takes: say the same phrase the same way")
    return problems


def heard_instead(base: Recognizer, utterance: Segment, phrase: str) -> Heard | None:
    """The other command the engine hears in this take of `phrase` ("back" said for "next"),
    None when it hears this phrase's command or nothing (what a profile is for)."""
    heard = base.recognize(utterance, ALL_COMMANDS)
    return heard if heard is not None and heard.command != parse(phrase) else None


def _inner_spread(speech: np.ndarray) -> float:
    """How far the utterance's loud frames stand above its quiet ones (frame levels in dB),
    among the frames within 30 dB of the loudest (the quiet before and after is left out)."""
    active = speech[speech >= speech.max() - 30.0]
    return float(np.percentile(active, 95) - np.percentile(active, 10))


def _background_db(recording: np.ndarray, utterance: Segment) -> float | None:
    """The level of the recording outside the utterance (its 50th percentile frame), None
    when too little of it is outside."""
    start = max(0, round(utterance.start * SAMPLE_RATE))
    end = start + len(utterance.audio)
    rest = np.concatenate([recording[:start], recording[end:]])
    if len(rest) < SAMPLE_RATE // 10:
        return None
    return float(np.percentile(_frame_db(rest), 50))


# --- many takes ---------------------------------------------------------------------------


@dataclass
class Take:
    phrase: str
    recording: np.ndarray  # the whole take, int16 16 kHz (kept in memory only, never saved)
    features: np.ndarray  # (16, 96): what the profile keeps
    where: str = ""  # "MANIFEST.tsv:3" or "take 2"


def read_manifest(manifest: Path) -> list[tuple[str, Path, str]]:
    """(row label 'FILE:LINE', WAV path, phrase) per row of an enrollment manifest: tab
    separated, a header naming `path` and `phrase`; paths relative to the manifest's folder.
    Every bad row is an EnrollError naming it."""
    try:
        text = manifest.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EnrollError(f"{manifest}: no such file") from None
    except UnicodeDecodeError:
        raise EnrollError(f"{manifest}: cannot read (not UTF-8 text)") from None
    except OSError as error:
        raise EnrollError(f"{manifest}: cannot read ({error.strerror or error})") from None
    reader = csv.reader(text.splitlines(), delimiter="\t")
    header = [cell.strip().lower() for cell in next(reader, [])]
    if "path" not in header or "phrase" not in header:
        raise EnrollError(f"{manifest}:1: the header must name the columns 'path' and "
                          "'phrase' (tab separated)")
    path_at, phrase_at = header.index("path"), header.index("phrase")
    rows: list[tuple[str, Path, str]] = []
    for number, row in enumerate(reader, start=2):
        if not row or not any(cell.strip() for cell in row):
            continue
        where = f"{manifest}:{number}"
        cells = row + [""] * (len(header) - len(row))
        path, written = cells[path_at].strip(), cells[phrase_at].strip()
        if not path:
            raise EnrollError(f"{where}: field 'path' is empty")
        phrase = phrase_of(written)
        if phrase is None:
            raise EnrollError(f"{where}: {why_not_a_phrase(written)}" if written
                              else f"{where}: field 'phrase' is empty")
        full = Path(path) if Path(path).is_absolute() else manifest.parent / path
        if not full.is_file():
            raise EnrollError(f"{where}: {full}: no such file")
        rows.append((where, full, phrase))
    if not rows:
        raise EnrollError(f"{manifest}: no takes listed (only the header line)")
    return rows


def takes_from_manifest(
    manifest: Path, front_end: Any, warn: Callable[[str], None] = lambda _: None,
    base: Recognizer | None = None,
) -> list[Take]:
    """Every row's take; EnrollError (naming the row) for an unreadable file. A take with no
    speech heard in it, or (with a `base` engine) another command heard in it, is left out;
    that, other problems, and the phrases left with no take are passed to `warn`, one line
    each."""
    from voice_guide.wav import WavError, read_wav_16k

    takes: list[Take] = []
    listed: list[str] = []
    for where, path, phrase in read_manifest(manifest):
        listed += [phrase] if phrase not in listed else []
        try:
            recording = read_wav_16k(path)
        except WavError as error:
            raise EnrollError(f"{where}: {error}") from None
        utterance, count = take_utterance(recording)
        if utterance is None:
            warn(f"{where}: {path.name}: no speech heard in it: left out (a take is one "
                 f"recording of {phrase!r}, said alone)")
            continue
        other = heard_instead(base, utterance, phrase) if base is not None else None
        if other is not None:
            warn(f"{where}: {path.name}: heard as \"{other.phrase}\" (the command "
                 f"{other.command}), not {phrase!r}: left out")
            continue
        features = front_end.features(utterance.audio)
        others = [t.features for t in takes if t.phrase == phrase]
        for problem in take_problems(recording, utterance, count,
                                     np.stack(others) if others else None, features):
            warn(f"{where}: {path.name}: {problem}")
        takes.append(Take(phrase, recording, features, where))
    empty = [p for p in listed if p not in {t.phrase for t in takes}]
    if empty:
        warn(f"no take left of {', '.join(repr(p) for p in empty)}: "
             f"{'it is' if len(empty) == 1 else 'they are'} not enrolled")
    return takes


def build_profile(name: str, takes: Iterable[Take], into: Profile | None = None) -> Profile:
    """A profile of these takes; with `into`, that profile with these phrases replaced."""
    by_phrase: dict[str, list[np.ndarray]] = {}
    for take in takes:
        by_phrase.setdefault(take.phrase, []).append(take.features)
    templates = {p: np.stack(f).astype(np.float32) for p, f in by_phrase.items()}
    return (into or Profile(name=name)).with_phrases(templates)


@dataclass
class SelfTest:
    right: int = 0  # takes heard as their phrase's command, with the profile
    base_right: int = 0  # the same without the profile
    takes: int = 0
    missed: tuple[str, ...] = ()  # where each take not heard right was
    failed: tuple[str, ...] = ()  # the phrases of those takes, in order

    @property
    def passed(self) -> bool:
        return self.right == self.takes

    def line(self) -> str:
        return (f"self-test: the new profile hears {self.right} of {self.takes} takes right "
                f"(each against the others; without a profile {self.base_right} of "
                f"{self.takes})")


def self_test(base: Recognizer, profile: Profile, takes: list[Take], front_end: Any) -> SelfTest:
    """Each take heard through the profile recognizer with that take left out of the
    profile (phrases with one take: against the profile's other phrases only)."""
    from voice_guide.listen.pipeline import listen_to

    result = SelfTest()
    missed: list[str] = []
    recognizer = ProfileRecognizer(base, profile, front_end)
    counts: dict[str, int] = {}
    commands = ALL_COMMANDS - CLIENT_ANSWERS
    for take in takes:
        index = counts.get(take.phrase, 0)
        counts[take.phrase] = index + 1
        recognizer.use(profile.without_take(take.phrase, index))
        expected = parse(take.phrase)
        rescued = recognizer.rescued
        heard = [h.command for h in listen_to(recognizer, take.recording, commands)]
        base_heard = heard  # the base alone hears the same unless the profile stepped in
        if recognizer.rescued != rescued:
            base_heard = [h.command for h in listen_to(base, take.recording, commands)]
        result.takes += 1
        result.right += heard == [expected]
        result.base_right += base_heard == [expected]
        if heard != [expected]:
            missed.append(take.where or take.phrase)
            result.failed += (take.phrase,) if take.phrase not in result.failed else ()
    result.missed = tuple(missed)
    return result
