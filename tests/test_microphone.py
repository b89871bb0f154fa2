"""The microphone: the stateful resampler on real signals, and a real input stream on the
private PulseAudio (its callback only queues copies stamped with their capture time)."""

from __future__ import annotations

import queue
import time

import numpy as np
import pytest
import soxr
from live_helpers import play_into
from pulse import PulseServer
from speech import RATE, Voice, synthesize

from voice_guide.microphone import CapturedBlock, MicrophoneStream, Resampler


def tone(frequency: float, rate: int, seconds: float = 1.0, level: float = 8000) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return np.round(level * np.sin(2 * np.pi * frequency * t)).astype(np.int16)


def in_blocks(resample: Resampler, samples: np.ndarray, size: int) -> np.ndarray:
    return np.concatenate([resample(samples[i : i + size]) for i in range(0, len(samples), size)])


@pytest.mark.parametrize("rate", [48_000, 44_100, 32_000, 22_050, 8_000])
def test_blocks_of_any_size_give_what_the_whole_signal_gives(rate: int) -> None:
    """The filter's state carries over: no click, no lost or doubled sample at a block's edge."""
    signal = tone(440, rate, 2.0)
    whole = Resampler(rate)(signal)
    for size in (rate // 50, 441, 1000, 37):  # 20 ms, odd sizes, blocks shorter than the filter
        assert np.array_equal(in_blocks(Resampler(rate), signal, size), whole)
    # The stream is the whole-signal resampling (soxr's, in one call), less the filter's delay
    # it holds back until more samples come: at most 30 ms.
    reference = soxr.resample(signal.astype(np.float32), rate, RATE, quality="HQ")
    assert 0 <= len(reference) - len(whole) <= 0.030 * RATE
    assert np.abs(whole - np.rint(reference[: len(whole)])).max() <= 1


@pytest.mark.parametrize("rate", [48_000, 44_100])
def test_speech_band_passes_and_what_16_khz_cannot_hold_is_removed(rate: int) -> None:
    resample = Resampler(rate)
    for frequency, kept in ((300, 0.95), (1000, 0.95), (3400, 0.9)):
        out = in_blocks(resample, tone(frequency, rate), rate // 50)[2000:]
        assert np.abs(out).max() > kept * 8000, frequency
    for frequency in (9000, 12_000, 15_000):  # above 8 kHz: would alias into the speech band
        out = in_blocks(Resampler(rate), tone(frequency, rate), rate // 50)[2000:]
        assert np.abs(out).max() < 0.03 * 8000, frequency


def test_a_440_hz_tone_stays_440_hz() -> None:
    out = in_blocks(Resampler(44_100), tone(440, 44_100, 2.0), 882).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(out * np.hanning(len(out))))
    assert np.fft.rfftfreq(len(out), 1 / RATE)[np.argmax(spectrum)] == pytest.approx(440, abs=1)


def test_16_khz_passes_through_untouched() -> None:
    samples = tone(440, RATE)
    assert np.array_equal(Resampler(RATE)(samples), samples)


@pytest.mark.audio
def test_a_stream_queues_stamped_copies_only_while_active(pulse: PulseServer) -> None:
    from voice_guide.devices import resolve_input

    blocks: queue.Queue[CapturedBlock | None] = queue.Queue()
    microphone = MicrophoneStream.open(resolve_input("room.monitor"), blocks)
    try:
        time.sleep(0.3)
        assert microphone.first is not None and blocks.empty()  # running, not yet active
        microphone.active = True
        opened = time.monotonic()
        play_into("room", synthesize("next", Voice("flite", "slt", 0, 1.0)))
        microphone.active = False
    finally:
        microphone.stop()
    got: list[CapturedBlock] = []
    while not blocks.empty():
        block = blocks.get()
        assert block is not None
        got.append(block)
    assert got and all(block.stream is microphone for block in got)
    times = [block.captured_at for block in got]
    assert times == sorted(times) and times[0] >= opened - 0.5
    resample = Resampler(microphone.rate)
    audio = np.concatenate([resample(block.samples) for block in got])
    assert np.abs(audio).max() > 1000  # the word played into the room was captured


def test_blocks_are_kept_back_only_as_long_as_the_listening_thread_said() -> None:
    """`hold_back`: blocks are kept while they fit in what the reader allowed, then queued all
    at once, in order; an allowance given before blocks the reader has not taken yet is void;
    closing queues what was kept."""
    blocks: queue.Queue[CapturedBlock | None] = queue.Queue()
    microphone = MicrophoneStream(None, blocks)
    microphone.active = True
    captured = [np.full((320, 1), n, np.int16) for n in range(12)]

    def capture(n: int) -> None:
        microphone._callback(captured[n], 320, None, None)

    def queued() -> list[int]:
        got = []
        while not blocks.empty():
            block = blocks.get()
            assert block is not None
            got.append(int(block.samples[0]))
        return got

    capture(0)
    assert queued() == [0]  # nothing allowed yet
    microphone.hold_back(3 * 320, taken=1)
    for n in (1, 2, 3):
        capture(n)
    assert queued() == []
    capture(4)  # over the allowance: all of them, in order
    assert queued() == [1, 2, 3, 4]
    microphone.hold_back(3 * 320, taken=4)  # said before block 4 was taken: void
    capture(5)
    assert queued() == [5]
    microphone.hold_back(2 * 320, taken=6)
    capture(6)
    microphone.close()
    assert queued() == [6]
