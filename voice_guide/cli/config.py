"""`voice-guide config [--init] [--json]`: the settings in effect and where each comes from.

Prints which config file is read (and why that one), then every setting: its value, whether it
comes from the file (with the line) or is the built-in default, and the commands and option it
is the default for. Then it checks what the file names and the loading could not: that the
devices exist, the voice can speak, the paths and the profile are there. Problems are listed
and make the exit status 1, so a clinic owner can check a new file with one command.

`--init` writes a template with every key commented out to the config file's place (or
`--config PATH`), and never over an existing file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from voice_guide.cli import fail
from voice_guide.config import SETTINGS, Config, Setting, locate, template

HELP = "show the settings in effect and where each comes from (--init: write a config file)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--init", action="store_true",
                        help="write a commented template to the config file's place")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    if args.init:
        return _init(args)
    config: Config = args.loaded_config
    rows = [_row(config, setting) for setting in SETTINGS]
    problems = _problems(config)
    if args.json:
        print(json.dumps({"file": str(config.path) if config.path else None,
                          "origin": config.origin, "settings": rows, "problems": problems}))
        return 1 if problems else 0
    if config.path is None:
        print(f"config file: {config.origin}")
    else:
        print(f"config file: {config.path} ({_origin_words(config.origin)})")
    width = max(len(r["name"]) for r in rows)
    value_width = min(30, max(len(r["shown"]) for r in rows))
    for row in rows:  # a long value (a path) pushes its own line's columns, not all of them
        print(f"{row['name']:<{width}}  {row['shown']:<{value_width}}  {row['from']:<14}  "
              f"{row['option']} ({', '.join(row['commands'])})")
    for problem in problems:
        print(f"problem: {problem}")
    if not problems:
        print("the command line wins over every value here")
    return 1 if problems else 0


def _init(args: argparse.Namespace) -> int:
    path, _, _ = locate(getattr(args, "config_file", None), getattr(args, "no_config", False))
    if path is None:
        return fail("config --init: no config file to write (--no-config, or "
                    "$VOICE_GUIDE_CONFIG=none); name one with --config PATH")
    if path.exists():
        return fail(f"config --init: {path} already exists; edit it, or remove it first")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as out:  # "x": never over a file made meanwhile
            out.write(template())
    except OSError as error:
        return fail(f"config --init: cannot write {path} ({error.strerror or error})")
    print(f"wrote {path}: every setting is commented out; uncomment and edit the ones you want, "
          "then check with `voice-guide config`")
    return 0


# --- the table --------------------------------------------------------------------------------


def _row(config: Config, setting: Setting) -> dict[str, Any]:
    value = config.get(setting.name)
    if value is not None:
        assert config.path is not None  # values come only from a file
        shown, raw = _shown(value.value), value.value
        # the file's name only: the first line of the output names the whole path
        source = config.path.name + (f":{value.line}" if value.line is not None else "")
    else:
        raw = _builtin_default(setting)
        shown = _shown(raw) if raw is not None else f"({_unset(setting)})"
        source = "default"
    return {"name": setting.name, "value": raw, "shown": shown, "from": source,
            "line": value.line if value else None, "option": setting.option,
            "commands": list(setting.commands)}


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, str) else str(value)


def _unset(setting: Setting) -> str:
    return "the system's default" if setting.section == "devices" else "none"


def _builtin_default(setting: Setting) -> Any:
    """The option's default without a config file, as the commands' own parsers have it (the
    first command that gives one: `run`'s protocol is None, meaning `check`'s default file)."""
    from voice_guide.cli import build_parser, subcommand_parsers

    parsers = subcommand_parsers(build_parser())
    for command in setting.commands:
        for action in parsers[command]._actions:
            if action.dest == setting.dest and action.default not in (None, argparse.SUPPRESS):
                return action.default
    return None


def _origin_words(origin: str) -> str:
    return {"--config": "named by --config", "default": "the default place"}.get(
        origin, f"named by {origin}")


# --- what loading could not check -----------------------------------------------------------


def _problems(config: Config) -> list[str]:
    """One line per value of the file that cannot work now (file:line: key: why)."""
    problems: list[str] = []
    for value in config.values:
        why = _problem(value.setting, value.value, config)
        if why:
            problems.append(f"{config.where(value)}: {value.setting.name}: {why}")
    return problems


def _problem(setting: Setting, value: Any, config: Config) -> str:
    if setting.kind == "device":
        return _device_problem(str(value), "input" if setting.key == "input" else "output")
    if setting.name == "voice.name":
        return _voice_problem(config)
    if setting.kind == "path":
        path = Path(str(value))
        if not path.exists():
            return f"{path} does not exist"
        if setting.name == "listen.model" and not path.is_dir():
            return f"{path} is not a folder"
        if setting.name == "session.protocol":
            return _protocol_problem(path)
    if setting.name == "listen.profile":
        from voice_guide.listen.profile import AUTO, ProfileError, choose_profile

        if value != AUTO:
            try:
                choose_profile(str(value))
            except ProfileError as error:
                return str(error)
    return ""


def _device_problem(spec: str, kind: str) -> str:
    try:
        from voice_guide.devices import DeviceError, resolve
    except (ImportError, OSError) as error:  # no PortAudio at all: cannot say
        return f"cannot check devices here ({error})"
    try:
        resolve(spec, "input" if kind == "input" else "output")
    except DeviceError as error:
        return str(error)
    return ""


def _voice_problem(config: Config) -> str:
    from voice_guide.speak import voices
    from voice_guide.speak.tts import Voice

    chosen: dict[str, Any] = {}
    for setting in (s for s in SETTINGS if s.section == "voice"):  # the file's, or the default
        value = config.get(setting.name)
        chosen[setting.key] = value.value if value is not None else _builtin_default(setting)
    try:
        voice = Voice(str(chosen["name"]), int(chosen["rate"]), float(chosen["volume"]))
    except ValueError as error:
        return str(error)
    return voices.problem(voice)


def _protocol_problem(path: Path) -> str:
    from voice_guide.protocol import ProtocolError, load

    try:
        load(path)
    except ProtocolError as error:
        first = str(error).splitlines()[0]
        return f"the protocol has mistakes (`voice-guide check {path}`): {first}"
    return ""
