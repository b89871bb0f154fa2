"""Clients: who a session was with, and an index over the journals that answers for them.

A client is per session (`run --client NAME`): the name is kept in the journal's `session`
header, and the journals stay the record of truth. `ClientIndex` is a small SQLite file next to
them (`clients.sqlite` in the sessions folder), refreshed from the journals whenever it is
opened (a journal new, changed or gone since is read again) and rebuilt whole if it cannot be
read; it answers `clients`, `history --client`, `report --client` and the recap said at the
start of a session with a client seen before (`recap_for`).

Client data is health information: the folder is made readable by the user only (0700), the
index and the journals 0600, nothing leaves the machine, and `forget` removes a client's
journals (their notes are in them) and index rows, then rewrites the index file so that no
deleted row is left in its free pages.

Names are matched without regard to case or surrounding spaces ("Anna" is "anna").
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from voice_guide.journal import Journal, list_journals, read_journal
from voice_guide.prompts import recap_text
from voice_guide.report import SessionReport, session_report

log = logging.getLogger(__name__)

INDEX_NAME = "clients.sqlite"
MAX_NAME = 80


class ClientError(ValueError):
    """A client name that cannot be used; the message says why."""


@dataclass(frozen=True)
class ClientSummary:
    name: str  # as typed for the latest session
    sessions: int
    last: datetime | None


@dataclass(frozen=True)
class Forgotten:
    """What `forget` removed."""

    name: str
    journals: tuple[Path, ...]
    notes: int
    index_rows: int


def check_name(name: str) -> str:
    """The client's name, stripped; ClientError for one that cannot be a name."""
    cleaned = " ".join(name.split())
    if not cleaned:
        raise ClientError("--client: the name is empty")
    if len(cleaned) > MAX_NAME:
        raise ClientError(f"--client: the name is longer than {MAX_NAME} characters")
    if any(not ch.isprintable() for ch in cleaned):
        raise ClientError("--client: the name has a control character")
    return cleaned


def client_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def private_folder(directory: Path) -> None:
    """Make `directory` (and its missing parents) and leave it readable by the user only."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)


def recap_for(directory: Path, name: str, now: datetime | None = None) -> str:
    """What the practitioner hears at the start of a session with `name`: the last session with
    them (when, the pressure asked for and during which move, its notes); "" for a client not
    seen before (or when there are no journals at all)."""
    if not directory.is_dir():
        return ""
    with ClientIndex.open(directory) as index:
        last = index.last_session(name)
    if last is None:
        return ""
    report = session_report(last)
    changes = [(c.answer, report.move(c.index)) for c in report.checkins
               if c.answer in ("lighter", "deeper")]
    good = any(c.answer == "good" for c in report.checkins)
    notes = [(report.note_place(n), n.text) for n in report.notes]
    return recap_text(name, report.started, now or datetime.now().astimezone(), changes, good,
                      notes)


class ClientIndex:
    """The SQLite index of the journals in one folder (see the module's text)."""

    def __init__(self, directory: Path, connection: sqlite3.Connection) -> None:
        self.directory = directory
        self.path = directory / INDEX_NAME
        self._db = connection

    @classmethod
    @contextmanager
    def open(cls, directory: Path) -> Iterator[ClientIndex]:
        """The index of `directory`'s journals, brought up to date with them."""
        private_folder(directory)
        path = directory / INDEX_NAME
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # SQLite copies its mode
        os.chmod(path, 0o600)  # to its own temporary files
        try:
            db = sqlite3.connect(path)
            _schema(db)
        except sqlite3.DatabaseError as error:  # not an index (any more): make it again
            log.warning("warning: %s: %s; rebuilding it from the journals", path, error)
            path.unlink()
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
            db = sqlite3.connect(path)
            _schema(db)
        index = cls(directory, db)
        try:
            index.refresh()
            yield index
        finally:
            db.close()

    def refresh(self) -> None:
        """Read again every journal that is new or changed since it was indexed; drop the rows
        of journals that are gone."""
        known = {row[0]: (row[1], row[2]) for row in
                 self._db.execute("SELECT path, mtime_ns, size FROM sessions")}
        present: set[str] = set()
        for path in sorted(self.directory.glob("*.jsonl")):
            try:
                stat = path.stat()
            except OSError:
                continue
            present.add(str(path))
            if known.get(str(path)) == (stat.st_mtime_ns, stat.st_size):
                continue
            try:
                journal = read_journal(path, warn=False)
            except OSError as error:
                log.warning("warning: %s: cannot read (%s)", path, error.strerror)
                continue
            self._index(journal, stat.st_mtime_ns, stat.st_size)
        for gone in set(known) - present:
            self._db.execute("DELETE FROM sessions WHERE path = ?", (gone,))
        self._db.commit()

    def clients(self) -> list[ClientSummary]:
        rows = self._db.execute(
            "SELECT client_key, COUNT(*), MAX(started) FROM sessions WHERE client_key != '' "
            "GROUP BY client_key ORDER BY client_key").fetchall()
        summaries = []
        for key, sessions, last in rows:
            name = self._db.execute(
                "SELECT client FROM sessions WHERE client_key = ? ORDER BY started DESC LIMIT 1",
                (key,)).fetchone()[0]
            summaries.append(ClientSummary(name, int(sessions), _datetime(last)))
        return summaries

    def journals(self, name: str) -> list[Path]:
        """The journals of `name`'s sessions, oldest first."""
        rows = self._db.execute(
            "SELECT path FROM sessions WHERE client_key = ? ORDER BY started, path",
            (client_key(name),))
        return [Path(row[0]) for row in rows]

    def last_session(self, name: str) -> Journal | None:
        """`name`'s latest session that has a journal still readable; None if none."""
        for path in reversed(self.journals(name)):
            try:
                return read_journal(path, warn=False)
            except OSError:
                continue
        return None

    def forget(self, name: str) -> Forgotten:
        """Remove every journal of `name` and their index rows; rewrite the index file."""
        key = client_key(name)
        paths = self.journals(name)
        notes = self._db.execute(
            "SELECT COALESCE(SUM(notes), 0) FROM sessions WHERE client_key = ?",
            (key,)).fetchone()[0]
        removed: list[Path] = []
        for path in paths:
            try:
                path.unlink()
                removed.append(path)
            except FileNotFoundError:
                removed.append(path)
            except OSError as error:
                log.warning("warning: %s: cannot remove (%s)", path, error.strerror)
        rows = sum(self._db.execute("DELETE FROM sessions WHERE path = ?", (str(path),)).rowcount
                   for path in removed)
        self._db.commit()
        # Deleted rows stay in the file's free pages until it is rewritten.
        self._db.execute("VACUUM")
        return Forgotten(name, tuple(removed), int(notes), rows)

    def _index(self, journal: Journal, mtime_ns: int, size: int) -> None:
        header = journal.header or {}
        client = str(header.get("client") or "")
        report: SessionReport = session_report(journal)
        self._db.execute(
            "INSERT OR REPLACE INTO sessions (path, id, client, client_key, started, protocol, "
            "seconds, state, notes, mtime_ns, size) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (str(journal.path), journal.session_id, client, client_key(client),
             header.get("started"), report.protocol, report.seconds, report.state,
             len(report.notes), mtime_ns, size))


def _schema(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA secure_delete = ON")  # deleted rows are overwritten, not just unlinked
    db.execute(
        "CREATE TABLE IF NOT EXISTS sessions (path TEXT PRIMARY KEY, id TEXT, client TEXT, "
        "client_key TEXT, started TEXT, protocol TEXT, seconds REAL, state TEXT, notes INTEGER, "
        "mtime_ns INTEGER, size INTEGER)")
    db.execute("CREATE INDEX IF NOT EXISTS by_client ON sessions (client_key, started)")
    db.commit()


def _datetime(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def client_sessions(directory: Path, name: str) -> list[Journal]:
    """`name`'s sessions, oldest first (for `history --client` and `report --client`)."""
    if not directory.is_dir():
        return []
    with ClientIndex.open(directory) as index:
        paths = set(index.journals(name))
    return [j for j in list_journals(directory) if j.path in paths]
