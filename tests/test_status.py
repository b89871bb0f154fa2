"""The terminal status panel: ANSI panel on a terminal, plain change-only lines otherwise."""

from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass
from typing import Any

from voice_guide.protocol import Station, Step
from voice_guide.status import StatusPanel, panel_lines, plain_line, view_of

LEFT = Station("left", "Stand at the client's left. Reach over to the right.", "Client's left")
PALM = Step(5, 5, 5, "Palm rhomboids", LEFT, "right", "Palms on the rhomboids.", "", 120)


@dataclass(frozen=True)
class Status:  # the shape of voice_guide.session.SessionStatus
    phase: str = "steps"
    index: int = 5
    total_steps: int = 30
    step: Any = PALM
    seconds_in_step: float = 65.4
    seconds_left_in_step: float = 54.6
    seconds_left_in_session: float = 38 * 60 + 10
    paused: bool = False
    awaiting: str | None = None


def test_view_words_station_step_times_and_last_heard():
    view = view_of(Status(), heard="next")
    assert view.headline == "STEP 5  MOVE 5/30"
    repeat = dataclasses.replace(PALM, number=17, origin=9)
    assert view_of(Status(step=repeat)).headline == "STEP 17 (REPEAT OF 9)  MOVE 5/30"
    assert view.title == "Palm rhomboids"
    # The station's short name, not its announcement again; and the side of the back worked.
    assert view.station == "Client's left, right side of the back"
    assert view_of(Status(step=dataclasses.replace(PALM, side=None))).station == "Client's left"
    unnamed = dataclasses.replace(PALM, station=Station("head", "Stand at the head."))
    assert view_of(Status(step=unnamed)).station == "head, right side of the back"
    assert view.in_step == "1:05 / 2:00" and view.timer == "move time"
    assert view.session_left == "38 min"
    assert view.heard == "next"
    assert view.flag == ""
    assert view_of(Status(paused=True)).flag.startswith("PAUSED")
    assert "yes or no" in view_of(Status(awaiting="confirm_end")).flag
    rest = view_of(Status(phase="rest", step=None, seconds_in_step=150, seconds_left_in_step=30,
                          seconds_left_in_session=30))
    assert rest.headline == "REST" and rest.session_left == "under 1 min"
    # During the rest: how much of it is left, named so (not "in step 0:00").
    assert (rest.timer, rest.in_step) == ("rest left", "0:30")
    assert "rest left 0:30" in plain_line(rest)
    assert "REST LEFT" in "".join(panel_lines(rest))


def test_plain_output_prints_a_status_line_only_when_something_changes():
    out = io.StringIO()
    panel = StatusPanel(out, tty=False)
    panel.show(view_of(Status(seconds_in_step=1)))
    panel.show(view_of(Status(seconds_in_step=2)))  # only the clock moved: no new line
    panel.say("Palm rhomboids. Lean in with your body weight.", "practitioner")
    panel.show(view_of(Status(index=6, seconds_in_step=0), heard="next"))
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("== STEP 5  MOVE 5/30 Palm rhomboids")
    assert lines[1] == "[practitioner] Palm rhomboids. Lean in with your body weight."
    assert "MOVE 6/30" in lines[2] and "heard: next" in lines[2]
    assert "\x1b" not in out.getvalue()


def test_terminal_output_redraws_the_panel_in_place_below_the_prompts():
    out = io.StringIO()
    panel = StatusPanel(out, tty=True)
    view = view_of(Status(), heard="next")
    panel.show(view)
    panel.say("How is the pressure?", "room")
    drawn = len(panel_lines(view))
    text = out.getvalue()
    assert f"\x1b[{drawn}F\x1b[J[room] How is the pressure?\n" in text  # erase, prompt, redraw
    assert text.count("S T E P") == 2
    assert "HEARD" in text and "next" in text
    panel.close()


def test_plain_line_has_every_field():
    line = plain_line(view_of(Status(awaiting="client_answer"), heard="deeper"))
    for part in ("STEP 5  MOVE 5/30", "station: Client's left, right side of the back",
                 "move time 1:05 / 2:00", "session left 38 min", "heard: deeper",
                 "waiting for the client"):
        assert part in line


def test_a_typed_line_echoed_below_the_panel_is_erased_with_it():
    out = io.StringIO()
    panel = StatusPanel(out, tty=True)
    view = view_of(Status())
    panel.show(view)
    panel.input_echoed()  # the terminal printed "next⏎" under the panel
    panel.show(view)
    assert f"\x1b[{len(panel_lines(view)) + 1}F\x1b[J" in out.getvalue()


def test_the_clock_runs_on_in_place_without_touching_a_line_being_typed():
    out = io.StringIO()
    panel = StatusPanel(out, tty=True)
    panel.show(view_of(Status(seconds_in_step=1)))  # a command is being typed below it now
    drawn = out.getvalue()
    panel.show(view_of(Status(seconds_in_step=2)))  # only the clock moved
    update = out.getvalue()[len(drawn):]
    lines = panel_lines(view_of(Status(seconds_in_step=2)))
    timing = lines.index(next(line for line in lines if "MOVE TIME" in line))
    # Save the cursor, up to the clock's line, rewrite only it, and back: no erase of the panel
    # (which would take what is being typed with it), no new line.
    up = len(lines) - timing
    assert update.startswith(f"\x1b7\x1b[{up}A\r\x1b[2K")
    assert update.endswith("\x1b8")
    assert "0:02 / 2:00" in update and "\n" not in update and "\x1b[J" not in update
    # Anything else that changes redraws the whole panel, as before.
    panel.show(view_of(Status(seconds_in_step=3), heard="next"))
    assert "\x1b[J" in out.getvalue()[len(drawn) + len(update):]
