"""The microphone: one input stream, and the resampling of what it captures to 16 kHz.

`MicrophoneStream.open` starts a sounddevice input stream on an `Endpoint`. Its callback runs on
PortAudio's real-time thread, so it does the least it can: copy the block, stamp when it was
captured (`speak.gate.capture_time`, the clock of the player's microphone gate), and queue it;
only while the stream is active (a stream being tried, or being closed, queues nothing).
Everything else (resampling, the gate, the segmenter, the recognizer) runs on the listening
thread (`voice_guide.listening`), which reads the queue.

`Resampler` turns a device's own rate into 16 kHz mono int16 block by block, keeping the filter's
state between blocks: a block boundary leaves no click and costs no filter start-up, unlike
resampling each 20 ms block on its own.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from voice_guide.speak.gate import capture_time

log = logging.getLogger(__name__)

RATE = 16_000  # what the listener takes
BLOCK = 320  # samples: 20 ms at 16 kHz (the device's own rate gets blocks of the same length)


@dataclass(frozen=True)
class CapturedBlock:
    """One block of samples at the stream's own rate, and when its first sample was captured
    (monotonic seconds)."""

    stream: MicrophoneStream
    samples: np.ndarray  # int16, mono
    captured_at: float


class MicrophoneStream:
    """One input stream and what its callbacks said. Blocks go to `blocks` only while `active`."""

    def __init__(self, endpoint: Any, blocks: queue.Queue[CapturedBlock | None]) -> None:
        self.endpoint = endpoint  # devices.Endpoint
        self.blocks = blocks
        self.stream: Any = None
        self.rate = RATE
        self.last = time.monotonic()  # the latest callback (or the opening)
        self.first: float | None = None  # the first callback
        self.ended = False  # the stream ended by itself
        self.active = False

    @classmethod
    def open(cls, endpoint: Any, blocks: queue.Queue[CapturedBlock | None]) -> MicrophoneStream:
        """A started input stream on `endpoint`, not queueing blocks until made active. 16 kHz
        when the device can; otherwise at its own rate (the listening thread resamples)."""
        from voice_guide.devices import open_input_stream

        microphone = cls(endpoint, blocks)
        common = {"channels": 1, "dtype": "int16", "latency": "low",
                  "callback": microphone._callback, "finished_callback": microphone._finished}
        try:
            stream = open_input_stream(endpoint, samplerate=RATE, blocksize=BLOCK, **common)
        except Exception:  # the device cannot do 16 kHz itself: take its rate
            stream = open_input_stream(endpoint, **common)
        microphone.stream, microphone.rate = stream, int(stream.samplerate)
        microphone.last = time.monotonic()
        try:
            stream.start()
        except Exception:
            microphone.close()
            raise
        return microphone

    def close(self) -> None:
        """Stop it in the background: a dead device can block abort()."""
        self.active = False
        stream = self.stream

        def shut() -> None:
            try:
                stream.abort()
                stream.close()
            except Exception as error:  # a vanished device may refuse; nothing left to do
                log.debug("closing the microphone: %s", error)

        if stream is not None:
            threading.Thread(target=shut, name="microphone-close", daemon=True).start()

    def stop(self) -> None:
        """Stop and close it now (the end of a session, the device still there)."""
        self.active = False
        try:
            self.stream.stop()
            self.stream.close()
        except Exception as error:  # a vanished device may refuse; nothing left to do
            log.debug("closing the microphone: %s", error)

    # Runs on PortAudio's thread: short, no blocking, nothing but a copy and a time stamp.
    def _callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        now = time.monotonic()
        self.last = now
        if self.first is None:
            self.first = now
        if not self.active:
            return
        self.blocks.put(CapturedBlock(self, indata[:, 0].copy(), capture_time(time_info, now)))

    def _finished(self) -> None:
        self.ended = True


class Resampler:
    """A polyphase low-pass resampler from `rate` to 16 kHz (int16 in, int16 out) that carries
    its filter history and phase from one block to the next.

    The output is the input upsampled by `up`, low-pass filtered (a windowed sinc, cut a little
    below the lower Nyquist frequency) and taken every `down`-th sample; the filter is split into
    `up` phases so only the samples kept are computed. 48 taps of the input per output sample at
    48 kHz (16 per factor of decimation): speech keeps its band, aliasing stays far below it.
    """

    def __init__(self, rate: int, out_rate: int = RATE) -> None:
        common = math.gcd(rate, out_rate)
        self.rate = rate
        self.up, self.down = out_rate // common, rate // common
        self.taps = 16 * max(1, math.ceil(self.down / self.up))  # input samples per output
        length = self.up * self.taps
        cutoff = 0.45 * min(1.0, self.up / self.down) / self.up  # cycles per upsampled sample
        n = np.arange(length) - (length - 1) / 2
        prototype = 2 * cutoff * np.sinc(2 * cutoff * n) * np.blackman(length) * self.up
        # bank[p, k]: the tap that input sample i0 - k meets in an output of phase p.
        self._bank = prototype.reshape(self.taps, self.up).T.astype(np.float32)
        # The history starts as the silence before the stream; the first output is due once
        # the first real sample is in (outputs are counted in upsampled samples).
        self._history = np.zeros(self.taps - 1, np.float32)  # the last taps-1 input samples
        self._next = (self.taps - 1) * self.up  # the next output, from the history's start

    def __call__(self, block: np.ndarray) -> np.ndarray:
        """The 16 kHz samples that `block` (the next samples at `rate`) completes."""
        if self.up == self.down:
            return block.astype(np.int16, copy=False)
        samples = np.concatenate([self._history, block.astype(np.float32)])
        count = max(0, -(-(len(samples) * self.up - self._next) // self.down))
        positions = self._next + self.down * np.arange(count)
        newest = positions // self.up  # the newest input sample each output uses
        window = newest[:, None] - np.arange(self.taps)[None, :]
        out = np.einsum("ij,ij->i", samples[window], self._bank[positions % self.up])
        keep = self.taps - 1
        self._next += count * self.down - (len(samples) - keep) * self.up
        self._history = samples[len(samples) - keep:]
        return np.clip(np.rint(out), -32768, 32767).astype(np.int16)
