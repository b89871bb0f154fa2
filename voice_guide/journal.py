"""The session journal: an append-only JSON-lines file that survives crashes.

One file per session. The first line is a header record (`"type": "session"`: session id,
protocol path and digest, settings, wall-clock start); every later line is one event in the same
form as the `simulate` event log (`Heard.record(t)` and the actions' `record(t)`), plus a few
bookkeeping records of the live run (`clock` heartbeats, `exit`, `resume_session`): every type
is one of `events.RecordType`, and readers here dispatch on it. Each line is
written, flushed and fsynced on its own, so a crash or power loss loses at most the line in
flight. Reading skips a corrupt or truncated line with a warning and keeps everything else.

A session is finished once an `end` record is journaled; otherwise `run --resume` can pick it
up again (see `voice_guide.resume`). No audio is ever written here.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from voice_guide.events import (
    Ended,
    EndedEarly,
    EndReason,
    Feedback,
    JournalGap,
    RecordType,
    StepStarted,
    record_type,
)
from voice_guide.progress import StepTime, Summary
from voice_guide.prompts import JOURNAL_NOT_SAVED

HEADER_TYPE = RecordType.SESSION
FORMAT_VERSION = 1

log = logging.getLogger(__name__)


class Recordable(Protocol):
    """Anything journaled (an `events` record class): one record at session time `t`."""

    def record(self, t: float) -> dict[str, Any]: ...


# --- Writing -----------------------------------------------------------------------------------


class JournalBusy(OSError):
    """Another process is writing this journal (a session still running)."""


# Write failures that come and go with the disk rather than with what the user typed: a new
# journal that meets one of these is still started (records held in memory, see JournalWriter).
_DISK_TROUBLE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})


@dataclass(frozen=True)
class JournalNotice:
    """A change in whether the journal is being written, for the screen (and the ear)."""

    line: str  # one line for the terminal
    speech: str = ""  # for the practitioner's earbuds; "" when it need not be said


class JournalWriter:
    """Appends one record per line, each written and fsynced before `write` returns.

    The writer holds an exclusive lock on the file while it is open, so a second `run --resume`
    cannot append to a session that is still running; the kernel drops the lock when the
    process dies, however it dies.

    A session must not stop because its disk did (full, read-only, failing): when a record
    cannot be written, `write` keeps it in memory and returns a notice instead of raising; each
    later `write` first retries the held records, and once they go through they are preceded by
    a `journal_gap` record (how many, from when to when, and why), so the journal says that they
    were written late. A failed write is cut off again (or, if even that fails, the next record
    starts on a fresh line), so a held record is never on disk twice or glued to garbage.
    """

    def __init__(self, path: Path, fd: int | None, *, torn: bool = False) -> None:
        self.path = path
        self._fd = fd  # None: a new journal whose file could not be created yet
        self._closed = False
        self._torn = torn  # the file does not end at a line boundary
        self._held: list[tuple[float, str]] = []  # (t, line) not yet on disk
        self._trouble = ""  # why the held records are held
        self._announced = False  # the caller was told that records are being held
        if fd is not None:
            self._lock(fd)

    @classmethod
    def create(cls, path: Path, header: Mapping[str, Any]) -> JournalWriter:
        """A new journal at `path` (which must not exist yet), starting with `header`.

        Raises OSError for a path that cannot work (no permission, a folder in the way, the
        file exists); a disk that is full or read-only gives a writer that holds its records
        (and says so on the first `write`)."""
        writer = cls(path, None)
        line = _line(header)
        try:
            writer._open_new()
            writer._append(line)
        except OSError as error:
            if writer._fd is None and error.errno not in _DISK_TROUBLE:
                raise
            writer._hold(float(header.get("t", 0.0)), line, _reason(error))
        return writer

    @classmethod
    def reopen(cls, path: Path) -> JournalWriter:
        """Append to an existing journal (resume). A torn last line is closed off first, so the
        next record starts on a line of its own instead of being glued to the garbage."""
        with open(path, "rb") as existing:
            existing.seek(0, os.SEEK_END)
            torn = False
            if existing.tell() > 0:
                existing.seek(-1, os.SEEK_END)
                torn = existing.read(1) != b"\n"
        return cls(path, os.open(path, os.O_WRONLY | os.O_APPEND), torn=torn)

    @property
    def held(self) -> int:
        """How many records are waiting in memory for the disk."""
        return len(self._held)

    def write(self, record: Mapping[str, Any]) -> JournalNotice | None:
        """Journal `record`. Never raises for the disk: returns a notice when writing has just
        stopped working, or just started working again (None otherwise)."""
        t, line = float(record.get("t", 0.0)), _line(record)
        if self._closed:
            return None
        if not self._held:
            try:
                self._append(line)
                return None
            except OSError as error:
                self._hold(t, line, _reason(error))
        else:
            recovered = self._catch_up(line)
            if recovered is not None:
                return recovered
            self._held.append((t, line))
        if self._announced:
            return None
        self._announced = True  # once per outage (a full disk at `create` too)
        return self._failed_notice()

    def event(self, t: float, item: Recordable) -> dict[str, Any]:
        """Journal a `Heard` or an action at session time `t`; returns the record written."""
        record = item.record(t)
        self.write(record)
        return record

    def close(self) -> JournalNotice | None:
        """Close the file after a last try at the held records; a notice if some are lost."""
        if self._closed:
            return None
        notice = self._catch_up("") if self._held else None
        lost = len(self._held)
        self._closed = True
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if lost:
            return JournalNotice(
                f"{lost} journal records could not be written to {self.path} "
                f"({self._trouble}); this session cannot be resumed"
            )
        return notice

    @property
    def closed(self) -> bool:
        return self._closed

    # --- the file ---------------------------------------------------------------------------

    def _open_new(self) -> None:
        # Health information (a client's name, notes): readable by the user only.
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        self._lock(fd)
        self._fd = fd
        _fsync_directory(self.path.parent)  # the new file's name survives a power loss too

    def _lock(self, fd: int) -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise JournalBusy(
                f"{self.path}: the session is still running in another process") from None

    def _append(self, text: str) -> None:
        """Write `text` whole and fsync it, or leave the file as it was and raise OSError."""
        if self._fd is None:
            self._open_new()  # a journal that could not be created at the start
        fd = self._fd
        if fd is None:
            raise OSError(errno.EBADF, "the journal is not open")
        data = ("\n" if self._torn else "").encode() + text.encode("utf-8")
        start = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError:
            self._cut_back(fd, start)
            raise
        self._torn = False

    def _cut_back(self, fd: int, size: int) -> None:
        """Undo a partly written record (truncating frees space even on a full disk)."""
        try:
            if os.fstat(fd).st_size != size:
                os.ftruncate(fd, size)
        except OSError:
            self._torn = True  # cannot tell or undo: start the next record on a line of its own

    # --- holding records while the disk refuses them ------------------------------------------

    def _hold(self, t: float, line: str, reason: str) -> None:
        self._held.append((t, line))
        self._trouble = reason

    def _catch_up(self, then: str) -> JournalNotice | None:
        """Write the held records (after a `journal_gap` record saying which), then the line
        `then`, if the disk takes them now; None if it still does not."""
        first, last = self._held[0][0], self._held[-1][0]
        lines = [line for _, line in self._held]
        at = 1 if record_type(json.loads(lines[0])) is HEADER_TYPE else 0  # header stays first
        gap = JournalGap(len(lines), first, last, self._trouble)
        lines.insert(at, _line(gap.record(first)))
        try:
            self._append("".join(lines) + then)
        except OSError as error:
            self._trouble = _reason(error)
            return None
        self._held.clear()
        self._announced = False
        return JournalNotice(
            f"the journal {self.path} is written again ({gap.held} records held back in "
            "memory are in it now); the session can be resumed again"
        )

    def _failed_notice(self) -> JournalNotice:
        return JournalNotice(
            f"cannot write the journal {self.path} ({self._trouble}): the session goes on; its "
            "records are kept in memory and written once the disk takes them, but until then "
            "it cannot be resumed after a crash",
            JOURNAL_NOT_SAVED,
        )


def _line(record: Mapping[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def make_header(
    *,
    protocol: Path,
    protocol_name: str,
    settings: Mapping[str, Any],
    prep: bool,
    mode: str,
    started: datetime | None = None,
    session_id: str | None = None,
    client: str | None = None,
) -> dict[str, Any]:
    """The first record of a journal: everything needed to rebuild the session by replay, and
    the client's name when the session has one."""
    started = (started or datetime.now().astimezone()).replace(microsecond=0)
    return {
        "t": 0.0,
        "type": str(HEADER_TYPE),
        "version": FORMAT_VERSION,
        "id": session_id or new_session_id(started),
        "started": started.isoformat(),
        "protocol": str(protocol),
        "protocol_name": protocol_name,
        "protocol_sha256": file_digest(protocol),
        "settings": dict(settings),
        "prep": prep,
        "mode": mode,
        **({"client": client} if client else {}),
    }


def new_session_id(started: datetime) -> str:
    return f"{started:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def file_digest(path: Path) -> str | None:
    try:
        with open(path, "rb") as handle:  # in chunks: the file is never read into memory whole
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a directory; the data itself is synced
    finally:
        os.close(fd)


# --- Where journals live -----------------------------------------------------------------------


def sessions_dir(environ: Mapping[str, str] | None = None) -> Path:
    """`$XDG_DATA_HOME/voice-guide/sessions`, or `~/.local/share/voice-guide/sessions`."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "share"
    return root / "voice-guide" / "sessions"


def new_journal_path(directory: Path, session_id: str) -> Path:
    return directory / f"{session_id}.jsonl"


# --- Reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Journal:
    """What a journal file holds: its header (None if unreadable) and the event records."""

    path: Path
    header: dict[str, Any] | None
    records: tuple[dict[str, Any], ...]
    warnings: tuple[str, ...] = field(default=())  # the skipped lines first, one each
    unreadable: int = 0  # lines that could not be read as records (skipped)

    @property
    def finished(self) -> bool:
        return any(record_type(record) is RecordType.END for record in self.records)

    @property
    def end_reason(self) -> EndReason | None:
        for record in reversed(self.records):
            if record_type(record) is RecordType.END:
                try:
                    return Ended.from_record(record).reason
                except ValueError:
                    return None
        return None

    @property
    def empty(self) -> bool:
        """Nothing worth resuming happened (see `nothing_happened`)."""
        return nothing_happened(self.records)

    @property
    def last_t(self) -> float:
        """The latest session time journaled: where a resumed session's clock carries on."""
        return max((float(record["t"]) for record in self.records), default=0.0)

    @property
    def session_id(self) -> str:
        return str((self.header or {}).get("id") or self.path.stem)

    @property
    def started(self) -> datetime | None:
        try:
            return datetime.fromisoformat(str((self.header or {})["started"]))
        except (KeyError, ValueError):
            return None


# A session younger than this in which no command was heard was only opened (see below).
EMPTY_SECONDS = 30.0


def nothing_happened(records: Iterable[Mapping[str, Any]]) -> bool:
    """True for a session that was only opened: no command heard, and no step started or less
    than `EMPTY_SECONDS` gone by (a `run --text </dev/null`, a start given up at once). It is
    not worth resuming: `run --resume` passes it by, and `history` leaves it out."""
    heard = stepped = False
    last_t = 0.0
    for record in records:
        kind = record_type(record)
        heard = heard or kind is RecordType.HEARD
        stepped = stepped or kind is RecordType.STEP
        last_t = max(last_t, float(record["t"]))
    return not heard and (not stepped or last_t < EMPTY_SECONDS)


# A 2-hour session journals about 4,000 records (a heartbeat every 2 s), well under 1 MB; a
# file many times that size is not a journal, and must not be read into memory whole.
MAX_JOURNAL_BYTES = 64 * 1024 * 1024


def read_limited(path: Path, limit: int, what: str) -> bytes:
    """The bytes of `path`, refusing a file over `limit` bytes (an OSError whose `strerror`
    says so, like any other read failure): a file named by mistake, a device or a runaway log
    must not fill memory. `what` names the kind of file in the message."""
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit // (1024 * 1024)} MB, too large for {what}",
                      str(path))
    return data


def read_journal(path: Path, *, warn: bool = True) -> Journal:
    """Read a journal, skipping (with a logged warning) every line that is not a whole record.

    Raises OSError only when the file itself cannot be opened (or is too large to be a journal).
    """
    header: dict[str, Any] | None = None
    records: list[dict[str, Any]] = []
    warnings: list[str] = []
    for record in _whole_records(path, warnings):
        if record_type(record) is HEADER_TYPE:
            if header is None:
                header = record
            continue
        records.append(record)
    skipped = len(warnings)
    if header is None:
        warnings.append(f"{path}: no session header; protocol and settings unknown")
    journal = Journal(path, header, tuple(records), tuple(warnings), skipped)
    if warn:
        for message in collapsed_warnings(journal):
            log.warning("warning: %s", message)  # the CLI's format adds "voice-guide: "
    return journal


def collapsed_warnings(journal: Journal, shown: int = 3) -> list[str]:
    """The journal's warnings to print: a file that is no journal at all (a WAV file named by
    mistake) in one line rather than one per line of it; else the first `shown` skipped lines,
    and how many more."""
    if journal.header is None and not journal.records:
        return [f"{journal.path}: {not_a_journal(journal)}"]
    skipped = list(journal.warnings[:journal.unreadable])
    rest = list(journal.warnings[journal.unreadable:])
    more = len(skipped) - shown
    if more > 1:
        skipped = [*skipped[:shown], f"{journal.path}: {more} more journal lines skipped"]
    return skipped + rest


def not_a_journal(journal: Journal) -> str:
    """ "not a session journal: 130 lines could not be read" (or: it is empty)."""
    lines = journal.unreadable
    if not lines:
        return "not a session journal: it is empty"
    return (f"not a session journal: {lines} line{'s' * (lines != 1)} could not be read as "
            "journal records")


def read_sessions(path: Path) -> list[Journal]:
    """Every session a file holds, in order: one for a journal; one per `session` header for a
    day's log (`simulate --serve`); one, with no header, for a `simulate` log without one.
    Lines that are not whole records are skipped with a logged warning, as `read_journal` does;
    raises OSError only when the file cannot be read."""
    warnings: list[str] = []
    sessions: list[Journal] = []
    header: dict[str, Any] | None = None
    records: list[dict[str, Any]] = []
    for record in _whole_records(path, warnings):
        if record_type(record) is HEADER_TYPE:
            if header is not None or records:
                sessions.append(Journal(path, header, tuple(records)))
            header, records = record, []
            continue
        records.append(record)
    if header is not None or records:
        sessions.append(Journal(path, header, tuple(records)))
    for message in warnings:
        log.warning("warning: %s", message)
    return sessions


def _whole_records(path: Path, warnings: list[str]) -> list[dict[str, Any]]:
    """The records of a journal file, each line that is not one noted in `warnings`."""
    data = read_limited(path, MAX_JOURNAL_BYTES, "a session journal")
    records: list[dict[str, Any]] = []
    lines = data.split(b"\n")
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        record, problem = _parse_line(raw)
        if record is None:
            torn = number == len(lines)  # no newline after it: the write in flight at a crash
            what = "truncated" if torn else "corrupt"
            warnings.append(f"{path}:{number}: skipped {what} journal line ({problem})")
            continue
        records.append(record)
    return records


def _parse_line(raw: bytes) -> tuple[dict[str, Any] | None, str]:
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return None, "not UTF-8"
    except json.JSONDecodeError as error:
        return None, f"not JSON: {error.msg}"
    if not isinstance(value, dict):
        return None, "not a JSON object"
    if not isinstance(value.get("type"), str):
        return None, "no 'type'"
    t = value.get("t")
    if isinstance(t, bool) or not isinstance(t, int | float):
        return None, "no numeric 't'"
    return value, ""


def list_journals(directory: Path) -> list[Journal]:
    """Every readable journal in `directory`, oldest first (by header start, then file name)."""
    journals = []
    for path in sorted(directory.glob("*.jsonl")) if directory.is_dir() else []:
        try:
            journals.append(read_journal(path, warn=False))
        except OSError as error:
            log.warning("warning: %s: cannot read (%s)", path, error.strerror)
    return sorted(journals, key=_journal_order)


def find_unfinished(directory: Path) -> Path | None:
    """The most recent journal in `directory` whose session has not ended, passing by those
    where nothing happened (`Journal.empty`)."""
    for journal in reversed(list_journals(directory)):
        if journal.header is not None and not journal.finished and not journal.empty:
            return journal.path
    return None


def _journal_order(journal: Journal) -> tuple[float, str]:
    started = journal.started
    return (started.timestamp() if started else 0.0, journal.path.name)


# --- Summary -----------------------------------------------------------------------------------


# What `summarize` reads, and what it leaves aside on purpose (every record's `t` still counts
# toward the total time). Together they are every record type (a test holds them to that).
SUMMARY_READS = frozenset({
    RecordType.STEP, RecordType.PAUSE, RecordType.RESUME, RecordType.REST, RecordType.FEEDBACK,
    RecordType.ENDED_EARLY, RecordType.END,
})
SUMMARY_IGNORES = frozenset({
    RecordType.SESSION,  # the header: protocol and settings, no time in a move
    # inputs: what they changed is in the session's own records that follow them
    RecordType.HEARD, RecordType.UNKNOWN, RecordType.SPOKEN,
    # said and decided, but no move started or stopped
    RecordType.SAY, RecordType.SILENCE, RecordType.PREP, RecordType.IGNORED,
    RecordType.UNCLEAR_ANSWER, RecordType.CONFIRM, RecordType.TIME_UP, RecordType.FOLLOW_UP,
    RecordType.CHECKIN,  # its answer is the `feedback` record
    RecordType.NOTE,  # the practitioner's words: in the report, not in the times
    # bookkeeping and the edges: nothing about the massage (a resumed session's clock carries
    # on from the journal's last record, so a stopped run leaves no gap to leave out)
    RecordType.CLOCK, RecordType.EXIT, RecordType.RESUME_SESSION, RecordType.JOURNAL_GAP,
    RecordType.AUDIO, RecordType.LISTENING, RecordType.MICROPHONE_LOST, RecordType.MICROPHONE_BACK,
    RecordType.ROUTE_FALLBACK, RecordType.UNDELIVERED,
})


def summarize(records: Iterable[Mapping[str, Any]]) -> Summary:
    """Fold the event records into a summary. Paused time is not counted as time in a step.
    A record whose fields cannot be read is left out (a summary never fails on a journal)."""
    per_step: dict[int, list[float]] = {}  # index -> [number, seconds]
    feedback: list[Feedback] = []
    current: int | None = None
    since: float | None = None  # session time the current step's running clock started
    paused = False
    last_t = 0.0
    finished = False
    end_reason: EndReason | None = None
    ended_early_at: int | None = None

    def bank(t: float) -> None:
        if current is not None and since is not None and not paused:
            per_step[current][1] += max(0.0, t - since)

    for record in records:
        t = float(record["t"])
        last_t = max(last_t, t)
        try:
            match record_type(record):
                case RecordType.STEP:
                    step = StepStarted.from_record(record)
                    bank(t)
                    current = step.index
                    per_step.setdefault(current, [float(step.number), 0.0])
                    since = t
                case RecordType.PAUSE:
                    bank(t)
                    paused, since = True, t
                case RecordType.RESUME:
                    if paused:
                        paused, since = False, t
                case RecordType.REST:
                    bank(t)
                    current = since = None
                case RecordType.FEEDBACK:
                    feedback.append(Feedback.from_record(record))
                case RecordType.ENDED_EARLY:
                    ended_early_at = EndedEarly.from_record(record).number or None
                case RecordType.END:
                    bank(t)
                    current = since = None
                    finished = True
                    end_reason = Ended.from_record(record).reason
                case _:
                    pass  # SUMMARY_IGNORES, or a type written by a newer version
        except (ValueError, TypeError):
            continue
    bank(last_t)
    steps = tuple(
        StepTime(index, int(number), seconds)
        for index, (number, seconds) in sorted(per_step.items())
    )
    return Summary(steps, last_t, tuple(feedback), finished, end_reason,
                   ended_early_at if end_reason is EndReason.ENDED else None)
