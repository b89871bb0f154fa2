"""The `voice-guide` command. Each subcommand lives in its own module of this package.

A subcommand module has `HELP` (one line), `add_arguments(parser)` and `run(args) -> int`, and
imports heavy things (audio, engines) inside `run`, so `voice-guide check` starts fast.

The user's config file (voice_guide/config.py) gives the subcommands' options their defaults
before the command line is parsed, so whatever is typed wins. It is found before the parser is
built (`--config PATH` / `--no-config` are read first), because argparse takes defaults only
when a parser is made. A config key set to true for an on/off option gets a `--no-...` twin on
the command line, or it could never be turned off for one run.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from importlib import metadata

from voice_guide.config import NO_CONFIG, SETTINGS, Config, ConfigError, load_config

# name -> module, in the order `voice-guide --help` lists them.
SUBCOMMANDS: dict[str, str] = {
    "run": "voice_guide.cli.run",
    "serve": "voice_guide.cli.serve",
    "check": "voice_guide.cli.check",
    "simulate": "voice_guide.cli.simulate",
    "listen": "voice_guide.cli.listen",
    "eval": "voice_guide.cli.evaluate",
    "say": "voice_guide.cli.say",
    "voices": "voice_guide.cli.voices",
    "devices": "voice_guide.cli.devices",
    "models": "voice_guide.cli.models",
    "history": "voice_guide.cli.history",
    "clients": "voice_guide.cli.clients",
    "report": "voice_guide.cli.report",
    "enroll": "voice_guide.cli.enroll",
    "profiles": "voice_guide.cli.profiles",
    "mic": "voice_guide.cli.mic",
    "config": "voice_guide.cli.config",
}


# Subcommands that take another's options, and so its settings in the config file.
SETTINGS_OF: dict[str, str] = {"serve": "run"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        config = config_for(argv)
    except ConfigError as error:
        return fail(f"{error} (--no-config runs without the file)")
    parser = build_parser(config)
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    # one format for every command's warnings (core modules log; they never print)
    logging.basicConfig(level=logging.WARNING, format="voice-guide: %(message)s")
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def config_for(argv: list[str]) -> Config:
    """The config file in effect for this command line (`--config`, `--no-config`, anywhere in
    it) and the environment; ConfigError for a file that cannot be used."""
    early = argparse.ArgumentParser(prog="voice-guide", add_help=False, allow_abbrev=False)
    add_config_arguments(early)
    known, rest = early.parse_known_args(argv)
    # `config --init` makes the file `--config` or $VOICE_GUIDE_CONFIG names: it need not exist.
    creating = rest[:1] == ["config"] and "--init" in rest
    return load_config(getattr(known, "config_file", None), getattr(known, "no_config", False),
                       missing_ok=creating)


def build_parser(config: Config | None = None) -> argparse.ArgumentParser:
    """The parser; `config`'s values are the defaults of the options they name."""
    config = config or NO_CONFIG
    parser = argparse.ArgumentParser(
        prog="voice-guide",
        description="Offline, hands-free, voice-guided massage protocol assistant.",
    )
    parser.add_argument(
        "--version", action="version", version=f"voice-guide {package_version()}",
        help="print the installed version and exit",
    )
    add_config_arguments(parser)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name, module_name in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        add_config_arguments(command)
        settings_of = SETTINGS_OF.get(name, name)
        add_negations(command, settings_of)
        command.set_defaults(handler=module.run, loaded_config=config,
                             **config.defaults_for(settings_of))
    return parser


def subcommand_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Each subcommand's parser, by name."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """`--config PATH` and `--no-config`, on the main parser and every subcommand (both places
    are natural to type). SUPPRESS: a subcommand's default must not hide the main parser's
    value; `config_for` has read them already."""
    parser.add_argument(
        "--config", dest="config_file", metavar="PATH", default=argparse.SUPPRESS,
        help="read this config file instead of ~/.config/voice-guide/config.toml",
    )
    parser.add_argument(
        "--no-config", dest="no_config", action="store_true", default=argparse.SUPPRESS,
        help="ignore the config file (as $VOICE_GUIDE_CONFIG=none does)",
    )


def add_negations(parser: argparse.ArgumentParser, command: str) -> None:
    """`--no-auto` and the like for the on/off options a config file can switch on."""
    actions = {action.dest: action for action in parser._actions}
    for setting in SETTINGS:
        action = actions.get(setting.dest)
        if (setting.kind != "bool" or command not in setting.commands
                or not isinstance(action, argparse._StoreTrueAction)):
            continue
        parser.add_argument(
            f"--no-{setting.option.removeprefix('--')}", dest=setting.dest,
            action="store_false", default=argparse.SUPPRESS,
            help=f"off for this run, whatever `{setting.key} = true` in [{setting.section}] of "
            "the config file says",
        )


def package_version() -> str:
    """The version the package was installed with (its metadata, not a copy kept in the code,
    so the two cannot drift apart)."""
    try:
        return metadata.version("voice-guide")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def add_engine_arguments(parser: argparse.ArgumentParser, scope: str = "") -> None:
    """`--engine`, `--model` and `--profile`, the same for every subcommand that listens."""
    from voice_guide.listen.factory import ENGINES

    parser.add_argument(
        "--engine", choices=ENGINES, default="auto",
        help=f"{scope}recognizer engine (auto: whisper, the one that hears human voices best; "
        "vosk when --model names a vosk model)",
    )
    parser.add_argument("--model", metavar="DIR", help=f"{scope}vosk model directory")
    parser.add_argument(
        "--profile", metavar="NAME", default="auto",
        help=f"{scope}speaker profile made by `voice-guide enroll` (default auto: the profile "
        "'default' when there is one; none: no profile)",
    )


def fail(message: str) -> int:
    """Print a one-line error on stderr; the exit status for a user error."""
    print(f"voice-guide: {message}", file=sys.stderr)
    return 2
