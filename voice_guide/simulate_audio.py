"""`simulate --audio FILE.wav [--out DIR]`: the whole live pipeline on a recording.

The recording stands in for the microphone and its own timeline is the clock: the audio is fed
block by block to the listener (segmenter + recognizer, narrowed to what the session accepts
now), and the live session's own `Guide` runs on `simulate.VirtualClock`, every timer firing at
its exact deadline in between. What the guide says is "played" on a virtual speaker per route:
each utterance takes as long as its rendered speech, queues behind the one before on the same
route, and while the room route plays, plus the tail, the microphone is muted, exactly as live.
With `--out` every utterance is written as a WAV file (the only audio this program ever writes,
and only when asked); without it, no file is written.

With `serve`, the recording drives `simulate --serve`'s day instead (`simulate.simulate_day`):
between sessions the listener hears only "start session", and each session's log opens with
its own header.

The log is what `run` journals (the `simulate --script` log, and `heard` records carry the
utterance's `start` and `end` in the recording, as the live journal's carry them in stream time);
with `--out`, `say` records also name their `wav` file and when it starts playing (`plays_at`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from voice_guide.events import Heard, Route, Say, Unclear
from voice_guide.guide import Guide, MemoryJournal
from voice_guide.listen.engine import SAMPLE_RATE, Recognizer
from voice_guide.protocol import Script
from voice_guide.session import Session, SessionSettings
from voice_guide.simulate import (
    VirtualClock,
    VirtualDayClock,
    simulated_day,
    simulated_header,
)
from voice_guide.speak.gate import MicGate

if TYPE_CHECKING:
    from voice_guide.day import Day

log = logging.getLogger(__name__)

Record = dict[str, Any]

BLOCK_SECONDS = 0.02  # how the recording is fed: the live input's block size
CHARS_PER_SECOND = 14.0  # speech length when no synthesizer is available to measure it


@dataclass(frozen=True)
class AudioSimulation:
    log: list[Record]
    heard: list[Heard]  # every command recognized (accepted by the session or not)
    files: list[Path] = field(default_factory=list)  # WAV files written under --out


def simulate_audio(
    script: Script,
    audio: np.ndarray,
    recognizer: Recognizer,
    *,
    settings: SessionSettings | None = None,
    prep: bool = False,
    until: float | None = None,
    out: Path | None = None,
    render: Callable[[str], Any] | None = None,
    serve: bool = False,
    client: str | None = None,
) -> AudioSimulation:
    """Run a session on `audio` (int16 mono 16 kHz) and return its event log.

    `render(text) -> Pcm` gives speech for the virtual speaker's timing and for `--out` files
    (None: lengths are estimated from the text and no file can be written). `serve`: the day's
    loop instead of one session; `client`: the sessions' client (their logs get headers).
    """
    from voice_guide.listen.pipeline import Listener

    if serve:
        return _simulate_day_audio(script, audio, recognizer, settings=settings, prep=prep,
                                   until=until, out=out, render=render, client=client)
    session = Session(script, settings or SessionSettings())
    listener = Listener(recognizer, session.accepts, answers=True)
    gate = MicGate()  # the live mute path, on the recording's clock
    speaker = VirtualSpeaker(gate, out, render)
    journal = MemoryJournal()
    if client:
        journal.write(simulated_header(script, session.settings, prep, client, datetime.now(), 1))
    guide = Guide(session, journal, speaker)
    clock = VirtualClock(guide)
    guide.open(0.0, prep=prep)
    heard_all = _play(audio, listener, gate, guide, clock.advance, until)
    clock.finish(until)  # after the recording: on while the session goes on by itself
    return AudioSimulation(journal.records, heard_all, speaker.files)


def _simulate_day_audio(
    script: Script, audio: np.ndarray, recognizer: Recognizer, *,
    settings: SessionSettings | None, prep: bool, until: float | None, out: Path | None,
    render: Callable[[str], Any] | None, client: str | None,
) -> AudioSimulation:
    """`simulate --serve --audio`: the day's loop on the recording's clock."""
    from voice_guide.listen.pipeline import Listener

    gate = MicGate()
    speaker = VirtualSpeaker(gate, out, render)
    records: list[Record] = []
    day = simulated_day(script, records, speaker, settings=settings, prep=prep, client=client)
    listener = Listener(recognizer, day.accepts, answers=True)
    clock = VirtualDayClock(day)
    day.begin(0.0)
    heard_all = _play(audio, listener, gate, day, clock.advance, until)
    clock.finish(until)
    return AudioSimulation(records, heard_all, speaker.files)


def _play(audio: np.ndarray, listener: Any, gate: MicGate, driver: Guide | Day,
          advance: Callable[[float], None], until: float | None) -> list[Heard]:
    """Feed the recording to the listener (through the gate) block by block on the virtual
    clock, handing what is heard to the session's guide or the day; every command heard."""
    heard_all: list[Heard] = []
    block = max(1, round(BLOCK_SECONDS * SAMPLE_RATE))
    end_of_audio = len(audio) / SAMPLE_RATE
    stop = end_of_audio if until is None else min(until, end_of_audio)
    t = 0.0
    for offset in range(0, len(audio), block):
        t = min(offset + block, len(audio)) / SAMPLE_RATE
        if t > stop + 1e-9 or driver.ended:
            break
        advance(t)
        for heard in gate.feed(listener, audio[offset : offset + block], offset / SAMPLE_RATE):
            _hand(driver, heard, heard_all, t)
    if not driver.ended and (until is None or until >= end_of_audio):
        for heard in listener.flush():  # the recording ends mid-utterance
            _hand(driver, heard, heard_all, t)
    return heard_all


def _hand(guide: Guide | Day, heard: Heard | Unclear, heard_all: list[Heard], t: float) -> None:
    if isinstance(heard, Unclear):
        guide.unclear(heard, t)
    else:
        heard_all.append(heard)
        guide.heard(heard, t)


class VirtualSpeaker:
    """Plays `Say` actions on a virtual timeline: per route one utterance after another; tells
    the microphone gate when the room speaker plays (it mutes that, plus the tail, as live);
    writes WAVs when asked."""

    def __init__(
        self, gate: MicGate, out: Path | None, render: Callable[[str], Any] | None
    ) -> None:
        self.gate = gate
        self.out = out
        self.render = render
        # The room speaker is heard by the microphone; the practitioner's earbuds are not.
        self.audible = {Route.ROOM: True, Route.PRACTITIONER: False}
        self.busy_until: dict[Route, float] = {Route.ROOM: 0.0, Route.PRACTITIONER: 0.0}
        self.files: list[Path] = []
        self.spans: list[tuple[float, float]] = []  # audible speech, in recording time
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)

    def say(self, say: Say, t: float) -> Record:
        """Queue `say` at time `t`; the fields it adds to the log record."""
        pcm = self._speech(say.text)
        seconds = pcm.duration if pcm is not None else len(say.text) / CHARS_PER_SECOND
        start = max(t, self.busy_until[say.route])
        self.busy_until[say.route] = start + seconds
        if self.audible[say.route]:  # known at once on a virtual timeline: begin and end
            key = len(self.spans)
            self.spans.append((start, start + seconds))
            self.gate.begin(key, start)
            self.gate.end(key, start + seconds)
        if self.out is None or pcm is None:
            return {}
        path = self.out / f"{len(self.files) + 1:03d}-{start:09.3f}-{say.route}-{say.kind}.wav"
        pcm.write_wav(path)
        self.files.append(path)
        return {"wav": path.name, "plays_at": round(start, 3)}

    def silence(self, t: float) -> None:
        """Stop everything now: the routes are free at once. (The gate keeps the spans it was
        given: what was queued counts as heard, the safe side for the mute.)"""
        for route in self.busy_until:
            self.busy_until[route] = min(self.busy_until[route], t)

    def drain(self) -> None:
        pass  # virtual time: nothing to wait for

    def close(self) -> None:
        pass

    def _speech(self, text: str) -> Any:
        if self.render is None:
            return None
        try:
            return self.render(text)
        except Exception as error:  # the synthesizer failed: estimate the length instead
            log.warning("warning: speech for %r failed: %s", text[:40], error)
            return None


def speech_renderer() -> Callable[[str], Any] | None:
    """The TTS used live (for speech lengths and --out files), or None when it cannot run."""
    try:
        from voice_guide.speak.tts import SpeechError, Tts

        tts = Tts()
        tts.render("Ready.")
    except (ImportError, OSError) as error:
        log.warning("warning: no speech synthesis (%s)", error)
        return None
    except SpeechError as error:
        log.warning("warning: %s", error)
        return None
    return tts.render
