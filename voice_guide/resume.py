"""Rebuild an interrupted session from its journal, by replay.

The Session is a pure function of its call sequence, so replaying `start(0)` and every journaled
`heard` and `spoken` (a question finished playing) at its own `t`, then `tick(last_t)`, gives
back exactly the state it was in: the step, the time spent in it, pending check-ins and answer
windows, a pause, the rest period. The live loop then carries on with its clock starting at
`last_t`, so session time resumes where the journal stopped (at most the heartbeat interval is
lost).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voice_guide.events import Heard, RecordType, Spoken, record_type
from voice_guide.journal import Journal, file_digest
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
