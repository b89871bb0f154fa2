"""`make bench`: run every benchmark module present, one after another, and say how each went.

Each benchmark is a module of this package runnable as `python -m benchmarks.NAME` that prints its
own figures. They run in separate processes (a crash or a heavy model in one cannot skew the next),
in a fixed order for the known ones, then any others found. Extra arguments go to every module.
Exit status: non-zero when any benchmark failed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

# Known benchmarks first, in this order; any other module found here runs after them.
ORDER = ("room", "human", "answers", "day", "simulate", "synthetic", "vosk_ko", "speech", "live")
HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    extra = list(sys.argv[1:] if argv is None else argv)
    names = benchmark_names()
    if not names:
        print("no benchmarks found in benchmarks/")
        return 1
    failed: list[str] = []
    for name in names:
        print(f"\n=== benchmarks.{name} ===", flush=True)
        began = time.monotonic()
        status = subprocess.call([sys.executable, "-m", f"benchmarks.{name}", *extra],
                                 cwd=HERE.parent)
        took = time.monotonic() - began
        print(f"--- benchmarks.{name}: {'ok' if status == 0 else f'FAILED ({status})'}, "
              f"{took:.1f} s", flush=True)
        if status != 0:
            failed.append(name)
    print(f"\n{len(names) - len(failed)} of {len(names)} benchmarks ran"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def benchmark_names() -> list[str]:
    found = {
        path.stem for path in HERE.glob("*.py")
        if path.stem not in ("__init__", "run_all") and not path.stem.startswith("_")
    }
    return [name for name in ORDER if name in found] + sorted(found - set(ORDER))


if __name__ == "__main__":
    raise SystemExit(main())
