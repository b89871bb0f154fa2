"""The treatment-room benchmark (`benchmarks.room`) builds what it says and scores by time.

The streams are built from the human corpus (skipped without it); no speech model runs here.
"""

from __future__ import annotations

import math

import human_corpus
import numpy as np
import pytest
from scipy.signal import fftconvolve

from benchmarks.room import (
    FLOOR_DBFS,
    Placed,
    Stream,
    build_streams,
    direct_sound,
    mixdown,
    plan_stream,
    render,
    reverberate,
    score,
    score_true_cuts,
    synthetic_response,
)
from voice_guide.commands import ALL_COMMANDS, Command
from voice_guide.events import Heard
from voice_guide.listen.engine import Recognizer, Segment
from voice_guide.listen.pipeline import settings_for
from voice_guide.wav import read_wav_16k

needs_corpus = pytest.mark.skipif(not human_corpus.available(), reason=human_corpus.ABSENT)


@needs_corpus
@pytest.mark.parametrize("condition", ["room", "dry"])
def test_the_bed_is_the_asked_snr_under_the_words_active_frames(condition: str) -> None:
    streams = build_streams("tune", condition, count=5)  # one of each bed kind
    assert sorted(s.bed for s in streams) == ["animals", "fan", "music", "pink", "rain"]
    for index, stream in enumerate(streams):
        tracks = render(plan_stream("tune", index), condition)
        assert np.array_equal(stream.audio, mixdown(tracks))  # the stream is these tracks
        speech = stream.audio.astype(np.float64) - tracks.bed  # the built stream, bed removed
        words = [i for i in stream.items if i.kind != "talk"]
        assert len(words) == 8
        active = np.concatenate([_active_frames(speech, w) for w in words])
        measured = 10 * math.log10(np.mean(active) / np.mean(tracks.bed**2))
        assert stream.snr_db is not None
        assert abs(measured - stream.snr_db) < 0.2, (stream.name, measured, stream.snr_db)
        assert np.mean(np.abs(stream.audio.astype(np.int32)) >= 32767) < 1e-4  # no clipping


@needs_corpus
def test_the_quiet_room_has_its_noise_floor_and_digital_silence_is_zeros() -> None:
    quiet = build_streams("validate", "quiet", count=1)[0]
    digital = build_streams("validate", "digital", count=1)[0]
    bed = quiet.audio[: round(quiet.items[0].start * 16_000)].astype(np.float64)  # before speech
    assert abs(10 * math.log10(np.mean(bed**2) / 32768**2) - FLOOR_DBFS) < 0.5
    inside = np.zeros(len(digital.audio), bool)
    for item in digital.items:
        inside[round(item.start * 16_000) : round(item.end * 16_000)] = True
    assert not np.any(digital.audio[~inside])  # exact zeros between the words
    assert all(np.any(digital.audio[round(i.start * 16_000) : round(i.end * 16_000)])
               for i in digital.items)


@needs_corpus
def test_reverberation_keeps_the_length_and_the_timing() -> None:
    room = build_streams("tune", "room", count=4)
    dry = build_streams("tune", "dry", count=4)
    assert {s.room for s in room} >= {"synthetic"} and any(s.room != "synthetic" for s in room)
    for reverberant, plain in zip(room, dry, strict=True):
        assert len(reverberant.audio) == len(plain.audio)
        assert reverberant.items == plain.items
        index = int(reverberant.name.rsplit("-", 1)[1])
        wet = render(plan_stream("tune", index), "room").speech
        clean = render(plan_stream("tune", index), "dry").speech
        for item in reverberant.items:  # the direct sound of each word is where the dry word is
            at, end = round(item.start * 16_000), round(item.end * 16_000)
            if reverberant.room == "synthetic":  # (a recorded room's diffuse tail outweighs
                # its direct sound: the direct sound of its responses is checked below)
                assert _lag(clean[at:end], wet[at:end]) == 0, reverberant.name
    rng = np.random.default_rng(5)
    speech = rng.standard_normal(8000)
    for response in (synthetic_response(0.5, 0.0, rng),
                     np.concatenate([np.zeros(300), synthetic_response(0.3, 3.0, rng)])):
        wet = reverberate(speech, response)
        assert len(wet) == len(speech) + len(response) - 1 - direct_sound(response)
        assert _lag(speech, wet[: len(speech)]) == 0
    click = np.zeros(8000)
    click[1234] = 1.0
    for path in sorted((human_corpus.CORPUS / "rir").glob("*.wav")):
        response = read_wav_16k(path).astype(np.float64)
        wet = np.abs(reverberate(click, response))
        assert len(wet) == len(click) + len(response) - 1 - direct_sound(response)
        assert np.argmax(wet >= wet.max() / math.sqrt(10)) == 1234, path.name  # direct sound


def test_synthetic_rooms_have_the_asked_decay_and_direct_to_reverberant_ratio() -> None:
    response = synthetic_response(0.4, 3.0, np.random.default_rng(1))
    assert len(response) == round(0.4 * 16_000)
    drr = 10 * math.log10(response[0] ** 2 / np.sum(response[1:] ** 2))
    assert abs(drr - 3.0) < 0.01
    energy = np.cumsum(response[::-1] ** 2)[::-1]  # Schroeder's backward integration
    decay_db = 10 * np.log10(energy / energy[1])
    t20 = (np.argmax(decay_db < -25) - np.argmax(decay_db < -5)) / 16_000
    assert 0.3 < 3 * t20 < 0.5


def test_a_heard_command_is_matched_to_the_item_it_overlaps() -> None:
    items = (
        _item("command", "stop", Command.PAUSE, 2.0, 3.0),
        _item("command", "go", Command.NEXT, 10.0, 11.0),
        _item("command", "stop", Command.PAUSE, 20.0, 21.0),
        _item("command", "yes", Command.YES, 30.0, 31.0),
        _item("other", "cat", None, 40.0, 41.0),
        _item("talk", "read speech", None, 45.0, 53.0),
        _item("command", "no", Command.NO, 56.0, 57.0),
    )
    stream = Stream(name="test-00", condition="room", audio=np.zeros(60 * 16_000, np.int16),
                    items=items, bed="pink", bed_source="pink", snr_db=15.0, room="synthetic")
    heard = [
        Heard(Command.NEXT, "go", start=9.75, end=10.6),  # the segment began in the bed
        Heard(Command.YES, "yes", start=20.2, end=20.8),  # another command
        Heard(Command.BACK, "back", start=40.1, end=40.9),  # on another word
        Heard(Command.NEXT, "next", start=47.0, end=48.0),  # in talk
        Heard(Command.PAUSE, "pause", start=35.0, end=35.5),  # in the bed between items
        Heard(Command.NO, "no", start=56.9, end=57.4),  # late: in the reverberant tail
    ]
    seen = []

    def listen(recognizer: Recognizer, audio: np.ndarray) -> list[Heard]:
        seen.append(settings_for(recognizer))
        # the "yes" is cut out and decoded, and nothing heard in it; the "stop" never cut out
        recognizer.recognize(Segment(audio[:16_000], start=29.9, end=31.2), ALL_COMMANDS)
        return heard

    figures = score(_Engine(), [stream], listen=listen)
    assert seen[0].first_look == _Engine.first_look and seen[0].offer_long  # the engine's own
    assert [s.outcome for s in figures.items] == ["missed", "right", "wrong", "missed",
                                                  "accepted", "1", "right"]
    assert [s.decoded for s in figures.items if s.outcome == "missed"] == [(), ((29.9, 31.2),)]
    result = figures.as_json()
    assert (result["right"], result["wrong"], result["missed"]) == (2, 1, 2)
    assert result["missed_not_cut"] == 1 and result["utterances"] == 1
    assert result["other_words_accepted"] == 1
    assert (result["false_accepts_on_talk"], result["false_accepts_in_bed"]) == (1, 1)
    assert result["false_accepts_per_hour"] == pytest.approx(2 / (60 / 3600))
    assert result["per_snr"]["15 dB"]["right_pct"] == 40.0
    assert result["per_word"]["stop"] == {"commands": 2, "right": 0, "wrong": 1, "missed": 1,
                                          "right_pct": 0.0}
    lines = figures.failures()
    assert any("35.0 s  in the bed: pause" in line for line in lines)
    assert any("30.0 s  yes [yes.wav] missed: nothing; decoded 29.9-31.2 s" in line
               for line in lines)


def test_true_cuts_give_the_engine_each_word_at_its_span_and_no_talk() -> None:
    items = (
        _item("command", "go", Command.NEXT, 0.1, 1.1),  # the cut starts at the stream's start
        _item("talk", "read speech", None, 4.0, 9.0),
        _item("command", "stop", Command.PAUSE, 12.0, 13.0),
        _item("other", "cat", None, 16.0, 17.0),
        _item("command", "yes", Command.YES, 19.5, 20.5),
    )
    audio = np.arange(21 * 16_000, dtype=np.int64).astype(np.int16)  # each sample says its place
    stream = Stream(name="test-00", condition="room", audio=audio, items=items, bed="pink",
                    bed_source="pink", snr_db=15.0, room="synthetic")
    answers = {0.0: Command.NEXT, 11.7: Command.YES, 15.7: Command.BACK}  # by the cut's start
    given: list[Segment] = []

    class Engine(_Engine):
        def recognize(self, segment: Segment, commands: frozenset[Command]) -> Heard | None:
            given.append(segment)
            said = answers.get(round(segment.start, 1))
            return Heard(said, str(said), start=segment.start, end=segment.end) if said else None

    figures = score_true_cuts(Engine(), [stream])
    assert [(s.start, s.end) for s in given] == [(0.0, 1.4), (11.7, 13.3), (15.7, 17.3),
                                                (19.2, 20.8)]
    assert all(not s.provisional and not s.cut_off for s in given)
    assert np.array_equal(given[1].audio, audio[round(11.7 * 16_000) : round(13.3 * 16_000)])
    assert [s.outcome for s in figures.items] == ["right", "wrong", "accepted", "missed"]
    result = figures.as_json()
    assert (result["right"], result["wrong"], result["missed"]) == (1, 1, 1)
    assert result["other_words_accepted"] == 1 and result["utterances"] == 4


def _active_frames(speech: np.ndarray, word: Placed) -> np.ndarray:
    piece = speech[round(word.start * 16_000) : round(word.end * 16_000)]
    power = np.mean(piece[: len(piece) // 160 * 160].reshape(-1, 160) ** 2, axis=1)
    return power[power >= power.max() / 100]  # within 20 dB of the word's loudest frame


def _lag(reference: np.ndarray, other: np.ndarray) -> int:
    """Samples by which `other` lags `reference` (the peak of their cross-correlation)."""
    correlation = fftconvolve(other, reference[::-1])
    return int(np.argmax(correlation)) - (len(reference) - 1)


def _item(kind: str, label: str, command: Command | None, start: float, end: float) -> Placed:
    return Placed(kind=kind, label=label, command=command, start=start, end=end,
                  source=f"{label}.wav")


class _Engine:
    """An engine whose segmenter settings differ from the default (no decoding is needed)."""

    name = "test"
    first_look = 0.07
    offer_long = True

    def recognize(self, segment: Segment, commands: frozenset[Command]) -> Heard | None:
        return None
