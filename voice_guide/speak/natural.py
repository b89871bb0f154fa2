"""The natural voice: hibari-tts's `heart` (Apache-2.0; an American English voice, a 7.9 MB ONNX
model inside the wheel), rendered to PCM in memory. hibari renders at 24 kHz; each text is
resampled once, when it is rendered, to 22050 Hz (`OUTPUT_RATE`), the output channels' stream
rate (and espeak-ng's). Played at 24 kHz, every text would be resampled again at every play,
inside the audio callback, with scipy.signal, whose import alone is a large share of the
process's memory; this uses scipy.fft, which hibari loads anyway (below 11 kHz, speech loses
nothing).

`NaturalEngine.render(text, rate, volume)` gives a `Pcm`. One model per process (`ENGINE`),
loaded when a text first needs it (onnxruntime, the model, the spelling-to-sound rules: a second
or two; with `run`'s speech store filled, a session may never need it), used by one thread at a
time (onnxruntime with one thread: the recognizer has the other core). `installed()` checks its
files without loading anything.

What is done to hibari's output:
- Pace: hibari's `speed` is not proportional to words per minute (it moves in steps, and the
  fixed pauses between sentences do not stretch), so `speed_for(rate)` interpolates a table
  measured on the protocol's texts (`benchmarks.speech --pace` measures it again).
- Each sentence comes with ~0.3 s of near-silence before and ~0.4 s after (not exact zeros):
  cut to a few ms before the onset (with a short fade-in, so no click) and to `SENTENCE_PAUSE`
  between sentences and `TRAIL_KEEP_SECONDS` after the last, like the espeak-ng path.
- Level: a fixed gain brings it to about espeak-ng's loudness; a text whose peak would pass
  `PEAK` is turned down whole (no clipping); then `volume`.
- The same text always sounds the same (a fixed seed for hibari's noise component).

Memory: hibari's spelling-to-sound rules hold two pronunciation dictionaries (183,000 words)
and a part-of-speech tagger's weights as Python dicts, which cost more memory than the model.
The same data is kept here in compact read-only tables (sorted UTF-8 blobs, binary search; the
tagger's weights as sparse rows) that answer exactly the same lookups in a fraction of the
memory (the README's live figures say how much), and onnxruntime's memory arena is off (it
kept memory after rendering, for no gain in speed). tests/test_natural_voice.py checks that
the phonemes are identical to hibari's own.
"""

from __future__ import annotations

import functools
import gc
import importlib.util
import math
import re
import threading
from array import array
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from voice_guide.speak.speech import Pcm, SpeechError

NAME = "heart"
RATE = 24_000  # hibari's sample rate (hibari.SAMPLE_RATE; checked when the model loads)
OUTPUT_RATE = 22_050  # what render gives: the output channels' stream rate (channel.STREAM_RATE)
SEED = 0
# Measured words per minute at hibari speeds (speed, wpm) on the protocol's texts, with the
# pauses below (`python -m benchmarks.speech --pace` measures them again). The pace moves in
# steps (hibari's durations are whole frames: 0.79 -> 138, 0.8 -> 147); between two points the
# rate is interpolated, so a rate that is not a point is only approximate.
PACE: tuple[tuple[float, float], ...] = (
    (0.5, 94.2), (0.55, 98.8), (0.6, 111.7), (0.65, 115.7), (0.7, 129.4), (0.75, 133.8),
    (0.79, 137.8), (0.8, 147.0), (0.85, 162.2), (0.9, 171.4), (0.95, 175.2), (1.0, 178.1),
    (1.1, 183.5), (1.2, 194.3), (1.35, 248.5), (1.5, 257.1), (1.75, 268.1), (2.0, 284.3),
)
SENTENCE_PAUSE = 0.5  # seconds of silence between two sentences of one text
LEAD_KEEP_SECONDS = 0.005
TRAIL_KEEP_SECONDS = 0.15
SENTENCE_TAIL = 0.05  # the voice's own decay kept after a sentence's last loud sample
SILENT = 0.002  # |sample| below this (float, -54 dBFS) is the near-silence around sentences
FADE_SECONDS = 0.005
GAIN = 1.75  # about espeak-ng's loudness at the same volume (median RMS of the protocol texts)
PEAK = 0.95
WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)*")
RENDER_VERSION = 1  # raise when a change below alters the samples: kept speech is then renewed


def installed() -> str:
    """"" when the natural voice is on this machine (hibari with its model, onnxruntime), else
    why not, in one line. Looks at the files only: loading them is what costs time and memory,
    and a text kept on disk needs neither (`NaturalEngine.load` loads)."""
    for package in ("hibari", "onnxruntime"):
        try:
            found = importlib.util.find_spec(package) is not None
        except (ImportError, ValueError):  # a parent that fails, a module set to None
            found = False
        if not found:
            return f"the natural voice {NAME} cannot load (no module named {package!r})"
    model = model_file()
    if model is None or not model.is_file():
        return f"the natural voice {NAME} cannot load (its model {model} is missing)"
    return ""


def model_file() -> Path | None:
    """hibari's `heart` model inside its wheel (hibari-tts 0.2.1: assets/hibari.onnx)."""
    spec = importlib.util.find_spec("hibari")
    places = list(spec.submodule_search_locations or []) if spec is not None else []
    return Path(places[0]) / "assets" / "hibari.onnx" if places else None


@functools.cache
def fingerprint() -> str:
    """What the samples of a text depend on besides the text and the voice's settings: the
    model file and the shaping below (a change to either renews the speech kept on disk)."""
    model = model_file()
    stat = model.stat() if model is not None else None
    shaping = (RENDER_VERSION, RATE, OUTPUT_RATE, SEED, PACE, SENTENCE_PAUSE, LEAD_KEEP_SECONDS,
               TRAIL_KEEP_SECONDS, SENTENCE_TAIL, SILENT, FADE_SECONDS, GAIN, PEAK)
    where = f"{stat.st_size} {stat.st_mtime_ns}" if stat is not None else "no model"
    return f"hibari {NAME} {where} {shaping}"


def words_per_minute(spoken: Iterable[tuple[str, Pcm]]) -> float:
    """The pace of (text, its speech) pairs: all their words over all their speech time, from
    each text's first sound to its last (the pauses between its sentences count, the margins
    kept before and after do not)."""
    words = seconds = 0.0
    for text, pcm in spoken:
        sound = np.flatnonzero(np.abs(pcm.samples.astype(np.int32)) >= SILENT * 32767 * 0.5)
        if len(sound) == 0:
            continue
        words += len(WORD.findall(text))
        seconds += (int(sound[-1]) - int(sound[0]) + 1) / pcm.rate
    return 60.0 * words / seconds if seconds else 0.0


def rate_range() -> tuple[int, int]:
    """The words per minute the natural voice can do (hibari's speeds 0.5-2.0)."""
    return round(PACE[0][1]), round(PACE[-1][1])


def speed_for(rate: float) -> float:
    """hibari's speed for `rate` words per minute (linear between the measured points)."""
    low, high = rate_range()
    if not low <= rate <= high:
        raise SpeechError(
            f"rate {rate:g} is out of range for the natural voice ({low}..{high} words per minute)"
        )
    speeds = [s for s, _ in PACE]
    paces = [w for _, w in PACE]
    return float(np.interp(rate, paces, speeds))


class NaturalEngine:
    """The process's one hibari model (created on first use), used by one thread at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: Any = None
        self._failed = ""

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        """Load the model now (SpeechError with the reason when it cannot)."""
        with self._lock:
            self._model_or_fail()

    def render(self, text: str, rate: int, volume: float) -> Pcm:
        return self.render_at_speed(text, speed_for(rate), volume)

    def render_at_speed(self, text: str, speed: float, volume: float) -> Pcm:
        """`text` at hibari's own `speed` (1.0 its natural pace; `render` maps a rate to it)."""
        with self._lock:
            model = self._model_or_fail()
            try:
                sentences = list(model.stream(text, speed=speed, seed=SEED))
            except Exception as error:  # a text hibari's rules or the model cannot take
                raise SpeechError(
                    f"the natural voice failed for {text[:40]!r}: {_one_line(error)}"
                ) from None
        samples = limited(resampled(shape(sentences), RATE, OUTPUT_RATE))
        if len(samples) == 0 and WORD.search(text):
            raise SpeechError(f"the natural voice produced no audio for {text[:40]!r}")
        return Pcm(to_int16(samples, volume), OUTPUT_RATE)

    def _model_or_fail(self) -> Any:
        if self._model is not None:
            return self._model
        if self._failed:
            raise SpeechError(self._failed)
        try:
            self._model = load_model()
        except Exception as error:  # ImportError, OSError, onnxruntime's own errors
            self._failed = f"the natural voice {NAME} cannot load ({_one_line(error)})"
            raise SpeechError(self._failed) from None
        return self._model


def load_model() -> Any:
    """hibari's `heart` with compact spelling-to-sound tables and onnxruntime's memory arena off
    (the arena kept memory after rendering the protocol, for no gain in speed).

    Built as `Hibari.__init__` builds it (hibari-tts 0.2.1, pinned)."""
    import json
    import os

    import hibari  # type: ignore[import-untyped]
    import onnxruntime as ort
    from hibari import Hibari
    from hibari.voices import voice_path  # type: ignore[import-untyped]

    if hibari.SAMPLE_RATE != RATE:
        raise RuntimeError(f"hibari renders at {hibari.SAMPLE_RATE} Hz, expected {RATE}")
    g2p = compact_g2p()
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.enable_cpu_mem_arena = False
    model = Hibari.__new__(Hibari)
    model.voice = NAME
    model.model_path = voice_path(NAME, download_missing=False)  # inside the wheel
    model.sess = ort.InferenceSession(
        model.model_path, options, providers=["CPUExecutionProvider"]
    )
    with open(os.path.join(os.path.dirname(hibari.__file__), "assets", "vocab.json"),
              encoding="utf-8") as file:
        model.vocab = json.load(file)
    model._g2p = g2p
    model.from_phonemes("ɹˈɛdi.", seed=SEED)  # onnxruntime's first run is slow: not a text's
    release_memory()
    return model


def compact_g2p(british: bool = False) -> Any:
    """hibari's `G2P` (its own code, unchanged), given compact tables instead of Python dicts.

    Built as `G2P.__init__` builds it (hibari-tts 0.2.1, pinned): lexicon, tokenizer, tagger.
    The big JSON tables are parsed one at a time and dropped; what survives of them as small
    Python objects is copied afresh afterwards, so it does not pin the freed memory in place."""
    import pickle

    from hibari.g2p import G2P, _load_json  # type: ignore[import-untyped]
    from hibari.g2p.lexicon import Lexicon  # type: ignore[import-untyped]
    from hibari.g2p.tagger import Tagger  # type: ignore[import-untyped]
    from hibari.g2p.tokenize import Tokenizer  # type: ignore[import-untyped]

    accent = "gb" if british else "us"
    gold = SortedMap(_load_json(f"lexicon_{accent}_gold.json.gz"))
    silver = SortedMap(_load_json(f"lexicon_{accent}_silver.json.gz"))
    tagger = _load_json("tagger.json.gz")
    tags: list[str] = list(tagger["tags"])
    tagdict = SortedMap(tagger["tagdict"])
    weights = SparseWeights(tagger["weights"], tags)
    vocab = _blob([_utf8(word) for word in tagger["vocab"]])
    del tagger
    release_memory()
    for table in (gold, silver, tagdict):
        table.own_copies(pickle)
    g2p = G2P.__new__(G2P)
    g2p.lexicon = Lexicon(gold, silver, british)
    g2p.tokenizer = Tokenizer(_load_json("tokenizer_exceptions.json"))
    blob, offsets = vocab
    g2p.tagger = Tagger({
        "tags": pickle.loads(pickle.dumps(tags)),
        "tagdict": tagdict,
        "vocab": [blob[offsets[i] : offsets[i + 1]].decode("utf-8", "surrogatepass")
                  for i in range(len(offsets) - 1)],
        "weights": weights,
    })
    g2p._oov = None
    g2p.unk = ""
    g2p.british = british
    return g2p


def release_memory() -> None:
    """Collect garbage and hand freed heap memory back to the system (glibc's malloc_trim)."""
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the memory is reused by the process instead
        pass


class SortedMap:
    """A read-only str -> str map (`get` only) in two UTF-8 blobs with offsets: keys sorted
    (UTF-8 byte order is code point order), found by binary search. Values that are not
    strings (hibari's part-of-speech entries, a few hundred) stay in a small dict."""

    def __init__(self, mapping: Mapping[str, Any]) -> None:
        self._others: dict[str, Any] = {}
        keys: list[bytes] = []
        values: list[bytes] = []
        for key in sorted(mapping):
            value = mapping[key]
            if isinstance(value, str):
                keys.append(_utf8(key))
                values.append(_utf8(value))
            else:
                self._others[key] = value
        self._keys, self._key_at = _blob(keys)
        self._values, self._value_at = _blob(values)
        self._count = len(keys)

    def own_copies(self, pickle: Any) -> None:
        """Replace the non-string values by fresh copies (see `compact_g2p`)."""
        self._others = pickle.loads(pickle.dumps(self._others))

    def __len__(self) -> int:
        return self._count + len(self._others)

    def index(self, key: str) -> int:
        """Position of `key` among the string-valued keys, or -1."""
        wanted = _utf8(key)
        blob, at = self._keys, self._key_at
        low, high = 0, self._count
        while low < high:
            middle = (low + high) // 2
            if blob[at[middle] : at[middle + 1]] < wanted:
                low = middle + 1
            else:
                high = middle
        if low < self._count and blob[at[low] : at[low + 1]] == wanted:
            return low
        return -1

    def get(self, key: str, default: Any = None) -> Any:
        found = self.index(key)
        if found < 0:
            return self._others.get(key, default)
        at = self._value_at
        return self._values[at[found] : at[found + 1]].decode("utf-8", "surrogatepass")

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None


class SparseWeights:
    """The tagger's weights (feature -> {tag: weight}) as sparse rows; `get(feature)` gives the
    same dict (built on demand) or None, as the tagger reads them."""

    def __init__(self, weights: Mapping[str, Mapping[str, float]], tags: list[str]) -> None:
        self._tags = tags
        number = {tag: i for i, tag in enumerate(tags)}
        extra = sorted({t for row in weights.values() for t in row} - set(number))
        for tag in extra:  # a weight for a tag outside `tags` (none in 0.2.1): still kept
            number[tag] = len(self._tags)
            self._tags = [*self._tags, tag]
        self._rows = SortedMap({feature: "" for feature in weights})
        self._start = array("I", [0])
        self._tag = array("H")
        self._weight = array("d")
        for feature in sorted(weights):
            for tag, weight in weights[feature].items():
                self._tag.append(number[tag])
                self._weight.append(float(weight))
            self._start.append(len(self._tag))

    def get(self, feature: str, default: Any = None) -> dict[str, float] | Any:
        row = self._rows.index(feature)
        if row < 0:
            return default
        tags, first, last = self._tags, self._start[row], self._start[row + 1]
        return {tags[self._tag[i]]: self._weight[i] for i in range(first, last)}


def shape(sentences: Iterable[np.ndarray]) -> np.ndarray:
    """hibari's sentences (float32, 24 kHz) as one text: near-silence trimmed, a fixed pause
    between sentences, a short pause after, the fixed gain (turned down if it would clip)."""
    lead = round(LEAD_KEEP_SECONDS * RATE)
    tail = round(SENTENCE_TAIL * RATE)
    fade = round(FADE_SECONDS * RATE)
    pause = np.zeros(round(SENTENCE_PAUSE * RATE), np.float32)
    pieces: list[np.ndarray] = []
    for audio in sentences:
        loud = np.flatnonzero(np.abs(audio) >= SILENT)
        if len(loud) == 0:
            continue
        first = max(0, int(loud[0]) - lead)
        last = min(len(audio), int(loud[-1]) + 1 + tail)
        piece = np.array(audio[first:last], np.float32)
        ramp = min(fade, len(piece) // 2)
        if ramp:
            piece[:ramp] *= np.linspace(0.0, 1.0, ramp, endpoint=False, dtype=np.float32)
            piece[-ramp:] *= np.linspace(1.0, 0.0, ramp, endpoint=False, dtype=np.float32)
        if pieces:
            pieces.append(pause)
        pieces.append(piece)
    if not pieces:
        return np.zeros(0, np.float32)
    end = np.zeros(max(0, round(TRAIL_KEEP_SECONDS * RATE) - tail), np.float32)
    return limited(np.concatenate([*pieces, end]) * GAIN)


def limited(samples: np.ndarray) -> np.ndarray:
    """`samples` turned down whole when their peak passes `PEAK` (never clipped)."""
    peak = float(np.abs(samples).max()) if len(samples) else 0.0
    return samples * (PEAK / peak) if peak > PEAK else samples


def resampled(samples: np.ndarray, rate: int, to: int) -> np.ndarray:
    """`samples` at rate `to`: the whole text at once in the frequency domain (its spectrum cut
    at the new Nyquist frequency). A text starts and ends in silence, so treating it as one
    period adds nothing at its ends. Padded with silence to a length whose transforms are fast."""
    if rate == to or len(samples) == 0:
        return samples
    import scipy.fft

    step = rate // math.gcd(rate, to)  # 320 samples in make 294 out (24000 -> 22050)
    blocks = scipy.fft.next_fast_len(-(-len(samples) // step))
    padded = np.zeros(blocks * step, np.float32)
    padded[: len(samples)] = samples
    out_length = blocks * (to // math.gcd(rate, to))
    spectrum = scipy.fft.rfft(padded)
    kept = np.zeros(out_length // 2 + 1, spectrum.dtype)
    count = min(len(kept), len(spectrum))
    kept[:count] = spectrum[:count]
    if out_length % 2 == 0 and count == len(kept):
        kept[-1] = kept[-1].real  # the new Nyquist bin of a real signal
    out = scipy.fft.irfft(kept, out_length) * (out_length / len(padded))
    return out[: round(len(samples) * to / rate)].astype(np.float32)


def to_int16(samples: np.ndarray, volume: float) -> np.ndarray:
    scaled = np.round(samples * (32767.0 * volume))
    return np.clip(scaled, -32768, 32767).astype(np.int16)


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _blob(parts: list[bytes]) -> tuple[bytes, array]:
    offsets = array("I", [0])
    total = 0
    for part in parts:
        total += len(part)
        offsets.append(total)
    return b"".join(parts), offsets


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


ENGINE = NaturalEngine()  # the process's one model, loaded when a text first needs it
