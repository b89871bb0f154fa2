"""The live loop on its own thread of messages: the real Guide, Session and journal (in memory),
a real inbox and wall clock; what each message does, and why the loop stopped."""

from __future__ import annotations

import io
from functools import cache

from voice_guide.commands import Command
from voice_guide.events import ExitReason, Heard, MicrophoneLost
from voice_guide.guide import Guide, MemoryJournal, PrintedSpeech
from voice_guide.loop import (
    Inbox,
    InputEnded,
    ListeningStopped,
    Noticed,
    SessionClock,
    StopReason,
    Typed,
    run_loop,
)
from voice_guide.prompts import MIC_LOST
from voice_guide.protocol import Script, load
from voice_guide.session import Session
from voice_guide.status import StatusPanel


@cache
def script() -> Script:
    return load()


def new_guide() -> tuple[Guide, MemoryJournal, io.StringIO]:
    shown = io.StringIO()
    panel = StatusPanel(shown, tty=False)
    journal = MemoryJournal()
    guide = Guide(Session(script()), journal, PrintedSpeech(panel), panel)
    guide.open(0.0, prep=False)
    return guide, journal, shown


def test_each_message_reaches_the_guide_and_the_end_of_input_stops_it() -> None:
    guide, journal, shown = new_guide()
    inbox = Inbox()
    inbox.put(Typed("next\n"))
    inbox.put(Typed("   \n"))  # a blank line: nothing
    inbox.put(Heard(Command.WHERE, "where am i", 0.9, 1.0, 1.4))
    inbox.put(Noticed(MicrophoneLost("room.monitor", "no sound from it for 1.6 s", None),
                      MIC_LOST))
    # Listening gave up: the loop reads typed commands from here, to their end.
    inbox.put(ListeningStopped("the recognizer broke"))
    stopped = run_loop(guide, SessionClock(), inbox, stdin=io.StringIO("how long\nnot a word\n"))
    assert stopped is StopReason.INPUT_ENDED and stopped.exit_status == 0
    kinds = [(r["type"], r.get("command") or r.get("kind") or r.get("phrase"))
             for r in journal.records if r["type"] in ("heard", "unknown", "microphone_lost")
             or r.get("kind") == "microphone"]
    assert kinds == [("heard", "next"), ("heard", "where"), ("microphone_lost", None),
                     ("say", "microphone"), ("heard", "time_left"), ("unknown", "not a word")]
    heard = [r for r in journal.records if r["type"] == "heard"]
    assert (heard[1]["start"], heard[1]["end"]) == (1.0, 1.4)  # the recognizer's stream times
    assert "start" not in heard[0]  # typed: no stream
    assert journal.records[-1]["type"] == "exit"
    assert journal.records[-1]["reason"] == ExitReason.EOF
    assert "(not a command: 'not a word'; say help)" in shown.getvalue()
    assert f"[practitioner] {MIC_LOST}" in shown.getvalue()


def test_a_session_that_ends_stops_the_loop_with_no_exit_record() -> None:
    guide, journal, _ = new_guide()
    inbox = Inbox()
    for line in ("end session\n", "yes\n", "skip\n"):
        inbox.put(Typed(line))
    inbox.put(InputEnded())  # never reached: the session ended first
    assert run_loop(guide, SessionClock(), inbox, stdin=io.StringIO()) is StopReason.ENDED
    assert [r["type"] for r in journal.records[-2:]] == ["say", "end"]
    assert journal.records[-2]["kind"] == "summary"
    assert not [r for r in journal.records if r["type"] == "exit"]
