"""The terminal status panel: ANSI panel on a terminal, plain change-only lines otherwise."""

from __future__ import annotations

import dataclasses
import io
import re
from dataclasses import dataclass
from typing import Any

from voice_guide.prompts import WAITS_FOR_ROOM
from voice_guide.protocol import Station, Step
from voice_guide.status import ELLIPSIS, StatusPanel, fit, panel_lines, plain_line, spaced, view_of

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
    prep_item: int | None = None
    prep_items: int = 0


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


# --- at 80 columns, from across the room (issue 20, 6) -------------------------------------------

ANSI = re.compile(r"\x1b(?:\[[0-9;]*[A-Za-z]|[78])")


def visible(text: str) -> str:
    return ANSI.sub("", text)


def test_a_long_title_is_cut_with_an_ellipsis_not_wrapped():
    long = dataclasses.replace(PALM, title="Palm rhomboids with long slow strokes from the lower "
                                           "back up to the shoulder blades and back down again")
    view = view_of(Status(step=long, index=20, total_steps=34), heard="next")
    lines = panel_lines(view, 80)
    assert all(len(visible(line)) <= 79 for line in lines), [visible(x) for x in lines]
    assert visible(lines[0]).endswith(ELLIPSIS) and "PALM RHOMBOIDS WITH" in lines[0]
    assert lines[0].endswith("\x1b[0m")  # the cut does not leave reverse video on
    assert lines[1:] == panel_lines(view)[1:]  # short lines are left as they are
    # Drawn and redrawn: the erase takes back exactly the rows drawn, so no stale line is left.
    out = io.StringIO()
    panel = StatusPanel(out, tty=True, columns=80)
    panel.show(view)
    panel.say("Lean in.")
    assert f"\x1b[{len(lines)}F\x1b[J" in out.getvalue()
    assert all(len(visible(row)) <= 79 for row in out.getvalue().split("\n"))


def test_fit_keeps_short_lines_and_counts_only_visible_characters():
    assert fit("\x1b[1mshort\x1b[0m", 10) == "\x1b[1mshort\x1b[0m"
    assert visible(fit("\x1b[1m" + "x" * 100, 20)) == "x" * 18 + ELLIPSIS


def test_letter_spacing_keeps_numbers_whole():
    assert spaced("STEP 5  MOVE 1/34") == "S T E P  5    M O V E  1/34"
    assert spaced("STEP 17 (REPEAT OF 9)  MOVE 20/34") == (
        "S T E P  17  (R E P E A T  O F  9)    M O V E  20/34")
    bar = panel_lines(view_of(Status(index=1, total_steps=34)))[0]
    assert "1/34" in bar and "3 4" not in bar


def test_the_checklist_shows_which_item_of_how_many():
    prep = view_of(Status(phase="prep", step=None, prep_item=2, prep_items=9))
    assert prep.headline == "PREPARATION  ITEM 2 OF 9"
    assert "I T E M  2  O F  9" in panel_lines(prep)[0]


def test_the_panel_says_when_listening_waits_for_the_room_speaker():
    view = view_of(Status(), heard="next", waiting=WAITS_FOR_ROOM)
    heard_line = next(visible(line) for line in panel_lines(view) if "HEARD" in line)
    assert heard_line == "  HEARD  next   (listening waits for the room speaker)"
    listening = view_of(Status(), heard="next")
    assert "waits" not in "".join(panel_lines(listening))
    # Not a plain line of its own: it comes and goes with every sentence on the room speaker.
    assert view.key() == listening.key() and plain_line(view) == plain_line(listening)
    out = io.StringIO()
    panel = StatusPanel(out, tty=True)
    panel.show(listening)
    before = len(out.getvalue())
    panel.show(view)  # on a terminal it is drawn at once
    assert "(listening waits for the room speaker)" in out.getvalue()[before:]


def test_a_live_run_shows_the_wait_while_the_microphone_gate_is_shut():
    """The wiring of `run`: the Guide asks the speaker's own microphone gate at every redraw."""
    import time
    from types import SimpleNamespace

    from voice_guide.app import waiting_for_speaker
    from voice_guide.guide import Guide, MemoryJournal, SilentSpeech
    from voice_guide.prompts import WAITS_FOR_SPEECH
    from voice_guide.protocol import load
    from voice_guide.session import Session
    from voice_guide.speak.gate import MicGate

    gate = MicGate()
    earbuds = SimpleNamespace(practitioner_audible=False,
                              output_for=lambda route: f"{route} device")
    out = io.StringIO()
    guide = Guide(Session(load()), MemoryJournal(), SilentSpeech(), StatusPanel(out, tty=True))
    guide.waiting = waiting_for_speaker(gate, SimpleNamespace(player=earbuds))
    guide.open(0.0, prep=False)
    assert "waits" not in out.getvalue()
    gate.begin(1, time.monotonic() - 2.0)  # the room speaker is playing now
    guide.show(1.0)
    assert f"({WAITS_FOR_ROOM})" in out.getvalue()
    gate.end(1, time.monotonic() - 1.0)  # over, and its tail too
    shown = len(out.getvalue())
    guide.show(2.0)
    assert "waits" not in out.getvalue()[shown:]
    # Without earbuds the guide's every word mutes the microphone: said so.
    no_earbuds = SimpleNamespace(practitioner_audible=True, output_for=earbuds.output_for)
    gate.begin(2, time.monotonic())
    assert waiting_for_speaker(gate, SimpleNamespace(player=no_earbuds))() == WAITS_FOR_SPEECH
