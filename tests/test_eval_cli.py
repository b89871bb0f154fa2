"""`voice-guide eval`: the manifest's `expect` column in people's words, the engine named as the
user chose it, figures that say "none" instead of "0 of 0 (None%)", and manifests read within a
bound. Real WAV files, the real Whisper model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from speech import FLITE_VOICES, NEURAL_VOICES, pad, synthesize, with_noise

from voice_guide.cli.evaluate import (
    MAX_MANIFEST_BYTES,
    ManifestError,
    engine_label,
    read_manifest,
)
from voice_guide.commands import Command
from voice_guide.wav import write_wav

COMMANDS = {str(c) for c in Command}
RATE = 16_000


def voice_guide(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voice_guide", *args], capture_output=True, text=True, timeout=120
    )


def manifest(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "m.tsv"
    path.write_text("path\texpect\n" + "".join(f"{row}\n" for row in rows))
    return path


def test_expect_takes_the_phrases_people_write_as_well_as_command_names(tmp_path: Path) -> None:
    path = manifest(
        tmp_path, "a.wav\thow long", "b.wav\tHow long?", "c.wav\ttime_left", "d.wav\tGo back",
        "e.wav\t", "f.wav\twhere am I", "g.wav\tNEXT",
    )
    rows = read_manifest(path, COMMANDS)
    assert [expect for _, expect in rows] == [
        "time_left", "time_left", "time_left", "back", "", "where", "next",
    ]
    assert rows[0][0] == tmp_path / "a.wav"


def test_an_expect_that_is_neither_phrase_nor_name_is_one_line_with_file_and_line(
    tmp_path: Path,
) -> None:
    path = manifest(tmp_path, "a.wav\thow long", "b.wav\tjump around")
    with pytest.raises(ManifestError) as error:
        read_manifest(path, COMMANDS)
    message = str(error.value)
    assert message.startswith(f"{path}:3: field 'expect': unknown command 'jump around' "
                              "(a phrase one would say, such as 'how long', or a command name:")
    assert "time_left" in message and "\n" not in message


def test_a_manifest_too_large_to_be_one_is_refused_unread(tmp_path: Path) -> None:
    huge = tmp_path / "huge.tsv"
    with open(huge, "wb") as handle:  # sparse: no disk space is used
        handle.truncate(MAX_MANIFEST_BYTES + 1)
    with pytest.raises(ManifestError, match="larger than 64 MB, too large for a manifest"):
        read_manifest(huge, COMMANDS)


def test_the_engine_is_named_as_the_user_chose_it() -> None:
    assert engine_label("whisper", "whisper+profile") == "whisper"
    assert engine_label("vosk", "vosk") == "vosk"
    assert engine_label("auto", "whisper+profile") == "auto: whisper"


def test_an_empty_manifest_is_one_line(tmp_path: Path) -> None:
    result = voice_guide("eval", str(manifest(tmp_path)))
    assert result.returncode == 2
    assert result.stderr == (
        f"voice-guide: {tmp_path / 'm.tsv'}: no clips listed (only the header line)\n"
    )


@pytest.mark.slow
def test_eval_with_phrases_and_only_command_clips(tmp_path: Path) -> None:
    clip = tmp_path / "how-long.wav"
    write_wav(clip, with_noise(pad(synthesize("how long", NEURAL_VOICES[1]), 0.5, 0.5), 30, 3))
    path = manifest(tmp_path, f"{clip.name}\thow long")
    result = voice_guide("eval", "--json", "--engine", "whisper", str(path))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["engine"] == "whisper"
    assert summary["command_clips"] == 1 and summary["negative_clips"] == 0
    assert summary["correct"] == 1, summary
    text = voice_guide("eval", str(path)).stdout
    assert text.splitlines()[0] == "engine: auto: whisper"
    assert "time_left          1" in text
    assert "false accepts: no clips without a command decoded" in text
    assert "None" not in text and "0 of 0" not in text


@pytest.mark.slow
def test_eval_with_only_no_command_clips_and_an_unreadable_one(tmp_path: Path) -> None:
    silence = tmp_path / "silence.wav"
    write_wav(silence, np.zeros(RATE, np.int16))
    path = manifest(tmp_path, f"{silence.name}\t", "missing.wav\thow long")
    result = voice_guide("eval", "--engine", "whisper", str(path))
    assert result.returncode == 1  # a file could not be read
    lines = result.stdout.splitlines()
    assert lines[0] == "engine: whisper"
    assert "commands: no command clips decoded" in lines
    assert any(line.startswith("false accepts: 0 of 1 no-command clips (0.0%)") for line in lines)
    assert "unreadable files: 1" in lines
    assert "None" not in result.stdout
    assert "missing.wav: no such file" in result.stderr


@pytest.mark.slow
def test_show_gives_a_row_per_file_with_what_was_heard(tmp_path: Path) -> None:
    """Whisper on flite's "next" (labelled right), its "no" labelled "next" (a confusion to
    look into), silence (no command) and a missing file: a row each, then the figures."""
    voice = FLITE_VOICES[0]
    for name, text in (("next.wav", "next"), ("no.wav", "no")):
        write_wav(tmp_path / name, with_noise(pad(synthesize(text, voice), 0.6, 0.6), 30, 3))
    write_wav(tmp_path / "quiet.wav", np.zeros(RATE, np.int16))
    path = manifest(tmp_path, "next.wav\tnext", "no.wav\tnext", "quiet.wav\t",
                    "missing.wav\thow long")
    result = voice_guide("eval", "--show", "--engine", "whisper", "--profile", "none", str(path))
    assert result.returncode == 1, result.stderr  # a file could not be read
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["path", "expected", "heard", "outcome"]
    assert lines[1].split() == ["next.wav", "next", "next", '("next")', "correct"]
    assert lines[2].split() == ["no.wav", "next", "no", '("no")', "wrong"]
    assert lines[3].split() == ["quiet.wav", "-", "-", "no", "command"]
    assert lines[4].split() == ["missing.wav", "time_left", "-", "unreadable"]
    assert lines[5] == "" and lines[6] == "engine: whisper"
    assert "confusions: next->no x1" in lines
    data = json.loads(voice_guide("eval", "--show", "--json", "--engine", "whisper",
                                  "--profile", "none", str(path)).stdout)
    assert data["files"][1] == {"path": "no.wav", "expected": "next",
                                "heard": [{"command": "no", "phrase": "no"}],
                                "outcome": "wrong"}
    assert [f["outcome"] for f in data["files"]] == ["correct", "wrong", "no command",
                                                     "unreadable"]
