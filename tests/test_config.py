"""The config file (voice_guide/config.py) and how the commands take it: real files in a
temporary config home, the real parser, and the real `voice-guide` command as a subprocess."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from voice_guide.cli import build_parser, config_for, subcommand_parsers
from voice_guide.config import (
    ENV_VAR,
    MAX_BYTES,
    SETTINGS,
    ConfigError,
    default_path,
    load_config,
    template,
)

REPO = Path(__file__).resolve().parents[1]
NECK = REPO / "tests" / "protocols" / "neck_and_shoulders.yaml"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config home of its own; the machine user's config and $VOICE_GUIDE_CONFIG unseen."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv(ENV_VAR, raising=False)
    return tmp_path / "config"


def write_config(home: Path, text: str) -> Path:
    path = home / "voice-guide" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def parse(argv: list[str]) -> argparse.Namespace:
    """What `voice-guide ARGV` would run with (the config found as main() finds it)."""
    return build_parser(config_for(argv)).parse_args(argv)


def voice_guide(*args: str, env: dict[str, str], stdin: str | None = None
                ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "voice_guide", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, input=stdin)


@pytest.fixture
def env(home: Path, tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    return {**clean, "XDG_CONFIG_HOME": str(home), "XDG_DATA_HOME": str(tmp_path / "data")}


# --- where the file is ------------------------------------------------------------------------


def test_the_default_place_and_a_missing_file(home: Path):
    assert default_path() == home / "voice-guide" / "config.toml"
    config = load_config()
    assert config.path is None and config.values == ()
    assert config.origin == f"none (no file at {home / 'voice-guide' / 'config.toml'})"


def test_a_relative_xdg_config_home_is_ignored(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/dir")
    assert default_path() == Path.home() / ".config" / "voice-guide" / "config.toml"


def test_the_option_the_variable_and_none(home: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch):
    write_config(home, "[voice]\nrate = 120\n")
    other = tmp_path / "other.toml"
    other.write_text("[voice]\nrate = 150\n")
    assert parse(["run"]).rate == 120
    assert parse(["--config", str(other), "run"]).rate == 150
    assert parse(["run", "--config", str(other)]).rate == 150  # after the command too
    assert parse(["run", "--no-config"]).rate == 138
    monkeypatch.setenv(ENV_VAR, str(other))
    assert parse(["run"]).rate == 150
    monkeypatch.setenv(ENV_VAR, "none")
    assert parse(["run"]).rate == 138
    assert load_config().origin == f"none (${ENV_VAR}=none)"
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match=r"missing\.toml: no such file$"):
        load_config()


# --- the command line wins, per command -------------------------------------------------------


def test_values_become_the_defaults_of_the_commands_that_have_them(home: Path):
    path = write_config(home, """
[devices]
input = "USB"
practitioner = 3
room = "kiosk"
practitioner_audible = true
[voice]
name = "en-us"
rate = 120
volume = 0.5
[listen]
engine = "vosk"
profile = "none"
[session]
protocol = "../../protocols/neck.yaml"
skip_prep = true
auto = true
""")
    run = parse(["run"])
    assert (run.input_device, run.practitioner_device, run.room_device) == ("USB", "3", "kiosk")
    assert run.practitioner_audible and run.skip_prep and run.auto
    assert (run.voice, run.rate, run.volume) == ("en-us", 120, 0.5)
    assert (run.engine, run.profile) == ("vosk", "none")
    assert run.protocol == str((path.parent / "../../protocols/neck.yaml").resolve())
    # the command line wins; on/off options have a --no- twin
    typed = parse(["run", "--rate", "150", "--voice", "heart", "--input-device", "2",
                   "--no-auto", "--no-skip-prep", "--no-practitioner-audible", "other.yaml"])
    assert (typed.rate, typed.voice, typed.input_device) == (150, "heart", "2")
    assert not (typed.auto or typed.skip_prep or typed.practitioner_audible)
    assert typed.protocol == "other.yaml"
    # each command takes only its own keys
    assert parse(["say", "hello"]).room_device == "kiosk"
    assert parse(["enroll"]).input_device == "USB" and parse(["enroll"]).profile == "default"
    assert parse(["enroll"]).practitioner_device == "3"  # where its prompts are spoken
    assert parse(["enroll", "--output-device", "x"]).practitioner_device == "x"
    assert parse(["mic"]).engine == "vosk" and parse(["listen", "x.wav"]).profile == "none"
    assert parse(["check"]).protocol == run.protocol
    assert not parse(["simulate"]).auto  # a what-if switch there, not the practitioner's habit


def test_every_setting_names_a_real_option_of_its_commands():
    """The table and the commands' parsers agree (an option renamed in a command breaks this,
    not a practitioner's session)."""
    parsers = subcommand_parsers(build_parser())
    for setting in SETTINGS:
        for command in setting.commands:
            # the command's own option (the first with the dest; a --no- twin comes after it)
            actions: dict[str, argparse.Action] = {}
            for a in parsers[command]._actions:
                actions.setdefault(a.dest, a)
            assert setting.dest in actions, (setting.name, command)
            action = actions[setting.dest]
            if setting.kind == "bool":
                assert isinstance(action, argparse._StoreTrueAction), (setting.name, command)
            elif setting.kind == "int":
                assert action.type is int, (setting.name, command)
            elif setting.kind == "float":
                assert action.type is float, (setting.name, command)
            elif setting.kind == "choice":
                assert tuple(action.choices or ()) == setting.choices, (setting.name, command)
            if setting.option.startswith("--"):
                assert setting.option in action.option_strings, (setting.name, command)


# --- mistakes: one line naming file, line and key ----------------------------------------------


@pytest.mark.parametrize(("text", "line", "message"), [
    ("[voice]\nrat = 120\n", 2, "voice.rat: unknown key (did you mean 'voice.rate'?)"),
    ("rate = 120\n", 1, "rate: unknown key (did you mean 'voice.rate'?)"),
    ("\n[voic]\nrate = 1\n", 2, "voic: unknown table (did you mean 'voice'?)"),
    ("voice = 'heart'\n", 1, "voice: must be a table: [voice] with the keys name, rate, volume"),
    ("[voice]\nrate = \"fast\"\n", 2, "voice.rate: must be a whole number, not 'fast'"),
    ("[voice]\nrate = 12.5\n", 2, "voice.rate: must be a whole number, not 12.5"),
    ("[voice]\nrate = 1000\n", 2, "voice.rate: 1000 is out of range (60..400: words per minute)"),
    ("[voice]\nvolume = true\n", 2, "voice.volume: must be a number, not true"),
    ("[voice]\nname = \"  \"\n", 2, "voice.name: is empty (leave the line out for the default)"),
    ("[devices]\n\ninput = [1, 2]\n", 3,
     "devices.input: must be a device index or a name in quotes, not a list"),
    ("[session]\nauto = \"yes\"\n", 2, "session.auto: must be true or false, not 'yes'"),
    ("[listen]\nengine = \"wisper\"\n", 2, "listen.engine: 'wisper' is not one of auto, "
     "whisper, vosk (did you mean 'whisper'?)"),
    ("[listen]\nsensitivity = \"high\"\n", 2, "listen.sensitivity: unknown key"),
    ("voice.rate = 1000\n", 1, "voice.rate: 1000 is out of range"),
    ("[voice]\nrate = \n", 2, "not valid TOML: invalid value (column 8)"),
    ("[voice\n", 1, "not valid TOML: expected ']' at the end of a table declaration"),
    ("[voice]\nrate = 1\nrate = 2\n", 3, "not valid TOML: cannot overwrite a value"),
])
def test_a_mistake_is_one_line_naming_file_line_and_key(home: Path, text: str, line: int,
                                                        message: str):
    path = write_config(home, text)
    with pytest.raises(ConfigError) as raised:
        load_config()
    assert str(raised.value).startswith(f"{path}:{line}: {message}"), str(raised.value)
    assert "\n" not in str(raised.value)


def test_unreadable_files(home: Path, tmp_path: Path):
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * MAX_BYTES + "\n")
    with pytest.raises(ConfigError, match=r"big\.toml: larger than 64 KB"):
        load_config(str(big))
    with pytest.raises(ConfigError, match=r"^/dev/zero: not a regular file$"):
        load_config("/dev/zero")  # never read: it would never end
    with pytest.raises(ConfigError, match=r"is a folder; the config is a file"):
        load_config(str(tmp_path))
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b"[voice]\n# caf\xe9\n")
    with pytest.raises(ConfigError, match=r"latin\.toml:2: not UTF-8 text \(byte 6 of the line\)"):
        load_config(str(latin))
    bom = tmp_path / "bom.toml"
    bom.write_bytes("\ufeff[voice]\nrate = 120\n".encode())
    [value] = load_config(str(bom)).values
    assert value.value == 120 and value.line == 2


def test_the_template_loads_empty_and_every_line_uncommented_loads_whole():
    text = template()
    assert load_config_text(text) == ()
    uncommented = "\n".join(line[2:] if line.startswith("# ") and " = " in line else line
                            for line in text.splitlines())
    values = load_config_text(uncommented)
    assert sorted(v.setting.name for v in values) == sorted(s.name for s in SETTINGS)


def load_config_text(text: str) -> tuple:
    from voice_guide.config import parse as parse_text

    return parse_text(text, Path("/tmp/config.toml"))


# --- the real command ------------------------------------------------------------------------


def test_a_bad_config_stops_every_command_with_one_line_and_no_config_runs(env: dict[str, str],
                                                                           home: Path):
    path = write_config(home, "[voice]\nrate = 1000\n")
    done = voice_guide("check", env=env)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"voice-guide: {path}:2: voice.rate: 1000 is out of range (60..400: words per minute) "
        "(--no-config runs without the file)"]
    assert voice_guide("check", "--no-config", env=env).returncode == 0
    assert voice_guide("check", env={**env, ENV_VAR: "none"}).returncode == 0


def test_check_and_say_take_the_configured_protocol_and_voice(env: dict[str, str], home: Path,
                                                              tmp_path: Path):
    write_config(home, f'[session]\nprotocol = "{NECK}"\n[voice]\nname = "en-us"\nrate = 160\n')
    checked = voice_guide("check", env=env)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("Seated neck and shoulders: 5 steps") and str(NECK) in \
        checked.stdout.splitlines()[0]
    out = tmp_path / "said.wav"
    said = voice_guide("say", "Testing", "--out", str(out), env=env)
    assert said.returncode == 0, said.stderr
    assert said.stdout.strip().endswith("voice en-us)")
    natural = voice_guide("say", "Testing", "--out", str(out), "--voice", "heart", env=env)
    assert natural.stdout.strip().endswith("voice heart)")


def test_config_shows_each_value_and_where_it_came_from(env: dict[str, str], home: Path):
    path = write_config(home, f'[voice]\nrate = 120\n\n[session]\nprotocol = "{NECK}"\n')
    shown = voice_guide("config", env=env)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"config file: {path} (the default place)"
    [rate] = [line for line in lines if line.startswith("voice.rate ")]
    assert rate.split()[:3] == ["voice.rate", "120", "config.toml:2"]
    assert rate.endswith("--rate (run, say)")
    [volume] = [line for line in lines if line.startswith("voice.volume ")]
    assert volume.split()[:3] == ["voice.volume", "0.9", "default"]
    [inp] = [line for line in lines if line.startswith("devices.input ")]
    assert "(the system's default)" in inp and "default" in inp
    data = json.loads(voice_guide("config", "--json", env=env).stdout)
    assert data["file"] == str(path) and data["problems"] == []
    by_name = {row["name"]: row for row in data["settings"]}
    assert by_name["session.protocol"]["value"] == str(NECK)
    assert by_name["session.protocol"]["line"] == 5
    assert by_name["listen.engine"] == {
        "name": "listen.engine", "value": "auto", "shown": '"auto"', "from": "default",
        "line": None, "option": "--engine", "commands": ["run", "simulate", "listen", "eval",
                                                          "mic"]}


def test_config_names_what_cannot_work_now(env: dict[str, str], home: Path, tmp_path: Path):
    path = write_config(home, '[devices]\ninput = "no-such-microphone"\n[session]\n'
                        'protocol = "missing.yaml"\n[voice]\nname = "klingon"\n'
                        '[listen]\nprofile = "anna"\n')
    shown = voice_guide("config", env=env)
    assert shown.returncode == 1
    problems = [line for line in shown.stdout.splitlines() if line.startswith("problem: ")]
    assert problems[0].startswith(f"problem: {path}:2: devices.input: no input device matches "
                                  "'no-such-microphone'")
    assert problems[1] == (f"problem: {path}:4: session.protocol: {path.parent / 'missing.yaml'} "
                           "does not exist")
    assert problems[2].startswith(f"problem: {path}:6: voice.name: ") and "klingon" in problems[2]
    assert problems[3].startswith(f"problem: {path}:8: listen.profile: no profile 'anna'")
    assert len(problems) == 4


def test_init_writes_the_template_once(env: dict[str, str], home: Path, tmp_path: Path):
    done = voice_guide("config", "--init", env=env)
    path = home / "voice-guide" / "config.toml"
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {path}")
    assert path.read_text(encoding="utf-8") == template()
    again = voice_guide("config", "--init", env=env)
    assert again.returncode == 2
    assert again.stderr.strip() == (f"voice-guide: config --init: {path} already exists; edit "
                                    "it, or remove it first")
    elsewhere = tmp_path / "clinic" / "room2.toml"
    made = voice_guide("--config", str(elsewhere), "config", "--init", env=env)
    assert made.returncode == 0, made.stderr
    assert elsewhere.read_text(encoding="utf-8") == template()
    assert voice_guide("--config", str(elsewhere), "config", env=env).returncode == 0
