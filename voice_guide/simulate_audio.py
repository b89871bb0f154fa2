"""`simulate --audio FILE.wav [--out DIR]`: the whole live pipeline on a recording.

The recording stands in for the microphone and its own timeline is the clock: the audio is fed
block by block to the listener (segmenter + recognizer, narrowed to what the session accepts
now), every timer of the session fires at its exact deadline in between, and what the guide says
is "played" on a virtual speaker per route: each utterance takes as long as its rendered speech,
queues behind the one before on the same route, and while the room route (or an audible
practitioner route) plays, plus the tail, the microphone is muted, exactly as live. With `--out`
every utterance is written as a WAV file (the only audio this program ever writes, and only when
asked); without it, no file is written.

The log is the `simulate --script` event log (same records, same order), with two additions:
`heard` records carry the utterance's `start` and `end` in the recording, and with `--out`
`say` records name their `wav` file and when it starts playing (`plays_at`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voice_guide.commands import Command
from voice_guide.events import Action, Heard, Route, Say, Silence
from voice_guide.listen.engine import SAMPLE_RATE, Recognizer
from voice_guide.protocol import Script
from voice_guide.session import Session, SessionSettings
from voice_guide.simulate import _waits_for_a_command

Record = dict[str, Any]

BLOCK_SECONDS = 0.02  # how the recording is fed: the live input's block size
TAIL_SECONDS = 0.3  # the microphone stays muted this long after audible speech (as the player)
CHARS_PER_SECOND = 14.0  # speech length when no synthesizer is available to measure it
_MAX_TICKS = 1_000_000


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
    practitioner_audible: bool = False,
    listener_factory: Callable[..., Any] | None = None,
) -> AudioSimulation:
    """Run a session on `audio` (int16 mono 16 kHz) and return its event log.

    `render(text) -> Pcm` gives speech for the virtual speaker's timing and for `--out` files
    (None: lengths are estimated from the text and no file can be written).
    """
    session = Session(script, settings or SessionSettings())
    listener = (listener_factory or make_listener)(recognizer, session.accepts)
    speaker = VirtualSpeaker(listener, out, render, practitioner_audible=practitioner_audible)
    log: list[Record] = []
    heard_all: list[Heard] = []

    def emit(t: float, actions: Sequence[Action]) -> None:
        for action in actions:
            record = action.record(t)
            if isinstance(action, Say):
                record.update(speaker.say(action, t))
            elif isinstance(action, Silence):
                speaker.silence(t)
            log.append(record)

    def run_clock(to: float | None, now: float = 0.0) -> None:
        for _ in range(_MAX_TICKS):
            deadline = session.next_deadline()
            if deadline is None or (to is not None and deadline > to):
                return
            if to is None and _waits_for_a_command(session, now):  # as `simulate --script`
                return
            emit(deadline, session.tick(deadline))
            now = deadline
        raise RuntimeError("simulate: the session kept scheduling timers without end")

    emit(0.0, session.start(0.0, prep=prep))
    block = max(1, round(BLOCK_SECONDS * SAMPLE_RATE))
    end_of_audio = len(audio) / SAMPLE_RATE
    stop = end_of_audio if until is None else min(until, end_of_audio)

    def hear(heard: Heard, t: float) -> None:
        heard_all.append(heard)
        record = heard.record(t)
        record.update(start=round(heard.start, 3), end=round(heard.end, 3))
        log.append(record)
        emit(t, session.heard(heard, t))

    t = 0.0
    for offset in range(0, len(audio), block):
        t = min(offset + block, len(audio)) / SAMPLE_RATE
        if t > stop + 1e-9 or session.ended:
            break
        run_clock(t)
        for heard in listener.feed(audio[offset : offset + block]):
            hear(heard, t)
    if not session.ended and (until is None or until >= end_of_audio):
        for heard in listener.flush():  # the recording ends mid-utterance
            hear(heard, t)
    if not session.ended:
        run_clock(until, t)  # after the recording: on while the session goes on by itself
        if until is not None:
            session.tick(until)
    return AudioSimulation(log, heard_all, speaker.files)


def make_listener(recognizer: Recognizer, accepts: Callable[[], frozenset[Command]]) -> Any:
    """The live listener (segmenter + recognizer + mute), narrowed by `accepts()` per utterance."""
    from voice_guide.listen.pipeline import Listener

    return Listener(recognizer, accepts)


class VirtualSpeaker:
    """Plays `Say` actions on a virtual timeline: per route one utterance after another; mutes
    the listener while an audible route plays (plus the tail); writes WAVs when asked."""

    def __init__(
        self,
        listener: Any,
        out: Path | None,
        render: Callable[[str], Any] | None,
        *,
        practitioner_audible: bool = False,
        tail: float = TAIL_SECONDS,
    ) -> None:
        self.listener = listener
        self.out = out
        self.render = render
        self.audible = {Route.ROOM: True, Route.PRACTITIONER: practitioner_audible}
        self.tail = tail
        self.busy_until: dict[Route, float] = {Route.ROOM: 0.0, Route.PRACTITIONER: 0.0}
        self.files: list[Path] = []
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)

    def say(self, say: Say, t: float) -> Record:
        """Queue `say` at time `t`; the fields it adds to the log record."""
        pcm = self._speech(say.text)
        seconds = pcm.duration if pcm is not None else len(say.text) / CHARS_PER_SECOND
        start = max(t, self.busy_until[say.route])
        self.busy_until[say.route] = start + seconds
        if self.audible[say.route]:
            self.listener.mute_until(start + seconds + self.tail)
        if self.out is None or pcm is None:
            return {}
        path = self.out / f"{len(self.files) + 1:03d}-{start:09.3f}-{say.route}-{say.kind}.wav"
        pcm.write_wav(path)
        self.files.append(path)
        return {"wav": path.name, "plays_at": round(start, 3)}

    def silence(self, t: float) -> None:
        """Stop everything now: the routes are free at once. (The listener's mute only ever
        extends, live as here, so it keeps to the end it was given.)"""
        for route in self.busy_until:
            self.busy_until[route] = min(self.busy_until[route], t)

    def _speech(self, text: str) -> Any:
        if self.render is None:
            return None
        try:
            return self.render(text)
        except Exception as error:  # the synthesizer failed: estimate the length instead
            print(f"voice-guide: warning: speech for {text[:40]!r} failed: {error}",
                  file=sys.stderr)
            return None


def run_from_args(args: Any) -> int:
    """`voice-guide simulate --audio FILE.wav [--out DIR]` (the hook `cli/simulate.py` calls):
    prints the event log as JSON lines, and the recognized commands on stderr."""
    import json

    from voice_guide.cli import fail
    from voice_guide.listen.factory import EngineError, make_recognizer
    from voice_guide.protocol import ProtocolError, load
    from voice_guide.wav import WavError, read_wav_16k

    try:
        audio = read_wav_16k(args.audio)
    except WavError as error:
        return fail(str(error))
    try:
        script = load(args.protocol)
    except ProtocolError as error:
        for problem in getattr(error, "problems", None) or (str(error),):
            fail(problem)
        return 2
    try:
        recognizer, reason = make_recognizer(
            getattr(args, "engine", None) or "auto", getattr(args, "model", None),
            sensitivity=getattr(args, "sensitivity", None) or "normal",
            profile=getattr(args, "profile", None),
        )
    except EngineError as error:
        return fail(str(error))
    print(f"voice-guide: {reason}", file=sys.stderr)
    out = Path(args.out) if getattr(args, "out", None) else None
    if out is not None and out.exists() and not out.is_dir():
        return fail(f"{out}: --out must be a directory")
    result = simulate_audio(
        script, audio, recognizer,
        settings=SessionSettings(auto=bool(getattr(args, "auto", False))),
        prep=bool(getattr(args, "prep", False)),
        until=getattr(args, "until", None),
        out=out,
        render=speech_renderer(),
    )
    for record in result.log:
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    heard = ", ".join(f"{h.command}@{h.end:.2f}s" for h in result.heard) or "none"
    print(f"voice-guide: recognized {len(result.heard)} commands: {heard}", file=sys.stderr)
    if out is not None:
        print(f"voice-guide: {len(result.files)} WAV files in {out}", file=sys.stderr)
    return 0


def speech_renderer() -> Callable[[str], Any] | None:
    """The TTS used live (for speech lengths and --out files), or None when it cannot run."""
    try:
        from voice_guide.speak.tts import SpeechError, Tts

        tts = Tts()
        tts.render("Ready.")
    except (ImportError, OSError) as error:
        print(f"voice-guide: warning: no speech synthesis ({error})", file=sys.stderr)
        return None
    except SpeechError as error:
        print(f"voice-guide: warning: {error}", file=sys.stderr)
        return None
    return tts.render
