"""Rebuild an interrupted session from its journal, by replay; or give it up (`discard`).

The Session is a pure function of its call sequence, so replaying `start(0)` and every journaled
`heard` and `spoken` (a question finished playing) at its own `t`, then `tick(last_t)`, gives
back exactly the state it was in: the step, the time spent in it, pending check-ins and answer
windows, a pause, the rest period. The live loop then carries on with its clock starting at
`last_t`, so session time resumes where the journal stopped (at most the heartbeat interval is
lost).

A session that cannot be resumed (its protocol file deleted, say) is given up with `discard`:
an `end` record with reason `discarded` closes its journal, which is kept (`history` lists it),
and `run --resume` never offers it again. `resume_command` and `discard_command` are the
command lines to say to the user for one journal.
"""

from __future__ import annotations

import dataclasses
import logging
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voice_guide.events import Ended, EndReason, Heard, RecordType, Spoken, record_type
from voice_guide.journal import (
    Journal,
    JournalWriter,
    file_digest,
    find_unfinished,
    not_a_journal,
    read_journal,
    sessions_dir,
)
from voice_guide.protocol import Script
from voice_guide.session import Session, SessionSettings

log = logging.getLogger(__name__)


class ResumeError(Exception):
    """A journal that cannot be resumed; the message says which and why."""


@dataclass(frozen=True)
class Replayed:
    session: Session
    last_t: float
    commands: int  # heard records replayed


def replay(script: Script, journal: Journal) -> Replayed:
    """The session as it stood at the journal's last record."""
    if journal.header is None:
        raise ResumeError(f"{journal.path}: no readable session header, cannot resume")
    if journal.finished:
        raise ResumeError(f"{journal.path}: that session has already ended")
    session = Session(script, settings_from(journal.header))
    session.start(float(journal.header.get("t", 0.0)), prep=bool(journal.header.get("prep")))
    commands = 0
    for record in journal.records:
        t = float(record["t"])
        match record_type(record):
            case RecordType.SPOKEN:  # a question played: its answer window counts from here
                try:
                    session.spoken(Spoken.from_record(record).kind, t)
                except ValueError:
                    log.warning("warning: %s: skipped a spoken record of unknown kind %r at t=%s",
                                journal.path, record.get("kind"), record["t"])
            case RecordType.HEARD:
                try:
                    heard = Heard.from_record(record)
                except ValueError:
                    log.warning("warning: %s: skipped unknown command %r at t=%s", journal.path,
                                record.get("command"), record["t"])
                    continue
                session.heard(heard, t)
                commands += 1
            case _:
                pass  # the session's own actions follow from these inputs; the rest is notes
    last_t = journal.last_t
    session.tick(last_t)
    return Replayed(session, last_t, commands)


def settings_from(header: dict[str, Any]) -> SessionSettings:
    """SessionSettings from a journal header, ignoring fields this version does not know."""
    known = {f.name for f in dataclasses.fields(SessionSettings)}
    stored = header.get("settings") or {}
    return SessionSettings(**{k: v for k, v in stored.items() if k in known})


def protocol_changed(journal: Journal) -> bool:
    """True when the protocol file is no longer the one the session was started with."""
    header = journal.header or {}
    stored = header.get("protocol_sha256")
    return bool(stored) and file_digest(Path(str(header.get("protocol")))) != stored


def discard(path: Path) -> Journal:
    """Give up the unfinished session of the journal `path`: an `end` record with reason
    `discarded`, at its last time. ResumeError when it is no session journal or has ended;
    `journal.JournalBusy` while a run still holds it; OSError when it cannot be read or
    written."""
    journal = read_journal(path, warn=False)
    if journal.header is None:
        raise ResumeError(f"{path}: {not_a_journal(journal)}" if not journal.records
                          else f"{path}: no readable session header; not discarded")
    if journal.finished:
        raise ResumeError(f"{path}: that session has already ended")
    writer = JournalWriter.reopen(path)
    writer.write(Ended(EndReason.DISCARDED).record(journal.last_t))
    notice = writer.close()
    if notice is not None:  # the disk refused the record: still unfinished
        raise OSError(notice.line)
    return journal


def resume_command(path: Path) -> str:
    """The command that carries on the session of `path`: `--journal` only when `run --resume`
    alone would pick another one."""
    return _command("--resume", path)


def discard_command(path: Path) -> str:
    """The command that gives up the session of `path` (see `resume_command`)."""
    return _command("--discard", path)


def _command(option: str, path: Path) -> str:
    found = find_unfinished(sessions_dir())
    same = found is not None and found.resolve() == path.resolve()
    return f"voice-guide run {option}" + ("" if same else f" --journal {shlex.quote(str(path))}")
