"""A day at the clinic: wait for "start session", run one session, wait again (`serve`).

`Day` is the driver `serve` hands to the live loop (`loop.run_loop`) in place of a single
`Guide`, and `simulate --serve` drives on a virtual clock: the same inputs (a command heard, a
phrase typed or scripted, a question played out, the clock), in day time. Between sessions it
accepts nothing but "start session" (and "resume" while an unfinished session is offered):
every other word is chatter between clients and changes nothing. "start session" opens a new
session (`new_session`: its journal, header and Guide) and from then on every input goes to that
session's Guide, in the session's own time, until the session has ended (after its summary and
rest); then the day waits again.

Nothing here touches audio or files: `new_session` and `Unfinished.resume` make the sessions
(the live journal, or a simulation's memory), and `speech` says the few words between sessions
on the practitioner route. Those words are not journaled: a journal is one session's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from voice_guide.commands import Command
from voice_guide.events import ExitReason, Heard, Route, Say, Unclear
from voice_guide.guide import Guide, SpeechOutput, heard_from_phrase
from voice_guide.journal import Recordable
from voice_guide.prompts import SERVE_NEXT, SERVE_WAITING, SESSION_NOT_STARTED, unfinished_text

Record = dict[str, Any]

WAITING: frozenset[Command] = frozenset({Command.START})
OFFERED: frozenset[Command] = frozenset({Command.START, Command.RESUME})


@dataclass(frozen=True)
class Opening:
    """A session made ready to start: its Guide, and how it opens."""

    guide: Guide
    prep: bool = False
    recap: str = ""  # the last session with this client (new sessions only)
    resume_at: float | None = None  # a resumed session: the session time it carries on from
    prior: tuple[Record, ...] = ()  # ... and its journaled records


@dataclass(frozen=True)
class Unfinished:
    """A session that did not end (a crash, a power cut), offered when the day starts."""

    index: int  # the move it stopped at
    total: int
    resume: Callable[[], Opening | None]


@dataclass
class Day:
    # A new session, started at this day time; None when it cannot be (said on the screen).
    new_session: Callable[[float], Opening | None]
    speech: SpeechOutput
    unfinished: Unfinished | None = None
    guide: Guide | None = None  # the session running now
    offset: float = 0.0  # day time minus session time, for the session running now
    sessions: int = 0  # sessions started today

    # --- the day ------------------------------------------------------------------------------

    def begin(self, now: float) -> None:
        """The first words: the unfinished session on offer, or that the guide is ready."""
        if self.unfinished is not None:
            text = unfinished_text(self.unfinished.index, self.unfinished.total)
        else:
            text = SERVE_WAITING
        self.speech.say(Say(text, Route.PRACTITIONER, "serve"), now)

    def accepts(self) -> frozenset[Command]:
        """What is listened for now: the session's commands, or between sessions only "start
        session" (and "resume" while an unfinished session is offered). Read by the listening
        thread: one attribute read each."""
        guide = self.guide
        if guide is not None and not guide.ended:
            return guide.accepted
        return OFFERED if self.unfinished is not None else WAITING

    @property
    def ended(self) -> bool:
        return False  # a day ends when its input does, or on Ctrl-C / SIGTERM

    # --- inputs (day time) ---------------------------------------------------------------------

    def heard(self, heard: Heard, now: float) -> None:
        if self.guide is not None:
            self.guide.heard(heard, self._session_time(now))
            self.settle(now)
        elif heard.command in self.accepts():
            self._between(heard.command, now)

    def unclear(self, unclear: Unclear, now: float) -> None:
        """Words that answered nothing while a client's answer was awaited (in a session)."""
        if self.guide is not None:
            self.guide.unclear(unclear, self._session_time(now))
            self.settle(now)

    def phrase(self, text: str, now: float) -> bool:
        """A typed or scripted phrase; between sessions only "start session" (or "resume" when
        offered) does anything."""
        if self.guide is not None:
            understood = self.guide.phrase(text, self._session_time(now))
            self.settle(now)
            return understood
        heard = heard_from_phrase(text, now)
        if heard is None or heard.command not in self.accepts():
            return False
        self._between(heard.command, now)
        return True

    def played(self, say: Say, now: float) -> None:
        if self.guide is not None:
            self.guide.played(say, self._session_time(now))
            self.settle(now)

    def note(self, note: Recordable, now: float, *, tell: str = "") -> None:
        """Something the edges noticed: journaled in the session running now; between sessions
        only said."""
        if self.guide is not None:
            self.guide.note(note, self._session_time(now), tell=tell)
        elif tell:
            self.speech.say(Say(tell, Route.PRACTITIONER, "microphone"), now)

    def tick(self, now: float) -> None:
        if self.guide is not None:
            self.guide.tick(self._session_time(now))
            self.settle(now)

    def heartbeat(self, now: float) -> None:
        if self.guide is not None:
            self.guide.heartbeat(self._session_time(now))

    def show(self, now: float) -> None:
        if self.guide is not None:
            self.guide.show(self._session_time(now))

    def next_deadline(self) -> float | None:
        """Day time of the session's next timer; None between sessions."""
        if self.guide is None:
            return None
        deadline = self.guide.next_deadline()
        return None if deadline is None else deadline + self.offset

    @property
    def last_write(self) -> float:
        """Day time of the session's last record (the heartbeat counts from it); between
        sessions there is no journal to keep alive."""
        if self.guide is None:
            return float("inf")
        return self.guide.last_write + self.offset

    def close(self, now: float, reason: ExitReason) -> None:
        """The day is over: a session still running gets its `exit` record (resumable)."""
        if self.guide is not None:
            self.guide.close(self._session_time(now), reason)
            self.guide = None

    def settle(self, now: float) -> None:
        """A session that has ended (its summary said, its rest over) is closed, and the day
        waits for the next one."""
        if self.guide is None or not self.guide.ended:
            return
        self.guide.close(self._session_time(now), ExitReason.ENDED)
        self.guide = None
        self.speech.say(Say(SERVE_NEXT, Route.PRACTITIONER, "serve"), now)

    # --- helpers -------------------------------------------------------------------------------

    def _between(self, command: Command, now: float) -> None:
        if command is Command.RESUME and self.unfinished is not None:
            opening = self.unfinished.resume()
        else:
            opening = self.new_session(now)
        self.unfinished = None  # offered once: a new session leaves it for `run --resume`
        if opening is None:
            self.speech.say(Say(SESSION_NOT_STARTED, Route.PRACTITIONER, "serve"), now)
            return
        self.sessions += 1
        guide = opening.guide
        if opening.resume_at is None:
            self.offset = now
            guide.open(0.0, prep=opening.prep, recap=opening.recap)
        else:
            self.offset = now - opening.resume_at
            guide.reopen(opening.resume_at, opening.prior)
        self.guide = guide
        self.settle(now)

    def _session_time(self, now: float) -> float:
        return round(now - self.offset, 3)
