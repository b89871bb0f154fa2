"""The classifier's check in a worker process (`listen/parallel_check.py`): real classifier in a
real spawned process, real pocketsphinx, generated speech. It must answer exactly as the check
in process does, and a worker that dies must cost nothing but speed."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import numpy as np
import pytest
from speech import COMMAND_PHRASES, FLITE_VOICES, NEURAL_VOICES, pad, synthesize_many, with_noise

from voice_guide.commands import GLOBAL_COMMANDS, Command
from voice_guide.listen.classifier_engine import ClassifierRecognizer
from voice_guide.listen.engine import Segment
from voice_guide.listen.factory import make_recognizer
from voice_guide.listen.parallel_check import ParallelChecker
from voice_guide.listen.pocketsphinx_engine import PocketsphinxRecognizer
from voice_guide.listen.second_pass import CheckedRecognizer

pytestmark = pytest.mark.slow
RATE = 16_000


@pytest.fixture(scope="module")
def segments() -> list[Segment]:
    items = [(p, v) for p, _ in COMMAND_PHRASES[::4] for v in (NEURAL_VOICES[0], FLITE_VOICES[0])]
    clips = synthesize_many(items)
    audio = [with_noise(pad(c, 0.3, 0.3), 20.0, seed=i) for i, c in enumerate(clips)]
    return [Segment(a, 0.0, len(a) / RATE) for a in audio]


@pytest.fixture()
def worker() -> Iterator[ParallelChecker]:
    checker = ParallelChecker()
    yield checker
    checker.close()


def test_the_worker_answers_as_the_check_in_process(
    worker: ParallelChecker, segments: list[Segment],
) -> None:
    assert not worker.in_process
    local = ClassifierRecognizer()
    for segment in segments:
        worker.prepare(segment)
        for command in (Command.NEXT, Command.WHERE, Command.PAUSE):
            assert worker.probability(segment, command) == pytest.approx(
                local.probability(segment, command), abs=1e-6)
    assert not worker.in_process


def test_checked_pocketsphinx_hears_the_same_with_the_worker(
    worker: ParallelChecker, segments: list[Segment],
) -> None:
    # one fresh decoder each: pocketsphinx carries state (its noise and mean estimates) from
    # one utterance to the next, so the same sequence must reach both
    in_process = CheckedRecognizer(PocketsphinxRecognizer(), ClassifierRecognizer())
    parallel = CheckedRecognizer(PocketsphinxRecognizer(), worker)
    heard = [[r.recognize(s, GLOBAL_COMMANDS) for s in segments] for r in (in_process, parallel)]
    commands = [[h and h.command for h in row] for row in heard]
    assert commands[0] == commands[1]
    assert sum(c is not None for c in commands[1]) >= len(segments) // 3  # it does hear commands
    assert not worker.in_process


def test_a_worker_that_dies_is_replaced_by_the_check_in_process(
    worker: ParallelChecker, segments: list[Segment],
) -> None:
    local = ClassifierRecognizer()
    first, second = segments[0], segments[1]
    worker.prepare(first)
    expected = local.probability(first, Command.NEXT)
    assert worker.probability(first, Command.NEXT) == pytest.approx(expected, abs=1e-6)
    worker._process.kill()  # the worker crashes between two utterances
    worker._process.join()
    worker.prepare(second)
    assert worker.probability(second, Command.NEXT) == pytest.approx(
        local.probability(second, Command.NEXT), abs=1e-6)
    assert worker.in_process


def test_the_live_session_gets_the_worker_and_says_so() -> None:
    recognizer, reason = make_recognizer("pocketsphinx", parallel_check=True)
    try:
        assert "checked by the classifier in a worker process" in reason
    finally:
        recognizer.checker.close()  # type: ignore[attr-defined]


def test_the_worker_ignores_ctrl_c_and_leaves_when_closed(
    capfd: pytest.CaptureFixture[str],
) -> None:
    # Ctrl-C goes to the whole process group: the worker must not die of it (nor print a
    # KeyboardInterrupt traceback); the session closes it when it ends.
    worker = ParallelChecker()
    process = worker._process
    assert process is not None and not worker.in_process
    rng = np.random.default_rng(7)
    utterance = Segment((rng.standard_normal(RATE) * 3000).astype(np.int16), 0.0, 1.0)
    expected = ClassifierRecognizer().probability(utterance, Command.NEXT)
    os.kill(process.pid, signal.SIGINT)
    worker.prepare(utterance)
    os.kill(process.pid, signal.SIGINT)  # while it works on the utterance, too
    assert worker.probability(utterance, Command.NEXT) == pytest.approx(expected, abs=1e-6)
    assert not worker.in_process and process.is_alive()
    worker.close()
    assert process.exitcode == 0  # it left by itself when the pipe closed, not killed
    assert "KeyboardInterrupt" not in capfd.readouterr().err
