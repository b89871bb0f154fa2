"""The classifier's check of pocketsphinx, computed in a process of its own while pocketsphinx
decodes the same utterance.

Why a process: pocketsphinx keeps the GIL while it decodes, so a thread gained nothing
(measured: 74 ms for both in two threads against 63 ms one after the other). In the live session
the check came after the decode and added its ~23 ms to every answer: `benchmarks.live`
measured 320 ms median from the end of a command to the answer with the check in line, against
270 ms without it. Here the worker starts on the utterance before pocketsphinx does, and its
answer is usually waiting when pocketsphinx proposes a command.

Used by the live session only (`voice-guide run`); recordings (`listen`, `eval`, benchmarks)
check in process, where the CPU time is counted in one place. If the worker cannot start or
dies, the check runs in process from then on: slower, never lost.

Ctrl-C reaches the whole process group, the worker too. The worker ignores SIGINT and leaves
when its parent closes the pipe (or dies), so an interrupted session ends the one clean way the
parent chooses, without a `KeyboardInterrupt` traceback from the worker.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

import numpy as np

from voice_guide.commands import Command
from voice_guide.listen.engine import SAMPLE_RATE, Segment

if TYPE_CHECKING:
    from multiprocessing.context import SpawnProcess

    from voice_guide.listen.classifier_engine import ClassifierRecognizer

log = logging.getLogger(__name__)

START_TIMEOUT = 60.0  # seconds for the worker to load the classifier (about 1 s measured)
ANSWER_TIMEOUT = 5.0  # seconds for one check before the worker is given up


class ParallelChecker:
    """`prepare(segment)` starts the classifier on an utterance in the worker process;
    `probability(segment, command)` collects its answer (or computes it here, see above)."""

    name = "classifier"

    def __init__(self, weights: str | None = None) -> None:
        self._weights = weights
        self._local: ClassifierRecognizer | None = None  # the check in process, when needed
        self._pending: Segment | None = None  # the utterance the worker is working on
        self._answer: tuple[Segment, dict[str, float]] | None = None
        context = multiprocessing.get_context("spawn")  # no fork of a threaded audio process
        self._connection, child = context.Pipe()
        process = context.Process(target=serve, args=(child, weights), daemon=True,
                                  name="voice-guide classifier check")
        process.start()
        self._process: SpawnProcess | None = process  # None once the check runs in process
        child.close()
        if not self._connection.poll(START_TIMEOUT):
            self._give_up("it did not start in time")
            return
        try:
            ready = self._connection.recv()
        except (EOFError, OSError) as error:
            self._give_up(f"it died while starting ({error})")
            return
        if ready != "ready":
            self._give_up(str(ready))

    @property
    def in_process(self) -> bool:
        """True once the check runs in this process (the worker failed or was closed)."""
        return self._process is None

    def prepare(self, segment: Segment) -> None:
        """Start checking `segment` in the worker (the first recognizer decodes meanwhile)."""
        if self._process is None:
            return
        self._collect()  # an answer nobody asked for (the first recognizer proposed nothing)
        try:
            self._connection.send(np.ascontiguousarray(segment.audio, np.int16))
        except (OSError, ValueError) as error:
            self._give_up(f"it cannot be reached ({error})")
            return
        self._pending = segment

    def probability(self, segment: Segment, command: Command) -> float:
        """How likely (0..1) this whole utterance is `command`."""
        if self._pending is segment:
            self._collect()
        if self._answer is not None and self._answer[0] is segment:
            return self._answer[1].get(str(command), 0.0)
        return self._checker().probability(segment, command)

    def close(self) -> None:
        if self._process is not None:
            process, self._process = self._process, None
            self._connection.close()
            process.join(timeout=2)
            if process.is_alive():
                process.kill()

    def _collect(self) -> None:
        """Receive the worker's answer for the pending utterance (it is usually there)."""
        segment, self._pending = self._pending, None
        if segment is None or self._process is None:
            return
        try:
            if not self._connection.poll(ANSWER_TIMEOUT):
                raise TimeoutError(f"no answer in {ANSWER_TIMEOUT:g} s")
            answer = self._connection.recv()
        except (EOFError, OSError, TimeoutError) as error:
            self._give_up(f"it stopped answering ({error})")
            return
        if isinstance(answer, dict):
            self._answer = (segment, answer)
        else:  # the worker could not classify this utterance: say why, check it here
            log.warning("classifier check worker: %s", answer)

    def _checker(self) -> ClassifierRecognizer:
        if self._local is None:
            from voice_guide.listen.classifier_engine import (
                ClassifierRecognizer,
                ClassifierSettings,
            )

            self._local = ClassifierRecognizer(ClassifierSettings(weights=self._weights))
        return self._local

    def _give_up(self, why: str) -> None:
        log.warning("classifier check worker: %s; checking in this process instead", why)
        process, self._process = self._process, None
        self._pending = None
        if process is not None:
            process.kill()
            process.join(timeout=2)
        self._checker()


def serve(connection: Connection, weights: str | None) -> None:
    """The worker: load the classifier, then answer each utterance with every command's
    probability, until the pipe closes. SIGINT is ignored: the parent decides when it ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        from voice_guide.listen.classifier_engine import ClassifierRecognizer, ClassifierSettings

        classifier = ClassifierRecognizer(ClassifierSettings(weights=weights))
    except Exception as error:  # any failure is reported, then the worker ends
        connection.send(f"it cannot load the classifier ({error})")
        return
    connection.send("ready")
    while True:
        try:
            audio = connection.recv()
        except (EOFError, OSError):
            return
        try:
            segment = Segment(audio=audio, start=0.0, end=len(audio) / SAMPLE_RATE)
            answer: Any = {str(c): classifier.probability(segment, c) for c in Command}
        except Exception as error:  # one bad utterance must not end the worker
            answer = f"cannot check an utterance ({error})"
        connection.send(answer)
