"""`voice-guide clients [--forget NAME]`: the clients of past sessions, or erase one of them.

Read from the client index over the session journals (`voice_guide.clients`), brought up to
date with them first. `--forget NAME` removes the client's journals (their notes are in them)
and their index rows, and says what it removed.
"""

from __future__ import annotations

import argparse

from voice_guide.cli import fail
from voice_guide.clients import ClientError, ClientIndex, check_name
from voice_guide.journal import sessions_dir
from voice_guide.prompts import count

HELP = "list the clients of past sessions (sessions, last date); --forget NAME erases one"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--forget", metavar="NAME",
        help="erase everything about this client: their session journals, notes and index rows",
    )


def run(args: argparse.Namespace) -> int:
    directory = sessions_dir()
    if args.forget is not None:
        try:
            name = check_name(args.forget)
        except ClientError as error:
            return fail(str(error).replace("--client", "--forget"))
        if not directory.is_dir():
            print(f"Nothing to forget: no sessions yet (journals are kept in {directory}).")
            return 0
        with ClientIndex.open(directory) as index:
            forgotten = index.forget(name)
        if not forgotten.journals:
            print(f"No sessions with {name}: nothing removed.")
            return 0
        print(f"Forgot {name}: removed {count(len(forgotten.journals), 'session journal')} "
              f"({count(forgotten.notes, 'note')} in them) and "
              f"{count(forgotten.index_rows, 'index row')} from {index.path}:")
        for path in forgotten.journals:
            print(f"  {path}")
        return 0
    if not directory.is_dir():
        print(f"No clients yet (journals are kept in {directory}).")
        return 0
    with ClientIndex.open(directory) as index:
        clients = index.clients()
    if not clients:
        print("No clients yet (a session gets one with `voice-guide run --client NAME`).")
        return 0
    width = max(len(client.name) for client in clients)
    for client in clients:
        last = f"{client.last:%Y-%m-%d %H:%M}" if client.last else "date unknown"
        print(f"{client.name:<{width}}  {count(client.sessions, 'session'):>11}  last {last}")
    return 0
