"""The microphone lost mid-session, on a private PulseAudio, with `voice-guide run` as a process.

The room of tests/test_app.py: `earbud` and `room` null sinks are the earbuds and the kiosk
speaker, the microphone is a sink's monitor (`room.monitor`: it hears what is played in the
room). Unloading the sink takes the microphone away as unplugging it would; PulseAudio then
moves the recording to another source by itself, the monitor of our own earbuds here, so a guide
that did not notice would listen to its own cues.

Every timing bound is measured on the session's own clock: the journal's `t` of a record the
test saw written just before it acted, against the `t` of the record that answers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from live_helpers import REPO, live_env, play_into, records, wait_for
from pulse import PulseServer, Recorder, active_span
from speech import RATE, Voice, synthesize

from voice_guide.journal import read_journal
from voice_guide.listening import MIC_STALL_SECONDS
from voice_guide.prompts import MIC_BACK, MIC_FALLBACK, MIC_LOST

PRACTITIONER = Voice("flite", "slt", 0, 1.0)
DETECTED_WITHIN = 3.0  # s of session time from the change to the journaled note
BACK_WITHIN = 6.0  # looked for every second, then 0.5 s of sound before it counts

PROTOCOL = """\
name: Microphone test routine
opening: Hello.
stations:
  head: {announce: Stand at the head of the table.}
checkins:
  question: How is the pressure?
  every_minutes: 60
rest: {seconds: 60, say: Relax now., closing: Offer a glass of water.}
steps:
  - {number: 1, station: head, title: Opening hold, say: Rest your hands on the back., seconds: 600}
  - {number: 2, station: head, title: Palm the back, say: Palm along the back., seconds: 600}
"""


def notes(path: Path, kind: str) -> list[dict]:
    return [r for r in records(path) if r["type"] == kind]


def fresh_t(path: Path) -> float:
    """The `t` of a record written after this call began: the session has reached it."""
    seen = max((r["t"] for r in records(path)), default=-1.0)
    wait_for(lambda: max((r["t"] for r in records(path)), default=-1.0) > seen, "a fresh record")
    return max(r["t"] for r in records(path))


def wait_session_time(path: Path, t: float) -> None:
    """Until the session's clock has passed `t` (a heartbeat is written every 2 s)."""
    wait_for(lambda: any(r["t"] >= t for r in records(path)), f"session time {t:.1f}")


def recording_sources(pulse: PulseServer, pid: int) -> list[str]:
    """The sources process `pid` records from now, by the sound server's own account."""
    names = {str(s["index"]): s["name"]
             for s in json.loads(pulse.pactl("-f", "json", "list", "sources"))}
    outputs = json.loads(pulse.pactl("-f", "json", "list", "source-outputs"))
    return [names.get(str(o["source"]), str(o["source"])) for o in outputs
            if str(o["properties"].get("application.process.id")) == str(pid)]


@dataclass
class Run:
    process: subprocess.Popen[str]
    journal: Path
    out: str = ""
    err: str = ""


@contextmanager
def guide(tmp_path: Path, microphone: str) -> Iterator[Run]:
    """`voice-guide run` listening on `microphone`, once its stream is open; Ctrl-C after."""
    protocol = tmp_path / "mic.yaml"
    protocol.write_text(PROTOCOL)
    journal = tmp_path / "session.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "voice_guide", "run", str(protocol), "--skip-prep",
         "--engine", "whisper", "--input-device", microphone,
         "--practitioner-device", "earbud", "--room-device", "room", "--journal", str(journal)],
        cwd=REPO, env=live_env(tmp_path), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    run = Run(process, journal)
    try:
        wait_for(lambda: notes(journal, "listening") or process.poll() is not None,
                 "the microphone to open")
        assert process.poll() is None, process.communicate(timeout=60)
        yield run
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        run.out, run.err = process.communicate(timeout=60)


def said(journal: Path) -> list[str]:
    return [r["text"] for r in records(journal) if r["type"] == "say" and r["kind"] == "microphone"]


def finished_cleanly(run: Run) -> None:
    assert run.process.returncode == 130, run.err  # Ctrl-C
    assert "Traceback" not in run.err
    log = records(run.journal)
    assert log[-1]["type"] == "exit" and log[-1]["reason"] == "interrupt"
    assert read_journal(run.journal, warn=False).warnings == ()


@pytest.mark.audio
def test_a_removed_microphone_pauses_listening_and_it_comes_back(
    pulse: PulseServer, tmp_path: Path
) -> None:
    with guide(tmp_path, "room.monitor") as run:
        process, journal = run.process, run.journal
        [opened] = notes(journal, "listening")
        assert opened["device"] == "room.monitor" and opened["source"] == "room.monitor"
        assert recording_sources(pulse, process.pid) == ["room.monitor"]
        # A recorder of our own on room.monitor: the control for what the server does.
        with Recorder("room.monitor", RATE) as control:
            before = fresh_t(journal)
            pulse.unload_sink("room")
            wait_for(lambda: said(journal), "the loss to be noticed and said")
            [lost] = notes(journal, "microphone_lost")
            assert lost["t"] - before <= DETECTED_WITHIN, (before, lost)
            assert lost["device"] == "room.monitor"
            assert lost["reason"] == "the sound server removed source 'room.monitor'"
            assert lost["listening_on"] is None
            assert said(journal) == [MIC_LOST]
            # The server moved our control recorder to the earbuds' monitor; the guide's own
            # stream is closed, so it records nothing at all (it would hear its own cues).
            assert recording_sources(pulse, os.getpid()) == ["earbud.monitor"]
            assert recording_sources(pulse, process.pid) == []
            # "Next" in the earbuds (as the guide's own cues could say it): the control hears
            # it, the guide must not.
            mark = len(control.audio())
            play_into("earbud", synthesize("next", PRACTITIONER))
            assert active_span(control.audio()[mark:], RATE) is not None
        wait_session_time(journal, fresh_t(journal) + 3.0)
        assert not [r for r in records(journal) if r["type"] == "heard"]

        before = fresh_t(journal)
        pulse.load_sink("room")
        wait_for(lambda: len(said(journal)) == 2, "the microphone to come back")
        [back] = notes(journal, "microphone_back")
        assert back["t"] - before <= BACK_WITHIN, (before, back)
        assert back["device"] == "room.monitor"
        assert said(journal) == [MIC_LOST, MIC_BACK]
        assert recording_sources(pulse, process.pid) == ["room.monitor"]
        # Listening for real again: a command spoken into the room moves the session on.
        play_into("room", synthesize("next", PRACTITIONER))
        wait_for(lambda: any(r["type"] == "step" and r["index"] == 2 for r in records(journal)),
                 "step 2")
    finished_cleanly(run)
    out = run.out
    assert [r["command"] for r in records(journal) if r["type"] == "heard"] == ["next"]
    assert f"[practitioner] {MIC_LOST}" in out and f"[practitioner] {MIC_BACK}" in out
    assert "(microphone_lost: device room.monitor" in out


@pytest.fixture
def spare_microphone(pulse: PulseServer) -> Iterator[str]:
    """A real capture source (not a monitor) as the server's default: `spare_mic`, which
    hears what is played on the `spare` sink."""
    pulse.load_sink("spare")
    module = pulse.pactl("load-module", "module-remap-source", "master=spare.monitor",
                         "source_name=spare_mic").strip()
    pulse.pactl("set-default-source", "spare_mic")
    try:
        yield "spare_mic"
    finally:
        pulse.pactl("unload-module", module, check=False)
        pulse.unload_sink("spare")


@pytest.mark.audio
def test_a_removed_microphone_falls_back_to_the_default_one(
    pulse: PulseServer, spare_microphone: str, tmp_path: Path
) -> None:
    with guide(tmp_path, "room.monitor") as run:
        process, journal = run.process, run.journal
        before = fresh_t(journal)
        pulse.unload_sink("room")
        wait_for(lambda: said(journal), "the loss to be noticed and said")
        [lost] = notes(journal, "microphone_lost")
        assert lost["t"] - before <= DETECTED_WITHIN, (before, lost)
        assert lost["listening_on"] == spare_microphone
        assert said(journal) == [MIC_FALLBACK]
        assert recording_sources(pulse, process.pid) == [spare_microphone]
        play_into("spare", synthesize("next", PRACTITIONER))
        wait_for(lambda: any(r["type"] == "step" and r["index"] == 2 for r in records(journal)),
                 "step 2, heard on the fallback")
    finished_cleanly(run)
    assert not notes(journal, "microphone_back")  # room.monitor never came back


@pytest.fixture
def mic_sink(pulse: PulseServer) -> Iterator[str]:
    """A sink of its own for the microphone: suspending it stops only the microphone."""
    pulse.load_sink("mic")
    try:
        yield "mic"
    finally:
        pulse.pactl("suspend-sink", "mic", "0", check=False)
        pulse.unload_sink("mic")


@pytest.mark.audio
def test_a_microphone_that_stops_delivering_is_noticed_and_resumed(
    pulse: PulseServer, mic_sink: str, tmp_path: Path
) -> None:
    with guide(tmp_path, f"{mic_sink}.monitor") as run:
        journal = run.journal
        before = fresh_t(journal)
        pulse.pactl("suspend-sink", mic_sink, "1")  # the source stays listed, and goes quiet
        wait_for(lambda: said(journal), "the silence to be noticed and said")
        [lost] = notes(journal, "microphone_lost")
        assert lost["t"] - before <= MIC_STALL_SECONDS + DETECTED_WITHIN, (before, lost)
        assert lost["reason"].startswith("no sound from it for ")
        assert said(journal) == [MIC_LOST]
        # Tried again every second while quiet: nothing more is said until it delivers.
        wait_session_time(journal, fresh_t(journal) + 3.0)
        assert said(journal) == [MIC_LOST] and not notes(journal, "microphone_back")

        before = fresh_t(journal)
        pulse.pactl("suspend-sink", mic_sink, "0")
        wait_for(lambda: len(said(journal)) == 2, "the microphone to come back")
        [back] = notes(journal, "microphone_back")
        assert back["t"] - before <= BACK_WITHIN, (before, back)
        assert said(journal) == [MIC_LOST, MIC_BACK]
        play_into(mic_sink, synthesize("next", PRACTITIONER))
        wait_for(lambda: any(r["type"] == "step" and r["index"] == 2 for r in records(journal)),
                 "step 2")
    finished_cleanly(run)
    assert len(notes(journal, "microphone_lost")) == 1


@pytest.mark.audio
def test_the_servers_sources_say_which_are_monitors(
    pulse: PulseServer, spare_microphone: str
) -> None:
    from voice_guide.devices import pulse_default_source, pulse_sources

    sources = {s.name: s.monitor for s in pulse_sources() or []}
    assert sources == {"earbud.monitor": True, "room.monitor": True, "spare.monitor": True,
                       spare_microphone: False}
    assert pulse_default_source() == spare_microphone


def test_no_sound_server_is_unknown_not_none(monkeypatch: pytest.MonkeyPatch) -> None:
    from voice_guide.devices import pulse_default_source, pulse_sources

    monkeypatch.setenv("PULSE_SERVER", "unix:/nonexistent/native")  # pactl itself runs
    assert pulse_sources() is None
    assert pulse_default_source() is None
