"""`voice-guide run [PROTOCOL]`: a live session, by voice or (`--text`) by typed commands.

Opens with a short welcome that says how to get help, offers the preparation checklist (say
"skip", or pass `--skip-prep`), then the steps, check-ins, rest and a closing summary. Every event
is journaled (`--journal PATH`, or the user data directory) so `--resume` carries on an
interrupted session, and `--discard` gives one up. With no microphone (or no audio at all) it
says so in one line and runs the same session from typed commands. It speaks with the natural
voice `heart` (espeak-ng's `en-us` when that cannot load; the start-up line `voice: ...` says
which): `--voice`, `--rate`, `--volume` choose another (`voice-guide voices`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from voice_guide.cli import add_engine_arguments, fail
from voice_guide.cli.say import add_voice_arguments, voice_from

if TYPE_CHECKING:
    from voice_guide.app import SessionOptions, SpeechOptions
    from voice_guide.listening import ListeningOptions

HELP = "run a guided session by voice (or --text: typed commands on stdin)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "protocol", nargs="?", default=None, metavar="PROTOCOL",
        help="protocol YAML file (default: the back-massage protocol.yaml)",
    )
    parser.add_argument(
        "--text", action="store_true",
        help="read commands typed on stdin (the same phrases one would say) until end of input",
    )
    parser.add_argument(
        "--resume", action="store_true",
        help="continue the last unfinished session (or the one in --journal)",
    )
    parser.add_argument(
        "--discard", action="store_true",
        help="give up the last unfinished session (or the one in --journal) instead: its "
             "journal is kept, marked discarded, and never resumed",
    )
    parser.add_argument(
        "--journal", metavar="PATH", type=Path,
        help="session journal file (default: a new file in the user data directory)",
    )
    parser.add_argument(
        "--client", metavar="NAME",
        help="who the session is with: kept in its journal; a client seen before gets a recap "
        "of the last session on the practitioner route",
    )
    parser.add_argument("--skip-prep", action="store_true", help="skip the preparation checklist")
    parser.add_argument(
        "--auto", action="store_true", help="move on by itself when a step's time is up"
    )
    add_engine_arguments(parser)
    parser.add_argument("--input-device", metavar="D", help="microphone (index or part of a name)")
    parser.add_argument(
        "--practitioner-device", metavar="D", help="earbuds: output for the practitioner's cues"
    )
    parser.add_argument(
        "--room-device", metavar="D", help="room speaker: output for what the client hears"
    )
    parser.add_argument(
        "--practitioner-audible", action="store_true",
        help="the microphone can hear the practitioner route too (no earbuds): mute it then",
    )
    parser.add_argument(
        "--silent", action="store_true", help="print the prompts only, speak nothing"
    )
    add_voice_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """The session's exit status: why it stopped (`loop.StopReason`: 0 ended or input ended,
    130 Ctrl-C, 143 SIGTERM), 2 for a problem found at start-up."""
    from voice_guide.app import LiveError, run_session

    show_progress()  # before anything logs: a library's first log call would configure it
    if args.journal is not None and args.journal.is_dir():
        # Checked first: otherwise a folder "already exists" as a journal, or cannot be read.
        example = args.journal / "session.jsonl"
        return fail(f"{args.journal} is a folder; --journal names the journal file "
                    f"(e.g. {example})")
    if args.discard:
        return discard(args)
    _, problem = voice_from(args, "run")
    if problem:
        return fail(problem)
    try:
        options = session_options(args)
    except ValueError as error:  # clients.ClientError: a name that cannot be one
        return fail(str(error))
    try:
        stopped = run_session(options, listening_options(args),
                              speech_options(args), interactive=sys.stdin.isatty())
    except LiveError as error:
        return fail(str(error))
    return stopped.exit_status


def discard(args: argparse.Namespace) -> int:
    """`run --discard`: give up the session `run --resume` would carry on (nothing else runs)."""
    from voice_guide.journal import JournalBusy, find_unfinished, sessions_dir
    from voice_guide.prompts import clock
    from voice_guide.resume import ResumeError
    from voice_guide.resume import discard as discard_journal

    if args.resume:
        return fail("run: --resume and --discard: give one of them")
    path = args.journal or find_unfinished(sessions_dir())
    if path is None:
        return fail(f"no unfinished session to discard in {sessions_dir()}")
    try:
        journal = discard_journal(path)
    except (ResumeError, JournalBusy) as error:
        return fail(str(error))
    except OSError as error:
        return fail(f"{path}: cannot discard the session ({error.strerror or error})")
    header = journal.header or {}
    print(f"Discarded the session of {header.get('started', 'unknown date')} "
          f"({header.get('protocol_name')}, {clock(journal.last_t)}); its journal {path} is "
          "kept and will not be resumed.")
    return 0


def show_progress() -> None:
    """Warnings of every module, and the live session's own start-up lines (which journal,
    which voice, which engine), on stderr as `voice-guide: ...`; ALSA's lines and other
    modules' details stay off the terminal (they would scroll over the status panel)."""
    logging.basicConfig(level=logging.WARNING, format="voice-guide: %(message)s")  # (main's)
    for name in ("voice_guide.app", "voice_guide.listening"):
        logging.getLogger(name).setLevel(logging.INFO)


def session_options(args: argparse.Namespace) -> SessionOptions:
    """Raises `clients.ClientError` for a --client name that cannot be one."""
    from voice_guide.app import SessionOptions
    from voice_guide.clients import check_name

    return SessionOptions(
        protocol=Path(args.protocol) if args.protocol else None,
        resume=args.resume,
        journal=args.journal,
        skip_prep=args.skip_prep,
        auto=args.auto,
        client=check_name(args.client) if args.client is not None else None,
    )


def listening_options(args: argparse.Namespace) -> ListeningOptions | None:
    """None with --text: typed commands, no microphone."""
    from voice_guide.listening import ListeningOptions

    if args.text:
        return None
    return ListeningOptions(engine=args.engine, model=args.model, profile=args.profile,
                            input_device=args.input_device)


def speech_options(args: argparse.Namespace) -> SpeechOptions | None:
    """None with --silent: the prompts are printed only."""
    from voice_guide.app import SpeechOptions

    if args.silent:
        return None
    return SpeechOptions(
        practitioner_device=args.practitioner_device,
        room_device=args.room_device,
        practitioner_audible=args.practitioner_audible,
        voice=args.voice.strip(),
        rate=args.rate,
        volume=args.volume,
    )
