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
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voice_guide.commands import Command
from voice_guide.events import Heard
from voice_guide.journal import Journal, file_digest
from voice_guide.protocol import Script
from voice_guide.session import Session, SessionSettings


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
        if record["type"] == "spoken":  # a question played: its answer window counts from here
            session.spoken(str(record.get("kind")), float(record["t"]))
            continue
        if record["type"] != "heard":
            continue
        heard = heard_from(record)
        if heard is None:
            print(
                f"voice-guide: warning: {journal.path}: skipped unknown command "
                f"{record.get('command')!r} at t={record['t']}",
                file=sys.stderr,
            )
            continue
        session.heard(heard, float(record["t"]))
        commands += 1
    last_t = journal.last_t
    session.tick(last_t)
    return Replayed(session, last_t, commands)


def settings_from(header: dict[str, Any]) -> SessionSettings:
    """SessionSettings from a journal header, ignoring fields this version does not know."""
    known = {f.name for f in dataclasses.fields(SessionSettings)}
    stored = header.get("settings") or {}
    return SessionSettings(**{k: v for k, v in stored.items() if k in known})


def heard_from(record: dict[str, Any]) -> Heard | None:
    try:
        command = Command(str(record.get("command")))
    except ValueError:
        return None
    t = float(record["t"])
    return Heard(
        command, str(record.get("phrase", command)), float(record.get("confidence", 1.0)), t, t
    )


def protocol_changed(journal: Journal) -> bool:
    """True when the protocol file is no longer the one the session was started with."""
    header = journal.header or {}
    stored = header.get("protocol_sha256")
    return bool(stored) and file_digest(Path(str(header.get("protocol")))) != stored
