"""`voice-guide eval MANIFEST.tsv`: recognition accuracy on labelled recordings.

The manifest is tab-separated with a header naming the columns `path` (WAV file, relative to the
manifest's folder unless absolute) and `expect`: what the clip says, as one would say it ("how
long", "go back") or as the command's name (`time_left`, `back`), or empty for a clip that holds
no command. Each clip is decoded with the full vocabulary through the whole listening pipeline.
A command clip is correct when the expected command, and only it, is heard; wrong when another
command is heard; missed when nothing is. Anything heard in a no-command clip is a false accept.
`--show` prints a row per file as it is decoded (path, expected, heard, outcome), so a confusion
such as "next" -> "no" can be looked into.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from voice_guide.cli import add_engine_arguments

if TYPE_CHECKING:
    from voice_guide.events import Heard

HELP = "measure recognition on a manifest of labelled WAV files (columns: path, expect)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("manifest", metavar="MANIFEST.tsv", help="tab-separated: path, expect")
    add_engine_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--show", action="store_true",
                        help="a row per file: path, expected, heard, outcome (with --json: "
                        "a \"files\" list in the object)")


@dataclass
class Tally:
    """Running counts of an evaluation."""

    correct: Counter[str] = field(default_factory=Counter)
    wrong: Counter[str] = field(default_factory=Counter)
    missed: Counter[str] = field(default_factory=Counter)
    confusions: Counter[tuple[str, str]] = field(default_factory=Counter)
    negative_clips: int = 0
    false_accept_clips: int = 0
    false_accepts: int = 0
    negative_seconds: float = 0.0
    audio_seconds: float = 0.0
    cpu_seconds: float = 0.0
    unreadable: int = 0

    def add(self, expect: str, heard: list[str], seconds: float) -> str:
        """Count one clip; its outcome (`outcome`)."""
        if not expect:
            self.negative_clips += 1
            self.negative_seconds += seconds
            self.false_accepts += len(heard)
            self.false_accept_clips += bool(heard)
        elif heard == [expect]:
            self.correct[expect] += 1
        elif not heard:
            self.missed[expect] += 1
        else:
            self.wrong[expect] += 1
            for other in heard:
                if other != expect:
                    self.confusions[(expect, other)] += 1
        return outcome(expect, heard)

    def summary(self) -> dict[str, object]:
        commands = sorted(set(self.correct) | set(self.wrong) | set(self.missed))
        total = sum(self.correct.values()) + sum(self.wrong.values()) + sum(self.missed.values())
        hours = self.negative_seconds / 3600
        return {
            "command_clips": total,
            "correct": sum(self.correct.values()),
            "wrong": sum(self.wrong.values()),
            "missed": sum(self.missed.values()),
            "correct_pct": _pct(sum(self.correct.values()), total),
            "wrong_pct": _pct(sum(self.wrong.values()), total),
            "missed_pct": _pct(sum(self.missed.values()), total),
            "per_command": {
                c: {"correct": self.correct[c], "wrong": self.wrong[c], "missed": self.missed[c]}
                for c in commands
            },
            "confusions": {f"{a}->{b}": n for (a, b), n in self.confusions.most_common()},
            "negative_clips": self.negative_clips,
            "false_accept_clips": self.false_accept_clips,
            "false_accept_pct": _pct(self.false_accept_clips, self.negative_clips),
            "false_accepts_per_hour": round(self.false_accepts / hours, 2) if hours else None,
            "negative_hours": round(hours, 4),
            "audio_seconds": round(self.audio_seconds, 2),
            "real_time_factor": round(self.cpu_seconds / self.audio_seconds, 4)
            if self.audio_seconds else None,
            "unreadable": self.unreadable,
        }


def run(args: argparse.Namespace) -> int:
    from voice_guide.cli import fail
    from voice_guide.commands import Command
    from voice_guide.listen.factory import EngineError, make_recognizer
    from voice_guide.listen.pipeline import listen_to
    from voice_guide.wav import WavError, read_wav_16k

    try:
        rows = read_manifest(Path(args.manifest), {str(c) for c in Command})
    except ManifestError as error:
        return fail(str(error))
    if not rows:
        return fail(f"{args.manifest}: no clips listed (only the header line)")
    try:
        recognizer, reason = make_recognizer(args.engine, args.model, profile=args.profile)
    except EngineError as error:
        return fail(str(error))
    print(reason, file=sys.stderr)
    tally = Tally()
    table = FileRows(rows, Path(args.manifest).parent) if args.show else None
    if table is not None and not args.json:
        print(table.header(), flush=True)
    for path, expect in rows:
        try:
            audio = read_wav_16k(path)
        except WavError as error:
            print(f"voice-guide: {error}", file=sys.stderr)
            tally.unreadable += 1
            if table is not None:
                table.add(path, expect, [], "unreadable", show=not args.json)
            continue
        began = time.process_time()
        heard = listen_to(recognizer, audio)
        tally.cpu_seconds += time.process_time() - began
        seconds = len(audio) / 16_000
        tally.audio_seconds += seconds
        result = tally.add(expect, [str(h.command) for h in heard], seconds)
        if table is not None:
            table.add(path, expect, heard, result, show=not args.json)
    summary = {"engine": engine_label(args.engine, recognizer.name), **tally.summary()}
    if table is not None and args.json:
        summary["files"] = table.files
    elif table is not None:
        print()
    print(json.dumps(summary) if args.json else render(summary))
    return 1 if tally.unreadable else 0


def outcome(expect: str, heard: list[str]) -> str:
    """One clip's outcome: correct, wrong or missed for a command clip; for a clip without a
    command, a false accept when anything was heard, else "no command" (right)."""
    if not expect:
        return "false accept" if heard else "no command"
    if heard == [expect]:
        return "correct"
    return "missed" if not heard else "wrong"


class FileRows:
    """`--show`: a row per file, printed as it is decoded (columns sized from the manifest, so
    a long evaluation shows its progress), and kept for `--json`."""

    def __init__(self, rows: list[tuple[Path, str]], folder: Path) -> None:
        self.folder = folder
        self.width = max([len("path")] + [len(self._name(path)) for path, _ in rows])
        self.files: list[dict[str, object]] = []

    def header(self) -> str:
        return f"{'path':<{self.width}}  {'expected':<10}  {'heard':<24}  outcome"

    def add(self, path: Path, expect: str, heard: list[Heard], result: str, show: bool) -> None:
        name = self._name(path)
        self.files.append({"path": name, "expected": expect or None,
                           "heard": [{"command": str(h.command), "phrase": h.phrase}
                                     for h in heard],
                           "outcome": result})
        if show:
            said = ", ".join(f'{h.command} ("{h.phrase}")' for h in heard) or "-"
            print(f"{name:<{self.width}}  {expect or '-':<10}  {said:<24}  {result}", flush=True)

    def _name(self, path: Path) -> str:
        """The path as the manifest gives it (relative to its folder) when it is under it."""
        try:
            return str(path.relative_to(self.folder))
        except ValueError:
            return str(path)


class ManifestError(Exception):
    """A manifest that cannot be used; the message names the file, line and field."""


# A manifest is a list of file names: a million rows are well under this. A bigger file is
# something else named by mistake (a WAV, a device), and is not read into memory.
MAX_MANIFEST_BYTES = 64 * 1024 * 1024


def engine_label(chosen: str, recognizer: str) -> str:
    """The engine as `--engine` names it ("whisper", not "whisper+profile"), so the figures can
    be told apart by the command that made them; `auto` says what it chose (the first part of
    the recognizer's name: the engine behind a profile)."""
    return f"auto: {recognizer.split('+')[0]}" if chosen == "auto" else chosen


def read_manifest(manifest: Path, commands: set[str]) -> list[tuple[Path, str]]:
    """(path, expected command or "") per row; paths are relative to the manifest's folder."""
    from voice_guide.journal import read_limited

    try:
        text = read_limited(manifest, MAX_MANIFEST_BYTES, "a manifest").decode("utf-8")
    except FileNotFoundError:
        raise ManifestError(f"{manifest}: no such file") from None
    except OSError as error:
        raise ManifestError(f"{manifest}: cannot read ({error.strerror or error})") from None
    except UnicodeDecodeError:
        raise ManifestError(f"{manifest}: cannot read (not UTF-8 text)") from None
    lines = text.splitlines()
    reader = csv.reader(lines, delimiter="\t")
    header = next(reader, None)
    if header is None or "path" not in header or "expect" not in header:
        raise ManifestError(f"{manifest}:1: the header must name the columns 'path' and 'expect'")
    path_at, expect_at = header.index("path"), header.index("expect")
    rows: list[tuple[Path, str]] = []
    for number, row in enumerate(reader, start=2):
        if not row or not any(cell.strip() for cell in row):
            continue
        cells = row + [""] * (len(header) - len(row))
        path = cells[path_at].strip()
        written = cells[expect_at].strip()
        if not path:
            raise ManifestError(f"{manifest}:{number}: field 'path' is empty")
        expect = expected_command(written, commands)
        if expect is None:
            raise ManifestError(
                f"{manifest}:{number}: field 'expect': unknown command {written.lower()!r} "
                f"(a phrase one would say, such as 'how long', or a command name: "
                f"{', '.join(sorted(commands))}; or empty)"
            )
        full = Path(path) if Path(path).is_absolute() else manifest.parent / path
        rows.append((full, expect))
    return rows


def expected_command(written: str, commands: set[str]) -> str | None:
    """The command name for an `expect` cell: a name as it is (`time_left`), a phrase as the
    recognizer would hear it ("how long", "How long?"); "" for an empty cell; None if neither.
    People write what the clip says, not internal names."""
    from voice_guide.commands import parse

    name = written.strip().lower()
    if not name or name in commands:
        return name
    command = parse(written)
    return None if command is None else str(command)


def render(summary: dict) -> str:
    """The figures as a short table. A kind of clip the manifest has none of (or none that could
    be read) is said in words: "0 of 0 (None%)" reads like a measurement."""
    lines = [f"engine: {summary['engine']}"]
    if summary["command_clips"]:
        lines.append("command      correct  wrong  missed")
        for command, counts in summary["per_command"].items():
            lines.append(
                f"{command:<12} {counts['correct']:>7}  {counts['wrong']:>5}  "
                f"{counts['missed']:>6}"
            )
        lines.append(
            f"{'all':<12} {summary['correct']:>7}  {summary['wrong']:>5}  {summary['missed']:>6}"
            f"   ({summary['correct_pct']}% correct, {summary['wrong_pct']}% wrong, "
            f"{summary['missed_pct']}% missed of {summary['command_clips']} command clips)"
        )
    else:
        lines.append("commands: no command clips decoded")
    if summary["confusions"]:
        pairs = summary["confusions"].items()
        lines.append("confusions: " + ", ".join(f"{k} x{v}" for k, v in pairs))
    per_hour = summary["false_accepts_per_hour"]
    if summary["negative_clips"]:
        lines.append(
            f"false accepts: {summary['false_accept_clips']} of {summary['negative_clips']} "
            f"no-command clips ({summary['false_accept_pct']}%)"
            + (f", {per_hour} per hour of audio" if per_hour is not None else "")
        )
    else:
        lines.append("false accepts: no clips without a command decoded")
    rtf = summary["real_time_factor"]
    lines.append(
        f"decoding: {summary['audio_seconds']} s of audio, real-time factor {rtf}"
        if rtf is not None else "decoding: no audio decoded"
    )
    if summary["unreadable"]:
        lines.append(f"unreadable files: {summary['unreadable']}")
    return "\n".join(lines)


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None
