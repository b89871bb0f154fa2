"""The live session: commands in (microphone or typed), the Session in the middle, speech out.

`Guide` is the glue every front end shares (live audio, `run --text`, `simulate --audio`): it
journals every event, feeds commands and clock ticks to the pure `Session`, and hands the actions
to a `Voice` (print, speak on the routes, or render to WAV files). It never reads a clock itself;
the caller passes `now` (session seconds).

`run_live` is the loop around it: one queue of inputs (typed lines from a reader thread, or
`Heard` from the listening thread), a wait until the next timer, heartbeat or screen refresh,
and a clean end on end of input, on Ctrl-C, or when the session closes.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from voice_guide.commands import CLIENT_ANSWERS, Command
from voice_guide.events import (
    Action,
    Ended,
    Heard,
    Note,
    Route,
    Say,
    Silence,
)
from voice_guide.journal import (
    JournalBusy,
    JournalNotice,
    JournalWriter,
    find_unfinished,
    make_header,
    new_journal_path,
    read_journal,
    sessions_dir,
    summarize,
    summary_lines,
    summary_speech,
)
from voice_guide.protocol import ProtocolError, Script, load
from voice_guide.session import QUESTION_KINDS, Session, SessionSettings
from voice_guide.simulate import phrase_to_heard
from voice_guide.status import StatusPanel, view_of

WELCOME = "Welcome to Voice Guide. Say help at any time to hear what you can say."
HEARTBEAT_SECONDS = 2.0  # a journaled clock record at least this often: resume loses no more
REFRESH_SECONDS = 1.0  # the terminal panel's clock


class LiveError(Exception):
    """A problem that stops `run` before the session starts; one line for the user."""


@dataclass(frozen=True)
class RunOptions:
    """Everything `voice-guide run` was asked for."""

    protocol: Path | None = None  # None: the default protocol (or the resumed session's)
    default_protocol: Path = Path("protocol.yaml")
    text: bool = False
    resume: bool = False
    journal: Path | None = None
    skip_prep: bool = False
    auto: bool = False
    engine: str = "auto"
    model: str | None = None
    sensitivity: str = "normal"  # the classifier's accept threshold (listen/factory.py)
    profile: str = "auto"  # speaker profile (listen/profile.py): auto, none or a name
    input_device: str | None = None
    practitioner_device: str | None = None
    room_device: str | None = None
    practitioner_audible: bool = False
    silent: bool = False
    voice: str | None = None  # None: the default voice (speak/tts.py Voice), and so on
    rate: int | None = None
    volume: float | None = None
    interactive: bool = False  # stdin is a terminal


def run_session(options: RunOptions) -> int:
    """`voice-guide run`: set up (new or resumed session, audio or text), run, close cleanly."""
    from voice_guide.devices import AlsaMessages

    # ALSA's own lines (`snd_pcm_recover underrun occurred`) go to the log and are counted, not
    # printed over the status panel; Python's own errors still reach the terminal directly.
    alsa = None if options.text and options.silent else AlsaMessages.start()
    try:
        return _run_session(options, alsa)
    finally:
        if alsa is not None:
            alsa.close()
            if alsa.lines:
                logging.getLogger(__name__).info("ALSA: %s", alsa.summary())


def _run_session(options: RunOptions, alsa: Any) -> int:
    panel = StatusPanel(sys.stdout)
    logging.basicConfig(level=logging.WARNING, format="voice-guide: %(message)s")
    inputs = Inputs()
    # Mistakes in what was typed (the protocol, an existing journal) stop before any device is
    # opened; then devices: a wrong device name stops before a journal is made for nothing.
    script = None if options.resume else load_protocol(options.protocol or options.default_protocol)
    if script is not None and options.journal is not None and options.journal.exists():
        raise LiveError(journal_exists(options.journal))
    speaker, no_speaker = (None, "") if options.silent else start_speaking(options, panel, inputs)
    try:
        microphone, no_microphone = (None, "") if options.text else find_microphone(options)
        if microphone is not None:
            check_recognizer(options)
        start = resume_start(options) if script is None else new_start(options, script)
    except BaseException:
        if speaker is not None:
            speaker.close()
        raise
    eprint(f"journal {start.journal.path}")
    if not options.text and microphone is None:
        missing = f"{no_microphone}; {no_speaker}" if no_speaker else no_microphone
        what = "no audio" if no_speaker else "no microphone"
        eprint(f"{what} ({missing}): running in text mode, type the commands")
    elif not options.text and no_speaker:
        eprint(f"no audio output ({no_speaker}): prompts are printed only")

    def played(say: Say) -> None:  # a question has played: the client's answer window starts
        inputs.put(lambda: guide.spoken(say, clock.now()))

    voice: Voice = SpokenVoice(panel, speaker, played) if speaker is not None else PrintVoice(panel)
    if speaker is not None:
        speaker.prepare(known_texts(start.script))
    guide = Guide(start.session, start.journal, voice, panel)
    if alsa is not None or speaker is not None:
        guide.closing_notes = lambda: [audio_note(alsa, speaker)]
    typing = microphone is None and options.interactive and panel.tty
    clock = SessionClock(start.resume_at)  # session time runs from here
    inputs.guide, inputs.clock = guide, clock  # player notes (a route's fallback) get journaled
    if start.prior is None:
        guide.open(0.0, prep=not options.skip_prep)
    else:
        guide.reopen(clock.now(), start.prior)
    listening = None
    if microphone is not None:
        # The recognizer loads while the welcome is spoken: the first word is not kept waiting.
        listening = Listening(options, microphone, inputs, guide, speaker, panel)
        listening.start()
    else:
        read_lines(sys.stdin, inputs)
    try:
        run_live(
            guide, clock, inputs,
            unknown=lambda line: panel.message(f"(not a command: {line!r}; say help)"),
            linger=getattr(voice, "drain", None),
            on_line=panel.input_echoed if typing else None,
        )
    finally:
        if listening is not None:
            listening.close()
    return 0


@dataclass
class Start:
    script: Script
    session: Session
    journal: JournalWriter
    resume_at: float  # session time to carry on from (0 for a new session)
    prior: list[dict[str, Any]] | None  # the journaled records of a resumed session


def audio_note(alsa: Any, speaker: Any) -> Note:
    """The session's sound glitches, journaled at its end: ALSA's underrun lines (kept off the
    terminal) and the output underflows the player counted."""
    fields: dict[str, Any] = alsa.summary() if alsa is not None else {}
    if speaker is not None:
        fields["output_underflows"] = speaker.player.underruns()
    return Note("audio", fields)


def new_start(options: RunOptions, script: Script) -> Start:
    settings = SessionSettings(auto=options.auto)
    header = make_header(
        protocol=Path(script.source or options.protocol or options.default_protocol).resolve(),
        protocol_name=script.name,
        settings=dataclasses.asdict(settings),
        prep=not options.skip_prep,
        mode="text" if options.text else "audio",
    )
    path = options.journal or new_journal_path(sessions_dir(), header["id"])
    try:
        journal = JournalWriter.create(path, header)
    except FileExistsError:
        raise LiveError(journal_exists(path)) from None
    except OSError as error:
        raise LiveError(f"{path}: cannot write the journal ({error.strerror})") from None
    return Start(script, Session(script, settings), journal, 0.0, None)


def journal_exists(path: Path) -> str:
    return f"{path}: journal already exists (add --resume to continue it)"


def resume_start(options: RunOptions) -> Start:
    from voice_guide.resume import ResumeError, protocol_changed, replay

    path = options.journal or find_unfinished(sessions_dir())
    if path is None:
        raise LiveError(f"no unfinished session to resume in {sessions_dir()}")
    try:
        journal = read_journal(path)
    except OSError as error:
        raise LiveError(f"{path}: cannot read the journal ({error.strerror})") from None
    header = journal.header or {}
    protocol = Path(str(header.get("protocol") or options.default_protocol))
    if options.protocol is not None and options.protocol.resolve() != protocol:
        eprint(f"warning: resuming with the session's own protocol {protocol}")
    if protocol_changed(journal):
        eprint(f"warning: {protocol} changed since the session started")
    script = load_protocol(protocol)
    try:
        replayed = replay(script, journal)
    except ResumeError as error:
        raise LiveError(str(error)) from None
    try:
        writer = JournalWriter.reopen(path)
    except JournalBusy as error:
        raise LiveError(str(error)) from None
    except OSError as error:
        raise LiveError(f"{path}: cannot append to the journal ({error.strerror})") from None
    return Start(script, replayed.session, writer, replayed.last_t, list(journal.records))


def load_protocol(path: Path) -> Script:
    try:
        return load(path)
    except ProtocolError as error:
        problems = getattr(error, "problems", None) or [str(error)]
        raise LiveError("; ".join(problems)) from None


def start_speaking(
    options: RunOptions, panel: StatusPanel, inputs: Inputs
) -> tuple[Any, str]:
    """(Speaker on the two routes, "") or (None, why there is no audio output)."""
    try:
        from voice_guide.devices import DeviceError
        from voice_guide.speak.speaker import Speaker
        from voice_guide.speak.tts import Tts

        if not any_output_device():
            return None, "no output device"
    except (ImportError, OSError) as error:  # no PortAudio library, no sound card, no server
        return None, _one_line(error)
    # The voice loads before the streams open: loading holds the interpreter for ~0.1 s at a
    # time (parsing its tables), which the streams' callbacks would wait for (underruns).
    speaking_line(Tts(voice_of(options)))
    try:
        speaker = Speaker.open(
            practitioner_device=options.practitioner_device,
            room_device=options.room_device,
            practitioner_audible=options.practitioner_audible,
            voice=voice_of(options),
            print_text=lambda text, route: panel.message(f"(not spoken) [{route}] {text}"),
            on_note=inputs.put_note,
        )
    except DeviceError as error:  # a named device that does not exist: the user must fix it
        raise LiveError(str(error)) from None
    except Exception as error:  # PortAudioError, OSError: no usable output at all
        return None, _one_line(error)
    eprint(speaking_line(speaker.tts))  # already loaded: which voice speaks
    return speaker, ""


def voice_of(options: RunOptions) -> Any:  # -> speak.tts.Voice
    from voice_guide.speak.tts import Voice

    calm = Voice()
    return Voice(options.voice or calm.name, options.rate or calm.rate,
                 calm.volume if options.volume is None else options.volume)


def speaking_line(tts: Any) -> str:
    """The start-up line `voice: NAME (...)`: which voice speaks, and why when not the one asked
    for; or why none can (the prompts are printed then)."""
    from voice_guide.speak.tts import SpeechError

    try:
        return str(tts.load())
    except SpeechError as error:
        return f"voice: none ({error}): the prompts are printed"


def check_recognizer(options: RunOptions) -> None:
    """A recognizer that cannot work stops the start, before a journal is made (the engine
    itself still loads in the background while the welcome is spoken)."""
    from voice_guide.listen.factory import EngineError, check_engine

    try:
        check_engine(options.engine, options.model, options.profile)
    except EngineError as error:
        raise LiveError(str(error)) from None


def find_microphone(options: RunOptions) -> tuple[Any, str]:
    """(the input Endpoint, "") or (None, why there is no microphone)."""
    try:
        import sounddevice as sd

        from voice_guide.devices import DeviceError, resolve_input
    except (ImportError, OSError) as error:
        return None, _one_line(error)
    try:
        endpoint = resolve_input(options.input_device)
    except DeviceError as error:
        raise LiveError(str(error)) from None
    if endpoint.is_default:
        try:
            sd.query_devices(kind="input")  # the default input; raises when there is none
        except Exception:
            return None, "no input device"
    return endpoint, ""


def any_output_device() -> bool:
    import sounddevice as sd

    try:
        sd.query_devices(kind="output")  # the default output; raises when there is none
    except Exception:
        return any(d["max_output_channels"] > 0 for d in sd.query_devices())
    return True


def known_texts(script: Script) -> list[str]:
    """Everything the guide can say that is known in advance, most urgent first: rendered ahead
    in the background so a prompt starts the moment it is asked for."""
    from voice_guide import session as cues

    def spoken(step: Any) -> str:  # as the session speaks a step: instruction and cues
        return " ".join(part.strip() for part in (step.say, *step.cues) if part.strip())

    first, *rest = script.steps
    texts = [WELCOME, script.opening, *script.preparation, first.station.announce, spoken(first)]
    texts += [
        cues.PAUSED, cues.RESUMING, cues.TIME_UP, cues.NOT_PAUSED, cues.CONFIRM_END,
        cues.CONFIRM_DECLINED, cues.CONFIRM_LAPSED, cues.SESSION_ENDED, cues.CHECKIN_HINT,
        cues.FIRST_STEP, cues.FIRST_ITEM, cues.PREP_INTRO, cues.HELP_STEPS, cues.HELP_PAUSED,
        cues.HELP_PREP, cues.HELP_REST, cues.HELP_CONFIRM, *cues.RELAY.values(),
        script.checkins.question, script.checkins.follow_up or "", cues.ALREADY_PAUSED,
        cues.NOTHING_TO_CONFIRM, cues.ANSWER_UNCLEAR,
    ]
    for step in rest:
        texts += [step.station.announce, spoken(step)]
    texts += [script.rest.say, script.rest.closing]  # details: rarely asked, rendered then
    return list(dict.fromkeys(t for t in texts if t))


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__



class Voice(Protocol):
    """Where `Say` actions go: printed, spoken on a route, or rendered to files."""

    def say(self, say: Say, now: float) -> None: ...

    def silence(self, now: float) -> None: ...

    def close(self) -> None: ...


class SessionClock:
    """Session seconds on the monotonic clock, carrying on from `start_at` (a resumed session).

    Rounded to the millisecond: the journal stores `t` to the millisecond, so the session sees
    exactly the times a replay will give it.
    """

    def __init__(self, start_at: float = 0.0) -> None:
        self._start_at = start_at
        self._origin = time.monotonic()

    def now(self) -> float:
        return round(self._start_at + (time.monotonic() - self._origin), 3)


@dataclass
class Guide:
    """Session + journal + voice + status panel. Every method takes the session time `now`."""

    session: Session
    journal: JournalWriter
    voice: Voice
    panel: StatusPanel | None = None
    on_action: Callable[[Action, float], None] | None = None  # e.g. the mic gate, the event log
    last_heard: str = ""
    accepted: frozenset[Command] = frozenset()  # what the session accepts now (for listeners)
    clock_display: bool = True  # the panel's clock every second (typed input is left alone)
    records: list[dict[str, Any]] = field(default_factory=list)  # this run's journaled records
    _last_write: float = 0.0
    _closed: bool = False
    _journal_said: bool = False  # the practitioner heard that the journal cannot be written
    closing_notes: Callable[[], Iterable[Note]] | None = None  # journaled last (audio glitches)

    # --- starting ---------------------------------------------------------------------------

    def open(self, now: float, *, prep: bool, welcome: str = WELCOME) -> None:
        """The welcome (how to get help), then the session's own opening."""
        self.emit([Say(welcome, Route.PRACTITIONER, "welcome")], now)
        self.emit(self.session.start(now, prep=prep), now)

    def reopen(self, now: float, prior: Iterable[dict[str, Any]] = ()) -> None:
        """Carry on a replayed session: mark the resume in the journal and say where we are."""
        self.records.extend(prior)
        status = self.session.status(now)
        self._write(
            {
                "t": round(now, 3),
                "type": "resume_session",
                "phase": status.phase,
                "index": status.index,
                "seconds_in_step": round(status.seconds_in_step, 1),
                "paused": status.paused,
            }
        )
        self.emit([Say(resume_text(status), Route.PRACTITIONER, "resume")], now)

    # --- inputs -----------------------------------------------------------------------------

    def heard(self, heard: Heard, now: float) -> None:
        if self.ended:
            return
        self.last_heard = heard.phrase
        self.emit(self.session.heard(heard, now), now, heard=heard)

    def typed(self, line: str, now: float) -> bool:
        """A typed line: the same phrases one would say (during a check-in, the client's own
        words too). False when it is not a command and no client's answer is awaited."""
        heard = phrase_to_heard(" ".join(line.lower().split()), now, self.session.accepts())
        if heard is not None:
            self.heard(heard, now)
        elif self.session.accepts() >= CLIENT_ANSWERS:  # not understood: the practitioner hears
            self.emit(self.session.not_understood(line.strip(), now), now)
        else:
            return False
        return True

    def spoken(self, say: Say, now: float) -> None:
        """A question finished playing: journaled, and the client's answer window starts now."""
        if self.ended:
            return
        self._write({"t": round(now, 3), "type": "spoken", "kind": say.kind})
        self.emit(self.session.spoken(say.kind, now), now)

    def tick(self, now: float) -> None:
        if self.ended:
            return
        self.emit(self.session.tick(now), now)
        if now - self._last_write >= HEARTBEAT_SECONDS:
            self._write({"t": round(now, 3), "type": "clock"})
        if self.clock_display:
            self.show(now)

    def wait_seconds(self, now: float, refresh: float = REFRESH_SECONDS) -> float:
        """How long the loop may sleep before `tick` has something to do."""
        wait = min(refresh, max(0.0, self._last_write + HEARTBEAT_SECONDS - now))
        deadline = self.session.next_deadline()
        if deadline is not None:
            wait = min(wait, max(0.0, deadline - now))
        return max(0.005, wait)

    # --- outputs ----------------------------------------------------------------------------

    def emit(self, actions: Iterable[Action], now: float, heard: Heard | None = None) -> None:
        """Speak first, then journal (the command, then its actions): the answer never waits for
        the disk, and a crash in between loses only the event in flight."""
        actions = list(actions)
        for action in actions:
            if isinstance(action, Say):
                self.voice.say(action, now)
            elif isinstance(action, Silence):
                self.voice.silence(now)
        if heard is not None:
            self._write(heard.record(now))
        for action in actions:
            if isinstance(action, Ended):
                self._closing_notes(now)  # the `end` record stays the last one
            self._write(action.record(now))
            if self.on_action is not None:
                self.on_action(action, now)
            if isinstance(action, Ended):
                self._closing(now)
        self.accepted = self.session.accepts()  # one atomic swap: other threads read it
        if actions or heard is not None:
            self.show(now)

    def note(self, note: Note, now: float) -> None:
        """Something the edges noticed (a route fell back to another device): journaled."""
        self._write(note.record(now))
        if self.panel is not None:
            details = ", ".join(f"{key} {value}" for key, value in note.fields.items())
            self.panel.message(f"({note.type}: {details})")

    def show(self, now: float) -> None:
        if self.panel is not None and not self._closed and self.session.status(now).phase != "idle":
            self.panel.show(view_of(self.session.status(now), self.last_heard))

    @property
    def ended(self) -> bool:
        return self.session.ended

    def close(self, now: float, reason: str) -> None:
        """End of this run. An unfinished session gets an `exit` record and stays resumable."""
        if self._closed:
            return
        if not self.ended:
            self._closing_notes(now)
            self._write({"t": round(now, 3), "type": "exit", "reason": reason})
        self._closed = True
        notice = self.journal.close()
        if notice is not None:
            eprint(notice.line)
        if self.panel is not None:
            self.panel.close()

    def _closing_notes(self, now: float) -> None:
        notes, self.closing_notes = self.closing_notes, None  # once
        for note in notes() if notes is not None else ():
            self._write(note.record(now))

    def _closing(self, now: float) -> None:
        summary = summarize(self.records)
        if self.panel is not None:
            for line in summary_lines(summary):
                self.panel.message(line)
        self.voice.say(Say(summary_speech(summary), Route.PRACTITIONER, "summary"), now)

    def _write(self, record: dict[str, Any]) -> None:
        if self._closed:
            return
        notice = self.journal.write(record)
        self.records.append(record)
        self._last_write = float(record["t"])
        if notice is not None:
            self._journal_notice(notice, float(record["t"]))

    def _journal_notice(self, notice: JournalNotice, now: float) -> None:
        """The journal stopped (or started again) being written. The screen shows every change;
        the practitioner hears the first outage only: it means a crash could not be resumed,
        and repeating it would only interrupt the massage."""
        eprint(notice.line)
        if notice.speech and not self._journal_said:
            self._journal_said = True
            self.voice.say(Say(notice.speech, Route.PRACTITIONER, "journal"), now)


def resume_text(status: Any) -> str:
    if status.phase == "steps" and status.step is not None:
        step = status.step
        # Seed step numbers, as on the written protocol and in "where am I".
        repeating = f", repeating step {step.origin}" if step.origin != step.number else ""
        text = f"Welcome back. Resuming at step {step.number}{repeating}: {step.title}."
    elif status.phase == "rest":
        text = "Welcome back. Resuming the rest period."
    elif status.phase == "prep":
        text = "Welcome back. Resuming the preparation checklist."
    else:
        text = "Welcome back."
    if status.paused:
        text += " The session is paused. Say resume to continue."
    return text


# --- Voices ------------------------------------------------------------------------------------


class PrintVoice:
    """Prompts printed (with their route), nothing spoken: text mode without audio."""

    def __init__(self, panel: StatusPanel) -> None:
        self.panel = panel

    def say(self, say: Say, now: float) -> None:
        self.panel.say(say.text, str(say.route))

    def silence(self, now: float) -> None:
        pass

    def close(self) -> None:
        pass


class SpokenVoice:
    """Prompts printed on the panel and spoken on their routes (through `Speaker`)."""

    def __init__(
        self, panel: StatusPanel, speaker: Any, on_played: Callable[[Say], None] | None = None
    ) -> None:
        self.panel = panel
        self.speaker = speaker
        self.on_played = on_played  # told when a question to the client has played out
        self.last: Any = None  # the last Utterance queued (benchmarks time it)

    def say(self, say: Say, now: float) -> None:
        self.panel.say(say.text, str(say.route))
        self.last = utterance = self.speaker.say(say, now)
        if utterance is not None and self.on_played is not None and say.kind in QUESTION_KINDS:
            told = self.on_played
            def wait() -> None:  # an interrupted question keeps the estimated window
                if utterance.wait() and utterance.outcome == "played":
                    told(say)

            threading.Thread(target=wait, name="played", daemon=True).start()

    def silence(self, now: float) -> None:
        self.speaker.silence(now)

    def drain(self) -> None:
        self.speaker.drain()

    def close(self) -> None:
        self.speaker.close()


# The microphone lost mid-session: what the practitioner hears (earbuds), journaled with a note.
MIC_LOST = "The microphone stopped working; listening is paused until it is back."
MIC_FALLBACK = "The microphone stopped working; listening on the default microphone now."
MIC_BACK = "The microphone is back; listening again."
MIC_STALL_SECONDS = 1.5  # a running input stream without a callback this long has stopped
MIC_CONFIRM_SECONDS = 0.5  # a reopened microphone is back once it has delivered this long
MIC_RETRY_SECONDS = 1.0  # while lost: how often it is looked for, besides the server's events
MIC_WATCH_SECONDS = 0.1


class Listening:
    """The microphone side, on threads of its own: loads the recognizer (while the welcome is
    spoken), opens the input stream, feeds each block to the listener (narrowed to what the
    session accepts now, muted while the guide is audible to the microphone), and puts every
    `Heard` on the loop's queue. If the microphone cannot be used after all, the loop is told to
    carry on from typed commands.

    A microphone lost mid-session (its source removed from the sound server, or a stream that
    stops: no callback for MIC_STALL_SECONDS, or ended) is closed at once: the server would
    otherwise move the stream to another source, possibly the monitor of our own earbud output.
    The practitioner is told (MIC_LOST / MIC_FALLBACK) and it is journaled (`microphone_lost`);
    listening moves to the server's default source if that is a real microphone (never a monitor,
    which hears what we play), else pauses. When the configured microphone is there again and
    delivers sound, listening goes back to it (MIC_BACK, `microphone_back`)."""

    BLOCK = 320  # samples: 20 ms at 16 kHz

    def __init__(
        self, options: RunOptions, endpoint: Any, inputs: Inputs, guide: Guide, speaker: Any,
        panel: StatusPanel,
    ) -> None:
        self.options = options
        self.endpoint = endpoint
        self.inputs = inputs
        self.guide = guide
        self.speaker = speaker
        self.panel = panel
        self.origin: float | None = None  # monotonic time of stream time 0 (the first sample)
        self.listener: Any = None
        self.engine = ""
        self.ready = threading.Event()  # listening (or given up)
        self._blocks: queue.Queue[Any] = queue.Queue()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="listen", daemon=True)
        # The stream in use and how it is doing (the watch thread swaps streams).
        self.using: Any = None  # the Endpoint recorded from; None while listening is paused
        self.lost: str | None = None  # why listening is paused
        self._feed: _Feed | None = None  # the stream in use
        self._source: str | None = None  # the sound-server source recorded from, when known
        self._configured_source: str | None = None  # the configured one's, at the start
        self._fed = 0  # 16 kHz samples handed on so far, all streams together (stream time)
        self._next_look = 0.0
        self._changed = threading.Event()  # the sound server's sources changed
        self._events: Any = None  # devices.PulseEvents
        self._watcher = threading.Thread(target=self._watch, name="listen-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._closed.set()
        self._changed.set()
        self._blocks.put(None)
        if self._events is not None:
            self._events.close()
        if self._watcher.is_alive():
            self._watcher.join(timeout=5)  # it may be opening a stream: let it finish first
        feed, self._feed = self._feed, None
        if feed is not None:
            feed.active = False
            try:
                feed.stream.stop()
                feed.stream.close()
            except Exception as error:  # a vanished device may refuse; nothing left to do
                logging.getLogger(__name__).debug("closing the microphone: %s", error)
        self._thread.join(timeout=5)

    def stream_time(self, monotonic: float) -> float | None:
        return None if self.origin is None else monotonic - self.origin

    # --- the listening thread ---------------------------------------------------------------

    def _run(self) -> None:
        try:
            self.listener = self._make_listener()
            self._start_listening()
        except Exception as error:
            why = _one_line(error)
            self.ready.set()
            self.inputs.put(lambda: self._give_up(why))
            return
        self.ready.set()
        self._watcher.start()
        try:
            while not self._closed.is_set():
                block = self._blocks.get()
                if block is None:
                    break
                for heard in self.listener.feed(block):
                    self.inputs.put(heard)
        except Exception as error:  # the recognizer broke mid-session: carry on by keyboard
            logging.getLogger(__name__).exception("listening failed")
            why = _one_line(error)
            self.inputs.put(lambda: self._give_up(why))

    def _make_listener(self) -> Any:
        from voice_guide.listen.factory import make_recognizer
        from voice_guide.listen.pipeline import Listener

        recognizer, reason = make_recognizer(self.options.engine, self.options.model,
                                           sensitivity=self.options.sensitivity,
                                           parallel_check=True, profile=self.options.profile)
        self.engine = recognizer.name
        if reason:
            eprint(reason)
        listener = Listener(recognizer, lambda: self.guide.accepted)
        if self.speaker is not None:
            self.speaker.gate.subscribe(self._mute)
        return listener

    def _mute(self, until: float) -> None:
        """The player's gate: the microphone may hear us until `until` (monotonic seconds)."""
        stream_until = self.stream_time(until)
        if stream_until is not None and self.listener is not None:
            self.listener.mute_until(stream_until)

    def _start_listening(self) -> None:
        """Open the configured microphone; watch the sound server when it is one of its
        sources (or the server's default)."""
        from voice_guide.devices import PulseEvents

        self._activate(self._open(self.endpoint))
        self._configured_source = self._source
        if self._source is not None:
            self._events = PulseEvents(lambda line: self._changed.set())
        self._tell("", "listening", device=self.endpoint.label, source=self._source,
                   engine=self.engine)

    def _open(self, endpoint: Any) -> _Feed:
        """A started input stream on `endpoint`, not handing blocks on until activated."""
        from voice_guide.devices import open_input_stream

        feed = _Feed(endpoint)

        def callback(indata: Any, frames: int, time_info: Any, status: Any) -> None:
            self._callback(feed, indata, time_info)

        def finished() -> None:
            feed.ended = True

        common = {"channels": 1, "dtype": "int16", "latency": "low", "callback": callback,
                  "finished_callback": finished}
        try:
            stream = open_input_stream(endpoint, samplerate=16_000, blocksize=self.BLOCK, **common)
        except Exception:  # the device cannot do 16 kHz itself: take its rate and resample
            stream = open_input_stream(endpoint, **common)
        feed.stream, feed.rate = stream, int(stream.samplerate)
        feed.opened_at = feed.last = time.monotonic()
        try:
            stream.start()
        except Exception:
            feed.close()
            raise
        return feed

    def _activate(self, feed: _Feed) -> None:
        self._feed, self.using = feed, feed.endpoint
        self._source = self._source_of(feed.endpoint)
        feed.active = True

    # Runs on PortAudio's thread: short, no blocking.
    def _callback(self, feed: _Feed, indata: Any, time_info: Any) -> None:
        now = time.monotonic()
        feed.last = now
        if feed.first is None:
            feed.first = now
        if not feed.active:
            return  # being tried, or being closed
        if feed.origin_due:  # stream time carries on over a change of microphone
            try:
                ago = max(0.0, time_info.currentTime - time_info.inputBufferAdcTime)
            except AttributeError:
                ago = 0.0
            self.origin = now - ago - self._fed / 16_000
            feed.origin_due = False
        block = indata[:, 0].copy()
        if feed.rate != 16_000:
            from voice_guide.wav import to_16k_int16

            block = to_16k_int16(block.astype("float32") / 32768.0, feed.rate)
        self._fed += len(block)
        self._blocks.put(block)

    def _give_up(self, why: str) -> None:
        """On the loop's thread: no microphone after all; carry on from typed commands."""
        eprint(f"cannot listen ({why}): running in text mode, type the commands")
        read_lines(sys.stdin, self.inputs)

    # --- the watch thread: a microphone lost, a fallback, back again -------------------------

    def _watch(self) -> None:
        while not self._closed.is_set():
            changed = self._changed.wait(MIC_WATCH_SECONDS)
            if self._closed.is_set():
                break
            if changed:
                self._changed.clear()
            try:
                self._check(changed, time.monotonic())
            except Exception:
                logging.getLogger(__name__).exception("watching the microphone")

    def _check(self, changed: bool, now: float) -> None:
        feed = self._feed
        if feed is not None:
            why = self._problem(feed, changed, now)
            if why:
                self._lose(feed, why, now)
            elif feed.endpoint is self.endpoint:
                return  # listening on the configured microphone
        # Paused, or on a fallback: is the configured microphone there again?
        if changed or now >= self._next_look:
            self._next_look = now + MIC_RETRY_SECONDS
            self._look_again()

    def _problem(self, feed: _Feed, changed: bool, now: float) -> str:
        """Why the stream in use has stopped hearing the microphone, or ""."""
        from voice_guide.devices import pulse_sources

        if feed.ended:
            return "its input stream stopped"
        quiet = now - feed.last
        if quiet > MIC_STALL_SECONDS:
            return f"no sound from it for {quiet:.1f} s"
        if changed and self._source is not None:
            sources = pulse_sources()  # None: the server did not answer; nothing to conclude
            if sources is not None and self._source not in {s.name for s in sources}:
                return f"the sound server removed source {self._source!r}"
        return ""

    def _lose(self, feed: _Feed, why: str, now: float) -> None:
        lost, lost_source = feed.endpoint, self._source
        feed.close()
        self._feed, self.using, self._source = None, None, None
        self._next_look = now + MIC_RETRY_SECONDS
        fallback = self._fallback(lost, lost_source)
        if fallback is not None:
            try:
                self._activate(self._open(fallback))
            except Exception as error:
                logging.getLogger(__name__).warning("cannot listen on %s: %s", fallback.label,
                                                    _one_line(error))
                fallback = None
        self.lost = None if fallback is not None else why
        logging.getLogger(__name__).warning(
            "microphone %s lost (%s); %s", lost.label, why,
            f"listening on {fallback.label}" if fallback is not None else "listening paused")
        self._tell(MIC_FALLBACK if fallback is not None else MIC_LOST, "microphone_lost",
                   device=lost.label, reason=why,
                   listening_on=fallback.label if fallback is not None else None)

    def _fallback(self, lost: Any, lost_source: str | None) -> Any:
        """The server's default source if it is a real microphone (not a monitor: that hears
        what we play) other than the lost one; without a server, PortAudio's default input."""
        from voice_guide.devices import (
            DEFAULT_ENDPOINT,
            pulse_default_source,
            pulse_source_endpoint,
            pulse_sources,
        )

        sources = pulse_sources()
        if sources is None:
            return None if lost.is_default else DEFAULT_ENDPOINT
        default = pulse_default_source()
        for source in sources:
            if source.name == default and not source.monitor and source.name != lost_source:
                try:
                    return pulse_source_endpoint(source.name)
                except Exception:  # DeviceError: no PortAudio device reaches the server
                    return None
        return None

    def _look_again(self) -> None:
        """Back to the configured microphone once it is there again and delivers sound."""
        from voice_guide.devices import pulse_sources

        if self._configured_source is not None:
            sources = pulse_sources()
            if sources is None or self._configured_source not in {s.name for s in sources}:
                return
        elif self._feed is not None:
            return  # on a fallback, and no way to tell the configured one is back: stay
        try:
            trial = self._open(self.endpoint)
        except Exception:
            return  # not yet
        deadline = time.monotonic() + MIC_CONFIRM_SECONDS + MIC_STALL_SECONDS
        while not self._closed.is_set() and time.monotonic() < deadline and not trial.ended:
            if trial.first is not None and time.monotonic() - trial.first >= MIC_CONFIRM_SECONDS:
                break
            self._closed.wait(0.05)
        now = time.monotonic()
        if (self._closed.is_set() or trial.ended or trial.first is None
                or now - trial.first < MIC_CONFIRM_SECONDS or now - trial.last > 0.5):
            trial.close()  # opened but silent: not back yet
            return
        previous, self._feed = self._feed, None
        if previous is not None:
            previous.close()
        self._activate(trial)
        self.lost = None
        logging.getLogger(__name__).warning("microphone %s is back", self.endpoint.label)
        self._tell(MIC_BACK, "microphone_back", device=self.endpoint.label)

    def _source_of(self, endpoint: Any) -> str | None:
        """The sound-server source `endpoint` records from, when the server can tell."""
        from voice_guide.devices import pulse_default_source

        if endpoint.pulse:
            return str(endpoint.pulse)
        return pulse_default_source() if endpoint.is_default else None

    def _tell(self, text: str, note: str, **fields: Any) -> None:
        """Journal `note` (and say `text` on the practitioner route) on the loop's thread."""

        def on_loop() -> None:
            clock = self.inputs.clock
            if clock is None:
                return
            now = clock.now()
            self.guide.note(Note(note, fields), now)
            if text and not self.guide.ended:
                self.guide.emit([Say(text, Route.PRACTITIONER, "microphone")], now)

        self.inputs.put(on_loop)


class _Feed:
    """One input stream and what its callbacks said; only the active one hands blocks on."""

    def __init__(self, endpoint: Any) -> None:
        self.endpoint = endpoint
        self.stream: Any = None
        self.rate = 16_000
        self.opened_at = self.last = time.monotonic()  # `last`: the latest callback
        self.first: float | None = None  # the first callback
        self.ended = False  # the stream ended by itself
        self.active = False
        self.origin_due = True  # its first active callback sets the listener's origin

    def close(self) -> None:
        """Stop it in the background: a dead device can block abort()."""
        self.active = False
        stream = self.stream

        def shut() -> None:
            try:
                stream.abort()
                stream.close()
            except Exception as error:  # a vanished device may refuse; nothing left to do
                logging.getLogger(__name__).debug("closing the microphone: %s", error)

        if stream is not None:
            threading.Thread(target=shut, name="listen-close", daemon=True).start()


# --- The loop ----------------------------------------------------------------------------------

EOF = object()


@dataclass
class Inputs:
    """What the loop waits on: typed lines, `Heard` from the listener, end of input, errors."""

    queue: queue.Queue[Any] = field(default_factory=queue.Queue)
    guide: Guide | None = None  # set once the session runs: notes are journaled through it
    clock: SessionClock | None = None

    def put(self, item: Any) -> None:
        self.queue.put(item)

    def put_note(self, note: Note) -> None:
        """From any thread (the player's): journal `note` on the loop's thread."""
        self.queue.put(lambda: self._journal(note))

    def _journal(self, note: Note) -> None:
        if self.guide is not None and self.clock is not None:
            self.guide.note(note, self.clock.now())

    def get(self, timeout: float) -> Any:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None


def read_lines(stream: TextIO, inputs: Inputs) -> threading.Thread:
    """A daemon thread that puts each line of `stream` on `inputs`, then EOF."""

    def pump() -> None:
        try:
            for line in stream:
                inputs.put(line)
        except (OSError, ValueError):
            pass
        inputs.put(EOF)

    thread = threading.Thread(target=pump, name="stdin", daemon=True)
    thread.start()
    return thread


def run_live(
    guide: Guide,
    clock: SessionClock,
    inputs: Inputs,
    *,
    unknown: Callable[[str], None] | None = None,
    linger: Callable[[], None] | None = None,
    on_line: Callable[[], None] | None = None,
) -> str:
    """Run until the session ends, input ends, or Ctrl-C / SIGTERM. Returns why it stopped
    ("ended", "eof", "interrupt"); the journal is complete either way."""
    previous = _terminate_as_interrupt()
    reason = "error"  # until the loop ends one of the expected ways
    try:
        while not guide.ended:
            item = inputs.get(guide.wait_seconds(clock.now()))
            now = clock.now()
            if item is EOF:
                reason = "eof"
                break
            if isinstance(item, Heard):
                guide.heard(item, now)
            elif isinstance(item, str) and item.strip():
                if on_line is not None:
                    on_line()
                if not guide.typed(item, now) and unknown is not None:
                    unknown(item.strip())
            elif callable(item):
                item()  # work handed to the loop's thread (e.g. falling back to text mode)
            guide.tick(clock.now())
        else:
            reason = "ended"
        if guide.ended and linger is not None:
            linger()  # let the closing words play out
    except KeyboardInterrupt:
        reason = "interrupt"
    finally:
        guide.voice.silence(clock.now())
        guide.close(clock.now(), reason)
        guide.voice.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return reason


def _terminate_as_interrupt() -> Any:
    """SIGTERM ends the run like Ctrl-C: speech stopped, streams closed, journal complete."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        return None  # only the main thread may set handlers (tests, benchmarks)
    return signal.signal(signal.SIGTERM, handler)


def eprint(message: str) -> None:
    print(f"voice-guide: {message}", file=sys.stderr)
