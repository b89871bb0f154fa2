"""`voice-guide history [--json] [--all] [--client NAME]`: past sessions with date, client,
protocol, duration, feedback and journal (`--client`: one client's, from the client index).
Sessions where nothing happened (`Journal.empty`: opened, nothing said) are left out unless
`--all`: they are not worth resuming either."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from voice_guide.cli import fail
from voice_guide.events import EndReason
from voice_guide.journal import Journal, list_journals, sessions_dir, summarize
from voice_guide.progress import feedback_json
from voice_guide.prompts import answer_text, clock, count

HELP = "list past sessions: date, protocol, duration, pressure feedback"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object per session")
    parser.add_argument(
        "--all", action="store_true",
        help="also the sessions where nothing happened (opened, no command heard)",
    )
    parser.add_argument(
        "--dir", type=Path, default=None, metavar="DIR",
        help="where the session journals are (default: the user data directory)",
    )
    parser.add_argument("--client", metavar="NAME", help="only this client's sessions")


def run(args: argparse.Namespace) -> int:
    directory = args.dir or sessions_dir()
    # The default folder appears with the first session: missing, it means "no sessions yet". A
    # folder the user named that is not there is a typo, and "no sessions" would hide it.
    if args.dir is not None and not directory.is_dir():
        what = "is not a folder" if directory.exists() else "does not exist"
        return fail(f"history: {directory} {what} (--dir names the folder of the journals)")
    if args.client is not None:
        from voice_guide.clients import ClientError, check_name, client_sessions

        try:
            every = client_sessions(directory, check_name(args.client))
        except ClientError as error:
            return fail(f"history: {error}")
    else:
        every = [j for j in list_journals(directory) if j.header is not None]
    journals = [j for j in every if args.all or not _only_opened(j)]
    if args.json:
        for journal in journals:
            print(json.dumps(session_json(journal), ensure_ascii=False))
        return 0
    if not journals and args.client is not None:
        print(f"No sessions with {args.client.strip()} (journals are kept in {directory}).")
        return 0
    if not journals:
        print(f"No sessions yet (journals are kept in {directory}).")
    for journal in journals:
        print(session_line(journal))
    left_out = len(every) - len(journals)
    if left_out:
        print(f"({count(left_out, 'session')} where nothing happened left out: --all lists "
              f"{'it' if left_out == 1 else 'them'})")
    return 0


def _only_opened(journal: Journal) -> bool:
    return not journal.finished and journal.empty


def session_json(journal: Journal) -> dict[str, Any]:
    """One session. As everywhere else, `steps` counts the protocol's numbered steps worked and
    `moves` the items of the expanded script (a repeat step makes several moves)."""
    header = journal.header or {}
    summary = summarize(journal.records)
    return {
        "id": journal.session_id,
        "date": header.get("started"),
        "client": header.get("client"),
        "protocol": header.get("protocol_name"),
        "protocol_path": header.get("protocol"),
        "duration_seconds": round(summary.total_seconds, 1),
        "steps": len({move.number for move in summary.steps}),
        "moves": len(summary.steps),
        "finished": summary.finished,
        "end_reason": summary.end_reason,
        "ended_early_at": summary.ended_early_at,
        "feedback": [feedback_json(f) for f in summary.feedback],
        "journal": str(journal.path),
        "empty": _only_opened(journal),
    }


def session_line(journal: Journal) -> str:
    data = session_json(journal)
    started = journal.started
    date = started.strftime("%Y-%m-%d %H:%M") if started else "unknown date"
    if not data["finished"]:
        state = "nothing happened" if data["empty"] else "unfinished"
    else:  # an end whose reason this version cannot read: "ended" is all that is known
        state = {EndReason.COMPLETED: "completed", EndReason.ENDED: "ended early",
                 EndReason.DISCARDED: "discarded"}.get(data["end_reason"], "ended")
    if data["ended_early_at"] is not None:
        state += f" at step {data['ended_early_at']}"
    answers = [answer_text(f) for f in summarize(journal.records).feedback]
    feedback = ", ".join(answers) if answers else "none"
    client = f"{data['client']}  " if data["client"] else ""
    return (
        f"{date}  {client}{data['protocol']}  {clock(data['duration_seconds'])}  "
        f"{count(data['steps'], 'step')}, {count(data['moves'], 'move')}  {state}  "
        f"feedback: {feedback}  {data['journal']}"
    )
