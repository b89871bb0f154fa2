"""The messages that flow through voice-guide, and the closed vocabulary of journal records.

Inputs to the session: `Heard` (a recognized or typed command) and the clock (`now`, seconds).
Outputs from the session (actions, `Action`): `Say`, `Silence`, `StepStarted`, `Feedback`,
`Paused`, `Resumed`, `Ended`, and the records of its decisions (`CheckIn`, `TimeUp`,
`RestStarted`, `NoteTaken`, ...). Around the session, the run journals its own bookkeeping
(`Heartbeat`, `Exit`, `ResumedSession`, `Spoken`, `Unknown`) and what the edges noticed
(`MicrophoneLost`, `RouteFallback`, ...).

Every one of them is a small frozen dataclass that turns into one JSON-ready record
(`record(t)`: `{"t": seconds, "type": ..., ...}`), so the `simulate` log and the session
journal share one form. `RecordType` lists every `type` written, and nothing else is: a reader
dispatches on it (`record_type(record)`), and the records read back have a `from_record`.
The string values are the ones journals have always held, so old journals still read.

The states and kinds inside records are closed too, with the same strings as before: `Phase`,
`EndReason`, `ExitReason`, `ConfirmState`, `CheckInReason`, `SayKind`, `UtteranceOutcome`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, get_args

from voice_guide.commands import Command

Record = dict[str, Any]


class RecordType(StrEnum):
    """Every `type` a journal or a `simulate` log holds."""

    SESSION = "session"  # the journal's header (`journal.make_header`)
    # What came in
    HEARD = "heard"  # a command (`Heard`)
    UNKNOWN = "unknown"  # a typed, scripted or spoken phrase that was no command (`Unknown`)
    SPOKEN = "spoken"  # a question to the client finished playing (`Spoken`)
    # What the session did
    SAY = "say"
    SILENCE = "silence"
    STEP = "step"  # `StepStarted`
    FEEDBACK = "feedback"
    PAUSE = "pause"  # `Paused`
    RESUME = "resume"  # `Resumed` (a pause is over; not a resumed session)
    END = "end"  # `Ended`
    PREP = "prep"  # `PrepStarted`
    IGNORED = "ignored"
    UNCLEAR_ANSWER = "unclear_answer"
    CONFIRM = "confirm"
    TIME_UP = "time_up"
    ENDED_EARLY = "ended_early"
    FOLLOW_UP = "follow_up"
    CHECKIN = "checkin"  # `CheckIn`
    REST = "rest"  # `RestStarted`
    NOTE = "note"  # `NoteTaken`: the practitioner's note, said during the session
    # The run's bookkeeping
    CLOCK = "clock"  # `Heartbeat`
    EXIT = "exit"
    RESUME_SESSION = "resume_session"  # `ResumedSession`
    JOURNAL_GAP = "journal_gap"
    # What the edges noticed
    AUDIO = "audio"  # `AudioReport`
    LISTENING = "listening"  # `ListeningStarted`
    MICROPHONE_LOST = "microphone_lost"
    MICROPHONE_BACK = "microphone_back"
    ROUTE_FALLBACK = "route_fallback"
    UNDELIVERED = "undelivered"


def record_type(record: Mapping[str, Any]) -> RecordType | None:
    """The record's type; None for one outside the vocabulary (written by a newer version)."""
    try:
        return RecordType(str(record.get("type")))
    except ValueError:
        return None


# --- States and kinds ------------------------------------------------------------------------


class Phase(StrEnum):
    """Where a session is: before `start`, in the checklist, the steps, the rest, or over."""

    IDLE = "idle"
    PREP = "prep"
    STEPS = "steps"
    REST = "rest"
    ENDED = "ended"


class EndReason(StrEnum):
    """How a session closed: after the rest period, on a confirmed "end session", or given up
    unfinished (`run --discard`: its journal kept, never resumed)."""

    COMPLETED = "completed"
    ENDED = "ended"
    DISCARDED = "discarded"


class ExitReason(StrEnum):
    """Why a run stopped before its session ended (the session stays resumable)."""

    ENDED = "ended"
    EOF = "eof"  # typed input ended
    INTERRUPT = "interrupt"  # Ctrl-C or SIGTERM
    ERROR = "error"  # an unexpected error


class ConfirmState(StrEnum):
    """What became of an "end session?" question."""

    ASKED = "asked"
    CANCELLED = "cancelled"  # another command came instead of yes or no
    DECLINED = "declined"
    LAPSED = "lapsed"  # unanswered


class CheckInReason(StrEnum):
    """Why the client was asked about pressure."""

    STEP = "step"  # the move is flagged in the protocol
    INTERVAL = "interval"  # `every_minutes` of hands-on time passed without a question


# What a `Say` is. The question kinds ("checkin", "checkin_follow_up") start the client's
# answer window once played (`Session.spoken`).
SayKind = Literal[
    # the run around the session
    "welcome", "resume", "summary", "journal", "microphone",
    # the checklist and the steps
    "prep_intro", "prep", "opening", "station", "step", "details", "where", "time_left",
    "time_up", "cue", "notice", "help", "confirm", "ended",
    # check-ins
    "checkin_hint", "checkin", "checkin_follow_up", "feedback",
    # the rest
    "rest", "rest_left", "closing",
    # notes and clients (the practitioner route only)
    "note", "notes", "client_recap",
    # `serve`, between sessions (the practitioner route)
    "serve",
]
SAY_KINDS: frozenset[str] = frozenset(get_args(SayKind))

# How a spoken text ended up (`speak.player.Utterance.outcome`).
UtteranceOutcome = Literal["played", "interrupted", "undelivered"]


# --- Inputs --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Heard:
    """A command heard (or typed). Times are seconds of stream time (session time when typed).
    `text`: the free words after the phrase, for a note ("note tight left shoulder")."""

    command: Command
    phrase: str
    confidence: float = 1.0
    start: float = 0.0
    end: float = 0.0
    text: str = ""

    def record(self, t: float) -> Record:
        text = {"text": self.text} if self.text else {}  # only notes carry words of their own
        return _record(
            t, RecordType.HEARD, command=str(self.command), phrase=self.phrase,
            confidence=round(self.confidence, 3), **text,
        )

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Heard:
        """Raises ValueError for a command this version does not know. Old journals have no
        `start`/`end`: the record's `t` stands for both."""
        command = Command(str(record.get("command")))
        t = float(record["t"])
        return cls(command, str(record.get("phrase", command)),
                   float(record.get("confidence", 1.0)),
                   float(record.get("start", t)), float(record.get("end", t)),
                   str(record.get("text", "")))


@dataclass(frozen=True)
class Unclear:
    """Words the recognizer heard, while the client's answer was awaited, that were neither a
    command nor an answer: the practitioner is told, as for typed words. Stream times."""

    text: str
    start: float = 0.0
    end: float = 0.0


@dataclass(frozen=True)
class Unknown:
    """A typed, scripted or spoken phrase that was no command."""

    phrase: str

    def record(self, t: float) -> Record:
        return _record(t, RecordType.UNKNOWN, phrase=self.phrase)


@dataclass(frozen=True)
class Spoken:
    """A `Say` of `kind` finished playing (the client's answer window counts from here)."""

    kind: SayKind

    def record(self, t: float) -> Record:
        return _record(t, RecordType.SPOKEN, kind=self.kind)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Spoken:
        return cls(say_kind(record.get("kind")))


def say_kind(value: object) -> SayKind:
    """`value` as a `SayKind`; ValueError if it is none."""
    if value not in SAY_KINDS:
        raise ValueError(f"not a kind of text: {value!r}")
    return value  # type: ignore[return-value]  # checked against the Literal's values above


# --- The session's actions -----------------------------------------------------------------------


class Route(StrEnum):
    """Where a text is spoken: the practitioner's earbuds, or the room speaker the client hears."""

    PRACTITIONER = "practitioner"
    ROOM = "room"


@dataclass(frozen=True)
class Say:
    """Speak `text` on `route`; `kind` says what it is."""

    text: str
    route: Route = Route.PRACTITIONER
    kind: SayKind = "cue"

    def record(self, t: float) -> Record:
        return _record(t, RecordType.SAY, text=self.text, route=str(self.route), kind=self.kind)


@dataclass(frozen=True)
class Silence:
    """Stop whatever is being spoken now (pause/stop interrupts speech at once)."""

    def record(self, t: float) -> Record:
        return _record(t, RecordType.SILENCE)


@dataclass(frozen=True)
class StepStarted:
    """The session moved to step `index` (1-based position in the expanded script)."""

    index: int
    number: int
    origin: int

    def record(self, t: float) -> Record:
        return _record(t, RecordType.STEP, index=self.index, number=self.number,
                       origin=self.origin)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> StepStarted:
        index = int(record.get("index", 0))
        number = int(record.get("number", index))
        return cls(index, number, int(record.get("origin", number)))


@dataclass(frozen=True)
class Feedback:
    """The client's answer to a pressure check-in: lighter, deeper, good, or None (no answer).
    `unconfirmed`: the answer was a word that got the follow-up question ("fine"), and the
    follow-up got no answer; `answer` is then that word, kept as said (it may hide discomfort).
    Written only when true, so the record of every other answer is as it always was."""

    answer: str | None
    index: int
    unconfirmed: bool = False

    def record(self, t: float) -> Record:
        extra = {"unconfirmed": True} if self.unconfirmed else {}
        return _record(t, RecordType.FEEDBACK, answer=self.answer, index=self.index, **extra)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Feedback:
        answer = record.get("answer")
        return cls(None if answer is None else str(answer), int(record.get("index", 0)),
                   record.get("unconfirmed") is True)


@dataclass(frozen=True)
class Paused:
    def record(self, t: float) -> Record:
        return _record(t, RecordType.PAUSE)


@dataclass(frozen=True)
class Resumed:
    """A pause is over."""

    def record(self, t: float) -> Record:
        return _record(t, RecordType.RESUME)


@dataclass(frozen=True)
class Ended:
    """The session closed."""

    reason: EndReason

    def record(self, t: float) -> Record:
        return _record(t, RecordType.END, reason=str(self.reason))

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Ended:
        return cls(EndReason(str(record.get("reason"))))


@dataclass(frozen=True)
class PrepStarted:
    """The preparation checklist began, with `items` items."""

    items: int

    def record(self, t: float) -> Record:
        return _record(t, RecordType.PREP, items=self.items)


@dataclass(frozen=True)
class Ignored:
    """A command the session does not accept now (yes with nothing to confirm, ...)."""

    command: Command

    def record(self, t: float) -> Record:
        return _record(t, RecordType.IGNORED, command=str(self.command))


@dataclass(frozen=True)
class UnclearAnswer:
    """Words during a check-in that were no answer (told to the practitioner)."""

    phrase: str

    def record(self, t: float) -> Record:
        return _record(t, RecordType.UNCLEAR_ANSWER, phrase=self.phrase)


@dataclass(frozen=True)
class Confirm:
    """The "end session?" question: asked, or what became of it."""

    state: ConfirmState

    def record(self, t: float) -> Record:
        return _record(t, RecordType.CONFIRM, state=str(self.state))


@dataclass(frozen=True)
class TimeUp:
    """Move `index` has had its time."""

    index: int

    def record(self, t: float) -> Record:
        return _record(t, RecordType.TIME_UP, index=self.index)


@dataclass(frozen=True)
class EndedEarly:
    """A confirmed end during the steps, at move `index` (of step `number`)."""

    index: int
    number: int

    def record(self, t: float) -> Record:
        return _record(t, RecordType.ENDED_EARLY, index=self.index, number=self.number)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> EndedEarly:
        return cls(int(record.get("index", 0)), int(record.get("number", 0)))


@dataclass(frozen=True)
class FollowUp:
    """The client's `answer` word ("fine") got the follow-up question, about move `index`."""

    index: int
    answer: str

    def record(self, t: float) -> Record:
        return _record(t, RecordType.FOLLOW_UP, index=self.index, answer=self.answer)


@dataclass(frozen=True)
class CheckIn:
    """The client is asked about pressure, about move `index`."""

    index: int
    reason: CheckInReason

    def record(self, t: float) -> Record:
        return _record(t, RecordType.CHECKIN, index=self.index, reason=str(self.reason))


@dataclass(frozen=True)
class RestStarted:
    """The client's rest began; it lasts `seconds` (of active time)."""

    seconds: float

    def record(self, t: float) -> Record:
        return _record(t, RecordType.REST, seconds=self.seconds)


@dataclass(frozen=True)
class NoteTaken:
    """The practitioner's note `text`, said during move `index` (of step `number`) in `phase`
    (in the checklist: index and number 0; in the rest: the last move)."""

    text: str
    index: int
    number: int
    phase: Phase

    def record(self, t: float) -> Record:
        return _record(t, RecordType.NOTE, text=self.text, index=self.index, number=self.number,
                       phase=str(self.phase))

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> NoteTaken:
        return cls(str(record.get("text", "")), int(record.get("index", 0)),
                   int(record.get("number", 0)), Phase(str(record.get("phase", Phase.STEPS))))


Action = (
    Say | Silence | StepStarted | Feedback | Paused | Resumed | Ended | PrepStarted | Ignored
    | UnclearAnswer | Confirm | TimeUp | EndedEarly | FollowUp | CheckIn | RestStarted | NoteTaken
)


# --- The run's bookkeeping -----------------------------------------------------------------------


@dataclass(frozen=True)
class Heartbeat:
    """The session was still running at `t`: a resumed session's clock carries on from the
    last record, so this bounds what a crash loses."""

    def record(self, t: float) -> Record:
        return _record(t, RecordType.CLOCK)


@dataclass(frozen=True)
class Exit:
    """The run stopped before the session ended; the journal can be resumed."""

    reason: ExitReason

    def record(self, t: float) -> Record:
        return _record(t, RecordType.EXIT, reason=str(self.reason))

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Exit:
        return cls(ExitReason(str(record.get("reason", ExitReason.ERROR))))


@dataclass(frozen=True)
class ResumedSession:
    """A run carried on a journaled session: where it stood when replayed."""

    phase: Phase
    index: int
    seconds_in_step: float
    paused: bool

    def record(self, t: float) -> Record:
        return _record(t, RecordType.RESUME_SESSION, phase=str(self.phase), index=self.index,
                       seconds_in_step=round(self.seconds_in_step, 1), paused=self.paused)


@dataclass(frozen=True)
class JournalGap:
    """`held` records, from session time `first` to `last`, were kept in memory while the disk
    refused them (`reason`), and are written after this record."""

    held: int
    first: float
    last: float
    reason: str

    def record(self, t: float) -> Record:
        # "from"/"to" are Python keywords, hence the field names.
        return {**_record(t, RecordType.JOURNAL_GAP, held=self.held), "from": self.first,
                "to": self.last, "reason": self.reason}


# --- What the edges noticed ----------------------------------------------------------------------


@dataclass(frozen=True)
class AudioReport:
    """The run's sound glitches, journaled at its end: ALSA's own lines (kept off the terminal)
    and the output underflows the player counted (None: no player)."""

    alsa_underruns: int = 0
    alsa_overruns: int = 0
    alsa_lines: int = 0
    alsa_examples: tuple[str, ...] = ()
    output_underflows: int | None = None

    def record(self, t: float) -> Record:
        fields: Record = {"alsa_underruns": self.alsa_underruns,
                          "alsa_overruns": self.alsa_overruns, "alsa_lines": self.alsa_lines,
                          "alsa_examples": list(self.alsa_examples)}
        if self.output_underflows is not None:
            fields["output_underflows"] = self.output_underflows
        return _record(t, RecordType.AUDIO, **fields)


@dataclass(frozen=True)
class ListeningStarted:
    """Listening began: on which device (and sound-server source), with which engine."""

    device: str
    source: str | None
    engine: str

    def record(self, t: float) -> Record:
        return _record(t, RecordType.LISTENING, device=self.device, source=self.source,
                       engine=self.engine)


@dataclass(frozen=True)
class MicrophoneLost:
    """The microphone `device` stopped working (`reason`); listening moved to `listening_on`,
    or paused (None)."""

    device: str
    reason: str
    listening_on: str | None

    def record(self, t: float) -> Record:
        return _record(t, RecordType.MICROPHONE_LOST, device=self.device, reason=self.reason,
                       listening_on=self.listening_on)


@dataclass(frozen=True)
class MicrophoneBack:
    device: str

    def record(self, t: float) -> Record:
        return _record(t, RecordType.MICROPHONE_BACK, device=self.device)


@dataclass(frozen=True)
class RouteFallback:
    """A route's output device failed (`reason`); its texts play on `to` now."""

    route: Route
    failed: str
    to: str
    reason: str

    def record(self, t: float) -> Record:
        return _record(t, RecordType.ROUTE_FALLBACK, route=str(self.route), failed=self.failed,
                       to=self.to, reason=self.reason)


@dataclass(frozen=True)
class Undelivered:
    """No working output was left for `text` on `route`."""

    route: Route
    text: str

    def record(self, t: float) -> Record:
        return _record(t, RecordType.UNDELIVERED, route=str(self.route), text=self.text)


def _record(t: float, type_: RecordType, **fields: Any) -> Record:
    return {"t": round(t, 3), "type": str(type_), **fields}
