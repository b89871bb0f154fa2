"""`voice-guide listen`: decode WAV recordings and print the commands heard in them."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from voice_guide.cli import add_engine_arguments

HELP = "decode WAV recordings and print the commands heard (one JSON object per line with --json)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="WAV files (any rate, channels)")
    parser.add_argument("--json", action="store_true", help="one JSON object per command heard")
    parser.add_argument("--verbose", action="store_true",
                        help="also each utterance that was no command: what the recognizer "
                             "wrote for it and why it was refused")
    parser.add_argument("--answers", action="store_true",
                        help="listen as while the client's answer to a check-in is awaited: "
                             "their own words (\"a little deeper\") are answers, and words "
                             "that are neither answer nor command are printed as unclear")
    add_engine_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from voice_guide.cli import fail
    from voice_guide.events import Unclear
    from voice_guide.listen.factory import EngineError, make_recognizer
    from voice_guide.listen.pipeline import hear_all
    from voice_guide.wav import WavError, read_wav_16k

    try:
        recognizer, reason = make_recognizer(args.engine, args.model, profile=args.profile)
    except EngineError as error:
        return fail(str(error))
    print(reason, file=sys.stderr)
    explained = Explaining(recognizer)
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
        heard = hear_all(explained if args.verbose else recognizer, audio, answers=args.answers)
        if args.verbose:
            for line in explained.refusals(path, args.json):
                print(line)
        if not heard and not args.json:
            print(f"{path}  nothing heard")
        for item in heard:
            if isinstance(item, Unclear):
                print(json.dumps({"file": path, "start": round(item.start, 3),
                                  "end": round(item.end, 3), "unclear": item.text})
                      if args.json else
                      f"{path}  {item.start:7.2f}-{item.end:7.2f}s  unclear    \"{item.text}\"")
            elif args.json:
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


class Explaining:
    """The recognizer, with each utterance it refused kept with its transcript and reason (the
    engine's `last` decision: whisper's `Verdict`)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self._refused: list[tuple[float, float, str, str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def recognize(self, segment: Any, commands: frozenset[Any]) -> Any:
        heard = self.inner.recognize(segment, commands)
        if heard is None:
            verdict = getattr(getattr(self.inner, "base", self.inner), "last", None)
            transcript = getattr(getattr(verdict, "transcript", None), "text", "")
            why = getattr(verdict, "why", "") or "not heard as a command"
            look = " (first look)" if segment.provisional else ""
            self._refused.append((segment.start, segment.end, transcript.strip(), why + look))
        return heard

    def refusals(self, path: str, as_json: bool) -> list[str]:
        """One line per refused utterance since the last call (its latest look)."""
        latest = {refusal[0]: refusal for refusal in self._refused}
        refused, self._refused = list(latest.values()), []
        if as_json:
            return [json.dumps({"file": path, "start": round(a, 3), "end": round(b, 3),
                                "refused": why, "transcript": text})
                    for a, b, text, why in refused]
        return [f"{path}  {a:7.2f}-{b:7.2f}s  refused    \"{text}\": {why}"
                for a, b, text, why in refused]
