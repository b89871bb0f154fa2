"""The live loop: one inbox of typed messages, the Guide, the wall clock, and why it stopped.

Everything that happens during a live session arrives in the `Inbox` as one of a small closed
set of messages (`Input`): a command `Heard` by the listening thread, a `Typed` line, a question
`Played` out by the speaker, something `Noticed` by the edges (a route fell back, the microphone
was lost), `ListeningStopped` (carry on from typed commands), `InputEnded`. `run_loop` waits for
the next one, or for the session's next deadline, the journal's next heartbeat or the panel's
clock, whichever comes first; hands it to the `Guide` on this one thread; and returns a
`StopReason` when the session ends, input ends, or on Ctrl-C / SIGTERM. The journal is complete
whichever way it stops.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from voice_guide.events import ExitReason, Heard, Say, Unclear

if TYPE_CHECKING:
    from voice_guide.guide import SpeechOutput
    from voice_guide.journal import Recordable

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2.0  # a journaled clock record at least this often: resume loses no more
REFRESH_SECONDS = 1.0  # the terminal panel's clock


@dataclass(frozen=True)
class Typed:
    """A line typed on stdin: the same phrases one would say."""

    line: str


@dataclass(frozen=True)
class Played:
    """A question has played out on the speaker: the client's answer window starts now."""

    say: Say


@dataclass(frozen=True)
class Noticed:
    """Something an edge noticed (a route fell back, the microphone was lost or is back):
    journaled, and `tell` said to the practitioner when it is not empty."""

    note: Recordable  # an events record: MicrophoneLost, RouteFallback, ...
    tell: str = ""


@dataclass(frozen=True)
class ListeningStopped:
    """The microphone or the recognizer cannot be used after all: carry on from typed commands."""

    why: str


@dataclass(frozen=True)
class InputEnded:
    """Typed input reached its end."""


Input = Heard | Unclear | Typed | Played | Noticed | ListeningStopped | InputEnded


class StopReason(Enum):
    """Why a live session stopped: the journal's `exit` reason and `run`'s exit status."""

    ENDED = (ExitReason.ENDED, 0)  # the session closed: completed, or a confirmed "end session"
    INPUT_ENDED = (ExitReason.EOF, 0)  # typed input ended; the session stays resumable
    INTERRUPTED = (ExitReason.INTERRUPT, 130)  # Ctrl-C (128 + SIGINT, as shells report it)
    TERMINATED = (ExitReason.INTERRUPT, 143)  # SIGTERM (128 + SIGTERM); journaled as interrupt

    def __init__(self, journal_reason: ExitReason, exit_status: int) -> None:
        self.journal_reason = journal_reason
        self.exit_status = exit_status


class Driver(Protocol):
    """What the loop drives: one session's `guide.Guide` (`run`), or a day of them
    (`day.Day`, `serve`). Every time is the loop's clock."""

    speech: SpeechOutput

    @property
    def ended(self) -> bool: ...

    @property
    def last_write(self) -> float: ...

    def heard(self, heard: Heard, now: float) -> None: ...

    def unclear(self, unclear: Unclear, now: float) -> None: ...

    def phrase(self, text: str, now: float) -> bool: ...

    def played(self, say: Say, now: float) -> None: ...

    def note(self, note: Recordable, now: float, *, tell: str = "") -> None: ...

    def tick(self, now: float) -> None: ...

    def heartbeat(self, now: float) -> None: ...

    def show(self, now: float) -> None: ...

    def next_deadline(self) -> float | None: ...

    def close(self, now: float, reason: ExitReason) -> None: ...


class Inbox:
    """What the loop waits on; any thread may put a message in."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Input] = queue.Queue()

    def put(self, message: Input) -> None:
        self._queue.put(message)

    def get(self, timeout: float) -> Input | None:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None


class SessionClock:
    """Session seconds on the monotonic clock, carrying on from `start_at` (a resumed session).

    Rounded to the millisecond: the journal stores `t` to the millisecond, so the session sees
    exactly the times a replay will give it.
    """

    def __init__(self, start_at: float = 0.0) -> None:
        self._start_at = start_at
        self._origin = time.monotonic()

    def now(self) -> float:
        return round(self._start_at + (time.monotonic() - self._origin), 3)


def run_loop(
    guide: Driver,
    clock: SessionClock,
    inbox: Inbox,
    *,
    stdin: TextIO,
    echo_typed: Callable[[], None] | None = None,
    begin: Callable[[], None] | None = None,
) -> StopReason:
    """Run until the session ends, input ends, or Ctrl-C / SIGTERM; close the guide (journal,
    speech, panel) either way. `begin` (the welcome, or the resume) runs first, once SIGTERM is
    handled: a signal as the session opens still ends it cleanly. `stdin` is read if listening
    stops; `echo_typed` is told of each typed line (the panel redraws below what the terminal
    echoed)."""
    previous = _terminate_as_interrupt()
    reason: StopReason | None = None  # None: an unexpected error, journaled as one
    try:
        if begin is not None:
            begin()
        reason = _serve(guide, clock, inbox, stdin, echo_typed)
        if guide.ended:
            guide.speech.drain()  # let the closing words play out
    except _Terminated:
        reason = StopReason.TERMINATED
    except KeyboardInterrupt:
        reason = StopReason.INTERRUPTED
    finally:
        guide.speech.silence(clock.now())
        guide.close(clock.now(), ExitReason.ERROR if reason is None else reason.journal_reason)
        guide.speech.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return reason


def read_lines(stream: TextIO, inbox: Inbox) -> threading.Thread:
    """A daemon thread that puts each line of `stream` in `inbox` as `Typed`, then `InputEnded`."""

    def pump() -> None:
        try:
            for line in stream:
                inbox.put(Typed(line))
        except (OSError, ValueError):  # stdin closed under us: that is its end too
            pass
        inbox.put(InputEnded())

    thread = threading.Thread(target=pump, name="stdin", daemon=True)
    thread.start()
    return thread


def _serve(
    guide: Driver, clock: SessionClock, inbox: Inbox, stdin: TextIO,
    echo_typed: Callable[[], None] | None,
) -> StopReason:
    while not guide.ended:
        message = inbox.get(_wait_seconds(guide, clock.now()))
        now = clock.now()
        match message:
            case InputEnded():
                return StopReason.INPUT_ENDED
            case Heard():
                guide.heard(message, now)
            case Unclear():
                guide.unclear(message, now)
            case Typed(line=line) if line.strip():
                if echo_typed is not None:
                    echo_typed()
                guide.phrase(line, now)
            case Played(say=say):
                guide.played(say, now)
            case Noticed(note=note, tell=tell):
                guide.note(note, now, tell=tell)
            case ListeningStopped(why=why):
                log.warning("cannot listen (%s): running in text mode, type the commands", why)
                read_lines(stdin, inbox)
        now = clock.now()
        guide.tick(now)
        if now - guide.last_write >= HEARTBEAT_SECONDS:
            guide.heartbeat(now)
        guide.show(now)
    return StopReason.ENDED


def _wait_seconds(guide: Driver, now: float) -> float:
    """How long the loop may sleep before a timer, the heartbeat or the panel's clock is due."""
    wait = min(REFRESH_SECONDS, max(0.0, guide.last_write + HEARTBEAT_SECONDS - now))
    deadline = guide.next_deadline()
    if deadline is not None:
        wait = min(wait, max(0.0, deadline - now))
    return max(0.005, wait)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be: the same clean end, its own exit status."""


def _terminate_as_interrupt() -> Any:
    """SIGTERM ends the run like Ctrl-C: speech stopped, streams closed, journal complete."""

    def handler(signum: int, frame: Any) -> None:
        raise _Terminated

    if threading.current_thread() is not threading.main_thread():
        return None  # only the main thread may set handlers (tests, benchmarks)
    return signal.signal(signal.SIGTERM, handler)
