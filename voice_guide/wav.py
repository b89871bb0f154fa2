"""WAV files in (any rate, mono or stereo, 8/16/24/32-bit PCM or float); out: int16 mono 16 kHz.

Recognizers want 16 kHz mono int16; recordings come from anywhere. Channels are averaged,
the rate is converted by soxr (libsoxr's "HQ" filter, in C: the microphone's resampler too).
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import soxr

TARGET_RATE = 16_000
MAX_BYTES = 512 * 1024 * 1024  # larger files are refused before reading (an hour of 16 kHz audio
# is 115 MB; a device file such as /dev/zero would otherwise be read until memory runs out)


class WavError(Exception):
    """A WAV file that cannot be read; the message names the file and says why."""


def read_wav_16k(path: str | Path, problems: list[str] | None = None) -> np.ndarray:
    """The file's audio as int16 mono at 16 kHz. What could not be read whole (a truncated
    file) is appended to `problems`, and what there is is returned."""
    samples, rate = read_wav(path, problems)
    return to_16k_int16(samples, rate)


def read_wav(path: str | Path, problems: list[str] | None = None) -> tuple[np.ndarray, int]:
    """The file's audio as float32 mono in [-1, 1], and its sample rate."""
    path = Path(path)
    try:
        with path.open("rb") as source:
            data = source.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise WavError(f"{path}: larger than {MAX_BYTES // (1024 * 1024)} MB; not read")
    except FileNotFoundError:
        raise WavError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise WavError(f"{path}: is a directory, not a WAV file") from None
    except OSError as error:
        raise WavError(f"{path}: cannot read ({error.strerror or error})") from None
    found: list[str] = []
    try:
        decoded = decode_wav(data, found)
    except WavError as error:
        raise WavError(f"{path}: {error}") from None
    if problems is not None:
        problems += [f"{path}: {problem}" for problem in found]
    return decoded


def to_16k_int16(samples: np.ndarray, rate: int) -> np.ndarray:
    """Float mono samples at `rate` -> int16 at 16 kHz."""
    if rate != TARGET_RATE:
        samples = soxr.resample(samples.astype(np.float32), rate, TARGET_RATE, quality="HQ")
    return np.clip(np.round(samples * 32768.0), -32768, 32767).astype(np.int16)


def decode_wav(data: bytes, problems: list[str] | None = None) -> tuple[np.ndarray, int]:
    """WAV bytes -> float32 mono samples in [-1, 1] and the sample rate. A data chunk shorter
    than its header says (a file cut off while copying or recording) is decoded as far as it
    goes, and said in `problems`."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise WavError("not a WAV file (no RIFF/WAVE header)")
    fmt: tuple[int, int, int, int] | None = None
    payload: bytes | None = None
    position = 12
    while position + 8 <= len(data):
        chunk_id = data[position : position + 4]
        size = int.from_bytes(data[position + 4 : position + 8], "little")
        body = data[position + 8 : position + 8 + size]
        if chunk_id == b"fmt ":
            if len(body) < 16:
                raise WavError("fmt chunk too short")
            tag = int.from_bytes(body[0:2], "little")
            if tag == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: real tag in the GUID
                tag = int.from_bytes(body[24:26], "little")
            channels = int.from_bytes(body[2:4], "little")
            rate = int.from_bytes(body[4:8], "little")
            bits = int.from_bytes(body[14:16], "little")
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            payload = body
            if len(body) < size and problems is not None:
                problems.append(f"truncated: the data chunk should hold {size} bytes, the file "
                                f"has {len(body)}; read what there is")
            if fmt is not None:
                break
        position += 8 + size + (size & 1)
    if fmt is None:
        raise WavError("no fmt chunk")
    if payload is None:
        raise WavError("no data chunk")
    tag, channels, rate, bits = fmt
    if channels < 1 or rate < 1:
        raise WavError(f"bad format ({channels} channels, {rate} Hz)")
    samples = _samples(payload, tag, bits)
    usable = len(samples) - len(samples) % channels
    samples = samples[:usable].reshape(-1, channels).mean(axis=1, dtype=np.float32)
    return samples.astype(np.float32), rate


def _samples(payload: bytes, tag: int, bits: int) -> np.ndarray:
    """Interleaved samples as float in [-1, 1]."""
    if tag == 1:  # integer PCM
        if bits == 8:
            raw = np.frombuffer(payload, dtype=np.uint8)
            return (raw.astype(np.float32) - 128.0) / 128.0
        if bits == 16:
            raw = np.frombuffer(payload[: len(payload) // 2 * 2], dtype="<i2")
            return raw.astype(np.float32) / 32768.0
        if bits == 24:
            raw = np.frombuffer(payload[: len(payload) // 3 * 3], dtype=np.uint8).reshape(-1, 3)
            value = raw[:, 0].astype(np.int32) | raw[:, 1].astype(np.int32) << 8
            value |= raw[:, 2].astype(np.int8).astype(np.int32) << 16
            return value.astype(np.float32) / 8388608.0
        if bits == 32:
            raw = np.frombuffer(payload[: len(payload) // 4 * 4], dtype="<i4")
            return (raw.astype(np.float64) / 2147483648.0).astype(np.float32)
        raise WavError(f"unsupported PCM sample size: {bits} bits")
    if tag == 3:  # IEEE float
        if bits == 32:
            return np.frombuffer(payload[: len(payload) // 4 * 4], dtype="<f4").astype(np.float32)
        if bits == 64:
            return np.frombuffer(payload[: len(payload) // 8 * 8], dtype="<f8").astype(np.float32)
        raise WavError(f"unsupported float sample size: {bits} bits")
    raise WavError(f"unsupported WAV encoding (format tag {tag}); use PCM or float")


def write_wav(path: str | Path, samples: np.ndarray, rate: int = TARGET_RATE) -> None:
    """Write int16 mono samples (for tools and tests that the user asks to save audio)."""
    with wave.open(str(Path(path)), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.asarray(samples, dtype="<i2").tobytes())
