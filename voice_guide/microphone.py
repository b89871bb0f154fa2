"""The microphone: one input stream, and the resampling of what it captures to 16 kHz.

`MicrophoneStream.open` starts a sounddevice input stream on an `Endpoint`. Its callback runs on
PortAudio's real-time thread, so it does the least it can: copy the block, stamp when it was
captured (`speak.gate.capture_time`, the clock of the player's microphone gate), and queue it;
only while the stream is active (a stream being tried, or being closed, queues nothing). While
the listening thread says nothing can be heard in them (`hold_back`), blocks are kept and queued
a few at a time: each one queued wakes that thread.
Everything else (resampling, the gate, the segmenter, the recognizer) runs on the listening
thread (`voice_guide.listening`), which reads the queue.

`Resampler` turns a device's own rate into 16 kHz mono int16 block by block (soxr, in C), keeping
the filter's state between blocks: a block boundary leaves no click and costs no filter start-up,
unlike resampling each 20 ms block on its own.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import soxr

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

    def __init__(
        self, endpoint: Any, blocks: queue.Queue[CapturedBlock | None],
        on_end: Callable[[], None] | None = None,
    ) -> None:
        self.endpoint = endpoint  # devices.Endpoint
        self.blocks = blocks
        self.on_end = on_end  # called (on PortAudio's thread) when the stream in use ends
        self.stream: Any = None
        self.rate = RATE
        self.last = time.monotonic()  # the latest callback (or the opening)
        self.first: float | None = None  # the first callback
        self.ended = False  # the stream ended by itself
        self.active = False
        self._queued = 0  # blocks put in `blocks` so far
        self._hold = (0, 0)  # `hold_back`: (samples, blocks the listening thread had taken)
        self._kept: list[CapturedBlock] = []  # captured, not yet queued
        self._kept_samples = 0

    def hold_back(self, samples: int, taken: int) -> None:
        """Let the callback keep up to `samples` (at the stream's rate) before queueing them,
        all at once: nothing can be heard in them yet (the listener's slack), and each block
        queued wakes the listening thread, which costs more than the block's samples. `taken`:
        the blocks the caller has taken from this stream so far; if more were queued
        meanwhile, the caller spoke of an older stream state: nothing is kept back."""
        self._hold = (samples, taken)

    @classmethod
    def open(
        cls, endpoint: Any, blocks: queue.Queue[CapturedBlock | None],
        on_end: Callable[[], None] | None = None,
    ) -> MicrophoneStream:
        """A started input stream on `endpoint`, not queueing blocks until made active. 16 kHz
        when the device can; otherwise at its own rate (the listening thread resamples)."""
        from voice_guide.devices import open_input_stream

        microphone = cls(endpoint, blocks, on_end)
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
        for block in self._kept:  # what it captured is heard, as if nothing had been kept
            self.blocks.put(block)
        self._kept, self._kept_samples = [], 0
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
        block = CapturedBlock(self, indata[:, 0].copy(), capture_time(time_info, now))
        self._kept.append(block)
        self._kept_samples += len(block.samples)
        samples, taken = self._hold
        if taken == self._queued and self._kept_samples <= samples:
            return
        kept, self._kept, self._kept_samples = self._kept, [], 0
        for each in kept:  # one wake-up: the reader finds them all queued
            self.blocks.put(each)
        self._queued += len(kept)

    def _finished(self) -> None:
        self.ended = True
        if self.on_end is not None and self.active:  # (not one we are closing)
            self.on_end()


class Resampler:
    """`rate` to 16 kHz, int16 in and out, block by block: soxr (libsoxr, in C; its "HQ"
    linear-phase filter) with its state kept from one block to the next, so blocks of any size
    give exactly what the whole signal gives. It works in float32 (soxr's int16 path rounds
    each block on its own: up to 2 LSB apart at block edges).

    The filter holds back its group delay: 12 ms at 48 kHz, 9 ms at 44.1 kHz, 29 ms at 32 kHz
    (measured); a microphone at 16 kHz (any PulseAudio source) has no filter and no delay.
    Cost: ~7 us per 20 ms block at 48 kHz (the hand-written numpy filter it replaced: 54 us).
    """

    def __init__(self, rate: int, out_rate: int = RATE) -> None:
        self.rate = rate
        self._stream = (None if rate == out_rate
                        else soxr.ResampleStream(rate, out_rate, 1, dtype="float32", quality="HQ"))

    def __call__(self, block: np.ndarray) -> np.ndarray:
        """The 16 kHz samples that `block` (the next samples at `rate`) completes."""
        if self._stream is None:
            return block.astype(np.int16, copy=False)
        out = self._stream.resample_chunk(block.astype(np.float32))
        return np.clip(np.rint(out), -32768, 32767).astype(np.int16)
