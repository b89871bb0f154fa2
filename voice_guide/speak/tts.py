"""Text to speech, rendered to PCM in memory; we play it ourselves.

Two engines. The default voice is `heart`, a natural American English voice (hibari-tts, a
small neural model inside its wheel; `natural.py`). The espeak-ng voices (the design
card's formant synthesizer through pyttsx3; `espeak.py`) stay selectable, and are the fallback
when the natural voice cannot load: `Tts.load()` says which voice runs and why. `voice-guide
voices` lists them (`voices.py`); an unknown voice is a `SpeechError` that names the voices.

`Tts(voice).render(text)` returns a `Pcm` (int16 mono samples and their rate: 22050 Hz with
either engine, the output channels' stream rate, so playing never resamples). Results are
kept in memory, and `render_ahead(texts)` renders in a background thread, so the protocol's
known texts are ready before they are asked for.

With a `store` (`cache.SpeechCache`: the live session's), the texts rendered ahead are also
kept on disk and read back from there, on this start and the next: a voice is then loaded only
when a text is in neither place (the natural voice's model and tables take ~190 MB and a
second or two to load; with a warm store a whole session may never load them). So the natural
voice is checked at `load()` by its files only; if its model then fails to load when a text
needs it, the fallback voice speaks from there on.

A failure raises `SpeechError` with a one-line reason; the caller shows the text instead.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
import time
import weakref
from collections.abc import Iterable

import numpy as np

from voice_guide.speak import espeak, natural
from voice_guide.speak.cache import SpeechCache, speech_key
from voice_guide.speak.speech import (
    CALM_RATE,
    DEFAULT_VOICE,
    FALLBACK_VOICE,
    Pcm,
    SpeechError,
    Voice,
)
from voice_guide.speak.voices import problem

# The shared pieces, for the callers that know this module as speech out's front.
__all__ = ["CALM_RATE", "DEFAULT_VOICE", "FALLBACK_VOICE", "Pcm", "SpeechError", "Tts", "Voice"]

log = logging.getLogger(__name__)

EXIT_WAIT_SECONDS = 2.0


class Tts:
    """Renders text with one voice; keeps every rendered text in memory (and, with a `store`,
    the texts rendered ahead on disk). Thread-safe.

    The voice is resolved on first use (or by `load()`). When the natural voice cannot load, the
    espeak-ng voice `FALLBACK_VOICE` speaks instead (same rate and volume) and `fallback_reason`
    says why; `fallback=False` raises instead. An unknown voice is never replaced: SpeechError.
    """

    def __init__(self, voice: Voice | None = None, *, fallback: bool = True,
                 store: SpeechCache | None = None) -> None:
        self.voice = voice or Voice()
        self.fallback = fallback
        self.fallback_reason = ""
        self.store = store
        self._active: Voice | None = None
        self._resolve_lock = threading.Lock()
        self._cache: dict[str, Pcm] = {}
        self._kept: set[str] = set()  # the texts the store keeps: those rendered ahead
        self._on_disk: set[str] = set()  # ... of which found or written whole there
        self._cache_lock = threading.Lock()
        self._ahead: threading.Thread | None = None

    @property
    def active(self) -> Voice:
        """The voice that renders (the one asked for, or the fallback); SpeechError when no
        voice can speak."""
        with self._resolve_lock:
            if self._active is None:
                self._active = self._resolve()
            return self._active

    def load(self) -> str:
        """Check the voice now; a start-up line saying which voice runs (SpeechError when none
        can), e.g. `voice: heart (natural, hibari-tts; 140 words a minute)`. The natural voice's
        model is loaded when a text first needs it."""
        voice = self.active
        pace = f"{voice.rate} words a minute"
        if voice.natural:
            return f"voice: {voice.name} (natural, hibari-tts; {pace})"
        if self.fallback_reason:
            return (f"voice: {voice.name} (espeak-ng, the fallback: {self.fallback_reason}; "
                    f"{pace})")
        return f"voice: {voice.name} (espeak-ng; {pace})"

    def render(self, text: str) -> Pcm:
        """The speech for `text`: from memory, else from the store, else rendered now. Raises
        SpeechError when the synthesizer fails.

        A text the store keeps is read from disk each time it is asked for (a millisecond) and
        not held in memory: the protocol's speech is tens of MB."""
        key = _normalize(text)
        with self._cache_lock:
            cached = self._cache.get(key)
            store = self.store if key in self._kept else None  # only known texts go to disk
        if cached is not None:
            return cached
        voice = self.active
        if not key:
            pcm = Pcm(np.zeros(0, np.int16), espeak.ESPEAK_RATE)
        else:
            stored = store.get(self._store_key(key, voice)) if store is not None else None
            if stored is not None:
                self._on_disk.add(key)
                return stored
            pcm, voice = self._synthesize(key, voice)
            if store is not None and store.put(self._store_key(key, voice), pcm):
                self._on_disk.add(key)
                return pcm
        with self._cache_lock:
            self._cache[key] = pcm
        return pcm

    def cached(self, text: str) -> bool:
        """Whether `text` is ready without rendering: in memory, or found whole on disk."""
        key = _normalize(text)
        with self._cache_lock:
            return key in self._cache or key in self._on_disk

    def render_ahead(self, texts: Iterable[str]) -> threading.Thread:
        """Render `texts` in a background thread (one at a time, so a text asked for now never
        waits behind the whole list), reading them from the store when it has them and keeping
        them there when not. Failures are skipped: `render` reports them when asked."""
        wanted = list(dict.fromkeys(_normalize(text) for text in texts))
        with self._cache_lock:
            self._kept.update(wanted)  # from now on, also when `render` is asked for one first
            pending = [text for text in wanted
                       if text not in self._cache and text not in self._on_disk]
        loaded_before = natural.ENGINE.loaded

        def work() -> None:
            for text in pending:
                if _EXITING.is_set():
                    return
                with contextlib.suppress(SpeechError):
                    self.render(text)
            if natural.ENGINE.loaded and not loaded_before:
                # The natural voice's temporaries, freed, are still held by this thread's heap
                # (tens of MB after the protocol's texts): hand them back.
                natural.release_memory()

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
        voice = self.voice
        why = problem(voice, check_espeak=False)
        if why:
            raise SpeechError(why)
        if not voice.natural:
            espeak.ENGINE.spec(voice.name)  # SpeechError naming the voices when it is unknown
            return voice
        missing = natural.installed()
        if missing:
            return self._fall_back(missing)
        return voice

    def _fall_back(self, reason: str) -> Voice:
        """The fallback voice, after the natural voice could not load (SpeechError when
        falling back is not allowed)."""
        if not self.fallback:
            raise SpeechError(reason)
        self.fallback_reason = reason
        fallback = Voice(FALLBACK_VOICE, self.voice.rate, self.voice.volume)
        espeak.ENGINE.spec(fallback.name)
        return fallback

    def _synthesize(self, text: str, voice: Voice) -> tuple[Pcm, Voice]:
        """`text` rendered by `voice`'s engine, and the voice that did (the fallback when the
        natural voice's model, found at `load()`, does not load now)."""
        if not voice.natural:
            return espeak.ENGINE.render(text, voice), voice
        try:
            natural.ENGINE.load()
        except SpeechError as error:
            with self._resolve_lock:
                if self._active is None or self._active.natural:
                    self._active = self._fall_back(str(error))
                    log.warning("%s: espeak-ng's %s speaks instead", error, FALLBACK_VOICE)
                voice = self._active
            return espeak.ENGINE.render(text, voice), voice
        return natural.ENGINE.render(text, voice.rate, voice.volume), voice

    def _store_key(self, text: str, voice: Voice) -> str:
        if voice.natural:
            return speech_key(natural.fingerprint(), voice.name, voice.rate, 0, voice.volume,
                              text)
        return speech_key(espeak.fingerprint(), voice.name.strip().lower(), voice.rate,
                          voice.pitch, voice.volume, text)


def _normalize(text: str) -> str:
    """One line of plain text: whitespace collapsed, control characters (espeak-ng's embedded
    command marker among them) removed."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


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
