"""espeak-ng's voices (the design card's formant synthesizer, through pyttsx3), rendered to PCM
in memory; and the one-line complaint about a voice that does not exist.

`ENGINE.render(text, voice)` gives a `Pcm`; `names()` lists every voice (the natural one
first), `unknown_voice(name)` is the complaint naming them.

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
"""

from __future__ import annotations

import atexit
import contextlib
import os
import tempfile
import threading
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

from voice_guide.speak.speech import DEFAULT_VOICE, FALLBACK_VOICE, Pcm, SpeechError, Voice

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

ESPEAK_RATE = 22050  # pyttsx3 + espeak-ng always render at this rate
RENDER_VERSION = 1  # raise when a change here alters the samples: kept speech is then renewed


def names() -> list[str]:
    """Every voice name, the default (natural) first; espeak-ng's only when it can be asked."""
    try:
        espeak = [name for name, _id, _description in ENGINE.table()]
    except SpeechError:
        espeak = []
    return [DEFAULT_VOICE, *espeak]


def unknown_voice(name: str, variant: bool = False) -> str:
    """One line: no such voice, and which there are."""
    listed = names()
    voices = f"{listed[0]} (natural, the default)"
    if len(listed) > 1:
        voices += f", or espeak-ng's {', '.join(listed[1:])} (add +VARIANT, e.g. " \
            f"{FALLBACK_VOICE}+f2)"
    what = "voice variant" if variant else "voice"
    return f"unknown {what} {name!r}; the voices are {voices}; `voice-guide voices` lists them"


def fingerprint() -> str:
    """What a text's samples depend on besides the text and the voice's settings."""
    return f"espeak-ng {RENDER_VERSION} {ESPEAK_RATE} {LEAD_KEEP_SECONDS} {TRAIL_KEEP_SECONDS}"


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



class EspeakEngine:
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


ENGINE = EspeakEngine()  # the process's one engine: espeak-ng initialises once per process
