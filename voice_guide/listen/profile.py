"""Speaker profiles: the practitioner's own takes of the commands, kept as speech-embedding
templates, and the recognizer that listens with them.

A profile is what `voice-guide enroll` makes: for each enrolled phrase ("go", "stop", ...), the
(16, 96) speech embeddings (`listen/embedding.py`) of a few takes, in
`$XDG_DATA_HOME/voice-guide/profiles/NAME/profile.npz` (default `~/.local/share`). Features
only, never audio: nothing in it can be played back.

`ProfileRecognizer` wraps the base engine (whisper). The base answer stands; only when the base
hears nothing in an utterance may the profile accept an enrolled phrase of a command accepted
now, and then only when
- the base's transcript, if it made one, is one or two words and no phrase of the vocabulary
  (Whisper writing "Down." or "No." heard a word, not a misheard command), and
- the utterance is close to that phrase's takes: the dynamic-time-warping distance (cosine per
  embedding) to the nearest take is at most `max_distance`, and Whisper itself, asked how
  likely the phrase is for this audio (its decoder forced through the phrase's tokens), finds
  it likely enough (`min_logprob`). The distance is where about 1 % of the tuning speakers'
  other words are as close to one of their takes of "go"; Whisper's forced score tells a
  misheard "go" ("co", "Cool", "Done!": log-probability of "Go" -1.3 to -3.6) from most of
  those ("Down.", "Up.": -4.7 and below);
- and no phrase of another command enrolled in the profile is about as close (`margin`).
Thresholds are calibrated on human speakers of the corpus's tuning half (`benchmarks.enroll`).
Voices that did not enroll are far from the templates, so they keep the base recognizer alone;
the client's answers are never enrolled.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from voice_guide.commands import CLIENT_ANSWERS, PHRASES, Command, parse
from voice_guide.events import Heard
from voice_guide.listen.embedding import front_end_id
from voice_guide.listen.engine import SAMPLE_RATE, Recognizer, Segment

FORMAT = 1
FILE = "profile.npz"
DEFAULT = "default"
NONE = "none"  # `--profile none`: no profile
AUTO = "auto"  # `--profile auto` (the option's default): the profile `default` when it exists
RESERVED = (NONE, AUTO)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

# What a practitioner can enroll: every phrase but the client's answers (said by the client).
# The client's answers are never enrolled (the profile is the practitioner's), nor the note
# phrases: a note is read from the whole utterance's words, never heard as a phrase alone.
ENROLL_PHRASES: tuple[str, ...] = tuple(
    p for command, phrases in PHRASES.items()
    if command not in CLIENT_ANSWERS and command is not Command.NOTE for p in phrases
)


class ProfileError(Exception):
    """A profile cannot be found, read or written; the message says why in one line."""


def profiles_dir(environ: Mapping[str, str] | None = None) -> Path:
    """`$XDG_DATA_HOME/voice-guide/profiles` (`~/.local/share/...` when the variable is unset)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or ""
    root = Path(base) if os.path.isabs(base) else Path.home() / ".local" / "share"
    return root / "voice-guide" / "profiles"


def check_name(name: str) -> str:
    """`name` when it can name a profile folder; ProfileError otherwise."""
    if name in RESERVED:
        raise ProfileError(f"{name!r} cannot name a profile (`--profile {name}` means "
                           + ("no profile)" if name == NONE else "the profile 'default')"))
    if not _NAME.fullmatch(name):
        raise ProfileError(f"profile name {name!r}: use letters, digits, '.', '_' or '-' "
                           "(at most 64, starting with a letter or digit)")
    return name


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


@dataclass
class Profile:
    """One speaker's templates: phrase -> (takes, 16, 96) float32 embeddings."""

    name: str
    templates: dict[str, np.ndarray] = field(default_factory=dict)
    created: str = field(default_factory=_now)
    updated: str = field(default_factory=_now)
    front_end: str = field(default_factory=front_end_id)

    @property
    def phrases(self) -> list[str]:
        return [p for p in ENROLL_PHRASES if p in self.templates]

    @property
    def takes(self) -> int:
        return sum(len(t) for t in self.templates.values())

    @property
    def folder(self) -> Path:
        return profiles_dir() / self.name

    def summary(self) -> str:
        """'go, stop (4 takes)'"""
        takes = f"{self.takes} take" + ("s" if self.takes != 1 else "")
        return f"{', '.join(self.phrases) or 'no phrases'} ({takes})"

    def with_phrases(self, templates: Mapping[str, np.ndarray]) -> Profile:
        """This profile with `templates` added, or replacing the takes of the same phrases."""
        merged = {**self.templates, **{p: np.asarray(t, np.float32) for p, t in templates.items()}}
        return replace(self, templates=merged, updated=_now())

    def without_take(self, phrase: str, index: int) -> Profile:
        """A copy with one take left out (the self-test: each take against the others)."""
        kept = np.delete(self.templates[phrase], index, axis=0)
        templates = {p: t for p, t in self.templates.items() if p != phrase}
        if len(kept):
            templates[phrase] = kept
        return replace(self, templates=templates)

    def save(self, folder: Path | None = None) -> Path:
        """Write the profile whole, or not at all (a temporary file renamed into place)."""
        folder = folder or self.folder
        made = not folder.exists()
        temporary = folder / f".{FILE}.{os.getpid()}.tmp"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            buffer = io.BytesIO()
            arrays: dict[str, Any] = {f"takes_{i}": self.templates[p]
                                      for i, p in enumerate(self.phrases)}
            info = {"format": FORMAT, "name": self.name, "created": self.created,
                    "updated": self.updated, "front_end": self.front_end,
                    "phrases": self.phrases}
            arrays["info"] = np.array(json.dumps(info))
            np.savez(buffer, **arrays)
            temporary.write_bytes(buffer.getvalue())
            os.replace(temporary, folder / FILE)
        except OSError as error:
            raise ProfileError(f"cannot write the profile in {folder}: "
                               f"{error.strerror or error}") from None
        finally:
            temporary.unlink(missing_ok=True)
            if made and not (folder / FILE).exists():
                shutil.rmtree(folder, ignore_errors=True)
        return folder

    @classmethod
    def read(cls, folder: Path) -> Profile:
        path = folder / FILE
        if not path.is_file():
            raise ProfileError(f"no profile {folder.name!r} in {folder.parent} "
                               f"(`voice-guide enroll --profile {folder.name}` makes one)")
        try:
            with np.load(path, allow_pickle=False) as data:
                info = json.loads(str(data["info"]))
                phrases = [str(p) for p in info["phrases"]]
                templates = {p: np.asarray(data[f"takes_{i}"], np.float32)
                             for i, p in enumerate(phrases)}
            if info.get("format") != FORMAT:
                raise ValueError(f"format {info.get('format')}, this version reads {FORMAT}")
            bad = [p for p in phrases if p not in ENROLL_PHRASES]
            if bad:
                raise ValueError(f"{bad[0]!r} is not a phrase of the vocabulary")
            for p, t in templates.items():
                if t.ndim != 3 or t.shape[1:] != (16, 96) or not len(t):
                    raise ValueError(f"the takes of {p!r} have shape {t.shape}")
        except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as error:
            raise ProfileError(f"{path}: not a usable voice-guide profile ({error}); enroll "
                               f"again or delete it (voice-guide profiles --delete "
                               f"{folder.name})") from None
        return cls(name=str(info.get("name") or folder.name), templates=templates,
                   created=str(info.get("created", "")), updated=str(info.get("updated", "")),
                   front_end=str(info.get("front_end", "")))


def load_profile(name: str) -> Profile:
    return Profile.read(profiles_dir() / check_name(name))


def list_profiles() -> list[Profile | tuple[str, str]]:
    """Every profile folder, by name: the profile, or (name, why it cannot be read)."""
    root = profiles_dir()
    found: list[Profile | tuple[str, str]] = []
    if not root.is_dir():
        return found
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            found.append(Profile.read(folder))
        except ProfileError as error:
            found.append((folder.name, str(error)))
    return found


def delete_profile(name: str) -> Path:
    folder = profiles_dir() / check_name(name)
    if not folder.is_dir():
        raise ProfileError(f"no profile {name!r} in {folder.parent}")
    try:
        shutil.rmtree(folder)
    except OSError as error:
        raise ProfileError(f"cannot delete {folder}: {error.strerror or error}") from None
    return folder


def choose_profile(option: str | None) -> tuple[Profile | None, str]:
    """The profile `--profile` asks for, and a few words for the engine line ("" when none is
    used and none was asked for). `auto`: `default` when it exists; `none` or None: no
    profile; a name: that profile (ProfileError when it cannot be used)."""
    if option is None or option == NONE:
        return None, "" if option is None else "no profile (asked for)"
    if option == AUTO:
        if not (profiles_dir() / DEFAULT / FILE).exists():
            return None, ""
        profile = Profile.read(profiles_dir() / DEFAULT)
        why = "the profile 'default' (auto)"
    else:
        profile = load_profile(option)
        why = f"the profile {option!r} (asked for)"
    if profile.front_end != front_end_id():
        raise ProfileError(f"profile {profile.name!r} was made with {profile.front_end}, this "
                           f"is {front_end_id()}: enroll again")
    if not profile.templates:
        raise ProfileError(f"profile {profile.name!r} has no phrases: enroll again")
    # The engine line is one line: a profile of many phrases is counted, not listed.
    phrases = len(profile.phrases)
    shown = profile.summary() if phrases <= 3 else f"{phrases} phrases ({profile.takes} takes)"
    return profile, f"{why}: {shown} heard in the enrolled voice"


# --- recognition --------------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileSettings:
    max_distance: float = 0.045  # the nearest take at most this far (DTW, `distances`)...
    min_logprob: float = -4.2  # ...and Whisper's log P(phrase | audio) at least this
    margin: float = 0.8  # another command's phrase must be farther than best / margin
    max_words: int = 2  # a longer transcript by the base is talk, not a misheard command
    max_seconds: float = 2.6  # longer utterances are not commands (the base engine's limit)


def distances(features: np.ndarray, templates: np.ndarray) -> np.ndarray:
    """Dynamic-time-warping distance of one (T, D) embedding sequence to each of (n, T', D)
    templates: cosine distance per pair of embeddings, summed along the best monotonic path
    (steps right, down or diagonal), divided by T + T'. Vectorized over templates."""
    a = features / (np.linalg.norm(features, axis=-1, keepdims=True) + 1e-9)
    b = templates / (np.linalg.norm(templates, axis=-1, keepdims=True) + 1e-9)
    local = 1.0 - np.einsum("id,njd->nij", a, b)  # (n, T, T')
    n, rows, cols = local.shape
    cost = np.full((n, rows + 1, cols + 1), np.inf)
    cost[:, 0, 0] = 0.0
    for i in range(1, rows + 1):
        for j in range(1, cols + 1):
            best = np.minimum(np.minimum(cost[:, i - 1, j], cost[:, i, j - 1]),
                              cost[:, i - 1, j - 1])
            cost[:, i, j] = local[:, i - 1, j - 1] + best
    result: np.ndarray = cost[:, rows, cols] / (rows + cols)
    return result


class ProfileRecognizer:
    """The base engine, with the enrolled speaker's phrases heard when the base hears nothing."""

    def __init__(self, base: Recognizer, profile: Profile, front_end: Any = None,
                 settings: ProfileSettings = ProfileSettings()) -> None:
        if front_end is None:
            from voice_guide.listen.embedding import EmbeddingFrontEnd

            front_end = EmbeddingFrontEnd()
        self.base = base
        self.profile = profile
        self.front_end = front_end
        self.settings = settings
        self.name = f"{base.name}+profile"
        self._templates: dict[str, np.ndarray] = {}
        self.use(profile)
        self._transcript: Any = None
        self._scorer = WhisperScorer.wrap(base, self._remember)
        self.last: dict[str, Any] = {}  # what the last decision saw (benchmarks, debugging)
        self.rescued = 0  # utterances the base heard nothing in and the profile accepted

    def use(self, profile: Profile) -> None:
        """Listen with another profile from now on (the self-test's leave-one-out)."""
        self.profile = profile
        self._templates = {p: np.asarray(t, np.float32) for p, t in profile.templates.items()}

    def _remember(self, transcript: Any) -> None:
        self._transcript = transcript

    def __getattr__(self, name: str) -> Any:
        """The base engine's segmenter settings (`first_look`, `offer_long`, `max_utterance`)
        and free speech (`hear_words`: the client's answers and notes are the base's alone,
        never the profile's): the profile only adds to what the base hears as a command."""
        if name in ("first_look", "offer_long", "max_utterance", "hear_words", "last_words"):
            return getattr(self.base, name)
        raise AttributeError(name)

    def recognize(self, segment: Segment, commands: frozenset[Command]) -> Heard | None:
        self._transcript = None
        heard = self.base.recognize(segment, commands)
        self.last = {"base": heard}
        if heard is not None:
            return heard
        return self.rescue(segment, commands, self._transcript)

    def rescue(self, segment: Segment, commands: frozenset[Command],
               transcript: Any = None) -> Heard | None:
        """The enrolled phrase this utterance is, among `commands`, when the base heard none."""
        s = self.settings
        candidates = [p for p in self._templates if parse(p) in commands]
        audio = segment.audio
        if (not candidates or len(audio) == 0 or len(audio) / SAMPLE_RATE > s.max_seconds
                or not np.any(audio != audio[0])):
            return None
        if transcript is not None:
            words = getattr(transcript, "phrase", "").split()
            if (not getattr(transcript, "complete", True) or len(words) > s.max_words
                    or (words and parse(" ".join(words)) is not None)):
                self.last["gate"] = "transcript"
                return None
        features = self.front_end.features(audio)
        nearest = {p: float(distances(features, self._templates[p]).min())
                   for p in self._templates}
        phrase = min(candidates, key=nearest.__getitem__)
        best = nearest[phrase]
        rivals = [d for p, d in nearest.items() if parse(p) != parse(phrase)]
        self.last.update(nearest=nearest, phrase=phrase)
        if best > s.max_distance or (rivals and best > s.margin * min(rivals)):
            return None
        logprob = 0.0  # not a Whisper base: the take's distance alone decides
        if self._scorer is not None:
            logprob = self._scorer.phrase_logprob(audio, phrase)
            self.last["logprob"] = logprob
            if logprob < s.min_logprob:
                return None
        command = parse(phrase)
        assert command is not None
        self.rescued += 1
        confidence = max(0.0, 1.0 - best / s.max_distance) * math.exp(min(0.0, logprob) / 4)
        return Heard(command=command, phrase=phrase, confidence=confidence,
                     start=segment.start, end=segment.end)


class WhisperScorer:
    """Whisper's log-probability of a given phrase for an utterance: its decoder forced through
    the phrase's tokens (CTranslate2's `align`), capitalized or not, whichever is likelier."""

    def __init__(self, whisper: Any) -> None:
        from voice_guide.listen.whisper_engine import PROMPT

        self._whisper = whisper
        self._prompt = PROMPT
        self._tokens: dict[str, list[list[int]]] = {}

    @classmethod
    def wrap(cls, base: Any, remember: Callable[[Any], None]) -> WhisperScorer | None:
        """For a Whisper base engine: a scorer, and its transcripts passed to `remember` as it
        makes them (so the profile sees what it wrote without decoding twice). None for other
        engines."""
        current = getattr(base, "transcribe", None)
        needed = ("_model", "_encode", "_tokenizer", "settings")
        if not callable(current) or not all(hasattr(base, n) for n in needed):
            return None
        transcribe = getattr(current, "__wrapped__", current)  # wrapped once, by the latest

        def transcribe_and_remember(audio: np.ndarray, *args: Any, **kwargs: Any) -> Any:
            transcript = transcribe(audio, *args, **kwargs)
            remember(transcript)
            return transcript

        transcribe_and_remember.__wrapped__ = transcribe  # type: ignore[attr-defined]
        setattr(base, "transcribe", transcribe_and_remember)  # noqa: B010 (an instance's own)
        return cls(base)

    def phrase_logprob(self, audio: np.ndarray, phrase: str) -> float:
        w = self._whisper
        frames = w.settings.window_frames
        # (the engine's own encoding: the utterance it just judged is encoded once)
        encoded = w._encode(audio, frames)
        tokens = self._tokens.get(phrase)
        if tokens is None:
            spellings = {" " + phrase[:1].upper() + phrase[1:], " " + phrase}
            tokens = [w._tokenizer.encode(t, add_special_tokens=False).ids for t in spellings]
            self._tokens[phrase] = tokens
        used = max(1, min(frames, len(audio) // 160))
        best = -math.inf
        for ids in tokens:
            result = w._model.align(encoded, self._prompt, [ids], [used])[0]
            probabilities = np.maximum(np.asarray(result.text_token_probs, np.float64), 1e-12)
            best = max(best, float(np.log(probabilities).sum()))
        return best
