"""Input held back while nothing can be heard in it (`Segmenter.slack`, `listening.HeldInput`):
the same segments, and the same things heard at the same moments, as feeding every block."""

from __future__ import annotations

import numpy as np
import pytest
from speech import QUICK_VOICES, noise_only, pad, synthesize, with_noise

from voice_guide.commands import ALL_COMMANDS, CLIENT_ANSWERS, Command
from voice_guide.events import Heard, Unclear
from voice_guide.listen.engine import Segment
from voice_guide.listen.pipeline import Listener
from voice_guide.listen.segmenter import FRAME, Segmenter, SegmenterSettings
from voice_guide.listening import HeldInput
from voice_guide.speak.gate import MicGate

RATE = 16_000
BLOCK = 320  # the microphone's 20 ms


class EverySegment:
    """Hears every segment it is given as "stop" (pause) (provisional ones too), and writes every
    whole utterance out: each one reaches the caller, with the moment it did."""

    name = "every-segment"

    def recognize(self, segment: Segment, commands: frozenset[Command]) -> Heard | None:
        return Heard(Command.PAUSE, "stop", start=segment.start, end=segment.end)

    def hear_words(self, segment: Segment, context: str = "") -> object:
        return _Words(f"{segment.start:.3f}", 0.0)


class _Words:
    def __init__(self, text: str, logprob: float) -> None:
        self.text, self.logprob = text, logprob


@pytest.fixture(scope="module")
def stream() -> np.ndarray:
    """Commands, a click and a long sentence over a quiet room's -65 dBFS floor, then a bed
    (pink noise 15 dB under the speech) with commands in it."""
    words = [synthesize(text, QUICK_VOICES[i % len(QUICK_VOICES)])
             for i, text in enumerate(["stop", "where am i", "go back", "next"])]
    sentence = synthesize("well, the next thing I want to tell you about is the weather, "
                          "it has been a long and rainy week", QUICK_VOICES[0])
    click = (np.hanning(80) * 12000).astype(np.int16)
    # the shortest utterance there is, frame-aligned: its first look comes as early as can be
    shortest = (np.random.default_rng(6).standard_normal(8 * FRAME) * 3000).astype(np.int16)
    quiet = np.concatenate([np.zeros(RATE, np.int16), shortest, np.zeros(RATE, np.int16),
                            pad(words[0], 1.3, 0.0), pad(click, 1.1, 0.0),
                            pad(words[1], 0.9, 0.0), pad(sentence, 1.0, 0.0),
                            pad(words[2], 0.35, 1.5)])
    quiet = quiet + noise_only(len(quiet) / RATE, -65.0, seed=4)[: len(quiet)]
    bed = with_noise(np.concatenate([pad(w, 1.2, 0.8) for w in words] + [
        np.zeros(RATE * 3, np.int16)]), 15.0, seed=5)
    return np.concatenate([quiet, bed]).astype(np.int16)


@pytest.mark.parametrize("settings", [SegmenterSettings(),
                                      SegmenterSettings(first_look=0.06, offer_long=True,
                                                        max_utterance=15.0)])
def test_no_segment_comes_within_the_slack(stream: np.ndarray,
                                           settings: SegmenterSettings) -> None:
    """Wherever the stream is, feeding `slack` samples more never returns a segment; and any
    blocks give the segments one frame at a time gives."""
    segmenter = Segmenter(settings)
    slacks: list[tuple[int, int]] = []  # (samples fed, slack there)
    emitted: list[int] = []  # samples fed when each segment came
    frames: list[Segment] = []
    for offset in range(0, len(stream), FRAME):
        slacks.append((offset, segmenter.slack))
        found = segmenter.feed(stream[offset : offset + FRAME])
        emitted += [offset + FRAME] * len(found)
        frames += found
    assert len(frames) >= 8 and any(s > 0 for _, s in slacks)
    for at, slack in slacks:
        assert not any(at < e <= at + slack for e in emitted), (at, slack)
    rng = np.random.default_rng(0)
    for sizes in ([BLOCK], [2240], list(rng.integers(1, 4000, 40))):
        segmenter = Segmenter(settings)
        found, offset, index = [], 0, 0
        while offset < len(stream):
            size = int(sizes[index % len(sizes)])
            found += segmenter.feed(stream[offset : offset + size])
            offset, index = offset + size, index + 1
        assert _same(found, frames)


@pytest.mark.parametrize("answers", [False, True])
def test_held_input_hears_the_same_at_the_same_moments(stream: np.ndarray,
                                                       answers: bool) -> None:
    """Blocks through `HeldInput` against each block fed at once through the gate (the live
    path before it), with the guide's own speech muting some blocks: the same things heard,
    each after the same block, in far fewer calls."""
    gate = MicGate()
    for key, (start, end) in enumerate([(2.05, 2.9), (9.0, 9.45), (15.1, 15.2)]):
        gate.begin(key, start)
        gate.end(key, end)
    commands = ALL_COMMANDS | CLIENT_ANSWERS if answers else ALL_COMMANDS

    direct = Listener(EverySegment(), commands, answers=answers)
    expected = [(index, h) for index, block in enumerate(_blocks(stream))
                for h in gate.feed(direct, block, index * BLOCK / RATE)]

    counted = _Counted(Listener(EverySegment(), commands, answers=answers))
    held = HeldInput(counted, gate)
    got = [(index, h) for index, block in enumerate(_blocks(stream))
           for h in held.take(block, index * BLOCK / RATE)]

    assert len(expected) >= 4
    assert got == expected
    assert any(isinstance(h, Unclear) for _, h in got) == answers
    assert counted.calls < 0.75 * len(_blocks(stream))


def test_a_quiet_room_is_fed_about_every_100_ms() -> None:
    room = noise_only(10.0, -65.0, seed=7)
    counted = _Counted(Listener(EverySegment(), ALL_COMMANDS))
    held = HeldInput(counted, None)
    assert [h for block in _blocks(room) for h in held.take(block, 0.0)] == []
    assert counted.calls < len(_blocks(room)) / 4


class _Counted:
    """A listener that counts the blocks it is fed."""

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        self.calls = 0

    @property
    def time(self) -> float:
        return self.listener.time

    @property
    def slack(self) -> int:
        return self.listener.slack

    def mute_until(self, t: float) -> None:
        self.listener.mute_until(t)

    def feed(self, block: np.ndarray) -> list[Heard | Unclear]:
        self.calls += 1
        return self.listener.feed(block)


def _blocks(stream: np.ndarray) -> list[np.ndarray]:
    return [stream[offset : offset + BLOCK] for offset in range(0, len(stream), BLOCK)]


def _same(a: list[Segment], b: list[Segment]) -> bool:
    return len(a) == len(b) and all(
        (x.start, x.end, x.provisional, x.cut_off, x.pause_before, x.speech_end)
        == (y.start, y.end, y.provisional, y.cut_off, y.pause_before, y.speech_end)
        and np.array_equal(x.audio, y.audio) for x, y in zip(a, b, strict=True))
