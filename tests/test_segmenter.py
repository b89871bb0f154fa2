"""The segmenter on its own: generated speech in silence and in noise, long speech, muting."""

from __future__ import annotations

import human_corpus
import numpy as np
import pytest
from speech import (
    FLITE_VOICES,
    NEURAL_VOICES,
    NOISE_KINDS,
    QUICK_VOICES,
    SENTENCES,
    noise_of_kind,
    noise_only,
    pad,
    pitch_shift,
    reverberate,
    scale,
    speech_power,
    synthesize,
    with_noise,
)

from voice_guide.listen.engine import Segment
from voice_guide.listen.segmenter import Segmenter, SegmenterSettings
from voice_guide.wav import read_wav_16k

RATE = 16_000


def segments_of(audio: np.ndarray, block: int = 480, provisional: bool = False) -> list[Segment]:
    """The final segments (and the provisional ones too, if asked) in a recording."""
    segmenter = Segmenter()
    found: list[Segment] = []
    for offset in range(0, len(audio), block):
        found += segmenter.feed(audio[offset : offset + block])
    found += segmenter.flush()
    return found if provisional else [s for s in found if not s.provisional]


def test_each_utterance_is_offered_first_100_ms_before_its_end() -> None:
    """A provisional look after 100 ms of quiet, then the final segment after 200 ms, both
    starting where the utterance starts; emitted in stream order, each one once."""
    phrases = ["stop", "where am i", "go back"]
    clips = [synthesize(p, QUICK_VOICES[i]) for i, p in enumerate(phrases)]
    stream = with_noise(np.concatenate([pad(c, 1.0, 0.0) for c in clips] + [
        np.zeros(RATE, np.int16)]), 20.0, seed=3)
    segmenter = Segmenter()
    emitted: list[tuple[float, Segment]] = []
    for offset in range(0, len(stream), 160):
        for segment in segmenter.feed(stream[offset : offset + 160]):
            emitted.append((segmenter.time, segment))
    assert [s.provisional for _, s in emitted] == [True, False] * len(phrases)
    for (seen_first, first), (seen_final, final) in zip(emitted[::2], emitted[1::2], strict=True):
        assert first.start == final.start and first.pause_before == final.pause_before
        assert seen_final - seen_first == pytest.approx(0.1, abs=0.011)
        assert np.array_equal(first.audio, final.audio[: len(first.audio)])


def test_digital_silence_and_steady_noise_give_nothing() -> None:
    assert segments_of(np.zeros(RATE * 20, np.int16)) == []
    for level, seed in ((-70, 1), (-45, 2), (-25, 3)):
        assert segments_of(noise_only(20, level, seed)) == [], f"noise at {level} dBFS"


@pytest.mark.parametrize("snr", [None, 20.0, 10.0])
def test_each_command_in_a_stream_is_one_segment_covering_it(snr: float | None) -> None:
    phrases = ["next", "how much longer", "stop", "tell me more", "go back"]
    clips = [synthesize(p, QUICK_VOICES[i % len(QUICK_VOICES)]) for i, p in enumerate(phrases)]
    stream = np.concatenate([pad(c, 1.0, 0.0) for c in clips] + [np.zeros(RATE, np.int16)])
    if snr is not None:
        stream = with_noise(stream, snr, seed=7)
    found = segments_of(stream)
    assert len(found) == len(clips)
    start = 0.0
    for clip, segment in zip(clips, found, strict=True):
        start += 1.0
        end = start + len(clip) / RATE
        # trimmed clips keep 30 ms of quiet either side: allow that much inside
        assert segment.start <= start + 0.05 and segment.end >= end - 0.05
        assert segment.start >= start - 0.4 and segment.end <= end + 0.4
        assert len(segment.audio) == round((segment.end - segment.start) * RATE)
        start = end


def test_segment_audio_is_the_stream_at_its_times() -> None:
    clip = synthesize("skip step", FLITE_VOICES[0])
    stream = with_noise(pad(clip, 0.8, 0.8), 30.0, seed=1)
    (segment,) = segments_of(stream)
    first = round(segment.start * RATE)
    np.testing.assert_array_equal(segment.audio, stream[first : first + len(segment.audio)])


def test_long_speech_is_dropped_whole() -> None:
    voice = FLITE_VOICES[0]
    long_talk = np.concatenate([synthesize(s, voice) for s in SENTENCES[:2]])
    stream = pad(np.concatenate([long_talk, pad(synthesize("next", voice), 0.8, 0.0)]), 0.5, 0.8)
    found = segments_of(with_noise(stream, 30.0, seed=2))
    # only "next" (spoken after a pause) survives: the sentences are over the command length
    assert len(found) == 1
    assert found[0].end - found[0].start < 1.5
    assert found[0].start > len(long_talk) / RATE


def test_long_speech_is_offered_once_cut_off_when_the_engine_asks() -> None:
    """An engine that reads words (`offer_long`) gets the first `max_speech` of long speech
    once, marked `cut_off`; the rest until the next pause is still skipped."""
    voice = FLITE_VOICES[0]
    long_talk = np.concatenate([synthesize(s, voice) for s in SENTENCES[:2]])
    stream = with_noise(pad(np.concatenate([long_talk, pad(synthesize("next", voice), 0.8, 0.0)]),
                            0.5, 0.8), 30.0, seed=2)
    segmenter = Segmenter(SegmenterSettings(offer_long=True))
    found = [s for o in range(0, len(stream), 480) for s in segmenter.feed(stream[o : o + 480])]
    found = [s for s in found + segmenter.flush() if not s.provisional]
    assert [s.cut_off for s in found] == [True, False]
    cut, command = found
    assert cut.start < 0.5 and 2.0 <= cut.end - cut.start <= 2.0 + 0.25 + 0.05  # + pre-roll
    assert command.start > len(long_talk) / RATE and command.end - command.start < 1.5


def test_utterance_is_decided_soon_after_it_ends() -> None:
    clip = synthesize("pause", FLITE_VOICES[1])
    stream = pad(clip, 0.5, 1.0)
    end_of_speech = 0.5 + len(clip) / RATE
    segmenter = Segmenter()
    decided_at = None
    for offset in range(0, len(stream), 160):
        if segmenter.feed(stream[offset : offset + 160]):
            decided_at = (offset + 160) / RATE
            break
    assert decided_at is not None
    assert decided_at - end_of_speech <= 0.35


def test_block_size_does_not_change_the_result() -> None:
    stream = with_noise(pad(synthesize("where am i", QUICK_VOICES[2]), 0.7, 0.7), 20.0, seed=3)
    reference = [(s.start, s.end) for s in segments_of(stream, 160)]
    for block in (1, 37, 1600, len(stream)):
        assert [(s.start, s.end) for s in segments_of(stream, block)] == reference


def test_skip_moves_time_on_and_drops_the_open_utterance() -> None:
    clip = synthesize("continue", FLITE_VOICES[0])
    segmenter = Segmenter()
    segmenter.feed(np.zeros(RATE // 2, np.int16))
    segmenter.feed(clip[: len(clip) // 2])
    segmenter.skip(len(clip) - len(clip) // 2)
    assert segmenter.feed(np.zeros(RATE, np.int16)) == []
    assert segmenter.time == pytest.approx(1.5 + len(clip) / RATE, abs=1e-3)



@pytest.mark.parametrize("kind", ["pink", "babble", "hum"])
def test_a_command_in_each_kind_of_noise_is_found(kind: str) -> None:
    clip = synthesize("tell me more", NEURAL_VOICES[1])
    stream = with_noise(pad(clip, 1.5, 1.0), 20.0, seed=4, kind=kind)
    found = segments_of(stream)
    assert len(found) == 1, [(s.start, s.end) for s in found]
    assert found[0].start <= 1.5 + 0.05 and found[0].end >= 1.5 + len(clip) / RATE - 0.1


def test_generated_conditions_keep_their_promises() -> None:
    """The test corpus itself: SNR on the speech, reverb adds a tail, shifts change length."""
    clip = synthesize("how much longer", NEURAL_VOICES[1])
    clean = pad(clip, 0.5, 0.5)
    for kind in ("pink", "babble", "hum"):
        noisy = with_noise(clean, 10.0, seed=1, kind=kind)
        noise = noisy.astype(np.float64) - clean
        measured = 10 * np.log10(speech_power(clean.astype(np.float64)) / np.mean(noise**2))
        assert measured == pytest.approx(10.0, abs=0.5), kind
    wet = reverberate(clip, rt60=0.4, seed=2)
    assert len(wet) > len(clip) and np.max(np.abs(wet)) == pytest.approx(np.max(np.abs(clip)), 2)
    assert len(pitch_shift(clip, -4.0)) == pytest.approx(len(clip) * 2 ** (4 / 12), rel=0.01)


def noise_starting_at(speech: np.ndarray, kind: str, begins: float, snr_db: float,
                      seed: int) -> np.ndarray:
    """`speech` (silence and a command) with a noise that starts at `begins` and goes on."""
    rng = np.random.default_rng(seed)
    clean = speech.astype(np.float64)
    noise = noise_of_kind(kind, len(clean), rng)
    noise *= np.sqrt(speech_power(clean) / 10.0 ** (snr_db / 10.0) / np.mean(noise**2))
    noise[: int(begins * RATE)] = 0.0
    quiet = noise_only(len(clean) / RATE, -60.0, seed).astype(np.float64)
    return np.clip(np.round(clean + noise + quiet), -32768, 32767).astype(np.int16)


@pytest.mark.parametrize("kind", NOISE_KINDS)
@pytest.mark.parametrize("voice", [NEURAL_VOICES[0], NEURAL_VOICES[1], FLITE_VOICES[1]])
def test_a_command_over_noise_that_started_earlier_is_its_own_utterance(
    kind: str, voice: object
) -> None:
    """Babble (or a fan) starts, goes on and never pauses: it becomes the background within
    seconds, and a command at 10 dB over it is cut as one utterance, from the stream alone."""
    clip = synthesize("tell me more", voice)  # type: ignore[arg-type]
    stream = noise_starting_at(pad(clip, 9.0, 2.0), kind, begins=2.0, snr_db=10.0, seed=4)
    found = segments_of(stream)
    assert len(found) == 1, [(s.start, s.end) for s in found]
    assert found[0].start <= 9.0 + 0.05 and found[0].end >= 9.0 + len(clip) / RATE - 0.1
    assert found[0].end - found[0].start < 2.0


@pytest.mark.skipif(not human_corpus.available(), reason=human_corpus.ABSENT)
def test_a_command_soon_after_music_starts_is_its_own_utterance() -> None:
    """Someone switches the music on in a quiet room: within a few seconds it is the
    background (learned after 2.5 s without a pause), and a command 20 dB over it, 4 or 6 s
    after it started, is cut as one utterance. Real recordings of music from the corpus."""
    names = ("guitar", "Hungarian", "Fishin", "Sugar", "Vibe", "trumpet")
    music = [r for r in human_corpus.recordings("noise") if any(n in r.path.name for n in names)]
    clip = synthesize("next", NEURAL_VOICES[1]).astype(np.float64)
    rng = np.random.default_rng(0)
    cut = []
    for item in music:
        for after in (4.0, 6.0):
            stream = rng.normal(0.0, 3.0, round((8 + after + 3) * RATE))  # a quiet room
            bed = np.resize(read_wav_16k(item.path).astype(np.float64), len(stream) - 8 * RATE)
            stream[8 * RATE :] += bed * np.sqrt(np.mean(clip**2) / np.mean(bed**2)) / 10
            at = round((8 + after) * RATE)
            stream[at : at + len(clip)] += clip
            found = segments_of(np.clip(stream, -32768, 32767).astype(np.int16))
            cut.append(any(s.start <= at / RATE + 0.05 and s.end >= (at + len(clip)) / RATE - 0.1
                           and s.end - s.start < 2.0 for s in found))
    assert sum(cut) >= len(cut) - 2, cut


def test_long_talk_is_not_learned_as_background() -> None:
    """Someone talking at length pauses between words: after they stop, a quiet command is
    still heard (their loudness did not become the background)."""
    voice = NEURAL_VOICES[1]
    talk = np.concatenate([synthesize(s, voice) for s in SENTENCES[:3]])
    command = scale(synthesize("next", voice), -12.0)
    stream = with_noise(pad(np.concatenate([talk, pad(command, 0.8, 0.0)]), 0.5, 0.8), 30.0, 5)
    found = segments_of(stream)
    command_at = 0.5 + len(talk) / RATE + 0.8
    assert [round(s.start) for s in found if s.start > command_at - 0.5] == [round(command_at)]


def test_pause_before_tells_sentence_pieces_from_commands() -> None:
    """A sentence cut at its commas: pieces after the first follow speech closely; a command
    said after a normal pause does not."""
    voice = NEURAL_VOICES[0]
    sentence = synthesize("I think I slept on it wrong, the left side is stiff, "
                          "and my neck hurts.", voice)
    command = synthesize("next", voice)
    stream = with_noise(pad(np.concatenate([sentence, pad(command, 0.8, 0.0)]), 0.6, 0.8),
                        20.0, seed=6)
    found = segments_of(stream)
    command_at = 0.6 + len(sentence) / RATE + 0.8
    *pieces, last = found
    assert last.start == pytest.approx(command_at, abs=0.3) and last.pause_before >= 0.6
    assert pieces[0].pause_before == float("inf")  # the stream began with it
    assert all(p.pause_before < 0.45 for p in pieces[1:])


def test_silence_is_cheap_and_quiet() -> None:
    """A minute of room noise: no utterance, background refreshed only every 100 ms."""
    segmenter = Segmenter()
    noise = noise_only(60.0, -50.0, seed=8)
    assert segmenter.feed(noise) == [] and segmenter.flush() == []
    assert not segmenter.in_speech
    floor = segmenter.noise_floor_dbfs
    assert floor is not None and -60.0 < floor < -45.0


@pytest.mark.parametrize("lead", [0.0, 0.05, 0.1, 0.2])
def test_speech_in_the_first_moments_of_a_stream_is_an_utterance(lead: float) -> None:
    """A recording (or a session) may begin with a command: the warm-up that learns the
    background must not swallow it."""
    clip = synthesize("stop", NEURAL_VOICES[1])
    stream = with_noise(pad(clip, lead, 0.8), 30.0, seed=1)
    found = segments_of(stream)
    assert len(found) == 1
    assert found[0].start == 0.0 and found[0].last_speech >= lead + len(clip) / 16_000 - 0.1
