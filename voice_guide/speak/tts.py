"""Text to speech, rendered to PCM in memory; we play it ourselves.

Two engines. The default voice is `heart`, a natural American English voice (hibari-tts, a
small neural model inside its wheel; `natural.py`). The espeak-ng voices (the design
card's formant synthesizer through pyttsx3) stay selectable, and are the fallback when
the natural voice cannot load: `Tts.load()` says which voice runs and why. `voice-guide voices`
lists them (`voices.py`); an unknown voice is a `SpeechError` that names the voices.

`Tts(voice).render(text)` returns a `Pcm` (int16 mono samples and their rate: 22050 Hz with
either engine, the output channels' stream rate, so playing never resamples). Results are
cached in memory, and `render_ahead(texts)` fills the cache in a background thread, so the
protocol's known texts are ready before they are asked for.

Why the espeak-ng path has this shape (pyttsx3 2.99 with espeak-ng, as measured):
- pyttsx3 must not play audio itself: on Linux its `say()` shells out to `aplay` on the
  default ALSA device and returns before playback ends. We render with `save_to_file` into a
  private temporary file (in RAM under /dev/shm when it exists), read it back and delete it at
  once: nothing is kept on disk.
- `runAndWait()` can return before the file is written, so we wait for the driver's
  `finished-utterance` callback. The driver also has a race after a rate/pitch property change:
  the next utterance can be cancelled (a `completed=False` notification and an empty file), and
  after that, property changes stop taking effect. So rate and pitch go inside the text as
  espeak-ng embedded commands, only the voice is a property (followed by one throw-away
  render), and each render is checked (one completed notification, audio present) and retried.
  (`getProperty('rate')` reports 175 whatever was set, so the property cannot be checked.)
- Several `save_to_file` calls queued before one `runAndWait` keep only the last file: one text
  per round trip.
- espeak-ng can be initialised only once per process: one engine, shared, behind one lock.
- It always renders 22050 Hz mono 16-bit, the output channels' stream rate.
- Its silence before (10-67 ms) and after (~0.4 s) each text is trimmed to a few ms and a short
  pause: the answer to a command is heard sooner, the microphone muted for less.

A failure raises `SpeechError` with a one-line reason; the caller shows the text instead.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import tempfile
import threading
import time
import wave
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

RENDER_ATTEMPTS = 3
RETRY_PAUSE = 0.05
# Seconds to wait for the finished-utterance notification: generous, rendering is ~100x real time.
FINISH_TIMEOUT_BASE = 5.0
FINISH_TIMEOUT_PER_CHAR = 0.01
# espeak-ng starts each text with 10-67 ms of digital silence and ends it with ~0.4 s: the start
# delays every answer, the end keeps the microphone muted longer. Keep a little of each: a few ms
# before the onset (cut inside exact zeros, so no click), and a short pause after.
LEAD_KEEP_SECONDS = 0.003
TRAIL_KEEP_SECONDS = 0.15


class SpeechError(RuntimeError):
    """Text could not be turned into speech; the message says why in one line."""


DEFAULT_VOICE = "heart"  # the natural voice (natural.py)
FALLBACK_VOICE = "en-us"  # espeak-ng, when the natural voice cannot load
CALM_RATE = 138  # words per minute: the default pace, measured (benchmarks.speech --pace)


@dataclass(frozen=True)
class Voice:
    """How the guide sounds. The default is calm and unhurried for a treatment room.

    `name` is a voice of `voice-guide voices`: `heart` (the natural voice, the default) or an
    espeak-ng English voice (`en-us`, `en-gb`, ...; `en-us+f2` adds one of espeak-ng's
    variants). `rate` is words per minute (the natural voice's pace is calibrated on measured
    speech; espeak-ng takes it as its own setting), `volume` a gain on the samples (0..1, applied
    to the PCM so it is exact), `pitch` espeak-ng's 0..99 (50 is its default; lower sounds
    calmer; the natural voice keeps its own).
    """

    name: str = DEFAULT_VOICE
    rate: int = CALM_RATE
    volume: float = 0.9
    pitch: int = 40

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("voice name is empty")
        if not 60 <= self.rate <= 400:
            raise ValueError(f"rate {self.rate} is out of range (60..400 words per minute)")
        if not 0.0 <= self.volume <= 1.0:
            raise ValueError(f"volume {self.volume} is out of range (0..1)")
        if not 0 <= self.pitch <= 99:
            raise ValueError(f"pitch {self.pitch} is out of range (0..99)")

    @property
    def natural(self) -> bool:
        """Whether this is the natural voice (else an espeak-ng one)."""
        return self.name.strip().lower() == DEFAULT_VOICE


@dataclass(frozen=True, eq=False)
class Pcm:
    """Mono 16-bit audio in memory."""

    samples: np.ndarray  # int16, shape (n,)
    rate: int

    @property
    def duration(self) -> float:
        return len(self.samples) / self.rate if self.rate else 0.0

    def write_wav(self, path: str | Path) -> None:
        """Save as a mono 16-bit WAV (only when the user asks for a file).

        The file is opened here, not by `wave.open(name)`: when that open fails (a folder, a
        missing folder, a full disk) `wave` leaves a half-built writer whose `__del__` prints an
        `Exception ignored` traceback after the caller's own one-line error."""
        with open(path, "wb") as raw, wave.open(raw, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(self.rate)
            out.writeframes(np.asarray(self.samples, dtype="<i2").tobytes())


class Tts:
    """Renders text with one voice; caches every rendered text in memory. Thread-safe.

    The voice is loaded on first use (or by `load()`). When the natural voice cannot load, the
    espeak-ng voice `FALLBACK_VOICE` speaks instead (same rate and volume) and `fallback_reason`
    says why; `fallback=False` raises instead. An unknown voice is never replaced: SpeechError.
    """

    def __init__(self, voice: Voice | None = None, *, fallback: bool = True) -> None:
        self.voice = voice or Voice()
        self.fallback = fallback
        self.fallback_reason = ""
        self._active: Voice | None = None
        self._resolve_lock = threading.Lock()
        self._cache: dict[str, Pcm] = {}
        self._cache_lock = threading.Lock()
        self._ahead: threading.Thread | None = None

    @property
    def active(self) -> Voice:
        """The voice that renders (the one asked for, or the fallback). Loads it; SpeechError
        when no voice can speak."""
        with self._resolve_lock:
            if self._active is None:
                self._active = self._resolve()
            return self._active

    def load(self) -> str:
        """Load the voice now; a start-up line saying which voice runs (SpeechError when none
        can), e.g. `voice: heart (natural, hibari-tts; 140 words a minute)`."""
        voice = self.active
        pace = f"{voice.rate} words a minute"
        if voice.natural:
            return f"voice: {voice.name} (natural, hibari-tts; {pace})"
        if self.fallback_reason:
            return (f"voice: {voice.name} (espeak-ng, the fallback: {self.fallback_reason}; "
                    f"{pace})")
        return f"voice: {voice.name} (espeak-ng; {pace})"

    def render(self, text: str) -> Pcm:
        """The speech for `text` (cached). Raises SpeechError when the synthesizer fails."""
        key = _normalize(text)
        with self._cache_lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        voice = self.active
        if not key:
            pcm = Pcm(np.zeros(0, np.int16), ESPEAK_RATE)
        elif voice.natural:
            pcm = _natural().render(key, voice.rate, voice.volume)
        else:
            pcm = _ENGINE.render(key, voice)
        with self._cache_lock:
            self._cache[key] = pcm
        return pcm

    def cached(self, text: str) -> bool:
        with self._cache_lock:
            return _normalize(text) in self._cache

    def render_ahead(self, texts: Iterable[str]) -> threading.Thread:
        """Render `texts` in a background thread (one at a time, so a text asked for now never
        waits behind the whole list). Failures are skipped: `render` reports them when asked."""
        pending = list(dict.fromkeys(t for t in texts if not self.cached(t)))

        def work() -> None:
            for text in pending:
                if _EXITING.is_set():
                    return
                with contextlib.suppress(SpeechError):
                    self.render(text)
            if pending and _NATURAL is not None:
                # The natural voice's temporaries, freed, are still held by this thread's heap
                # (tens of MB after the protocol's texts): hand them back.
                from voice_guide.speak.natural import release_memory

                release_memory()

        thread = threading.Thread(target=work, name="tts-ahead", daemon=True)
        with _AHEAD_LOCK:
            _AHEAD.add(thread)
        thread.start()
        self._ahead = thread
        return thread

    def wait_ahead(self, timeout: float | None = None) -> bool:
        """Wait for the background rendering to finish; True when it has."""
        if self._ahead is None:
            return True
        self._ahead.join(timeout)
        return not self._ahead.is_alive()

    def _resolve(self) -> Voice:
        from voice_guide.speak import voices

        voice = self.voice
        problem = voices.problem(voice, check_espeak=False)
        if problem:
            raise SpeechError(problem)
        if not voice.natural:
            _ENGINE.spec(voice.name)  # SpeechError naming the voices when it is unknown
            return voice
        try:
            _natural().load()
        except SpeechError as error:
            if not self.fallback:
                raise
            self.fallback_reason = str(error)
            fallback = Voice(FALLBACK_VOICE, voice.rate, voice.volume)
            _ENGINE.spec(fallback.name)
            return fallback
        return voice


def trim_silence(
    samples: np.ndarray, rate: int, lead: float = LEAD_KEEP_SECONDS,
    trail: float = TRAIL_KEEP_SECONDS,
) -> np.ndarray:
    """`samples` without the digital silence before the first and after the last non-zero
    sample, beyond `lead` and `trail` seconds of it. All silence stays all silence."""
    sound = np.flatnonzero(samples)
    if len(sound) == 0:
        return samples
    first = max(0, int(sound[0]) - round(lead * rate))
    last = min(len(samples), int(sound[-1]) + 1 + round(trail * rate))
    return samples[first:last]


ESPEAK_RATE = 22050  # pyttsx3 + espeak-ng always render at this rate
EXIT_WAIT_SECONDS = 2.0

# Rendering ahead runs in daemon threads. A daemon thread still inside onnxruntime when the
# interpreter shuts down aborts the process ("terminate called without an active exception"):
# at exit, they are told to stop after the text they are on, and waited for (one text: ms).
_EXITING = threading.Event()
_AHEAD: weakref.WeakSet[threading.Thread] = weakref.WeakSet()
_AHEAD_LOCK = threading.Lock()


@atexit.register
def _stop_rendering_ahead() -> None:
    _EXITING.set()
    with _AHEAD_LOCK:
        threads = list(_AHEAD)
    deadline = time.monotonic() + EXIT_WAIT_SECONDS
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


def _natural() -> Any:  # natural.NaturalEngine, imported on first use (numpy-only until then)
    global _NATURAL
    with _NATURAL_LOCK:
        if _NATURAL is None:
            from voice_guide.speak.natural import NaturalEngine

            _NATURAL = NaturalEngine()
        return _NATURAL


# --- the one engine ----------------------------------------------------------------------------


def _normalize(text: str) -> str:
    """One line of plain text: whitespace collapsed, control characters (espeak-ng's embedded
    command marker among them) removed."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


class _Engine:
    """The process's single pyttsx3 engine, created on first use, used by one thread at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._engine: Any = None
        self._applied: Voice | None = None
        self._finished: list[bool] = []
        self._finished_event = threading.Event()
        self._errors: list[Exception] = []
        self._scratch: Path | None = None
        self._table: list[tuple[str, str, str]] | None = None
        self._variants: list[str] | None = None

    def table(self) -> list[tuple[str, str, str]]:
        """(name, espeak-ng id, description) of its English voices, e.g. ("en-gb", "gmw/en",
        "English (Great Britain)"): the name is the voice's language code, which is what
        `espeak-ng --voices=en` shows (setting "en-gb" by name fails inside espeak-ng, and
        an unknown name is silently replaced by another voice: so names are checked here)."""
        with self._lock:
            if self._table is None:
                engine = self._engine_or_fail()
                found = []
                for voice in engine.getProperty("voices"):
                    languages = [str(code).strip() for code in (voice.languages or [])]
                    code = languages[0] if languages else str(voice.id).rsplit("/", 1)[-1]
                    if code.lower().startswith("en"):
                        found.append((code.lower(), str(voice.id), str(voice.name)))
                self._table = sorted(found, key=lambda row: (row[0] != FALLBACK_VOICE, row[0]))
            return list(self._table)

    def variants(self) -> list[str]:
        """espeak-ng's voice variants (`+f2`, `+m3`, `+klatt`, ...), by file name."""
        self.table()
        with self._lock:
            if self._variants is None:
                try:
                    import pyttsx3.drivers._espeak as espeak

                    spec = espeak.VOICE()
                    spec.languages = b"variant"
                    found = espeak.ListVoices(spec)
                    self._variants = sorted(
                        {v.identifier.decode("utf-8", "replace").rsplit("/", 1)[-1]
                         for v in found if v.identifier},
                        key=str.lower,
                    )
                except Exception:  # an older driver without ListVoices(spec): variants unchecked
                    self._variants = []
            return list(self._variants)

    def spec(self, name: str) -> str:
        """What espeak-ng is given for voice `name` (its id, `+variant` kept); SpeechError
        naming the voices when there is no such voice or variant."""
        from voice_guide.speak.voices import unknown_voice

        base, plus, variant = name.strip().lower().partition("+")
        ids = {row[0]: row[1] for row in self.table()}
        for row in self.table():  # also the id's own tail ("en" is en-gb's file name)
            ids.setdefault(row[1].rsplit("/", 1)[-1].lower(), row[1])
        if base not in ids:
            raise SpeechError(unknown_voice(name))
        if not plus:
            return ids[base]
        known = {v.lower(): v for v in self.variants()}
        if known and variant not in known:
            raise SpeechError(unknown_voice(name, variant=True))
        return f"{ids[base]}+{known.get(variant, variant)}"

    def render(self, text: str, voice: Voice) -> Pcm:
        spec = self.spec(voice.name)
        with self._lock:
            engine = self._engine_or_fail()
            if voice != self._applied:
                self._apply(engine, voice, spec)
            last_reason = ""
            for attempt in range(RENDER_ATTEMPTS):
                if attempt:
                    time.sleep(RETRY_PAUSE)  # let a straggling notification arrive first
                samples, rate, last_reason = self._render_once(engine, _with_prosody(text, voice))
                if samples is not None:
                    return Pcm(_scaled(trim_silence(samples, rate), voice.volume), rate)
            raise SpeechError(f"text-to-speech failed for {text[:40]!r}: {last_reason}")

    def _engine_or_fail(self) -> Any:
        if self._engine is not None:
            return self._engine
        try:
            import pyttsx3
            import pyttsx3.drivers.espeak as espeak_driver

            # The driver prints "Audio saved to ..." for every file: silence that module only.
            espeak_driver.print = lambda *args, **kwargs: None
            engine = pyttsx3.init("espeak")
        except Exception as error:  # ImportError, OSError (no libespeak-ng), RuntimeError
            raise SpeechError(
                f"text-to-speech is unavailable (pyttsx3/espeak-ng: {error})"
            ) from None
        engine.connect("finished-utterance", self._on_finished)
        engine.connect("error", self._on_error)
        self._engine = engine
        return engine

    def _on_finished(self, name: str | None = None, completed: bool = True, **_: Any) -> None:
        # Runs on espeak's own thread.
        self._finished.append(bool(completed))
        self._finished_event.set()

    def _on_error(self, exception: Exception | None = None, **_: Any) -> None:
        self._errors.append(exception or RuntimeError("unknown error"))

    def _apply(self, engine: Any, voice: Voice, spec: str) -> None:
        """Select the voice. Rate and pitch travel inside each utterance instead (see render)."""
        self._errors.clear()
        # Queued by pyttsx3; it runs (and reports errors through the "error" topic) on the next
        # runAndWait: the throw-away render below.
        engine.setProperty("voice", spec)
        self._render_once(engine, "ready")
        if self._errors:
            self._applied = None
            raise SpeechError(
                f"cannot use voice {voice.name!r} ({self._errors[0]}); "
                "`voice-guide voices` lists the voices"
            )
        self._applied = voice

    def _render_once(self, engine: Any, text: str) -> tuple[np.ndarray | None, int, str]:
        """One save_to_file round trip: (samples or None, rate, why it failed)."""
        scratch = self._scratch_dir()
        path = scratch / f"utterance-{threading.get_ident()}.wav"
        self._finished.clear()
        self._finished_event.clear()
        timeout = FINISH_TIMEOUT_BASE + FINISH_TIMEOUT_PER_CHAR * len(text)
        try:
            engine.save_to_file(text, str(path))
            engine.runAndWait()
            if not self._finished_event.wait(timeout):
                return None, 0, f"no finished-utterance notification within {timeout:.0f} s"
            # A cancelled utterance also brings a completed=False notification (sent during
            # runAndWait, so it is already here).
            if self._finished != [True]:
                return None, 0, f"the utterance was cancelled (notifications {self._finished})"
            with wave.open(str(path), "rb") as audio:
                rate = audio.getframerate()
                frames = audio.readframes(audio.getnframes())
        except (OSError, EOFError, wave.Error, RuntimeError) as error:
            return None, 0, str(error) or type(error).__name__
        finally:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        samples = np.frombuffer(frames, dtype="<i2").astype(np.int16)
        if len(samples) == 0:
            return None, 0, "the synthesizer produced no audio"
        return samples, rate, ""

    def _scratch_dir(self) -> Path:
        if self._scratch is None or not self._scratch.is_dir():
            shm = Path("/dev/shm")
            base = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
            self._scratch = Path(tempfile.mkdtemp(prefix="voice-guide-tts-", dir=base))
            atexit.register(_remove_dir, self._scratch)
        return self._scratch


def _with_prosody(text: str, voice: Voice) -> str:
    """Rate and pitch as espeak-ng embedded commands (Ctrl-A, value, letter) at the start of the
    text. Setting them as engine properties instead is unreliable: the driver's queue can cancel
    the next utterance, after which property changes stop taking effect."""
    return f"\x01{voice.rate}S\x01{voice.pitch}P{text}"


def _scaled(samples: np.ndarray, volume: float) -> np.ndarray:
    if volume >= 1.0:
        return samples
    return np.round(samples.astype(np.float32) * volume).astype(np.int16)


def _remove_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        for child in path.iterdir():
            child.unlink()
        path.rmdir()


_ENGINE = _Engine()
_NATURAL: Any = None
_NATURAL_LOCK = threading.Lock()
