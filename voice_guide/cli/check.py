"""`voice-guide check [PROTOCOL] [--json]`: validate a protocol, print the expanded script."""

from __future__ import annotations

import argparse
import json
from typing import Any

from voice_guide.cli import fail
from voice_guide.protocol import DEFAULT_PROTOCOL, ProtocolError, Script, Step, load

HELP = "validate a protocol file and print the expanded script (every move in session order)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "protocol", nargs="?", default=str(DEFAULT_PROTOCOL), metavar="PROTOCOL",
        help="protocol YAML file (default: the back-massage protocol.yaml)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the expanded script as one JSON object"
    )


def run(args: argparse.Namespace) -> int:
    try:
        script = load(args.protocol)
    except ProtocolError as error:
        for problem in error.problems:
            fail(problem)
        return 2
    if args.json:
        print(json.dumps(script_json(script), indent=2, ensure_ascii=False))
    else:
        print(script_text(script))
    return 0


def script_json(script: Script) -> dict[str, Any]:
    """The expanded script as plain JSON data (the `--json` output)."""
    return {
        "name": script.name,
        "source": str(script.source) if script.source is not None else None,
        "preparation": list(script.preparation),
        "opening": script.opening,
        "stations": {
            step.station.id: step.station.announce for step in script.steps
        },
        "steps": [step_json(step) for step in script.steps],
        "total_seconds": script.total_seconds,
        "checkins": {
            "question": script.checkins.question,
            "every_minutes": script.checkins.every_minutes,
            "answer_seconds": script.checkins.answer_seconds,
        },
        "rest": {
            "seconds": script.rest.seconds,
            "say": script.rest.say,
            "closing": script.rest.closing,
        },
    }


def step_json(step: Step) -> dict[str, Any]:
    return {
        "index": step.index,
        "number": step.number,
        "origin": step.origin,
        "title": step.title,
        "station": step.station.id,
        "side": step.side,
        "say": step.say,
        "details": step.details,
        "seconds": step.seconds,
        "cues": list(step.cues),
        "checkin": step.checkin,
    }


def script_text(script: Script) -> str:
    """A readable table of the expanded script, station changes as headings."""
    seeds = len({step.number for step in script.steps})
    lines = [
        f"{script.name}: {seeds} steps, {len(script.steps)} moves, "
        f"{_clock(script.total_seconds)} hands-on"
        + (f"  ({script.source})" if script.source is not None else ""),
        "",
        f"{'#':>3}  {'step':>4}  {'move':>4}  {'side':<5}  {'time':>5}  title",
    ]
    station = None
    for step in script.steps:
        if step.station != station:
            station = step.station
            lines.append(f"     [{station.id}] {station.announce}")
        move = str(step.origin) if step.origin != step.number else ""
        flag = "  + pressure check-in" if step.checkin else ""
        lines.append(
            f"{step.index:>3}  {step.number:>4}  {move:>4}  {step.side or '-':<5}  "
            f"{_clock(step.seconds):>5}  {step.title}{flag}"
        )
    checkins, rest = script.checkins, script.rest
    lines += [
        "",
        f"total {script.total_seconds} s ({_clock(script.total_seconds)}) hands-on, "
        f"then rest {rest.seconds} s ({_clock(rest.seconds)})",
        f"check-ins: at least every {checkins.every_minutes:g} min of hands-on time, "
        f"answer window {checkins.answer_seconds:g} s: \"{checkins.question}\"",
        f"preparation: {len(script.preparation)} items",
    ]
    return "\n".join(lines)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}:{secs:02d}"
