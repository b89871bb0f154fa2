"""The session report: what a practitioner files after a session, read from its journal alone.

`session_report(journal)` folds one session's records into a `SessionReport`: the date, client,
protocol, duration, the moves done and skipped, every pressure check-in with its answer and the
move it was asked in, and the notes with their moves. `markdown(reports)` and `html(reports)`
render them; the HTML prints one page per session. Any journal works, a `simulate` log saved to
a file too (`journal.read_sessions` splits a day's log at each `session` header). The protocol
named in the header, when it can still be read, gives the moves' titles and how many there are;
without it the report says numbers only.
"""

from __future__ import annotations

import html as html_text
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from voice_guide.commands import Command
from voice_guide.events import (
    CheckInReason,
    Feedback,
    NoteTaken,
    RecordType,
    StepStarted,
    record_type,
)
from voice_guide.journal import Journal, summarize
from voice_guide.prompts import clock, count
from voice_guide.protocol import ProtocolError, Script, load


@dataclass(frozen=True)
class CheckInAnswer:
    """A pressure check-in: asked about move `index` (of step `number`), and its answer (None:
    no answer)."""

    index: int
    number: int
    reason: str
    answer: str | None
    t: float


@dataclass(frozen=True)
class SessionReport:
    session_id: str
    path: Path
    client: str | None
    started: datetime | None
    protocol: str
    seconds: float
    state: str  # "completed", "ended early at step N", "ended", "unfinished"
    total_moves: int | None  # None: the protocol cannot be read any more
    done: tuple[int, ...]  # move indexes worked (left by next, time or the end)
    skipped: tuple[int, ...]  # move indexes left by "skip" (and not worked later)
    numbers: Mapping[int, int]  # move index -> step number
    titles: Mapping[int, str]  # move index -> step title (when the protocol can be read)
    checkins: tuple[CheckInAnswer, ...]
    notes: tuple[NoteTaken, ...]

    def move(self, index: int) -> str:
        """"move 7 (step 5: Effleurage)"."""
        title = self.titles.get(index)
        number = self.numbers.get(index)
        step = f"step {number}: {title}" if title else f"step {number}" if number else ""
        return f"move {index} ({step})" if step else f"move {index}"

    def note_place(self, note: NoteTaken) -> str:
        if note.phase == "prep":
            return "preparation"
        if note.phase == "rest":
            return "rest"
        return self.move(note.index)


def session_report(journal: Journal) -> SessionReport:
    """One session's report, from its header and records."""
    header = journal.header or {}
    records = journal.records
    summary = summarize(records)
    script = _protocol_of(header)
    numbers: dict[int, int] = {}
    titles: dict[int, str] = {}
    if script is not None:
        numbers = {step.index: step.number for step in script.steps}
        titles = {step.index: step.title for step in script.steps}
    done, skipped = _moves(records, numbers)
    if summary.ended_early_at is not None:
        state = f"ended early at step {summary.ended_early_at}"
    elif summary.finished:
        state = "completed" if summary.end_reason == "completed" else "ended"
    else:
        state = "unfinished"
    started = journal.started if journal.header is not None else None
    client = header.get("client")
    return SessionReport(
        session_id=journal.session_id if journal.header is not None else journal.path.stem,
        path=journal.path,
        client=str(client) if client else None,
        started=started,
        protocol=str(header.get("protocol_name") or (script.name if script else "unknown")),
        seconds=summary.total_seconds,
        state=state,
        total_moves=len(script.steps) if script is not None else None,
        done=done,
        skipped=skipped,
        numbers=numbers,
        titles=titles,
        checkins=_checkins(records, numbers),
        notes=tuple(_notes(records)),
    )


# --- Markdown ------------------------------------------------------------------------------------


def markdown(reports: Sequence[SessionReport]) -> str:
    """The reports as Markdown, one section per session."""
    return "\n\n".join(_markdown_one(report) for report in reports) + "\n"


def _markdown_one(report: SessionReport) -> str:
    lines = [f"# Session {_date(report.started)}" + (f" - {report.client}" if report.client
                                                       else ""), ""]
    lines += [f"- **{label}:** {value}" for label, value in _facts(report)]
    lines += ["", "## Moves", ""]
    lines += [f"- {label}: {value}" for label, value in _moves_lines(report)]
    lines += ["", "## Pressure check-ins", ""]
    if report.checkins:
        lines += ["| move | asked | answer |", "| --- | --- | --- |"]
        lines += [f"| {report.move(c.index)} | {_asked(c)} | {c.answer or 'no answer'} |"
                  for c in report.checkins]
    else:
        lines.append("None asked.")
    lines += ["", "## Notes", ""]
    if report.notes:
        lines += [f"- {report.note_place(n)}: {n.text}" for n in report.notes]
    else:
        lines.append("None.")
    return "\n".join(lines)


# --- HTML ----------------------------------------------------------------------------------------


def html(reports: Sequence[SessionReport]) -> str:
    """The reports as one HTML page that prints one page per session."""
    body = "\n".join(_html_one(report) for report in reports)
    return _HTML_PAGE.format(title=_escape(_title(reports)), style=_STYLE, body=body)


def _html_one(report: SessionReport) -> str:
    heading = f"Session {_date(report.started)}"
    facts = "".join(f"<tr><th>{_escape(label)}</th><td>{_escape(value)}</td></tr>"
                    for label, value in _facts(report))
    moves = "".join(f"<tr><th>{_escape(label)}</th><td>{_escape(value)}</td></tr>"
                    for label, value in _moves_lines(report))
    if report.checkins:
        rows = "".join(
            f"<tr><td>{_escape(report.move(c.index))}</td><td>{_escape(_asked(c))}</td>"
            f"<td class=\"answer\">{_escape(c.answer or 'no answer')}</td></tr>"
            for c in report.checkins)
        checkins = ("<table class=\"list\"><thead><tr><th>move</th><th>asked</th>"
                    f"<th>answer</th></tr></thead><tbody>{rows}</tbody></table>")
    else:
        checkins = "<p>None asked.</p>"
    if report.notes:
        items = "".join(f"<li><span class=\"where\">{_escape(report.note_place(n))}</span> "
                        f"{_escape(n.text)}</li>" for n in report.notes)
        notes = f"<ul class=\"notes\">{items}</ul>"
    else:
        notes = "<p>None.</p>"
    client = f" <span class=\"client\">{_escape(report.client)}</span>" if report.client else ""
    return (f"<section class=\"session\"><h1>{_escape(heading)}{client}</h1>"
            f"<table class=\"facts\">{facts}</table>"
            f"<h2>Moves</h2><table class=\"facts\">{moves}</table>"
            f"<h2>Pressure check-ins</h2>{checkins}"
            f"<h2>Notes</h2>{notes}</section>")


_HTML_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
{body}
</body>
</html>
"""

# One page per session when printed (A4 or Letter): a page break after each session, and
# nothing inside one that may be split across pages.
_STYLE = """
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 11pt; color: #111;
       margin: 2em auto; max-width: 46em; }
section.session { break-after: page; page-break-after: always; }
section.session:last-child { break-after: auto; page-break-after: auto; }
section.session + section.session { margin-top: 3em; }
h1 { font-size: 17pt; margin: 0 0 0.5em; border-bottom: 2px solid #333; padding-bottom: 0.2em; }
h1 .client { font-weight: normal; color: #444; }
h2 { font-size: 12.5pt; margin: 1.1em 0 0.4em; }
table { border-collapse: collapse; width: 100%; }
table.facts th { text-align: left; width: 9em; font-weight: 600; vertical-align: top; }
table.facts th, table.facts td { padding: 0.15em 0.4em 0.15em 0; }
table.list th, table.list td { border-bottom: 1px solid #ccc; padding: 0.25em 0.4em;
                               text-align: left; }
table.list th { border-bottom: 1.5px solid #333; }
td.answer { font-weight: 600; }
ul.notes { padding-left: 1.2em; margin: 0; }
ul.notes li { margin: 0.25em 0; }
ul.notes .where { color: #555; }
ul.notes .where::after { content: ":"; }
tr, li { break-inside: avoid; page-break-inside: avoid; }
@page { size: auto; margin: 16mm; }
@media print { body { margin: 0; max-width: none; }
               section.session + section.session { margin-top: 0; } }
"""


# --- What both formats say ---------------------------------------------------------------------


def _facts(report: SessionReport) -> list[tuple[str, str]]:
    return [
        ("Date", _date(report.started, long=True)),
        ("Client", report.client or "none given"),
        ("Protocol", report.protocol),
        ("Duration", f"{clock(report.seconds)} ({report.state})"),
    ]


def _moves_lines(report: SessionReport) -> list[tuple[str, str]]:
    total = f" of {report.total_moves}" if report.total_moves is not None else ""
    lines = [("Done", f"{len(report.done)}{total}: {_ranges(report.done, report)}"
              if report.done else f"none{total}")]
    skipped = (", ".join(report.move(i) for i in report.skipped) if report.skipped
               else "none")
    lines.append(("Skipped", skipped))
    if report.total_moves is not None:
        reached = set(report.done) | set(report.skipped)
        left = [i for i in range(1, report.total_moves + 1) if i not in reached]
        if left:
            lines.append(("Not reached", _ranges(tuple(left), report)))
    return lines


def _ranges(indexes: tuple[int, ...], report: SessionReport) -> str:
    """"moves 1-5, 7-34 (steps 1-22)"."""
    numbers = sorted({report.numbers[i] for i in indexes if i in report.numbers})
    moves = f"{'move' if len(indexes) == 1 else 'moves'} {_spans(indexes)}"
    if not numbers:
        return moves
    return f"{moves} ({'step' if len(numbers) == 1 else 'steps'} {_spans(tuple(numbers))})"


def _spans(numbers: tuple[int, ...]) -> str:
    """"1-5, 7, 9-12"."""
    spans: list[list[int]] = []
    for number in sorted(numbers):
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in spans)


def _asked(checkin: CheckInAnswer) -> str:
    when = "after the move" if checkin.reason == CheckInReason.STEP else "during the move"
    return f"{clock(checkin.t)} into the session, {when}"


def _date(started: datetime | None, *, long: bool = False) -> str:
    if started is None:
        return "date unknown"
    if long:
        return f"{started:%A} {started.day} {started:%B %Y}, {started:%H:%M}"
    return f"{started:%Y-%m-%d %H:%M}"


def _title(reports: Sequence[SessionReport]) -> str:
    clients = sorted({r.client for r in reports if r.client})
    who = f" - {', '.join(clients)}" if clients else ""
    return f"{count(len(reports), 'session')}{who}"


def _escape(text: str) -> str:
    return html_text.escape(text, quote=True)


# --- Reading the records -------------------------------------------------------------------------


def _moves(records: Iterable[Mapping[str, Any]], numbers: dict[int, int]
           ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(moves done, moves skipped). A move is done once it is left forward by "next", by its
    time (`--auto`), by the rest or by an early end, and skipped when left by "skip" and never
    done; a move only gone back from is neither (nothing says it was worked). The move an
    unfinished session stopped in is done so far."""
    done: set[int] = set()
    skipped: set[int] = set()
    current: int | None = None
    last_command: str | None = None

    def leave(forward: bool) -> None:
        if current is not None and forward:
            (skipped if last_command == Command.SKIP else done).add(current)

    for record in records:
        try:
            match record_type(record):
                case RecordType.HEARD:
                    last_command = str(record.get("command"))
                case RecordType.STEP:
                    step = StepStarted.from_record(record)
                    numbers.setdefault(step.index, step.number)
                    leave(current is not None and step.index > current)
                    current, last_command = step.index, None
                case RecordType.ENDED_EARLY:  # ended while working this move
                    if current is not None:
                        done.add(current)
                    current = None
                case RecordType.REST | RecordType.END:
                    leave(True)
                    current = None
        except (ValueError, TypeError):
            continue
    if current is not None:
        done.add(current)
    return tuple(sorted(done)), tuple(sorted(skipped - done))


def _checkins(records: Iterable[Mapping[str, Any]], numbers: Mapping[int, int]
              ) -> tuple[CheckInAnswer, ...]:
    """Each check-in with its answer: the `feedback` record that closes it."""
    answers: list[CheckInAnswer] = []
    open_: tuple[float, int, str] | None = None  # (t, index, reason)
    for record in records:
        try:
            match record_type(record):
                case RecordType.CHECKIN:
                    reason = str(record.get("reason", CheckInReason.STEP))
                    open_ = (float(record["t"]), int(record["index"]), reason)
                case RecordType.FEEDBACK:
                    feedback = Feedback.from_record(record)
                    t, index, reason = open_ or (float(record["t"]), feedback.index, "step")
                    answer = (f"{feedback.answer} (unconfirmed)" if feedback.unconfirmed
                              else feedback.answer)
                    answers.append(CheckInAnswer(index, numbers.get(index, 0), reason, answer, t))
                    open_ = None
        except (ValueError, TypeError, KeyError):
            continue
    return tuple(answers)


def _notes(records: Iterable[Mapping[str, Any]]) -> list[NoteTaken]:
    notes = []
    for record in records:
        if record_type(record) is RecordType.NOTE:
            try:
                notes.append(NoteTaken.from_record(record))
            except (ValueError, TypeError):
                continue
    return notes


def _protocol_of(header: Mapping[str, Any]) -> Script | None:
    path = header.get("protocol")
    if not path:
        return None
    try:
        return load(Path(str(path)))
    except (ProtocolError, OSError):
        return None

