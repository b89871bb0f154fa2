"""`voice-guide check [PROTOCOL] [--json]`: validate a protocol, print the expanded script.

Words as everywhere else: a *step* is one of the protocol's numbered steps, a *move* one item of
the expanded script (a repeat step is several moves). The check-ins shown are the ones a session
asks when every move takes its time (`voice_guide.session.planned_checkins`: the session's own
rules, run on a virtual clock).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from voice_guide.cli import fail
from voice_guide.prompts import clock, count, long_session_warning
from voice_guide.protocol import DEFAULT_PROTOCOL, ProtocolError, Script, Step, load
from voice_guide.session import PlannedCheckIn, planned_checkins

# The spacing rule of the check-ins, as the session applies it (see voice_guide.session).
CHECKIN_RULE = (
    "after every move marked checkin (unless skipped or already asked during it), and whenever "
    "{every:g} min of hands-on time pass without a question (mid-move if need be), never in "
    "the rest"
)

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
    warning = long_session_warning(script)
    if warning is not None:
        print(f"voice-guide: warning: {warning}", file=sys.stderr)
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
            "follow_up": script.checkins.follow_up,
            "follow_up_on": list(script.checkins.follow_up_on),
            "every_minutes": script.checkins.every_minutes,
            "answer_seconds": script.checkins.answer_seconds,
            "planned": [
                {"seconds": c.seconds, "index": c.index, "reason": c.reason, "during": c.during}
                for c in planned_checkins(script)
            ],
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
        "station_name": step.station.name,
        "side": step.side,
        "say": step.say,
        "details": step.details,
        "seconds": step.seconds,
        "cues": list(step.cues),
        "checkin": step.checkin,
    }


def script_text(script: Script) -> str:
    """A readable table of the expanded script: one line per move, with its step, the step it
    copies, its station, its start and the check-ins; station changes as headings."""
    steps = len({step.number for step in script.steps})
    planned = planned_checkins(script)
    by_move: dict[int, list[PlannedCheckIn]] = {}
    for checkin in planned:
        by_move.setdefault(checkin.index, []).append(checkin)
    width = max(len("station"), *(len(step.station.id) for step in script.steps))
    lines = [
        f"{script.name}: {count(steps, 'step')}, {count(len(script.steps), 'move')}, "
        f"{clock(script.total_seconds)} hands-on"
        + (f"  ({script.source})" if script.source is not None else ""),
        "",
        f"{'move':>4}  {'step':>4}  {'copies':>6}  {'station':<{width}}  {'side':<5}  "
        f"{'time':>5}  {'start':>5}  title",
    ]
    station = None
    start = 0
    for step in script.steps:
        if step.station != station:
            station = step.station
            lines.append(f"{'':>6}[{station.id}] {station.announce}")
        copies = str(step.origin) if step.origin != step.number else ""
        asked = "".join(f"  + check-in {_checkin_text(c, script.checkins.every_minutes)}"
                        for c in by_move.get(step.index, []))
        lines.append(
            f"{step.index:>4}  {step.number:>4}  {copies:>6}  {step.station.id:<{width}}  "
            f"{step.side or '-':<5}  {clock(step.seconds):>5}  {clock(start):>5}  "
            f"{step.title}{asked}"
        )
        start += step.seconds
    checkins, rest = script.checkins, script.rest
    follow_up = (
        f"; on {' or '.join(repr(w) for w in checkins.follow_up_on)}: \"{checkins.follow_up}\""
        if checkins.follow_up else ""
    )
    lines += [
        "",
        f"total {script.total_seconds} s ({clock(script.total_seconds)}) hands-on, "
        f"then rest {rest.seconds} s ({clock(rest.seconds)})",
        "check-ins when each move takes its time: "
        + (f"{len(planned)}, at {', '.join(clock(c.seconds) for c in planned)}" if planned
           else "none"),
        f"  asked {CHECKIN_RULE.format(every=checkins.every_minutes)}",
        f"  \"{checkins.question}\"{follow_up}; answer window {checkins.answer_seconds:g} s "
        "from the end of each question",
        f"preparation: {count(len(script.preparation), 'item')}",
    ]
    return "\n".join(lines)


def _checkin_text(checkin: PlannedCheckIn, every_minutes: float) -> str:
    """`5:15` after a flagged move; why and when, for one the clock asked for."""
    text = clock(checkin.seconds)
    if checkin.reason != "step":
        text += f" ({every_minutes:g} min without one)"
    return f"{text} during the move" if checkin.during else text
