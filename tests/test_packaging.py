"""An installed voice-guide (a wheel, not the source tree) has its default protocol."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def test_a_built_wheel_ships_the_protocol_and_checks_it(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(tmp_path / "dist"), str(REPO)],
        capture_output=True, text=True, timeout=300,
    )
    assert built.returncode == 0, built.stderr
    wheel = next((tmp_path / "dist").glob("voice_guide-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        assert "voice_guide/protocol.yaml" in archive.namelist()
        archive.extractall(tmp_path / "installed")
    # the wheel's code alone on the path (its dependencies from this environment), run from
    # elsewhere than the repository: the default protocol must come from the package
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "installed")}
    result = subprocess.run([sys.executable, "-m", "voice_guide", "check"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "22 steps" in result.stdout
    where = subprocess.run(
        [sys.executable, "-c", "import voice_guide; print(voice_guide.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert where.stdout.startswith(str(tmp_path / "installed"))  # not the source tree
