"""The user's config file: defaults for the options of the commands, so the devices, the voice,
the engine and the protocol need not be typed on every run. The command line always wins.

Which file: `--config PATH`, else `$VOICE_GUIDE_CONFIG` (`none`: no file at all), else
`$XDG_CONFIG_HOME/voice-guide/config.toml` (`~/.config/...` when the variable is unset or not
absolute, as the XDG spec says). A file named by the option or the variable must exist; at the
default place a missing file simply means no config.

The file is TOML in four tables (`SETTINGS` lists every key, `template()` writes them all,
commented out):

    [devices]
    input = "USB"            # --input-device
    [voice]
    rate = 130               # --rate

Every key is the default of one option of some commands (`Setting.commands`); `voice-guide
config` prints what is in effect and where each value came from. Paths (`session.protocol`,
`listen.model`) are relative to the config file's folder, and `~` is the home folder.

A mistake is one `ConfigError` line naming the file, the line when it is known and the key:
`config.toml:4: voice.rat: unknown key (did you mean 'voice.rate'?)`: bad TOML, unknown tables
and keys, wrong types, values out of range. At most MAX_BYTES are read: a config file is a few
lines, and a path pointing at a device or a huge file must not be read whole. Whether a device,
a voice or a file named in the config exists is not checked here (a USB microphone may be
unplugged while another command runs): `voice-guide config` checks those and says so.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

MAX_BYTES = 64 * 1024
ENV_VAR = "VOICE_GUIDE_CONFIG"
NONE = "none"  # $VOICE_GUIDE_CONFIG=none: read no config file
FILE_NAME = "config.toml"

Kind = Literal["device", "text", "path", "bool", "int", "float", "choice"]
Scalar = str | int | float | bool

LISTENING = ("run", "simulate", "listen", "eval", "mic")  # the commands with engine options


class ConfigError(ValueError):
    """A config file that cannot be used; the message is one line naming file, line and key."""


@dataclass(frozen=True)
class Setting:
    """One key of the file: the option it is the default for, and which commands have it."""

    section: str
    key: str
    dest: str  # the argparse destination of the option
    option: str  # the option as typed, for messages ("--input-device")
    commands: tuple[str, ...]
    kind: Kind
    help: str
    example: str  # a TOML value for the template
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}"


def _engines() -> tuple[str, ...]:
    from voice_guide.listen.factory import ENGINES  # cheap: engines load only when chosen

    return ENGINES


SETTINGS: tuple[Setting, ...] = (
    Setting("devices", "input", "input_device", "--input-device", ("run", "enroll", "mic"),
            "device", "microphone: index or part of a name (`voice-guide devices`)", '"USB"'),
    Setting("devices", "practitioner", "practitioner_device", "--practitioner-device",
            ("run", "say", "enroll"), "device", "earbuds: the practitioner's cues", '"earbuds"'),
    Setting("devices", "room", "room_device", "--room-device", ("run", "say"), "device",
            "room speaker: what the client hears", '"kiosk"'),
    Setting("devices", "practitioner_audible", "practitioner_audible", "--practitioner-audible",
            ("run",), "bool", "no earbuds: the microphone hears your cues too", "false"),
    Setting("voice", "name", "voice", "--voice", ("run", "say"), "text",
            "`voice-guide voices` lists them", '"heart"'),
    # Ranges as speak.tts.Voice checks them, so a bad value names this file, not an option.
    Setting("voice", "rate", "rate", "--rate", ("run", "say"), "int", "words per minute",
            "138", low=60, high=400),
    Setting("voice", "volume", "volume", "--volume", ("run", "say"), "float", "0..1", "0.9",
            low=0.0, high=1.0),
    Setting("listen", "engine", "engine", "--engine", LISTENING, "choice",
            "recognizer", '"auto"', choices=_engines()),
    Setting("listen", "model", "model", "--model", LISTENING, "path", "vosk model directory",
            '"models/vosk-model-small-en-us-0.15"'),
    Setting("listen", "profile", "profile", "--profile", LISTENING, "text",
            "speaker profile (`voice-guide profiles`); auto, none or a name", '"auto"'),
    Setting("session", "protocol", "protocol", "PROTOCOL", ("run", "check", "simulate"), "path",
            "protocol file (default: the back massage)", '"my-routine.yaml"'),
    Setting("session", "skip_prep", "skip_prep", "--skip-prep", ("run",), "bool",
            "leave out the preparation checklist", "false"),
    Setting("session", "auto", "auto", "--auto", ("run",), "bool",
            "move on by itself when a step's time is up", "false"),
)
SECTIONS: dict[str, str] = {
    "devices": "the microphone and the two outputs",
    "voice": "how the guide speaks",
    "listen": "the recognizer",
    "session": "the protocol and how a session runs",
}


@dataclass(frozen=True)
class Value:
    """A key set in the file, its value (paths made absolute) and the line it is on."""

    setting: Setting
    value: Scalar
    line: int | None


@dataclass(frozen=True)
class Config:
    """The config in effect: the file read (None: none) and how it was chosen, and its values."""

    path: Path | None
    origin: str  # "--config", "$VOICE_GUIDE_CONFIG", "default", or why no file is read
    values: tuple[Value, ...] = ()

    def defaults_for(self, command: str) -> dict[str, Scalar]:
        """The argparse defaults this config gives `command`."""
        return {v.setting.dest: v.value for v in self.values if command in v.setting.commands}

    def get(self, name: str) -> Value | None:
        return next((v for v in self.values if v.setting.name == name), None)

    def where(self, value: Value) -> str:
        """'FILE:LINE' (or 'FILE') of a value."""
        return f"{self.path}:{value.line}" if value.line is not None else str(self.path)


NO_CONFIG = Config(None, "none")  # what a parser built without a config file takes


def default_path(environ: Mapping[str, str] | None = None) -> Path:
    """`$XDG_CONFIG_HOME/voice-guide/config.toml`; a relative or empty XDG_CONFIG_HOME is
    ignored, as the XDG base directory spec asks."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / "voice-guide" / FILE_NAME


def locate(option: str | None, no_config: bool,
           environ: Mapping[str, str] | None = None) -> tuple[Path | None, bool, str]:
    """(the file to read or None, whether it must exist, how it was chosen)."""
    environ = os.environ if environ is None else environ
    if no_config:
        return None, False, "none (--no-config)"
    if option is not None:
        return Path(option).expanduser(), True, "--config"
    named = environ.get(ENV_VAR, "").strip()
    if named.lower() == NONE:
        return None, False, f"none (${ENV_VAR}=none)"
    if named:
        return Path(named).expanduser(), True, f"${ENV_VAR}"
    return default_path(environ), False, "default"


def load_config(option: str | None = None, no_config: bool = False,
                environ: Mapping[str, str] | None = None, missing_ok: bool = False) -> Config:
    """The config in effect for these options and this environment; ConfigError for a bad one.
    `missing_ok`: a file named by `--config` or the variable may be missing too."""
    path, required, origin = locate(option, no_config, environ)
    if path is None:
        return Config(None, origin)
    if (missing_ok or not required) and not path.exists():
        return Config(None, f"none (no file at {path})")
    return Config(path, origin, parse(read(path), path))


def read(path: Path) -> str:
    """The file's text: a regular file, at most MAX_BYTES, UTF-8 (a byte order mark allowed)."""
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise ConfigError(f"{path}: is a folder; the config is a file ({path / FILE_NAME})")
        if not stat.S_ISREG(info.st_mode):  # a device or a pipe could be read forever
            raise ConfigError(f"{path}: not a regular file")
        with path.open("rb") as stream:
            data = stream.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read ({error.strerror or error})") from None
    if len(data) > MAX_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_BYTES // 1024} KB; a config file is a few "
                          "lines (is this the right file?)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (byte {column} of the line)") from None


def parse(text: str, path: Path) -> tuple[Value, ...]:
    """The values of a config file's text; paths are taken relative to `path`'s folder."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(_toml_problem(str(error), path)) from None
    lines = _key_lines(text)
    values: list[Value] = []
    for section, table in data.items():
        if section not in SECTIONS:
            raise ConfigError(_at(path, lines.get(section), section,
                                  f"unknown {'table' if isinstance(table, dict) else 'key'}"
                                  + _did_you_mean(section)))
        if not isinstance(table, dict):
            keys = ", ".join(s.key for s in SETTINGS if s.section == section)
            raise ConfigError(_at(path, lines.get(section), section,
                                  f"must be a table: [{section}] with the keys {keys}"))
        for key, raw in table.items():
            name = f"{section}.{key}"
            setting = next((s for s in SETTINGS if s.name == name), None)
            line = lines.get(name)
            if setting is None:
                raise ConfigError(_at(path, line, name, "unknown key" + _did_you_mean(name)))
            values.append(Value(setting, _checked(setting, raw, path, line), line))
    return tuple(values)


def template() -> str:
    """A config file with every key commented out, each with an example value."""
    out = [
        "# voice-guide settings: defaults for the options of the commands (the command line",
        "# wins). Uncomment a line to use it. `voice-guide config` shows what is in effect.",
        "# Paths are relative to this file's folder; `~` is your home folder.",
    ]
    for section, what in SECTIONS.items():
        out += ["", f"[{section}]  # {what}"]
        for setting in (s for s in SETTINGS if s.section == section):
            choices = f" ({', '.join(setting.choices)})" if setting.choices else ""
            out += [f"# {setting.option} ({', '.join(setting.commands)}): {setting.help}{choices}",
                    f"# {setting.key} = {setting.example}"]
    return "\n".join(out) + "\n"


# --- checking one value ---------------------------------------------------------------------


def _checked(setting: Setting, raw: object, path: Path, line: int | None) -> Scalar:
    kind = setting.kind
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        problem = f"must be true or false, not {_shown(raw)}"
    elif kind in ("int", "float"):
        if isinstance(raw, bool) or not isinstance(raw, int | float) or (
                kind == "int" and isinstance(raw, float)):
            problem = f"must be {'a whole number' if kind == 'int' else 'a number'}, not " \
                      f"{_shown(raw)}"
        elif not _in_range(setting, float(raw)):
            problem = f"{raw} is out of range ({setting.low:g}..{setting.high:g}: {setting.help})"
        else:
            return float(raw) if kind == "float" else int(raw)
    elif kind == "device" and isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        return str(raw)  # a device index, as `--input-device 3` gives it
    elif not isinstance(raw, str):
        wanted = "a device index or a name in quotes" if kind == "device" else "text in quotes"
        problem = f"must be {wanted}, not {_shown(raw)}"
    elif not raw.strip():
        problem = "is empty (leave the line out for the default)"
    elif kind == "choice" and raw.strip() not in setting.choices:
        close = difflib.get_close_matches(raw.strip(), setting.choices, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problem = f"{raw.strip()!r} is not one of {', '.join(setting.choices)}{hint}"
    elif kind == "path":
        found = Path(raw.strip()).expanduser()
        # normpath: `../routines/x.yaml` shows as the folder it names (no `..` symlink here)
        return os.path.normpath(found if found.is_absolute() else path.parent.absolute() / found)
    else:
        return raw.strip()
    raise ConfigError(_at(path, line, setting.name, problem))


def _in_range(setting: Setting, number: float) -> bool:
    return (setting.low is None or number >= setting.low) and (
        setting.high is None or number <= setting.high)


def _shown(raw: object) -> str:
    """A TOML value as the file would write it, for messages."""
    if isinstance(raw, dict):
        return "a table"
    if isinstance(raw, list):
        return "a list"
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return repr(raw) if isinstance(raw, str) else str(raw)


def _did_you_mean(name: str) -> str:
    """' (did you mean ...?)' for a misspelt key or table, or a key put in the wrong table."""
    names = [s.name for s in SETTINGS]
    last = name.rsplit(".", 1)[-1]
    moved = [n for n in names if n.endswith(f".{last}")]  # `rate` at the top, not in [voice]
    close = moved or difflib.get_close_matches(name, names + list(SECTIONS), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _at(path: Path, line: int | None, name: str, what: str) -> str:
    return f"{path}:{line}: {name}: {what}" if line is not None else f"{path}: {name}: {what}"


_TOML_WHERE = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def _toml_problem(message: str, path: Path) -> str:
    """tomllib's 'Invalid value (at line 3, column 9)' as 'FILE:3: not valid TOML: ...'."""
    found = _TOML_WHERE.search(message)
    if found is None:
        what = message.replace(" (at end of document)", "")
        return f"{path}: not valid TOML at the end of the file: {what[:1].lower() + what[1:]}"
    what = message[: found.start()]
    return f"{path}:{found[1]}: not valid TOML: {what[:1].lower() + what[1:]} (column {found[2]})"


_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]")
_PART = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_KEY = re.compile(rf"^\s*({_PART}(?:\s*\.\s*{_PART})*)\s*=")


def _key_lines(text: str) -> dict[str, int]:
    """'section.key' (and 'section') -> the line it is set on, for messages. tomllib keeps no
    lines; a config is flat enough that tracking `[table]` headers and `key =` lines finds them
    (a key in a multi-line string is not one, but it could only ever shadow a real key's line
    after it: messages may then name a line too late, never a wrong key)."""
    lines: dict[str, int] = {}
    table = ""
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header is not None:
            table = _dotted(header[1])
            lines.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key is not None:
            name = _dotted(key[1])
            full = f"{table}.{name}" if table else name
            lines.setdefault(full, number)
            if not table:  # `voice.rate = 1` at the top also names the table `voice`
                lines.setdefault(name.split(".")[0], number)
    return lines


def _dotted(text: str) -> str:
    return ".".join(part.strip().strip("\"'") for part in text.split("."))
