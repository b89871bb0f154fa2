"""`voice-guide report [JOURNAL ...] [--last] [--client NAME] [--format md|html] [--out FILE]`:
the session report a practitioner files (`voice_guide.report`).

Which sessions: the JOURNAL files named (a journal, or a `simulate` log saved to a file: a day's
log holds one session per `session` header); `--client NAME`: that client's sessions; `--last`:
only the latest of those (of every session when nothing else is named). With none of these,
the last session. Markdown on stdout by default; `--out FILE` writes the file (readable by the
user only: a report is health information).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from voice_guide.cli import fail
from voice_guide.journal import Journal, list_journals, read_sessions, sessions_dir

HELP = "the session report: moves, pressure check-ins, notes (Markdown or printable HTML)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("journals", nargs="*", metavar="JOURNAL", type=Path,
                        help="journal files, or simulate logs saved to a file")
    parser.add_argument("--last", action="store_true", help="only the latest session")
    parser.add_argument("--client", metavar="NAME", help="that client's sessions")
    parser.add_argument("--format", choices=("md", "html"), default="md",
                        help="Markdown (default) or HTML that prints one page per session")
    parser.add_argument("--out", metavar="FILE", type=Path, help="write the report here")


def run(args: argparse.Namespace) -> int:
    from voice_guide.clients import ClientError, check_name, client_sessions
    from voice_guide.report import html, markdown, session_report

    sessions: list[Journal] = []
    for path in args.journals:
        try:
            sessions += read_sessions(path)
        except FileNotFoundError:
            return fail(f"report: {path}: no such file")
        except IsADirectoryError:
            return fail(f"report: {path} is a folder; name journal files")
        except OSError as error:
            return fail(f"report: {path}: cannot read ({error.strerror})")
    if args.client is not None:
        try:
            name = check_name(args.client)
        except ClientError as error:
            return fail(f"report: {error}")
        own = client_sessions(sessions_dir(), name)
        if args.journals:  # both: the named files' sessions with this client
            sessions = [s for s in sessions if _client_of(s) == name.casefold()]
        else:
            sessions = own
        if not sessions:
            return fail(f"report: no sessions with {name}")
    elif not args.journals:
        sessions = [j for j in list_journals(sessions_dir()) if j.header is not None]
        if not sessions:
            return fail(f"report: no sessions yet (journals are kept in {sessions_dir()})")
        sessions = sessions[-1:]
    if args.last:
        sessions = sessions[-1:]
    if not sessions:
        return fail("report: no session in the files named")
    reports = [session_report(journal) for journal in sessions]
    text = html(reports) if args.format == "html" else markdown(reports)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    try:
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as error:
        return fail(f"report: cannot write {args.out} ({error.strerror})")
    print(f"voice-guide: report of {len(reports)} session(s) in {args.out}", file=sys.stderr)
    return 0


def _client_of(journal: Journal) -> str:
    return " ".join(str((journal.header or {}).get("client") or "").split()).casefold()
