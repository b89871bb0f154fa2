"""The live status in the terminal: readable at a glance from across the treatment room.

`StatusPanel.show(view)` keeps a few large, high-contrast lines at the bottom of a terminal
(station, step and move, time in the move or rest left, session time left, what was last heard),
redrawn in place with plain ANSI codes, each cut to the terminal's width (a wrapped line would
be left behind at the next redraw); prompts (`StatusPanel.say`) scroll above it. While the
microphone is muted for the room speaker the HEARD line says so (`StatusView.waiting`). When only
the clock moved, just its line is rewritten (cursor saved and restored), so a command being typed
below the panel is left alone and the clock keeps running between commands. When the output is
not a terminal (piped, logged, driven by another program) it degrades to plain lines: one line
per prompt, and a status line only when the step, phase or last heard command changes, never
every second.

Words: a *step* is one of the protocol's numbered steps, a *move* one item of the expanded
script (a repeat step is several moves).
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from voice_guide.events import Phase
from voice_guide.progress import Awaiting
from voice_guide.prompts import (
    FLAG_CLIENT_ANSWER,
    FLAG_CONFIRM_END,
    FLAG_PAUSED,
    clock,
    minutes_short,
)


class SessionStatusLike(Protocol):
    """The fields of `voice_guide.session.SessionStatus` this panel reads (read-only, so the
    frozen dataclass matches)."""

    @property
    def phase(self) -> Phase: ...
    @property
    def index(self) -> int: ...
    @property
    def total_steps(self) -> int: ...
    @property
    def step(self) -> Any: ...
    @property
    def seconds_in_step(self) -> float: ...
    @property
    def seconds_left_in_step(self) -> float: ...
    @property
    def seconds_left_in_session(self) -> float: ...
    @property
    def paused(self) -> bool: ...
    @property
    def awaiting(self) -> Awaiting | None: ...
    @property
    def prep_item(self) -> int | None: ...
    @property
    def prep_items(self) -> int: ...


@dataclass(frozen=True)
class StatusView:
    """What the panel shows, already worded. Built by `view_of` from the session's status."""

    phase: Phase
    headline: str  # "STEP 17 (REPEAT OF 9)  MOVE 20/34" or "REST" ...
    title: str  # the move's title
    station: str  # "Client's left, right side of the back"
    in_step: str  # "1:05 / 2:00": time in the move, of its time; in the rest: rest left
    session_left: str  # "38 min"
    heard: str  # the last command heard, or ""
    flag: str  # "PAUSED", "END SESSION? yes / no", "waiting for the client's answer", or ""
    timer: str = "move time"  # what `in_step` measures: "move time" or "rest left"
    # What listening waits for now ("listening waits for the room speaker": the microphone is
    # muted while it plays, so a command said then is not heard), or "".
    waiting: str = ""

    def key(self) -> tuple[str, ...]:
        """The parts whose change is worth a plain line (not the ticking clock, nor the
        microphone's mute: it comes and goes with every sentence on the room speaker)."""
        return (self.phase, self.headline, self.title, self.heard, self.flag)


def view_of(status: SessionStatusLike, heard: str | None = None, waiting: str = "") -> StatusView:
    """The panel's words for `status`; `heard` the last command heard, `waiting` what listening
    waits for now ("" when it listens)."""
    step = status.step
    if status.phase == Phase.STEPS and step is not None:
        # The seed step number (as on the written protocol), then the position among all moves.
        repeat = f" (REPEAT OF {step.origin})" if step.origin != step.number else ""
        headline = f"STEP {step.number}{repeat}  MOVE {status.index}/{status.total_steps}"
        title = str(step.title)
        station = station_name(step)
        in_step = f"{clock(status.seconds_in_step)} / {clock(float(step.seconds))}"
        timer = "move time"
    else:
        headline = {Phase.PREP: "PREPARATION", Phase.REST: "REST",
                    Phase.ENDED: "SESSION ENDED"}.get(status.phase, status.phase.upper())
        if status.phase == Phase.PREP and status.prep_item is not None:
            headline += f"  ITEM {status.prep_item} OF {status.prep_items}"
        title = station = ""
        # In the rest: how much of it is left (the status's step times measure the rest).
        in_step = clock(status.seconds_left_in_step) if status.phase == Phase.REST else ""
        timer = "rest left"
    if status.paused:
        flag = FLAG_PAUSED
    elif status.awaiting == Awaiting.CONFIRM_END:
        flag = FLAG_CONFIRM_END
    elif status.awaiting == Awaiting.CLIENT_ANSWER:
        flag = FLAG_CLIENT_ANSWER
    else:
        flag = ""
    return StatusView(
        phase=status.phase,
        headline=headline,
        title=title,
        station=station,
        in_step=in_step,
        session_left=minutes_short(status.seconds_left_in_session),
        heard=heard or "",
        flag=flag,
        timer=timer,
        waiting=waiting,
    )


def station_name(step: Any) -> str:
    """The station's short name ("Client's left"; its id when it has none; the announcement is
    what is spoken), and the side of the back worked."""
    station = getattr(step, "station", None)
    name = str(getattr(station, "name", "") or getattr(station, "id", "")).strip()
    side = getattr(step, "side", None)
    return f"{name}, {side} side of the back" if side else name


# --- Output -----------------------------------------------------------------------------------

BOLD, REVERSE, DIM, RESET = "\x1b[1m", "\x1b[7m", "\x1b[2m", "\x1b[0m"
CLEAR_LINE, CLEAR_DOWN = "\x1b[2K", "\x1b[J"
SAVE, RESTORE = "\x1b7", "\x1b8"  # the cursor's position


class StatusPanel:
    """Prompts above, the status panel below; ANSI on a terminal, plain lines otherwise."""

    def __init__(
        self, stream: TextIO | None = None, *, tty: bool | None = None, columns: int | None = None
    ) -> None:
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self._columns = columns  # None: the terminal's width, asked at every draw
        self._drawn = 0  # panel lines currently on screen (terminal mode)
        self._echoed = False  # a typed line was echoed under the panel since it was drawn
        self._view: StatusView | None = None
        self._last_key: tuple[str, ...] | None = None

    def say(self, text: str, route: str = "practitioner") -> None:
        """A prompt (what is spoken), printed with the route it is spoken on."""
        self.message(f"[{route}] {text}")

    def message(self, text: str) -> None:
        if self.tty:
            self._erase()
            self.stream.write(text + "\n")
            self._draw()
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def show(self, view: StatusView) -> None:
        previous, self._view = self._view, view
        if (self.tty and previous is not None and self._drawn and not self._echoed
                and _only_clock_moved(previous, view)):
            self._redraw_clock(view)
        elif self.tty:
            self._erase()
            self._draw()
        elif view.key() != self._last_key:
            self.stream.write(plain_line(view) + "\n")
        self._last_key = view.key()
        self.stream.flush()

    def input_echoed(self) -> None:
        """The terminal echoed a typed line below the panel: erase it with the panel next time."""
        if self.tty and self._drawn:
            self._drawn += 1
            self._echoed = True

    def close(self) -> None:
        """Leave the last panel on screen and the cursor below it."""
        if self.tty and self._drawn:
            self.stream.write(RESET)
            self._drawn = 0
            self.stream.flush()

    def _erase(self) -> None:
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F{CLEAR_DOWN}")
            self._drawn = 0

    def _draw(self) -> None:
        if self._view is None:
            return
        lines = panel_lines(self._view, self.columns())
        self.stream.write("".join(CLEAR_LINE + line + RESET + "\n" for line in lines))
        self._drawn = len(lines)
        self._echoed = False

    def _redraw_clock(self, view: StatusView) -> None:
        """Rewrite the clock's line only, and put the cursor back where it was: whatever is
        being typed below the panel stays as it is."""
        up = self._drawn - (2 if view.station else 1)  # lines from the cursor to the clock line
        line = fit(timing_line(view), self.columns())
        self.stream.write(f"{SAVE}\x1b[{up}A\r{CLEAR_LINE}{line}{RESET}{RESTORE}")

    def columns(self) -> int:
        """The terminal's width now (it may have been resized): 80 when it cannot tell."""
        if self._columns is not None:
            return self._columns
        try:
            return os.get_terminal_size(self.stream.fileno()).columns or 80
        except (AttributeError, OSError, ValueError):  # not a terminal, or no fileno
            return 80


def panel_lines(view: StatusView, columns: int | None = None) -> list[str]:
    """A few high-contrast lines: the headline in reverse video, labels dim, values bold. Each
    line is cut to `columns` with an ellipsis: a wrapped line would take two rows of the screen
    where the panel counts one, and be left behind, stale, when the panel is redrawn."""
    lines = _panel_lines(view)
    return lines if columns is None else [fit(line, columns) for line in lines]


def _panel_lines(view: StatusView) -> list[str]:
    bar = f"{REVERSE}{BOLD}  {spaced(view.headline)}  {RESET}"
    if view.title:
        bar += f"  {BOLD}{view.title.upper()}"
    lines = [bar]
    if view.station:
        lines.append(f"  {DIM}STATION{RESET}  {BOLD}{view.station.upper()}")
    lines.append(timing_line(view))  # the only line that changes every second
    heard = f"  {DIM}HEARD{RESET}  {BOLD}{view.heard or '-'}"
    if view.waiting:
        heard += f"{RESET}   {DIM}({view.waiting}){RESET}"
    lines.append(heard)
    if view.flag:
        lines.append(f"  {REVERSE}{BOLD} {view.flag.upper()} ")
    return lines


def timing_line(view: StatusView) -> str:
    timing = []
    if view.in_step:
        timing.append(f"{DIM}{view.timer.upper()}{RESET}  {BOLD}{view.in_step}{RESET}")
    timing.append(f"{DIM}SESSION LEFT{RESET}  {BOLD}{view.session_left}{RESET}")
    return "  " + "     ".join(timing)


def _only_clock_moved(before: StatusView, after: StatusView) -> bool:
    return dataclasses.replace(before, in_step="", session_left="") == dataclasses.replace(
        after, in_step="", session_left="")


def plain_line(view: StatusView) -> str:
    parts = [view.headline + (f" {view.title}" if view.title else "")]
    if view.station:
        parts.append(f"station: {view.station}")
    if view.in_step:
        parts.append(f"{view.timer} {view.in_step}")
    parts.append(f"session left {view.session_left}")
    if view.heard:
        parts.append(f"heard: {view.heard}")
    if view.flag:
        parts.append(view.flag)
    return "== " + " | ".join(parts)


def spaced(text: str) -> str:
    """Letter-spaced capitals read better from a distance; numbers stay whole ("M O V E  5/34",
    not "3 4", which reads as two numbers), and words stand apart by two spaces."""
    words = text.upper().split(" ")
    return "  ".join(_LETTERS.sub(lambda run: " ".join(run.group()), word) for word in words)


_LETTERS = re.compile(r"[^\W\d_]{2,}")  # a run of letters (any alphabet) to space out
_ANSI = re.compile(r"\x1b(?:\[[0-9;]*[A-Za-z]|[78])")  # the codes this panel writes
ELLIPSIS = "…"


def fit(line: str, columns: int) -> str:
    """`line` cut to `columns` - 1 visible characters (the last column is left free: writing
    into it makes some terminals wrap), its end replaced by an ellipsis when cut. ANSI codes
    take no room and are kept."""
    room = max(1, columns - 1)
    parts = _ANSI.split(line)
    if sum(len(part) for part in parts) <= room:
        return line
    codes = _ANSI.findall(line)
    out, left = [], room - 1  # one column for the ellipsis
    for i, part in enumerate(parts):
        if left <= 0:
            break
        out.append(part[:left])
        left -= len(part[:left])
        if i < len(codes) and left > 0:
            out.append(codes[i])
    return "".join(out) + ELLIPSIS + RESET
