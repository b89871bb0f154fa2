"""`voice-guide say --out`: where the WAV file cannot be written, one line on stderr (the
`Wave_write.__del__` traceback that used to follow it is gone) and no broken file left behind.
No audio device is used: `--out` plays nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def say(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voice_guide", "say", *args],
        capture_output=True, text=True, timeout=60, env=dict(os.environ),
    )


@pytest.mark.parametrize(
    ("target", "complaint"),
    [
        ("folder/", "--out {tmp}/folder/ is a folder; give a file name "
         "(e.g. {tmp}/folder/say.wav)"),
        ("folder", "--out {tmp}/folder is a folder; give a file name "
         "(e.g. {tmp}/folder/say.wav)"),
        ("missing/x.wav", "cannot write {tmp}/missing/x.wav: the folder {tmp}/missing does not "
         "exist"),
        ("afile/x.wav", "cannot write {tmp}/afile/x.wav: {tmp}/afile is a file, not a folder"),
    ],
)
def test_say_out_where_no_file_can_be_written_is_one_line(
    tmp_path: Path, target: str, complaint: str
) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "afile").write_text("")
    done = say("Sound check.", "--out", f"{tmp_path}/{target}")
    assert done.returncode == 2
    assert done.stderr == f"voice-guide: say: {complaint.format(tmp=tmp_path)}\n"  # no traceback
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "folder"]


def test_say_out_on_a_full_disk_is_one_line_and_leaves_no_broken_file(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        done = say("A sentence long enough not to fit in eight kilobytes of audio.",
                   "--out", str(disk / "x.wav"))
        assert done.returncode == 2
        assert done.stderr == (
            f"voice-guide: say: cannot write {disk}/x.wav: No space left on device\n"
        )
        assert list(disk.iterdir()) == []
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
