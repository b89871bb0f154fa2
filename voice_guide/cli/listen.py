"""`voice-guide listen`: decode WAV recordings and print the commands heard in them."""

from __future__ import annotations

import argparse
import json
import sys

from voice_guide.cli import add_engine_arguments

HELP = "decode WAV recordings and print the commands heard (one JSON object per line with --json)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="WAV files (any rate, channels)")
    parser.add_argument("--json", action="store_true", help="one JSON object per command heard")
    add_engine_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from voice_guide.cli import fail
    from voice_guide.listen.factory import EngineError, make_recognizer
    from voice_guide.listen.pipeline import listen_to
    from voice_guide.wav import WavError, read_wav_16k

    try:
        recognizer, reason = make_recognizer(args.engine, args.model, profile=args.profile)
    except EngineError as error:
        return fail(str(error))
    print(reason, file=sys.stderr)
    failures = 0
    for path in args.files:
        problems: list[str] = []
        try:
            audio = read_wav_16k(path, problems)
        except WavError as error:
            print(f"voice-guide: {error}", file=sys.stderr)
            failures += 1
            continue
        for problem in problems:
            print(f"voice-guide: warning: {problem}", file=sys.stderr)
        heard = listen_to(recognizer, audio)
        if not heard and not args.json:
            print(f"{path}  nothing heard")
        for item in heard:
            if args.json:
                print(json.dumps({
                    "file": path, "start": round(item.start, 3), "end": round(item.end, 3),
                    "command": str(item.command), "phrase": item.phrase,
                    "confidence": round(item.confidence, 3),
                }))
            else:
                print(f"{path}  {item.start:7.2f}-{item.end:7.2f}s  {item.command:<9}  "
                      f"\"{item.phrase}\"  ({item.confidence:.2f})")
        sys.stdout.flush()
    if failures:
        print(f"voice-guide: {failures} of {len(args.files)} files could not be read",
              file=sys.stderr)
        return 1
    return 0
