"""WAV reading: rates, channels, sample formats, resampling to 16 kHz, clear errors."""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from voice_guide.wav import WavError, read_wav, read_wav_16k


def sine(rate: int, seconds: float = 0.5, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return amp * np.sin(2 * np.pi * freq * t)


def write_pcm(path: Path, samples: np.ndarray, rate: int, width: int = 2) -> None:
    """Interleaved float samples (frames x channels) -> integer PCM WAV via the wave module."""
    frames = samples if samples.ndim == 2 else samples[:, None]
    with wave.open(str(path), "wb") as out:
        out.setnchannels(frames.shape[1])
        out.setsampwidth(width)
        out.setframerate(rate)
        if width == 1:
            data = np.round(frames * 127 + 128).astype(np.uint8).tobytes()
        elif width == 2:
            data = np.round(frames * 32767).astype("<i2").tobytes()
        elif width == 3:
            ints = np.round(frames * 8388607).astype("<i4").reshape(-1)
            data = b"".join(int(v).to_bytes(3, "little", signed=True) for v in ints)
        else:
            data = np.round(frames * 2147483647).astype("<i4").tobytes()
        out.writeframes(data)


def write_float(path: Path, samples: np.ndarray, rate: int) -> None:
    data = samples.astype("<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return float(np.argmax(spectrum) * rate / len(samples))


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
def test_any_rate_becomes_16k_with_the_same_pitch_and_length(tmp_path: Path, rate: int) -> None:
    path = tmp_path / "tone.wav"
    write_pcm(path, sine(rate), rate)
    audio = read_wav_16k(path)
    assert audio.dtype == np.int16
    assert abs(len(audio) - 8000) <= 2
    assert abs(dominant_frequency(audio, 16000) - 440.0) < 5.0
    assert 0.45 * 32768 < np.abs(audio).max() < 0.55 * 32768


def test_stereo_is_mixed_to_mono(tmp_path: Path) -> None:
    left, right = sine(16000, freq=440.0), sine(16000, freq=1000.0)
    path = tmp_path / "stereo.wav"
    write_pcm(path, np.stack([left, right], axis=1), 16000)
    samples, rate = read_wav(path)
    assert rate == 16000
    np.testing.assert_allclose(samples, (left + right) / 2, atol=2e-4)


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_integer_sample_sizes(tmp_path: Path, width: int) -> None:
    path = tmp_path / f"w{width}.wav"
    write_pcm(path, sine(16000, 0.1), 16000, width)
    samples, _ = read_wav(path)
    np.testing.assert_allclose(samples, sine(16000, 0.1), atol=1.5 / (2 ** (8 * width - 1)) + 1e-6)


def test_float_wav(tmp_path: Path) -> None:
    path = tmp_path / "float.wav"
    write_float(path, sine(48000, 0.2), 48000)
    audio = read_wav_16k(path)
    assert abs(len(audio) - 3200) <= 2
    assert abs(dominant_frequency(audio, 16000) - 440.0) < 10.0


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WavError, match=r"nope\.wav: no such file"):
        read_wav(tmp_path / "nope.wav")


def test_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WavError, match="is a directory"):
        read_wav(tmp_path)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"hello, this is text", "not a WAV file"),
        (b"RIFF\x10\x00\x00\x00WAVEdata\x00\x00\x00\x00", "no fmt chunk"),
        (b"", "not a WAV file"),
    ],
)
def test_unreadable_content_names_the_file_and_why(
    tmp_path: Path, content: bytes, why: str
) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(WavError, match=rf"bad\.wav: {why}"):
        read_wav(path)
