"""Scripted sessions on a virtual clock: the `simulate --script` core.

A command script is a text file with one `SECONDS PHRASE` per line (`65 next`, `70 how long`),
`#` starting a comment, blank lines ignored. SECONDS is session time since the start: `65`,
`65.5`, or `1:05` / `1:01:05` for long sessions; the times must not go backwards. PHRASE is
whatever the practitioner (or the client) would say; it goes through the same vocabulary as the
recognizer (`voice_guide.commands.parse`), so a phrase that is not a command is logged as
`unknown` and does nothing. While a check-in waits for the client, the client's own words count
too ("a little deeper", "it's fine": `voice_guide.commands.client_answer`), and words that are
neither are reported to the practitioner (`Session.not_understood`).

`simulate` runs the live session's own `Guide` (`voice_guide.guide`) on a virtual clock
(`VirtualClock`: every timer is ticked at its own deadline), so each record carries the exact
time it happened, the log is the same on every run, and it is what `run --text` would journal for
the same lines typed at the same times, welcome and closing summary included; a session that has
not ended gets the `exit` record `run` writes when its input ends. Only the live loop's
heartbeats (`clock` records) are missing: they exist because a wall clock runs.
`voice_guide.simulate_audio` drives the same Guide on the same clock from a recording.

`simulate_day` (`simulate --serve`) runs the `serve` loop (`voice_guide.day.Day`) on the same
virtual clock: the script's times are the day's; nothing happens until "start session"; each
session's log opens with its own `session` header (its `started` is the wall clock at the
simulation's start plus the session's day time), its times are its own from 0, and the day's log
is every session's records in order.

After the last line (without `until`) the clock runs on through whatever the session still has
scheduled (the time-up cue, the answer window, the rest, auto-advance) until nothing more is
scheduled, the session ends, or it waits for a command (a move's time is up: only its time-based
check-ins would come, for ever); with `until` it runs to exactly that time, ignoring later lines.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voice_guide.guide import Guide, MemoryJournal, SilentSpeech, SpeechOutput
from voice_guide.journal import make_header
from voice_guide.loop import StopReason
from voice_guide.protocol import Script
from voice_guide.session import Session, SessionSettings

Record = dict[str, Any]

# A session of a few dozen steps has at most a few hundred timers; this only stops a bug from
# turning into an endless loop.
_MAX_TICKS = 1_000_000


@dataclass(frozen=True)
class ScriptedPhrase:
    """One line of a command script: say `phrase` at session time `t` (seconds)."""

    t: float
    phrase: str
    line: int


class CommandScriptError(ValueError):
    """A command script line is wrong; the message names the file and line."""


# A command script is a few lines of text; a bigger file was named by mistake (a recording, a
# device) and is not read into memory.
MAX_SCRIPT_BYTES = 1_000_000

if TYPE_CHECKING:
    from voice_guide.day import Day


def simulate(
    script: Script,
    phrases: Sequence[ScriptedPhrase],
    *,
    settings: SessionSettings | None = None,
    prep: bool = False,
    until: float | None = None,
    client: str | None = None,
) -> list[Record]:
    """Run a session through `phrases` on a virtual clock starting at 0; the event log. With a
    `client`, the log opens with a `session` header naming them (a simulation reads no past
    sessions: no recap)."""
    settings = settings or SessionSettings()
    journal = MemoryJournal()
    if client:
        journal.write(simulated_header(script, settings, prep, client, datetime.now(), 1))
    guide = Guide(Session(script, settings), journal, SilentSpeech())
    clock = VirtualClock(guide)
    guide.open(0.0, prep=prep)
    for item in phrases:
        if until is not None and item.t > until:
            break
        clock.advance(item.t)
        if settings.auto and guide.ended:
            # With --auto the session runs to its end by itself, so lines still to come are
            # those of a script timed for moving on by voice: after `end` they are not logged
            # (the live guide does not journal them either). Without --auto a line after an
            # `end` the script itself asked for is logged: heard, nothing happens.
            break
        guide.phrase(item.phrase, item.t)
    clock.finish(until)
    return journal.records


@dataclass
class VirtualClock:
    """Drives `guide` on virtual time: `advance` ticks the session at each of its deadlines, in
    order, each at its own time; `now` is the latest time reached (an input's, or a deadline's)."""

    guide: Guide
    now: float = 0.0

    def advance(self, to: float | None) -> None:
        """Tick every deadline up to `to`. None: while any remain, except that a move whose time
        is up waits for the practitioner (only its time-based check-ins would come, for ever)."""
        session = self.guide.session
        for _ in range(_MAX_TICKS):
            deadline = session.next_deadline()
            if deadline is None or (to is not None and deadline > to):
                break
            if to is None and _waits_for_a_command(session, self.now):
                break
            self.guide.tick(deadline)
            self.now = deadline
        else:
            raise RuntimeError("simulate: the session kept scheduling timers without end")
        if to is not None:
            self.now = max(self.now, float(to))

    def finish(self, until: float | None) -> None:
        """After the last input: on through what the session still does by itself (to exactly
        `until` when given), then the end of input, as `run` journals it."""
        self.advance(until)
        if until is not None:
            self.guide.tick(until)  # nothing is due: keeps the session's clock at `until`
        self.guide.close(self.now, StopReason.INPUT_ENDED.journal_reason)


def simulate_day(
    script: Script,
    phrases: Sequence[ScriptedPhrase],
    *,
    settings: SessionSettings | None = None,
    prep: bool = False,
    until: float | None = None,
    client: str | None = None,
) -> list[Record]:
    """The `serve` loop through `phrases` on a virtual clock (day time from 0); the day's log."""
    records: list[Record] = []
    day = simulated_day(script, records, SilentSpeech(), settings=settings, prep=prep,
                        client=client)
    clock = VirtualDayClock(day)
    day.begin(0.0)
    for item in phrases:
        if until is not None and item.t > until:
            break
        clock.advance(item.t)
        day.phrase(item.phrase, item.t)
    clock.finish(until)
    return records


def simulated_day(
    script: Script, records: list[Record], speech: SpeechOutput, *,
    settings: SessionSettings | None, prep: bool, client: str | None,
) -> Day:
    """A `Day` whose sessions write their logs, each after its own header, into `records`."""
    from voice_guide.day import Day, Opening

    settings = settings or SessionSettings()
    opened = datetime.now()
    day: Day

    def new_session(now: float) -> Opening:
        started = opened + timedelta(seconds=now)
        journal = MemoryJournal(records)
        journal.write(simulated_header(script, settings, prep, client, started,
                                       day.sessions + 1))
        return Opening(Guide(Session(script, settings), journal, speech), prep=prep)

    day = Day(new_session, speech)
    return day


def simulated_header(
    script: Script, settings: SessionSettings, prep: bool, client: str | None,
    started: datetime, number: int,
) -> Record:
    """A simulated session's `session` header (`run`'s, with mode "simulate")."""
    started = started.astimezone().replace(microsecond=0)
    return make_header(
        protocol=Path(script.source or "protocol.yaml").resolve(), protocol_name=script.name,
        settings=dataclasses.asdict(settings), prep=prep, mode="simulate", started=started,
        session_id=f"{started:%Y%m%d-%H%M%S}-sim{number}", client=client,
    )


@dataclass
class VirtualDayClock:
    """`VirtualClock` for a day: ticks the session running now at each of its deadlines (in
    its own time) and closes it when it ends by itself (the rest over)."""

    day: Day
    now: float = 0.0

    def advance(self, to: float | None) -> None:
        guide = self.day.guide
        if guide is not None:
            offset = self.day.offset
            clock = VirtualClock(guide, max(0.0, self.now - offset))
            clock.advance(None if to is None else to - offset)
            self.now = max(self.now, clock.now + offset)
            self.day.settle(self.now)
        if to is not None:
            self.now = max(self.now, float(to))

    def finish(self, until: float | None) -> None:
        """After the last input: on through what the session running still does by itself,
        then the end of input (a session still running gets its `exit` record)."""
        self.advance(until)
        if until is not None and self.day.guide is not None:
            self.day.tick(until)
        self.day.close(self.now, StopReason.INPUT_ENDED.journal_reason)


def load_command_script(path: Path | str) -> list[ScriptedPhrase]:
    """Read and check a command script file. Raises `CommandScriptError` (file:line: what)."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            data = file.read(MAX_SCRIPT_BYTES + 1)
    except FileNotFoundError:
        raise CommandScriptError(f"{path}: no such file") from None
    except OSError as error:
        raise CommandScriptError(f"{path}: cannot read: {error.strerror or error}") from None
    if data.startswith(b"RIFF"):
        raise CommandScriptError(f"{path}: a WAV recording, not a command script (a recording "
                                 "drives the session with --audio FILE.wav)")
    if len(data) > MAX_SCRIPT_BYTES:
        raise CommandScriptError(f"{path}: larger than {MAX_SCRIPT_BYTES // 1_000_000} MB, too "
                                 "large for a command script (text, one 'SECONDS PHRASE' a line)")
    body = data.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte order mark is no phrase
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        line = body.count(b"\n", 0, error.start) + 1
        column = error.start - (body.rfind(b"\n", 0, error.start) + 1) + 1
        raise CommandScriptError(
            f"{path}:{line}: not UTF-8 text: byte 0x{body[error.start]:02x} (byte {column} of "
            "the line) is not valid UTF-8; a command script is text, one 'SECONDS PHRASE' a "
            "line") from None
    return parse_command_script(text, source=str(path))


def parse_command_script(text: str, source: str = "<script>") -> list[ScriptedPhrase]:
    """The lines of a command script, checked; `source` names it in error messages."""
    phrases: list[ScriptedPhrase] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{source}:{number}"
        parts = line.split(None, 1)
        if len(parts) < 2:
            raise CommandScriptError(
                f"{where}: expected 'SECONDS PHRASE' (e.g. '65 next'), got {line!r}"
            )
        t = parse_seconds(parts[0])
        if t is None:
            raise CommandScriptError(
                f"{where}: {parts[0]!r} is not a time; expected seconds since the start "
                "(65, 65.5 or 1:05)"
            )
        if phrases and t < phrases[-1].t:
            raise CommandScriptError(
                f"{where}: time {parts[0]} is earlier than the line before "
                f"({phrases[-1].t:g} s); times are seconds since the start, in order"
            )
        phrases.append(ScriptedPhrase(t, parts[1].strip(), number))
    return phrases


def parse_seconds(text: str) -> float | None:
    """`65`, `65.5`, `1:05` or `1:01:05` as seconds; None if it is none of those."""
    match = _TIME.match(text)
    if match is None:
        return None
    hours, minutes, seconds = match.group("h"), match.group("m"), match.group("s")
    if minutes is not None and float(seconds) >= 60:
        return None
    if hours is not None and int(minutes) >= 60:
        return None
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds)


_TIME = re.compile(r"^(?:(?:(?P<h>\d+):)?(?P<m>\d+):)?(?P<s>\d+(?:\.\d+)?)$")


def _waits_for_a_command(session: Session, t: float) -> bool:
    """A move's time is up and nothing but the practitioner can move the session on."""
    status = session.status(t)
    return status.phase == "steps" and status.seconds_left_in_step <= 0 and not status.awaiting
