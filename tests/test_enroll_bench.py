"""The enrollment benchmark's room condition (`benchmarks.enroll --condition room`) hears each
recording in a room as `benchmarks.room` builds one, the same room every time.

Built from the human corpus (skipped without it); no speech model runs here.
"""

from __future__ import annotations

import math

import human_corpus
import numpy as np
import pytest

from benchmarks import enroll, room
from voice_guide.wav import read_wav_16k

needs_corpus = pytest.mark.skipif(not human_corpus.available(), reason=human_corpus.ABSENT)


def _takes(count: int) -> list[human_corpus.Recording]:
    speakers = enroll.multi_take_speakers("tune")
    return [take for words in speakers.values() for take in words["go"]][:count]


@needs_corpus
def test_a_recording_is_heard_in_a_room_with_a_bed_around_and_under_it() -> None:
    pad = round(enroll.ROOM_PAD_S * 16_000)
    takes = _takes(20)
    beds = set()
    for take in takes:
        heard = enroll.in_room(take)
        dry = read_wav_16k(take.path).astype(np.float64)
        speech, bed = heard.tracks.speech, heard.tracks.bed
        assert len(heard.audio) == len(speech) == len(bed) == pad + len(dry) + pad
        assert (heard.start, heard.end) == (pad / 16_000, (pad + len(dry)) / 16_000)
        assert not np.any(speech[:pad]) and np.all(heard.audio[:pad] == np.round(bed[:pad]))
        assert heard.snr_db in room.SNRS_DB
        assert room.RT60_S[0] <= heard.rt60 <= room.RT60_S[1]
        assert room.DRR_DB[0] <= heard.drr_db <= room.DRR_DB[1]
        word = room.Placed(kind="word", label=take.label, command=None, start=heard.start,
                           end=heard.end, source=take.path.name)
        measured = 10 * math.log10(room.words_power(speech, [word]) / np.mean(bed**2))
        assert abs(measured - heard.snr_db) < 0.01, take.path.name
        # the direct sound where the recording is, at the recording's own level (lower only
        # when it would clip), and no clipping
        first = speech[pad : pad + 32]  # before the first reflection (2 ms): the direct sound
        scale = float(first @ dry[:32]) / max(1.0, float(dry[:32] @ dry[:32]))
        assert np.allclose(first, scale * dry[:32], atol=1e-6), take.path.name
        level = 10 * math.log10(room.active_power(speech[pad:]) / room.active_power(dry))
        assert abs(level - heard.gain_db) < 1.0, (take.path.name, level, heard.gain_db)
        assert heard.gain_db <= 0 and np.abs(heard.audio).max() <= enroll.ROOM_PEAK * 32768 + 1
        beds.add(heard.bed)
    assert len(beds) >= 3  # the rooms differ from one recording to the next


@needs_corpus
def test_the_same_recording_is_always_heard_in_the_same_room() -> None:
    first, second = _takes(2)
    again = enroll.in_room(first)
    assert np.array_equal(again.audio, enroll.in_room(first).audio)
    assert np.array_equal(enroll.audio_heard(first, "room"), again.audio)
    assert enroll.room_seed(first) != enroll.room_seed(second)
    assert np.array_equal(enroll.audio_heard(first, "clean"), read_wav_16k(first.path))


def test_an_unknown_enroll_condition_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        enroll.main(["--enroll-condition", "clean,garden"])
    assert exit_.value.code == 2
    assert "--enroll-condition: garden" in capsys.readouterr().err
