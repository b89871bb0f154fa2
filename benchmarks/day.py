"""False starts and false notes in human talk: what `serve` between clients must not hear.

    .venv/bin/python -m benchmarks.day [--split all|tune|validate]

Every talk and noise recording of `../shared/corpus` (`tests/human_corpus.py`) goes through what
`serve` listens with (segmenter, recognizer): once with only "start session" accepted (waiting
between clients), once with what a session accepts during a move (notes included). A
"start session" heard is a false start; a note heard is a false note. The bar for false starts
is one in ten hours; the corpus holds well under an hour, so a 0 here is a bound, not a proof.
The CPU time of each pass (this process) compares what waiting costs with listening in a session
on the same sound.
"""

from __future__ import annotations

import argparse
import time

from tests import human_corpus
from voice_guide.commands import GLOBAL_COMMANDS, Command
from voice_guide.listen.factory import make_recognizer
from voice_guide.listen.pipeline import listen_to
from voice_guide.wav import read_wav_16k


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.day")
    parser.add_argument("--split", choices=human_corpus.SPLITS, default="all")
    args, _ = parser.parse_known_args(argv)
    if not human_corpus.available():
        print(f"benchmarks.day: {human_corpus.ABSENT}; nothing measured")
        return 0
    recognizer, reason = make_recognizer("auto")
    talk = [*human_corpus.recordings("talk", args.split), *human_corpus.recordings("noise")]
    seconds = 0.0
    starts: list[str] = []
    notes: list[str] = []
    cpu_waiting = cpu_session = 0.0
    for item in talk:
        audio = read_wav_16k(item.path)
        seconds += len(audio) / 16_000
        began = time.process_time()
        for heard in listen_to(recognizer, audio, frozenset({Command.START})):
            starts.append(f"{item.path.name}@{heard.end:.1f}s: {heard.phrase!r}")
        cpu_waiting += time.process_time() - began
        began = time.process_time()
        for heard in listen_to(recognizer, audio, GLOBAL_COMMANDS):
            if heard.command is Command.NOTE:
                notes.append(f"{item.path.name}@{heard.end:.1f}s: {heard.phrase!r} {heard.text!r}")
        cpu_session += time.process_time() - began
    minutes = seconds / 60
    print(f"{reason}; talk and noise, split {args.split}: {len(talk)} recordings, "
          f"{minutes:.1f} min")
    print(f"  false starts ('start session' while waiting): {len(starts)} in {minutes:.1f} min")
    print(f"  false notes (during a move): {len(notes)} in {minutes:.1f} min")
    print(f"  CPU listening to it: waiting {100 * cpu_waiting / seconds:.1f} % of a core, "
          f"in a move {100 * cpu_session / seconds:.1f} %")
    for line in starts + notes:
        print(f"    {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
