"""`voice-guide simulate [PROTOCOL] --script FILE | --audio FILE.wav | --auto`: a session on a
virtual clock, its event log printed (`--auto` alone: nothing said, the session runs by itself).

Each line of output is one JSON record (`t`, `type`, ...): what `run` would journal for the same
phrases (`--script`) or the same sound (`--audio`). The same input always gives the same log
(with `--client` or `--serve`, but for the headers' wall-clock start and id). `--serve` runs the
day's loop of `voice-guide serve` instead: nothing until "start session", then one session after
another, each opening with its own `session` header. `--client NAME` names the client in the
header (a simulation reads no past sessions, so there is no recap).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from voice_guide.cli import add_engine_arguments, fail
from voice_guide.protocol import DEFAULT_PROTOCOL, ProtocolError, Script, load
from voice_guide.session import SessionSettings
from voice_guide.simulate import (
    CommandScriptError,
    load_command_script,
    parse_seconds,
    simulate,
    simulate_day,
)

HELP = "run a session from a script of timed phrases on a virtual clock; print the event log"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--script", metavar="FILE",
        help="command script: one 'SECONDS PHRASE' per line (e.g. '65 next'), '#' comments",
    )
    parser.add_argument(
        "protocol", nargs="?", default=str(DEFAULT_PROTOCOL), metavar="PROTOCOL",
        help="protocol YAML file (default: the back-massage protocol.yaml), as `run` and "
        "`check` take it",
    )
    parser.add_argument(
        "--until", metavar="SECONDS", type=_seconds,
        help="run the virtual clock to this time (later script lines are not run); default: "
        "the last line, then on through whatever the session still has scheduled",
    )
    parser.add_argument(
        "--prep", action="store_true", help="read the preparation checklist before step 1"
    )
    parser.add_argument(
        "--auto", action="store_true",
        help="advance by itself when a step's time is up (instead of waiting for 'next'); "
        "without --script, the whole session with nothing said",
    )
    parser.add_argument(
        "--audio", metavar="FILE.wav",
        help="drive the session from a recording instead of a script: the live pipeline "
        "(segmenter, recognizer, session) on a clock that follows the recording",
    )
    parser.add_argument(
        "--out", metavar="DIR", help="with --audio: write what the guide says as WAV files here"
    )
    parser.add_argument(
        "--serve", action="store_true",
        help="the day's loop of `voice-guide serve`: wait for 'start session', run a session, "
        "wait again; prints every session's log, each after its own header",
    )
    parser.add_argument("--client", metavar="NAME",
                        help="who the session is with (in the session header)")
    add_engine_arguments(parser, "with --audio: ")


def run(args: argparse.Namespace) -> int:
    from voice_guide.clients import ClientError, check_name

    try:
        args.client = check_name(args.client) if args.client is not None else None
    except ClientError as error:
        return fail(f"simulate: {error}")
    # What the simulation warns about (a voice that cannot render) is printed as our lines are.
    if args.audio is not None:
        return _run_audio(args)
    if args.out is not None:
        return fail("simulate --out goes with --audio FILE.wav")
    if args.script is None and not args.auto:
        return fail("simulate needs --script FILE (one 'SECONDS PHRASE' per line), --audio "
                    "FILE.wav, or --auto (the session runs by itself, nothing said)")
    script = _protocol(args.protocol)
    if script is None:
        return 2
    try:
        phrases = [] if args.script is None else load_command_script(args.script)
    except CommandScriptError as error:
        return fail(str(error))
    run_script = simulate_day if args.serve else simulate
    log = run_script(
        script, phrases, settings=SessionSettings(auto=args.auto), prep=args.prep,
        until=args.until, client=args.client,
    )
    _print_log(log)
    return 0


def _run_audio(args: argparse.Namespace) -> int:
    """`--audio`: the recording drives the session, so a `--script` would be ignored; said
    rather than done silently. Prints the event log as JSON lines, and the recognized commands
    on stderr. WAV files that cannot be written end in one line too."""
    if args.script is not None:
        return fail("simulate: --script and --audio both drive the session; give one of them")
    out = Path(args.out) if args.out is not None else None
    if out is not None:
        problem = _out_folder(out)
        if problem:
            return fail(f"simulate: {problem}")
    try:
        return _simulate_audio(args, out)
    except OSError as error:  # the disk filled up (or went away) while WAV files were written
        where = error.filename or (f"the WAV files in {args.out}" if args.out else "the log")
        return fail(f"simulate: cannot write {where}: {error.strerror or error}")


def _simulate_audio(args: argparse.Namespace, out: Path | None) -> int:
    from voice_guide.listen.factory import EngineError, make_recognizer
    from voice_guide.simulate_audio import simulate_audio, speech_renderer
    from voice_guide.wav import WavError, read_wav_16k

    try:
        audio = read_wav_16k(args.audio)
    except WavError as error:
        return fail(str(error))
    script = _protocol(args.protocol)
    if script is None:
        return 2
    try:
        recognizer, reason = make_recognizer(args.engine, args.model, profile=args.profile)
    except EngineError as error:
        return fail(str(error))
    print(f"voice-guide: {reason}", file=sys.stderr)
    result = simulate_audio(
        script, audio, recognizer, settings=SessionSettings(auto=args.auto), prep=args.prep,
        until=args.until, out=out, render=speech_renderer(), serve=args.serve,
        client=args.client,
    )
    _print_log(result.log)
    heard = ", ".join(f"{h.command}@{h.end:.2f}s" for h in result.heard) or "none"
    print(f"voice-guide: recognized {len(result.heard)} commands: {heard}", file=sys.stderr)
    if out is not None:
        print(f"voice-guide: {len(result.files)} WAV files in {out}", file=sys.stderr)
    return 0


def _protocol(path: str) -> Script | None:
    """The protocol, or None once each of its problems is printed."""
    try:
        return load(path)
    except ProtocolError as error:
        for problem in getattr(error, "problems", None) or (str(error),):
            fail(problem)
        return None


def _print_log(log: list[dict[str, Any]]) -> None:
    for record in log:
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _out_folder(out: Path) -> str:
    """Make the `--out` folder; "" when it is there, else why it cannot be."""
    if out.exists() and not out.is_dir():
        return f"--out {out} is a file; --out names a folder for the WAV files"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return f"cannot make the --out folder {out}: {error.strerror or error}"
    return ""


def _seconds(text: str) -> float:
    seconds = parse_seconds(text.strip())
    if seconds is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time in seconds (e.g. 2700 or 45:00)")
    return seconds
