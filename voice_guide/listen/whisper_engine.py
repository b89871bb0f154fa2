"""Whisper engine: OpenAI's Whisper `base` (trained on real speech) decides what an utterance is.

Each utterance from the segmenter (at most ~2.6 s) is turned into Whisper's log-mel features,
padded to a short window (`window_frames`, 10 ms each: encoder time grows with the window),
encoded once by CTranslate2 (int8), and transcribed greedily in English with no timestamps.
The transcript is normalized ("Go!" -> "go", "go, go" -> "go", "backwards" -> "backward") and
is a command only when the whole of it is one accepted phrase, Whisper thinks it is speech
(`no_speech_prob` below `max_no_speech`) and its mean token log-probability clears
`min_logprob`. A transcript that is a phrase of a command not accepted now, or any other words,
is nothing. A one- or two-word transcript that is no phrase is read again: from Whisper's
first-token log-probabilities (the rescue), then by a second decode with the commonest phrases
as context, taken only where the first look agrees (`WhisperSettings`). Thresholds are calibrated
on human speech (`benchmarks.human`, `benchmarks.room`).

The model comes from PyPI (`listen/whisper_model.py`); nothing touches the network.
CTranslate2 releases the GIL while it computes, so a listening thread decoding does not stall
the audio threads.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from voice_guide.commands import CLIENT_ANSWERS, Command, normalize, parse
from voice_guide.events import Heard
from voice_guide.listen.engine import SAMPLE_RATE, Segment

N_FFT = 400  # Whisper's STFT: 25 ms windows every 10 ms, 80 mel bands up to 8 kHz
HOP = 160
N_MELS = 80
NATIVE_FRAMES = 3000  # the 30 s window Whisper was trained on

# Whisper's special tokens (multilingual vocabulary)
END_OF_TEXT = 50257
START_OF_TRANSCRIPT = 50258
ENGLISH = 50259
TRANSCRIBE = 50359
NO_TIMESTAMPS = 50363
PROMPT = [START_OF_TRANSCRIPT, ENGLISH, TRANSCRIBE, NO_TIMESTAMPS]
START_OF_PREVIOUS = 50361  # what was said before, as Whisper's context (`hear_words(context=)`)
MAX_TOKENS = 12  # the longest phrase is 4 tokens: a longer transcript is never a command, so
# decoding stops early on talk and noise
WORDS_PER_SECOND_TOKENS = 6  # free speech (`hear_words`): at most this many tokens a second

# Words Whisper writes for a command phrase: spellings, not synonyms the session should learn.
VARIANTS: dict[str, str] = {
    "backwards": "backward",
    "forwards": "forward",
    "go ahead": "go on",
    "nope": "no",
    "okay go": "go",
    "where am i now": "where am i",
    "say it again": "say again",
    "pause it": "pause",
    "stop it": "stop",
    "hold on a second": "hold on",
    "help me": "help",
    "next one": "next",
    "repeat it": "repeat",
    "repeat please": "repeat",
}


class WhisperError(Exception):
    """The Whisper engine cannot be loaded; the message says why in one line."""


@dataclass(frozen=True)
class WhisperSettings:
    window_frames: int = 1000  # mel frames the encoder sees (10 ms each; Whisper's own is 3000)
    max_no_speech: float = 0.6  # Whisper's probability that the window holds no speech
    min_logprob: float = -3.0  # mean log-probability of the transcript's tokens
    max_seconds: float = 2.0  # longer speech is not a command (plus the segmenter's rolls)
    # A transcript of one or two words that is no phrase ("Yeah" for "yes", "So" for "stop") is
    # read again from Whisper's first-token log-probabilities: the likeliest single-token phrase
    # of an accepted command is taken when it is within `rescue_gap` of Whisper's own first
    # token and `rescue_margin` ahead of the next phrase (None: never). Tuned on the tune half
    # (benchmarks.room and benchmarks.human): room streams 77.5 -> 82.5 % right, isolated
    # words 93.3 -> 97.5 %, no wrong command, other words 1 -> 2 of 686, no false accept in
    # 18 min of talk and noise (a margin of 2: 87.5 % in the room, but 3 in 18 min)
    rescue_gap: float | None = 3.0
    rescue_margin: float = 4.0
    # What the rescue leaves is looked at again with the commonest phrases as Whisper's context
    # ("what was said before"), which tips a word smeared by the room towards the vocabulary
    # ("Yeah." -> "Go.", "Still" -> "Stop."). Alone that context also makes music and bleats
    # into commands, so its phrase is taken only when the first look agrees: that command's
    # first token within `second_look_gap` of Whisper's own and `second_look_margin` ahead of
    # any other command, and both looks sure it is speech (`second_look_no_speech`). Tuned on
    # the tune half (benchmarks.room, benchmarks.human): room streams 82.5 -> 87.5 % right, no
    # wrong command, no more other words or false accepts (None: no second look)
    second_look: str | None = "Go. Stop. Yes. No. Back. Next."
    second_look_gap: float = 3.0
    second_look_margin: float = 2.0
    second_look_no_speech: float = 0.35
    threads: int = 2
    compute_type: str = "int8"
    model_dir: str | None = None  # default: the assembled PyPI model (`whisper_model`)


@dataclass(frozen=True)
class Transcript:
    """What Whisper wrote for one utterance, with its own confidence figures."""

    text: str
    logprob: float  # mean log-probability per token
    no_speech: float  # probability that the window holds no speech
    complete: bool = True  # False: cut off at MAX_TOKENS (so never a command)
    first: np.ndarray | None = None  # log-probabilities of the first token (vocabulary-sized)

    @property
    def phrase(self) -> str:
        """The text as a vocabulary phrase would be written (may match no phrase)."""
        return canonical(self.text)


@dataclass(frozen=True)
class Verdict:
    """One utterance's decision: the command heard, or why none (`listen --verbose`)."""

    heard: Heard | None
    transcript: Transcript | None  # None: not decoded
    why: str  # empty when heard


class WhisperRecognizer:
    """Whole-utterance command recognition by transcription with Whisper base."""

    name = "whisper"
    # Answer after 60 ms of quiet, not the segmenter's 100: a phrase cut short there is another
    # phrase of the same command ("next" of "next step") or no phrase at all ("tell me", "how"),
    # so an early look cannot act wrongly (only "go", which may be "go back", waits). It costs
    # little on human speech and answers 40 ms sooner (README, Figures).
    first_look = 0.06
    # Speech that runs past the segmenter's 2 s is offered once (its first 2 s): over music or
    # bleating the end of a word is lost in the bed and the utterance only looks long, while a
    # sentence is still rejected by its words (a command is the whole transcript).
    offer_long = True
    # Speech past 2 s is kept whole up to this long and offered when it ends: a client's answer
    # in a sentence, a note (`hear_words`); never a command
    max_utterance = 15.0

    def __init__(self, settings: WhisperSettings = WhisperSettings()) -> None:
        try:
            import ctranslate2
        except ImportError:
            raise WhisperError("the whisper engine needs ctranslate2 (run `make setup`)") from None
        from voice_guide.listen.whisper_model import WhisperModelError, ensure_model

        self.settings = settings
        try:
            folder = Path(settings.model_dir) if settings.model_dir else ensure_model()
        except WhisperModelError as error:
            raise WhisperError(str(error)) from None
        try:
            self._model = ctranslate2.models.Whisper(
                str(folder), device="cpu", compute_type=settings.compute_type,
                intra_threads=settings.threads, inter_threads=1,
            )
        except (RuntimeError, ValueError) as error:
            raise WhisperError(f"{folder}: cannot load the Whisper model ({error}); delete the "
                               "folder and run `make setup` to rebuild it") from None
        self._storage = ctranslate2.StorageView
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.last: Verdict | None = None  # the latest decision (`listen --verbose`)
        self._phrase_tokens: dict[str, list[int]] | None = None
        self._encoded: tuple[np.ndarray | None, int, Any] = (None, 0, None)

    def recognize(self, segment: Segment, commands: frozenset[Command]) -> Heard | None:
        """The command this utterance is, among `commands`; None for anything else."""
        self.last = self.judge(segment, commands)
        return self.last.heard

    def last_words(self) -> str | None:
        """What Whisper wrote for the utterance `recognize` last decided (None: not decoded)."""
        transcript = self.last.transcript if self.last is not None else None
        return transcript.text if transcript is not None else None

    def judge(self, segment: Segment, commands: frozenset[Command]) -> Verdict:
        """`recognize`'s decision, with the transcript and why it is no command."""
        s = self.settings
        if not commands or len(segment.audio) == 0:
            return Verdict(None, None, "no command accepted" if not commands else "empty")
        if len(segment.audio) / SAMPLE_RATE > s.max_seconds + 0.6:
            return Verdict(None, None, f"longer than a command ({s.max_seconds:g} s)")
        if not np.any(segment.audio != segment.audio[0]):  # digital silence or a constant
            return Verdict(None, None, "digital silence")
        heard = self.transcribe(segment.audio)
        if heard.no_speech > s.max_no_speech:
            return Verdict(None, heard, f"no speech ({heard.no_speech:.2f} > {s.max_no_speech})")
        if not heard.complete:
            return Verdict(None, heard, "too many words for a command")
        command = parse(heard.phrase)
        # (a first look is cut at a pause: only a one-word transcript of it is read again, so
        # "Go for..." of "go forward ten meters" never becomes a command; two words are read
        # again only when the first is no phrase ("Let's go."): "No less." is a "no" and more)
        words = heard.phrase.split()
        if command is None and heard.first is not None and (
                len(words) == 1 or (len(words) == 2 and not segment.provisional
                                    and parse(words[0]) is None)):
            scores = self._command_scores(heard.first, commands)
            rescued = self._rescue(heard.first, scores) or self._look_again(
                segment, heard, scores, commands)
            if rescued is not None:
                command, phrase = rescued
                return Verdict(Heard(command=command, phrase=phrase,
                                     confidence=math.exp(heard.logprob), start=segment.start,
                                     end=segment.end), heard, "")
        if command is None:
            return Verdict(None, heard, "not a phrase of the vocabulary")
        if command not in commands:
            return Verdict(None, heard, f"{command} is not accepted now")
        if heard.logprob < s.min_logprob:
            return Verdict(None, heard, f"unsure ({heard.logprob:.1f} < {s.min_logprob})")
        return Verdict(Heard(command=command, phrase=heard.phrase,
                             confidence=math.exp(heard.logprob), start=segment.start,
                             end=segment.end), heard, "")

    def _rescue(self, first: np.ndarray, scores: dict[Command, tuple[float, str]]
                ) -> tuple[Command, str] | None:
        """The accepted command whose single-token phrase Whisper found nearly as likely as its
        own first word, well ahead of any other (`WhisperSettings.rescue_gap`), with that
        phrase ("go" may still become "go back": the listener waits for it as for a phrase)."""
        s = self.settings
        if s.rescue_gap is None or not scores:
            return None
        best = max(scores, key=lambda command: scores[command][0])
        if _stands_out(first, scores, best, s.rescue_gap, s.rescue_margin):
            return best, scores[best][1]
        return None

    def _look_again(self, segment: Segment, heard: Transcript,
                    scores: dict[Command, tuple[float, str]], commands: frozenset[Command]
                    ) -> tuple[Command, str] | None:
        """The accepted command Whisper writes when told the commonest phrases were said before
        (`WhisperSettings.second_look`), if the first look's first token agrees with it
        (`scores`: the first look's, `_command_scores`)."""
        s = self.settings
        if (s.second_look is None or heard.first is None
                or heard.no_speech > s.second_look_no_speech):
            return None
        # (not `transcribe`: a profile wrapped around this engine reads the first look only)
        again = self._decode(self._encode(segment.audio, s.window_frames), context=s.second_look)
        command = parse(again.phrase)
        if (command is None or command not in commands or command in CLIENT_ANSWERS
                or not again.complete or again.no_speech > s.second_look_no_speech):
            return None
        if command in scores and _stands_out(heard.first, scores, command,
                                             s.second_look_gap, s.second_look_margin):
            return command, again.phrase
        return None

    def _command_scores(self, first: np.ndarray, commands: frozenset[Command]
                        ) -> dict[Command, tuple[float, str]]:
        """Each accepted command (not the client's answers: those are read from their whole
        words) with its likeliest single-token phrase's first-token log-probability."""
        scores: dict[Command, tuple[float, str]] = {}
        for phrase, tokens in self._single_tokens().items():
            command = parse(phrase)
            if command is not None and command in commands and command not in CLIENT_ANSWERS:
                score = max(float(first[t]) for t in tokens)
                if score > scores.get(command, (-math.inf, ""))[0]:
                    scores[command] = (score, phrase)
        return scores

    def _single_tokens(self) -> dict[str, list[int]]:
        """Each one-word phrase written as one token (" Go", " go"): its token ids."""
        if self._phrase_tokens is None:
            from voice_guide.commands import PHRASES

            found: dict[str, list[int]] = {}
            for phrases in PHRASES.values():
                for phrase in phrases:
                    for spelling in (" " + phrase.capitalize(), " " + phrase):
                        ids = self._tokenizer.encode(spelling, add_special_tokens=False).ids
                        if len(ids) == 1:
                            found.setdefault(phrase, []).append(ids[0])
            self._phrase_tokens = found
        return self._phrase_tokens

    def hear_words(self, segment: Segment, context: str = "") -> Transcript | None:
        """The words of a whole utterance of free speech (a client's answer, a note; up to
        Whisper's 30 s), when Whisper thinks it is speech and is sure enough of them.
        `context`: what was said just before (the question the words answer)."""
        audio = segment.audio
        if len(audio) == 0 or not np.any(audio != audio[0]):
            return None
        seconds = len(audio) / SAMPLE_RATE
        frames = min(NATIVE_FRAMES, max(self.settings.window_frames, round(seconds * 100) + 50))
        tokens = max(MAX_TOKENS, round(seconds * WORDS_PER_SECOND_TOKENS))
        heard = self.transcribe(audio, frames=frames, max_tokens=tokens, free=True,
                                context=context)
        if (heard.no_speech > self.settings.max_no_speech or not heard.text.strip()
                or heard.logprob < self.settings.min_logprob):
            return None
        return heard

    def transcribe(self, audio: np.ndarray, frames: int | None = None,
                   max_tokens: int = MAX_TOKENS, free: bool = False,
                   context: str = "") -> Transcript:
        """Whisper's transcript of one int16 16 kHz utterance (greedy, English). `free`: free
        speech, where a word may come twice ("a little, little deeper")."""
        return self._decode(self._encode(audio, frames or self.settings.window_frames),
                            max_tokens, free, context)

    def _encode(self, audio: np.ndarray, frames: int) -> Any:
        """The encoder's output for `audio` in a window of `frames`. The latest is kept: a
        second look decodes it again without the encoder's cost (about 60 % of a decode)."""
        kept_audio, kept_frames, encoded = self._encoded
        if kept_audio is audio and kept_frames == frames:
            return encoded
        features = log_mel(audio, frames)
        encoded = self._model.encode(self._storage.from_array(features[np.newaxis]))
        self._encoded = (audio, frames, encoded)
        return encoded

    def _decode(self, encoded: Any, max_tokens: int = MAX_TOKENS, free: bool = False,
                context: str = "") -> Transcript:
        prompt = PROMPT
        if context:
            previous = self._tokenizer.encode(" " + context.strip(), add_special_tokens=False).ids
            prompt = [START_OF_PREVIOUS, *previous, *PROMPT]
        result = self._model.generate(
            encoded, [prompt], beam_size=1,
            max_length=len(prompt) + max_tokens, return_scores=True, return_no_speech_prob=True,
            repetition_penalty=1.5, no_repeat_ngram_size=0 if free else 1, suppress_blank=True,
            return_logits_vocab=not free and (self.settings.rescue_gap is not None
                                              or self.settings.second_look is not None),
        )[0]
        # CTranslate2's score is the sum of token log-probabilities divided by the length
        # (length_penalty 1), i.e. already a mean
        logprob = float(result.scores[0]) if result.scores else -math.inf
        ids = result.sequences_ids[0]
        logits = getattr(result, "logits", None)
        first = _log_softmax(np.asarray(logits[0][0], np.float64)) if logits and logits[0] else None
        return Transcript(text=self._text(ids), logprob=logprob,
                          no_speech=float(result.no_speech_prob), complete=len(ids) < max_tokens,
                          first=first)

    def _text(self, ids: list[int]) -> str:
        return str(self._tokenizer.decode([t for t in ids if t < END_OF_TEXT]))


def _stands_out(first: np.ndarray, scores: dict[Command, tuple[float, str]], command: Command,
                gap: float, margin: float) -> bool:
    """Whether `command`'s first-token score is within `gap` of Whisper's own first token and
    `margin` ahead of every other command's."""
    score = scores[command][0]
    runner_up = max((other for c, (other, _) in scores.items() if c is not command),
                    default=-math.inf)
    return score >= float(first.max()) - gap and score - runner_up >= margin


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    top = float(logits.max())
    return (logits - top - math.log(float(np.exp(logits - top).sum()))).astype(np.float32)


def canonical(text: str) -> str:
    """A transcript as a phrase: normalized, a word said twice in a row once ("go, go" -> "go"),
    and Whisper's spellings of phrases mapped onto the vocabulary's (VARIANTS)."""
    words = normalize(re.sub(r"[-–—]", " ", text)).split()
    collapsed = [w for i, w in enumerate(words) if i == 0 or w != words[i - 1]]
    phrase = " ".join(collapsed)
    return VARIANTS.get(phrase, phrase)


def log_mel(audio: np.ndarray, frames: int) -> np.ndarray:
    """Whisper's log-mel spectrogram of `audio` (int16 or float, 16 kHz), padded with silence (or
    cut) to `frames` 10 ms frames: float32 (80, frames), as the reference implementation makes it
    (reflect-padded STFT, power, slaney mel filters, log10, floor at max - 8, (x + 4) / 4)."""
    x = np.asarray(audio, np.float32).reshape(-1)
    if np.issubdtype(np.asarray(audio).dtype, np.integer):
        x = x / 32768.0
    x = x[: frames * HOP]
    x = np.pad(x, (0, frames * HOP - len(x)))
    padded = np.pad(x, N_FFT // 2, mode="reflect")
    count = 1 + (len(padded) - N_FFT) // HOP
    strided = np.lib.stride_tricks.as_strided(
        padded, shape=(count, N_FFT), strides=(padded.strides[0] * HOP, padded.strides[0]))
    spectrum = np.fft.rfft(strided * _hann(), axis=1)
    power = (spectrum.real ** 2 + spectrum.imag ** 2)[:-1]  # the reference drops the last frame
    mel = _mel_filters() @ power.T.astype(np.float32)
    log = np.log10(np.maximum(mel, 1e-10))
    log = np.maximum(log, log.max() - 8.0)
    return ((log + 4.0) / 4.0).astype(np.float32)


@cache
def _hann() -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


@cache
def _mel_filters() -> np.ndarray:
    """librosa's slaney-style mel filterbank (80 x 201), as Whisper was trained with."""
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / SAMPLE_RATE)
    mels = np.linspace(_hz_to_mel(0.0), _hz_to_mel(SAMPLE_RATE / 2), N_MELS + 2)
    edges = _mel_to_hz(mels)
    gaps = np.diff(edges)
    ramps = edges[:, np.newaxis] - freqs[np.newaxis, :]
    lower = -ramps[:-2] / gaps[:-1, np.newaxis]
    upper = ramps[2:] / gaps[1:, np.newaxis]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2 : N_MELS + 2] - edges[:N_MELS]))[:, np.newaxis]
    return weights.astype(np.float32)


_F_SP = 200.0 / 3  # slaney mel scale: linear below 1 kHz, logarithmic above
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOG_STEP = math.log(6.4) / 27.0


def _hz_to_mel(hz: float) -> float:
    if hz < _MIN_LOG_HZ:
        return hz / _F_SP
    return _MIN_LOG_MEL + math.log(hz / _MIN_LOG_HZ) / _LOG_STEP


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    linear = _F_SP * mels
    logarithmic = _MIN_LOG_HZ * np.exp(_LOG_STEP * (mels - _MIN_LOG_MEL))
    return np.where(mels >= _MIN_LOG_MEL, logarithmic, linear)
