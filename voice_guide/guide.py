"""The Guide: the one driver of a Session, for `run`, `run --text`, `simulate` and resume.

It hands inputs (a command heard, a phrase typed or scripted, a question played out, the clock)
to the pure `Session`, and applies every action the session returns, in one way for every front
end: speak (a `SpeechOutput`: the speakers, a virtual speaker writing WAV files, the terminal,
or nothing), journal (a `JournalSink`: the journal file, or memory), show (the status panel, if
any). It never reads a clock itself: the caller passes `now` (session seconds), the wall clock
live (`voice_guide.loop`), a virtual one in a simulation (`voice_guide.simulate`). So
`simulate`'s log is what `run` journals for the same inputs (only the heartbeats are the live
loop's own, and the `spoken` times the speakers'), welcome and closing summary included.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from voice_guide.commands import CLIENT_ANSWERS, Command, note_phrase, note_text, read_words
from voice_guide.events import (
    Action,
    Ended,
    Exit,
    ExitReason,
    Heard,
    Heartbeat,
    Phase,
    ResumedSession,
    Route,
    Say,
    Silence,
    Spoken,
    Unclear,
    Unknown,
)
from voice_guide.journal import JournalNotice, Recordable, Summary, summarize
from voice_guide.prompts import WELCOME, resume_text, summary_lines, summary_speech
from voice_guide.session import QUESTION_KINDS, Session
from voice_guide.status import StatusPanel, view_of

log = logging.getLogger(__name__)

Record = dict[str, Any]


class JournalSink(Protocol):
    """Where records go: `journal.JournalWriter` (the file, fsynced) or `MemoryJournal`."""

    def write(self, record: Record) -> JournalNotice | None: ...

    def close(self) -> JournalNotice | None: ...


class SpeechOutput(Protocol):
    """Where `Say` actions go: the speakers, a virtual speaker, the terminal, or nowhere."""

    def say(self, say: Say, now: float) -> Record:
        """Speak (or queue) `say`; the fields it adds to the journaled `say` record."""
        ...

    def silence(self, now: float) -> None: ...

    def drain(self) -> None:
        """Wait for what is queued to play out (the closing words)."""
        ...

    def close(self) -> None: ...


@dataclass
class MemoryJournal:
    """A journal kept in memory: what a simulation returns as its log."""

    records: list[Record] = field(default_factory=list)

    def write(self, record: Record) -> JournalNotice | None:
        self.records.append(record)
        return None

    def close(self) -> JournalNotice | None:
        return None


@dataclass
class Guide:
    """Session + journal + speech + status panel. Every method takes the session time `now`."""

    session: Session
    journal: JournalSink
    speech: SpeechOutput
    panel: StatusPanel | None = None
    records: list[Record] = field(default_factory=list)  # everything journaled, resumed included
    closing_notes: Callable[[], Iterable[Recordable]] | None = None  # last: the audio glitches
    accepted: frozenset[Command] = frozenset()  # what the session accepts now (for listeners)
    # What listening waits for now, for the panel ("listening waits for the room speaker": the
    # microphone is muted while it plays); "" when it listens. None: no microphone.
    waiting: Callable[[], str] | None = None
    last_write: float = 0.0  # session time of the last record (the heartbeat counts from it)
    _last_heard: str = ""
    _closed: bool = False
    _journal_said: bool = False  # the practitioner heard that the journal cannot be written

    # --- starting ---------------------------------------------------------------------------

    def open(self, now: float, *, prep: bool, recap: str = "") -> None:
        """The welcome (how to get help), the recap of the last session with this client (the
        practitioner's route only), then the session's own opening."""
        welcome = Say(WELCOME, Route.PRACTITIONER, "welcome")
        said = [Say(recap, Route.PRACTITIONER, "client_recap")] if recap else []
        self.emit([welcome, *said, *self.session.start(now, prep=prep)], now)

    def reopen(self, now: float, prior: Iterable[Record] = ()) -> None:
        """Carry on a replayed session: mark the resume in the journal and say where we are."""
        self.records.extend(prior)
        status = self.session.status(now)
        self._write(ResumedSession(Phase(status.phase), status.index, status.seconds_in_step,
                                   status.paused).record(now))
        self.emit([Say(resume_text(status), Route.PRACTITIONER, "resume")], now)

    # --- inputs -----------------------------------------------------------------------------

    def heard(self, heard: Heard, now: float) -> None:
        """A command the recognizer heard; its `start` and `end` (stream time) are journaled."""
        times = {"start": round(heard.start, 3), "end": round(heard.end, 3)}
        self._heard(heard, now, times)

    def phrase(self, text: str, now: float) -> bool:
        """A typed or scripted phrase: the same phrases one would say (during a check-in, the
        client's own words too). Not a command: journaled as `unknown`, and False when no
        client's answer was awaited either (the panel says how to get help)."""
        heard = heard_from_phrase(text, now, self.session.accepts())
        if heard is not None:
            self._heard(heard, now, {})
            return True
        return self._not_understood(text.strip(), now, {})

    def unclear(self, unclear: Unclear, now: float) -> None:
        """Spoken words that were neither a command nor an answer (heard while the client's
        answer was awaited): journaled and told to the practitioner, as typed words are."""
        times = {"start": round(unclear.start, 3), "end": round(unclear.end, 3)}
        self._not_understood(unclear.text, now, times)

    def _not_understood(self, words: str, now: float, times: dict[str, float]) -> bool:
        awaited = self.session.accepts() >= CLIENT_ANSWERS
        self._write({**Unknown(words).record(now), **times})
        self.emit(self.session.not_understood(words, now), now)
        if not awaited and self.panel is not None and not self.ended:
            self.panel.message(f"(not a command: {words!r}; say help)")
        return awaited

    def played(self, say: Say, now: float) -> None:
        """A question finished playing: journaled, and the client's answer window starts now."""
        if self.ended:
            return
        self._write(Spoken(say.kind).record(now))
        self.emit(self.session.spoken(say.kind, now), now)

    def tick(self, now: float) -> None:
        if not self.ended:
            self.emit(self.session.tick(now), now)

    def heartbeat(self, now: float) -> None:
        """A `clock` record: a session resumed after a crash carries on from here."""
        if not self.ended:
            self._write(Heartbeat().record(now))

    def note(self, note: Recordable, now: float, *, tell: str = "") -> None:
        """Something the edges noticed (a route fell back, the microphone was lost): journaled,
        shown, and `tell` said to the practitioner."""
        record = note.record(now)
        self._write(record)
        if self.panel is not None:
            details = ", ".join(f"{key} {value}" for key, value in record.items()
                                if key not in ("t", "type"))
            self.panel.message(f"({record['type']}: {details})")
        if tell and not self.ended:
            self.emit([Say(tell, Route.PRACTITIONER, "microphone")], now)

    # --- outputs ----------------------------------------------------------------------------

    def emit(self, actions: Iterable[Action], now: float) -> None:
        """Apply the session's actions: speak, journal, show."""
        self._apply(list(actions), now)

    def show(self, now: float) -> None:
        if self.panel is not None and not self._closed and self.session.status(now).phase != "idle":
            waiting = self.waiting() if self.waiting is not None else ""
            self.panel.show(view_of(self.session.status(now), self._last_heard, waiting))

    def next_deadline(self) -> float | None:
        """When the session's next timer falls due (session time); None: none is set."""
        return self.session.next_deadline()

    @property
    def ended(self) -> bool:
        return self.session.ended

    def close(self, now: float, reason: ExitReason) -> None:
        """End of this run. An unfinished session gets an `exit` record and stays resumable."""
        if self._closed:
            return
        if not self.ended:
            self._closing_notes(now)
            self._write(Exit(reason).record(now))
        self._closed = True
        notice = self.journal.close()
        if notice is not None:
            log.warning("%s", notice.line)
        if self.panel is not None:
            self.panel.close()

    # --- helpers ----------------------------------------------------------------------------

    def _heard(self, heard: Heard, now: float, times: Record) -> None:
        record = {**heard.record(now), **times}
        if self.ended:
            self._write(record)  # after the end: journaled, nothing happens
            return
        self._last_heard = heard.phrase
        self._apply(self.session.heard(heard, now), now, record)

    def _apply(self, actions: list[Action], now: float, cause: Record | None = None) -> None:
        """Speak first, then journal (the input that caused them, then the actions): the answer
        never waits for the disk, and a crash in between loses only the event in flight. The
        session's end gets the closing summary, shown and said just before the `end` record
        (which stays the last one)."""
        actions, summary = self._with_summary(actions, now, cause)
        extra = []
        for action in actions:
            if summary is not None and action is summary[1] and self.panel is not None:
                for line in summary_lines(summary[0]):  # the table, then its spoken version
                    self.panel.message(line)
            extra.append(self._speak(action, now))
        if cause is not None:
            self._write(cause)
        for action, fields in zip(actions, extra, strict=True):
            if isinstance(action, Ended):
                self._closing_notes(now)
            self._write({**action.record(now), **fields})
        self.accepted = self.session.accepts()  # one atomic swap: other threads read it
        if actions or cause is not None:
            self.show(now)

    def _speak(self, action: Action, now: float) -> Record:
        """Say or silence; what speaking adds to the action's record."""
        if isinstance(action, Say):
            return self.speech.say(action, now)
        if isinstance(action, Silence):
            self.speech.silence(now)
        return {}

    def _with_summary(
        self, actions: list[Action], now: float, cause: Record | None
    ) -> tuple[list[Action], tuple[Summary, Say] | None]:
        """`actions`, with the closing summary said just before an `Ended`; the summary and
        its `Say` when there is one."""
        ends = [i for i, action in enumerate(actions) if isinstance(action, Ended)]
        if not ends:
            return actions, None
        end = ends[0]
        ahead = [*self.records, *([cause] if cause else []),
                 *(action.record(now) for action in actions[: end + 1])]
        summary = summarize(ahead)
        said = Say(summary_speech(summary), Route.PRACTITIONER, "summary")
        return [*actions[:end], said, *actions[end:]], (summary, said)

    def _closing_notes(self, now: float) -> None:
        notes, self.closing_notes = self.closing_notes, None  # once
        for note in notes() if notes is not None else ():
            self._write(note.record(now))

    def _write(self, record: Record) -> None:
        if self._closed:
            return
        notice = self.journal.write(record)
        self.records.append(record)
        self.last_write = float(record["t"])
        if notice is not None:
            self._journal_notice(notice, float(record["t"]))

    def _journal_notice(self, notice: JournalNotice, now: float) -> None:
        """The journal stopped (or started again) being written. The screen shows every change;
        the practitioner hears the first outage only: it means a crash could not be resumed,
        and repeating it would only interrupt the massage."""
        log.warning("%s", notice.line)
        if notice.speech and not self._journal_said:
            self._journal_said = True
            self.speech.say(Say(notice.speech, Route.PRACTITIONER, "journal"), now)


def heard_from_phrase(
    phrase: str, t: float, accepts: frozenset[Command] = frozenset()
) -> Heard | None:
    """A typed or scripted phrase as a `Heard` at session time `t` (lower-cased, spaces
    collapsed, as the recognizer writes a phrase); None if it is not a command. When `accepts`
    holds the client's answers (a check-in is open), the client's own words count. A phrase
    that begins with "note" or "make a note" is a note: the words after it are its `text`, as
    typed."""
    text = note_text(phrase)
    if text is not None:
        return Heard(Command.NOTE, note_phrase(phrase), confidence=1.0, start=t, end=t,
                     text=" ".join(text.split()))
    reading = read_words(phrase, accepts)
    if reading is None:
        return None
    return Heard(reading[0], " ".join(phrase.lower().split()), confidence=1.0, start=t, end=t)


# --- speech outputs -----------------------------------------------------------------------------


class SilentSpeech:
    """Nothing is spoken or shown: a simulation's log is all there is."""

    def say(self, say: Say, now: float) -> Record:
        return {}

    def silence(self, now: float) -> None:
        pass

    def drain(self) -> None:
        pass

    def close(self) -> None:
        pass


class PrintedSpeech(SilentSpeech):
    """Prompts printed on the panel (with their route), nothing spoken: text mode without audio."""

    def __init__(self, panel: StatusPanel) -> None:
        self.panel = panel

    def say(self, say: Say, now: float) -> Record:
        self.panel.say(say.text, str(say.route))
        return {}


class SpeakerSpeech:
    """Prompts printed on the panel and spoken on their routes (through `speak.Speaker`);
    `played` is told, from the player's side, when a question to the client has played out."""

    def __init__(
        self, panel: StatusPanel, speaker: Any, played: Callable[[Say], None] | None = None
    ) -> None:
        self.panel = panel
        self.speaker = speaker  # speak.speaker.Speaker
        self.played = played

    def say(self, say: Say, now: float) -> Record:
        self.panel.say(say.text, str(say.route))
        utterance = self.speaker.say(say, now)
        if utterance is not None and self.played is not None and say.kind in QUESTION_KINDS:
            told = self.played

            def wait() -> None:  # an interrupted question keeps the estimated window
                if utterance.wait() and utterance.outcome == "played":
                    told(say)

            threading.Thread(target=wait, name="played", daemon=True).start()
        return {}

    def silence(self, now: float) -> None:
        self.speaker.silence(now)

    def drain(self) -> None:
        self.speaker.drain()

    def close(self) -> None:
        self.speaker.close()
