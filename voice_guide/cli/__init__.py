"""The `voice-guide` command. Each subcommand lives in its own module of this package.

A subcommand module has `HELP` (one line), `add_arguments(parser)` and `run(args) -> int`, and
imports heavy things (audio, engines) inside `run`, so `voice-guide check` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from importlib import metadata

# name -> module, in the order `voice-guide --help` lists them.
SUBCOMMANDS: dict[str, str] = {
    "run": "voice_guide.cli.run",
    "check": "voice_guide.cli.check",
    "simulate": "voice_guide.cli.simulate",
    "listen": "voice_guide.cli.listen",
    "eval": "voice_guide.cli.evaluate",
    "say": "voice_guide.cli.say",
    "voices": "voice_guide.cli.voices",
    "devices": "voice_guide.cli.devices",
    "models": "voice_guide.cli.models",
    "history": "voice_guide.cli.history",
    "enroll": "voice_guide.cli.enroll",
    "profiles": "voice_guide.cli.profiles",
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voice-guide",
        description="Offline, hands-free, voice-guided massage protocol assistant.",
    )
    parser.add_argument(
        "--version", action="version", version=f"voice-guide {package_version()}",
        help="print the installed version and exit",
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name, module_name in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(handler=module.run)
    return parser


def package_version() -> str:
    """The version the package was installed with (its metadata, not a copy kept in the code,
    so the two cannot drift apart)."""
    try:
        return metadata.version("voice-guide")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def add_engine_arguments(parser: argparse.ArgumentParser, scope: str = "") -> None:
    """`--engine`, `--model`, `--sensitivity` and `--profile`, the same for every subcommand
    that listens."""
    from voice_guide.listen.factory import ENGINES, SENSITIVITIES

    parser.add_argument(
        "--engine", choices=ENGINES, default="auto",
        help=f"{scope}recognizer engine (auto: whisper, the one that hears human voices best; "
        "vosk when --model names a vosk model)",
    )
    parser.add_argument("--model", metavar="DIR", help=f"{scope}vosk model directory")
    parser.add_argument(
        "--sensitivity", choices=tuple(SENSITIVITIES), default="normal",
        help=f"{scope}classifier and combined engines: high hears more commands and more "
        "sound-alike words (neck -> next); low the reverse",
    )
    parser.add_argument(
        "--profile", metavar="NAME", default="auto",
        help=f"{scope}speaker profile made by `voice-guide enroll` (default auto: the profile "
        "'default' when there is one; none: no profile)",
    )


def fail(message: str) -> int:
    """Print a one-line error on stderr; the exit status for a user error."""
    print(f"voice-guide: {message}", file=sys.stderr)
    return 2
