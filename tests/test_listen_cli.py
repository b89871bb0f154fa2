"""`voice-guide listen` and `voice-guide eval` on generated WAV files, the real Whisper model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from speech import FLITE_VOICES, NEURAL_VOICES, SENTENCES, pad, synthesize, with_noise

from voice_guide.wav import write_wav

pytestmark = pytest.mark.slow
RATE = 16_000


def voice_guide(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voice_guide", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("recordings")
    voice = NEURAL_VOICES[1]  # hibari heart: a voice Whisper hears well
    two = np.concatenate([pad(synthesize("next step", voice), 0.8, 0.0),
                          pad(synthesize("how much longer", voice), 1.0, 0.8)])
    files = {
        "two": with_noise(two, 30, 1),
        "talk": with_noise(pad(synthesize(SENTENCES[1], voice), 0.5, 0.5), 30, 2),
        "silence": np.zeros(RATE * 2, np.int16),
    }
    paths = {}
    for name, audio in files.items():
        paths[name] = folder / f"{name}.wav"
        write_wav(paths[name], audio)
    # the same two commands at 44.1 kHz stereo
    import wave

    from scipy.signal import resample_poly

    stereo = resample_poly(files["two"].astype(np.float64), 441, 160)
    frames = np.stack([stereo, stereo], axis=1).round().clip(-32768, 32767).astype("<i2")
    paths["two44"] = folder / "two44.wav"
    with wave.open(str(paths["two44"]), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(44100)
        out.writeframes(frames.tobytes())
    return paths


def test_listen_json_prints_one_object_per_command(recordings: dict[str, Path]) -> None:
    files = [recordings[n] for n in ("two", "talk", "silence", "two44")]
    result = voice_guide("listen", "--json", "--engine", "whisper", *map(str, files))
    assert result.returncode == 0, result.stderr
    assert "engine: whisper" in result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    for row in rows:
        assert set(row) == {"file", "start", "end", "command", "phrase", "confidence"}
    by_file: dict[str, list[str]] = {}
    for row in rows:
        by_file.setdefault(Path(row["file"]).stem, []).append(row["command"])
    assert by_file.get("two") == ["next", "time_left"]
    assert by_file.get("two44") == ["next", "time_left"]
    assert "talk" not in by_file and "silence" not in by_file
    first = rows[0]
    assert first["phrase"] == "next step"
    assert 0.5 < first["start"] < first["end"] < 2.2


def test_missing_and_unreadable_files_are_reported_and_others_still_decoded(
    recordings: dict[str, Path], tmp_path: Path,
) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_text("not audio")
    result = voice_guide("listen", "--json", "--engine", "whisper",
                         str(tmp_path / "missing.wav"), str(junk), str(recordings["two"]))
    assert result.returncode != 0
    assert "missing.wav: no such file" in result.stderr
    assert "junk.wav: not a WAV file" in result.stderr
    assert "Traceback" not in result.stderr
    assert [json.loads(line)["command"] for line in result.stdout.splitlines()] == [
        "next", "time_left",
    ]


def test_listen_without_json_prints_readable_lines(recordings: dict[str, Path]) -> None:
    result = voice_guide("listen", "--engine", "whisper", str(recordings["two"]))
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and '"next step"' in lines[0] and "time_left" in lines[1]


def test_eval_counts_correct_and_false_accepts(recordings: dict[str, Path], tmp_path: Path) -> None:
    folder = recordings["two"].parent
    clip = tmp_path / "pause.wav"
    write_wav(clip, with_noise(pad(synthesize("skip step", FLITE_VOICES[2]), 0.5, 0.5), 30, 4))
    manifest = tmp_path / "manifest.tsv"
    manifest.write_text(
        "path\texpect\n"
        f"{clip}\tskip\n"
        f"{folder / 'talk.wav'}\t\n"
        f"{folder / 'silence.wav'}\t\n"
    )
    result = voice_guide("eval", "--json", "--engine", "whisper", str(manifest))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["correct"] == 1 and summary["command_clips"] == 1
    assert summary["negative_clips"] == 2 and summary["false_accept_clips"] == 0
    assert summary["real_time_factor"] > 0
    text = voice_guide("eval", "--engine", "whisper", str(manifest))
    assert "skip" in text.stdout and "false accepts: 0 of 2" in text.stdout


def test_eval_bad_manifest_is_one_line_with_file_and_line(tmp_path: Path) -> None:
    manifest = tmp_path / "m.tsv"
    manifest.write_text("path\texpect\na.wav\tjump\n")
    result = voice_guide("eval", str(manifest))
    assert result.returncode == 2
    assert "m.tsv:2: field 'expect': unknown command 'jump'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_retired_engines_and_options_are_refused(recordings: dict[str, Path]) -> None:
    for engine in ("pocketsphinx", "classifier", "combined"):
        wrong = voice_guide("listen", "--engine", engine, str(recordings["two"]))
        assert wrong.returncode == 2 and f"invalid choice: '{engine}'" in wrong.stderr
    wrong = voice_guide("listen", "--sensitivity", "high", str(recordings["two"]))
    assert wrong.returncode == 2 and "unrecognized arguments: --sensitivity" in wrong.stderr


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A command, words that are none, and a client's answer in their own words."""
    voice = NEURAL_VOICES[1]
    audio = np.concatenate([with_noise(pad(synthesize(text, voice), 1.0, 1.0), 25, seed)
                            for seed, text in enumerate(("next", "banana bread",
                                                         "a little deeper"))])
    path = tmp_path_factory.mktemp("mixed") / "mixed.wav"
    write_wav(path, audio)
    return path


def test_listen_verbose_says_what_was_heard_in_an_utterance_that_was_no_command(
        mixed: Path) -> None:
    result = voice_guide("listen", "--verbose", "--json", str(mixed))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["command"] for line in lines if "command" in line] == ["next"]
    refused = {line["transcript"].lower().strip(".!"): line["refused"]
               for line in lines if "refused" in line}
    assert refused["banana bread"].startswith("not a phrase of the vocabulary")
    assert refused["a little deeper"].startswith("not a phrase of the vocabulary")


def test_listen_answers_reads_the_clients_own_words(mixed: Path) -> None:
    result = voice_guide("listen", "--answers", "--json", str(mixed))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line.get("command") or "unclear" for line in lines] == ["next", "unclear", "deeper"]
    assert lines[1]["unclear"].lower().startswith("banana")
    assert lines[2]["phrase"] == "a little deeper"
