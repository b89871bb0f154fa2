"""How fast a scripted session runs: `python -m benchmarks.simulate [--repeat N]`.

The issue asks that a scripted 45-minute session run through `simulate` in well under a second.
Prints, for tests/scripts/full_session.txt on protocol.yaml (about 51 minutes of session time
with the rest): the in-process time of `simulate()` (median and best of N), the same with
`--auto` and no commands, and the wall time of the whole `python -m voice_guide simulate`
command (interpreter start, imports, protocol load, JSON output).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from voice_guide.protocol import load
from voice_guide.session import SessionSettings
from voice_guide.simulate import load_command_script, simulate

REPO = Path(__file__).resolve().parent.parent
FULL = REPO / "tests" / "scripts" / "full_session.txt"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.simulate")
    parser.add_argument("--repeat", type=int, default=50, help="runs per in-process figure")
    args, _ = parser.parse_known_args(argv)  # run_all passes every benchmark the same extras
    script = load()
    phrases = load_command_script(FULL)
    log = simulate(script, phrases)
    session_minutes = log[-1]["t"] / 60
    print(f"script: {FULL.relative_to(REPO)}: {len(phrases)} lines, "
          f"{session_minutes:.1f} min of session time, {len(log)} log records, "
          f"{len(script.steps)} steps")
    _report("simulate() scripted", args.repeat, lambda: simulate(script, phrases))
    _report("simulate() --auto, no lines", args.repeat,
            lambda: simulate(script, [], settings=SessionSettings(auto=True)))
    walls = []
    for _ in range(5):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-m", "voice_guide", "simulate", "--script", str(FULL)],
                       cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - began)
    print(f"{'whole command (python -m voice_guide simulate)':<48} "
          f"median {statistics.median(walls) * 1000:7.1f} ms   best {min(walls) * 1000:7.1f} ms")
    return 0


def _report(label: str, repeat: int, run: Callable[[], object]) -> None:
    times = []
    for _ in range(max(1, repeat)):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    print(f"{label:<48} median {statistics.median(times) * 1000:7.2f} ms   "
          f"best {min(times) * 1000:7.2f} ms")


if __name__ == "__main__":
    raise SystemExit(main())
