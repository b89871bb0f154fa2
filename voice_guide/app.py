"""`voice-guide run`: start-up, and the wiring of one live session.

`run_session` checks what the user typed before it opens anything: the protocol and an existing
journal first, then the devices (a wrong device name stops before a journal is made for
nothing), then the recognizer's engine and model (it still loads in the background, while the
welcome is spoken, so the first word is not kept waiting). Only then is the journal created (or
reopened, for `--resume`) and the session started: the `Guide` (`voice_guide.guide`) with its
journal, speech and panel; the `ListeningThread` (`voice_guide.listening`) or a reader of typed
lines; and the loop (`voice_guide.loop`) until the session stops, which says why (`StopReason`,
whose exit status `run` returns).

With no microphone (or no audio output at all) it says so in one line and runs the same session
from typed commands. The start-up lines go to `logging` (`voice-guide: ...` on stderr, as the
CLI sets it up).
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voice_guide.events import AudioReport
from voice_guide.guide import Guide, PrintedSpeech, SpeakerSpeech, SpeechOutput
from voice_guide.journal import (
    JournalBusy,
    JournalWriter,
    collapsed_warnings,
    find_unfinished,
    make_header,
    new_journal_path,
    not_a_journal,
    nothing_happened,
    read_journal,
    sessions_dir,
)
from voice_guide.listening import ListeningOptions, ListeningThread, one_line
from voice_guide.loop import Inbox, Noticed, Played, SessionClock, StopReason, read_lines, run_loop
from voice_guide.prompts import (
    WAITS_FOR_ROOM,
    WAITS_FOR_SPEECH,
    known_texts,
    long_session_warning,
)
from voice_guide.protocol import DEFAULT_PROTOCOL, ProtocolError, Script, load
from voice_guide.session import Session, SessionSettings
from voice_guide.status import StatusPanel

log = logging.getLogger(__name__)

__all__ = ["LiveError", "SessionOptions", "SpeechOptions", "run_session", "serve_day"]


class LiveError(Exception):
    """A problem that stops `run` before the session starts; one line for the user."""


@dataclass(frozen=True)
class SessionOptions:
    """Which session `run` was asked for."""

    protocol: Path | None = None  # None: the default protocol (or the resumed session's)
    resume: bool = False
    journal: Path | None = None  # None: a new file in the user data directory
    skip_prep: bool = False
    auto: bool = False
    client: str | None = None  # who the session is with (the journal's header; the recap)


@dataclass(frozen=True)
class SpeechOptions:
    """Where and how `run` speaks."""

    practitioner_device: str | None = None
    room_device: str | None = None
    practitioner_audible: bool = False
    voice: str | None = None  # None: the default voice (speak/tts.py), and so on
    rate: int | None = None
    volume: float | None = None


def run_session(
    session: SessionOptions,
    listening: ListeningOptions | None,
    speech: SpeechOptions | None,
    *,
    interactive: bool = False,
) -> StopReason:
    """`voice-guide run`: set up (new or resumed session), run, close cleanly; why it stopped.
    `listening` None: typed commands (`--text`); `speech` None: nothing spoken (`--silent`);
    `interactive`: stdin is a terminal."""
    from voice_guide.devices import AlsaMessages

    # ALSA's own lines (`snd_pcm_recover underrun occurred`) go to the log and are counted, not
    # printed over the status panel; Python's own errors still reach the terminal directly.
    alsa = None if listening is None and speech is None else AlsaMessages.start()
    try:
        return _run_session(session, listening, speech, interactive, alsa)
    finally:
        if alsa is not None:
            alsa.close()
            if alsa.lines:
                log.debug("ALSA: %s", alsa.summary())


@dataclass
class Start:
    script: Script
    session: Session
    journal: JournalWriter
    resume_at: float  # session time to carry on from (0 for a new session)
    prior: list[dict[str, Any]] | None  # the journaled records of a resumed session
    recap: str = ""  # the last session with this client, said at the start


def _run_session(
    options: SessionOptions, listening: ListeningOptions | None, speech: SpeechOptions | None,
    interactive: bool, alsa: Any,
) -> StopReason:
    panel = StatusPanel(sys.stdout)
    inbox = Inbox()
    script = None if options.resume else load_protocol(options.protocol or DEFAULT_PROTOCOL)
    warning = long_session_warning(script) if script is not None else None
    if warning is not None:
        log.warning("warning: %s", warning)
    if script is not None and options.journal is not None and options.journal.exists():
        raise LiveError(journal_exists(options.journal))
    speaker, no_speaker = (None, "") if speech is None else start_speaking(speech, panel, inbox)
    try:
        microphone, no_microphone = (None, "") if listening is None else find_microphone(
            listening.input_device)
        if listening is not None and microphone is not None:
            check_recognizer(listening)
        start = (resume_start(options) if script is None
                 else new_start(options, script, text=listening is None))
    except BaseException:
        if speaker is not None:
            speaker.close()
        raise
    log.info("journal %s", start.journal.path)
    log.info("%s", devices_line(microphone, speaker))
    if listening is not None and microphone is None:
        missing = f"{no_microphone}; {no_speaker}" if no_speaker else no_microphone
        what = "no audio" if no_speaker else "no microphone"
        log.warning("%s (%s): running in text mode, type the commands", what, missing)
    elif listening is not None and no_speaker:
        log.warning("no audio output (%s): prompts are printed only", no_speaker)

    output: SpeechOutput = PrintedSpeech(panel)
    if speaker is not None:
        output = SpeakerSpeech(panel, speaker, lambda say: inbox.put(Played(say)))
        speaker.prepare(known_texts(start.script))
    guide = Guide(start.session, start.journal, output, panel)
    if alsa is not None or speaker is not None:
        guide.closing_notes = lambda: [audio_note(alsa, speaker)]
    clock = SessionClock(start.resume_at)  # session time runs from here

    def begin() -> None:
        if start.prior is None:
            guide.open(0.0, prep=not options.skip_prep, recap=start.recap)
        else:
            guide.reopen(clock.now(), start.prior)

    ears = None
    if listening is not None and microphone is not None:
        gate = speaker.gate if speaker is not None else None
        ears = ListeningThread(listening, microphone, inbox, lambda: guide.accepted, gate)
        ears.start()
        if gate is not None:
            guide.waiting = waiting_for_speaker(gate, speaker)
    else:
        read_lines(sys.stdin, inbox)
    typing = ears is None and interactive and panel.tty
    try:
        stopped = run_loop(guide, clock, inbox, stdin=sys.stdin,
                           echo_typed=panel.input_echoed if typing else None, begin=begin)
    finally:
        if ears is not None:
            ears.close()
    interrupted = stopped in (StopReason.INTERRUPTED, StopReason.TERMINATED)
    if interrupted and not guide.ended and not start.journal.held:  # (held: lost, said so)
        log.warning("%s", saved_line(start.journal.path, guide.records))
    return stopped


def saved_line(path: Path, records: list[dict[str, Any]]) -> str:
    """What is said when a run is stopped (Ctrl-C, SIGTERM) before its session ended."""
    from voice_guide.resume import resume_command

    if nothing_happened(records):
        return f"stopped; nothing happened in this session, so there is nothing to resume ({path})"
    return (f"stopped; the session is saved in {path}: `{resume_command(path)}` carries on "
            "where it stopped")


def serve_day(
    options: SessionOptions,
    listening: ListeningOptions | None,
    speech: SpeechOptions | None,
    *,
    interactive: bool = False,
) -> StopReason:
    """`voice-guide serve`: the microphone, the speaker and the recognizer opened once for the
    day; nothing but "start session" starts a session, run as `run` runs it, and after its
    summary and rest the day waits again (`voice_guide.day`). An unfinished session in the
    sessions folder (a crash, a power cut) is offered first. Stops on Ctrl-C, SIGTERM or the
    end of typed input."""
    from voice_guide.devices import AlsaMessages

    alsa = None if listening is None and speech is None else AlsaMessages.start()
    try:
        return _serve_day(options, listening, speech, interactive, alsa)
    finally:
        if alsa is not None:
            alsa.close()


def _serve_day(
    options: SessionOptions, listening: ListeningOptions | None, speech: SpeechOptions | None,
    interactive: bool, alsa: Any,
) -> StopReason:
    from voice_guide.day import Day, Opening, Unfinished

    panel = StatusPanel(sys.stdout)
    inbox = Inbox()
    script = load_protocol(options.protocol or DEFAULT_PROTOCOL)
    offered = unfinished_session()
    speaker, no_speaker = (None, "") if speech is None else start_speaking(speech, panel, inbox)
    if no_speaker:
        log.warning("no audio output (%s): prompts are printed only", no_speaker)
    try:
        microphone, no_microphone = (None, "") if listening is None else find_microphone(
            listening.input_device)
        if listening is not None and microphone is not None:
            check_recognizer(listening)
    except BaseException:
        if speaker is not None:
            speaker.close()
        raise
    log.info("%s", devices_line(microphone, speaker))
    if listening is not None and microphone is None:
        log.warning("no microphone (%s): serving from typed commands", no_microphone)
    output: SpeechOutput = PrintedSpeech(panel)
    if speaker is not None:
        output = SpeakerSpeech(panel, speaker, lambda say: inbox.put(Played(say)))
        speaker.prepare(known_texts(script))
    text_mode = listening is None or microphone is None

    def opening(start: Start) -> Opening:
        log.info("journal %s", start.journal.path)
        guide = Guide(start.session, start.journal, output, panel)
        if alsa is not None or speaker is not None:
            guide.closing_notes = lambda: [audio_note(alsa, speaker)]
        if start.prior is not None:
            return Opening(guide, resume_at=start.resume_at, prior=tuple(start.prior))
        return Opening(guide, prep=not options.skip_prep, recap=start.recap)

    def new_session(now: float) -> Opening | None:
        try:
            return opening(new_start(options, script, text=text_mode))
        except LiveError as error:  # the day goes on: the next "start session" tries again
            log.warning("cannot start the session: %s", error)
            return None

    def resume_offered(options: SessionOptions) -> Opening | None:
        try:
            return opening(resume_start(options))
        except LiveError as error:
            log.warning("cannot resume the session: %s", error)
            return None

    unfinished = None
    if offered is not None:
        path, index, total = offered
        resume = dataclasses.replace(options, resume=True, journal=path)
        unfinished = Unfinished(index, total, lambda: resume_offered(resume))
    day = Day(new_session, output, unfinished)
    clock = SessionClock()  # day time
    ears = None
    if listening is not None and not text_mode:
        gate = speaker.gate if speaker is not None else None
        ears = ListeningThread(listening, microphone, inbox, day.accepts, gate)
        ears.start()
    else:
        read_lines(sys.stdin, inbox)
    typing = ears is None and interactive and panel.tty
    try:
        return run_loop(day, clock, inbox, stdin=sys.stdin,
                        echo_typed=panel.input_echoed if typing else None,
                        begin=lambda: day.begin(clock.now()))
    finally:
        if ears is not None:
            ears.close()


def unfinished_session() -> tuple[Path, int, int] | None:
    """The latest unfinished session in the sessions folder, with the move it stopped at and
    how many there are; None if there is none (or it cannot be resumed)."""
    from voice_guide.resume import ResumeError, replay

    path = find_unfinished(sessions_dir())
    if path is None:
        return None
    try:
        journal = read_journal(path, warn=False)
        script = load(Path(str((journal.header or {}).get("protocol") or DEFAULT_PROTOCOL)))
        replayed = replay(script, journal)
    except (OSError, ProtocolError, ResumeError) as error:
        log.warning("warning: the unfinished session %s cannot be resumed (%s)", path, error)
        return None
    status = replayed.session.status(replayed.last_t)
    return path, status.index, status.total_steps


def new_start(options: SessionOptions, script: Script, *, text: bool) -> Start:
    from voice_guide.clients import private_folder, recap_for

    settings = SessionSettings(auto=options.auto)
    # The recap is read before this session's own journal exists: it is about the last one.
    recap = recap_for(sessions_dir(), options.client) if options.client else ""
    header = make_header(
        protocol=Path(script.source or options.protocol or DEFAULT_PROTOCOL).resolve(),
        protocol_name=script.name,
        settings=dataclasses.asdict(settings),
        prep=not options.skip_prep,
        mode="text" if text else "audio",
        client=options.client,
    )
    if options.journal is None:
        try:
            private_folder(sessions_dir())  # also one made by an older version
        except OSError as error:
            raise LiveError(f"{sessions_dir()}: cannot make the sessions folder "
                            f"({error.strerror})") from None
    path = options.journal or new_journal_path(sessions_dir(), header["id"])
    try:
        journal = JournalWriter.create(path, header)
    except FileExistsError:
        raise LiveError(journal_exists(path)) from None
    except OSError as error:
        raise LiveError(f"{path}: cannot write the journal ({error.strerror})") from None
    return Start(script, Session(script, settings), journal, 0.0, None, recap)


def journal_exists(path: Path) -> str:
    return f"{path}: journal already exists (add --resume to continue it)"


def resume_start(options: SessionOptions) -> Start:
    from voice_guide.resume import ResumeError, discard_command, protocol_changed, replay

    path = options.journal or find_unfinished(sessions_dir())
    if path is None:
        raise LiveError(f"no unfinished session to resume in {sessions_dir()}")
    try:
        journal = read_journal(path, warn=False)
    except OSError as error:
        raise LiveError(f"{path}: cannot read the journal ({error.strerror})") from None
    if journal.header is None and not journal.records:  # a WAV file named by mistake, say
        raise LiveError(f"{path}: {not_a_journal(journal)}")
    for warning in collapsed_warnings(journal):
        log.warning("warning: %s", warning)
    header = journal.header or {}
    protocol = Path(str(header.get("protocol") or DEFAULT_PROTOCOL))
    if options.protocol is not None and options.protocol.resolve() != protocol:
        log.warning("warning: resuming with the session's own protocol %s", protocol)
    try:
        script = load_protocol(protocol)
    except LiveError as error:  # deleted, or changed into something that does not load
        give_up = f"`{discard_command(path)}` gives it up" if not journal.finished else ""
        raise LiveError(f"{error}; the session in {path} cannot be resumed without it"
                        + (f" ({give_up})" if give_up else "")) from None
    if protocol_changed(journal):
        log.warning("warning: %s changed since the session started", protocol)
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


def start_speaking(options: SpeechOptions, panel: StatusPanel, inbox: Inbox) -> tuple[Any, str]:
    """(Speaker on the two routes, "") or (None, why there is no audio output)."""
    try:
        from voice_guide.devices import DeviceError
        from voice_guide.speak.cache import SpeechCache
        from voice_guide.speak.speaker import Speaker

        if not any_output_device():
            return None, "no output device"
    except (ImportError, OSError) as error:  # no PortAudio library, no sound card, no server
        return None, one_line(error)
    def print_text(text: str, route: str) -> None:
        panel.message(f"(not spoken) [{route}] {text}")

    try:
        speaker = Speaker.open(
            practitioner_device=options.practitioner_device,
            room_device=options.room_device,
            practitioner_audible=options.practitioner_audible,
            voice=voice_of(options),
            store=SpeechCache(),  # the protocol's texts, kept rendered from one run to the next
            print_text=print_text,
            on_note=lambda note: inbox.put(Noticed(note)),
        )
    except DeviceError as error:  # a named device that does not exist: the user must fix it
        raise LiveError(str(error)) from None
    except Exception as error:  # PortAudioError, OSError: no usable output at all
        return None, one_line(error)
    log.info("%s", speaking_line(speaker.tts))  # which voice speaks
    return speaker, ""


def devices_line(microphone: Any, speaker: Any) -> str:
    """The start-up line saying which microphone and outputs the session uses, e.g.
    `microphone: room.monitor; practitioner: earbud; room: room (muted while it speaks)`."""
    from voice_guide.events import Route

    parts = [f"microphone: {microphone.label if microphone is not None else 'none (typed)'}"]
    if speaker is None:
        parts.append("outputs: none (printed)")
    else:
        player = speaker.player
        practitioner, room = player.output_for(Route.PRACTITIONER), player.output_for(Route.ROOM)
        if practitioner == room:
            parts.append(f"both routes: {room.label} (recognition muted while it speaks)")
        else:
            heard = " (recognition muted while it speaks)" if player.practitioner_audible else ""
            parts += [f"practitioner: {practitioner.label}{heard}",
                      f"room: {room.label} (recognition muted while it speaks)"]
    return "; ".join(parts)


def waiting_for_speaker(gate: Any, speaker: Any) -> Callable[[], str]:
    """For the panel: what listening waits for while the microphone is muted (the room speaker
    plays, or with no earbuds any speech of the guide), "" while it listens."""
    from voice_guide.events import Route

    player = speaker.player
    both = (player.practitioner_audible
            or player.output_for(Route.PRACTITIONER) == player.output_for(Route.ROOM))
    text = WAITS_FOR_SPEECH if both else WAITS_FOR_ROOM
    return lambda: text if gate.muted(time.monotonic()) else ""


def voice_of(options: SpeechOptions) -> Any:  # -> speak.tts.Voice
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


def find_microphone(input_device: str | None) -> tuple[Any, str]:
    """(the input Endpoint, "") or (None, why there is no microphone)."""
    try:
        import sounddevice as sd

        from voice_guide.devices import DeviceError, resolve_input
    except (ImportError, OSError) as error:
        return None, one_line(error)
    try:
        endpoint = resolve_input(input_device)
    except DeviceError as error:
        raise LiveError(str(error)) from None
    if endpoint.is_default:
        try:
            sd.query_devices(kind="input")  # the default input; raises when there is none
        except Exception:
            return None, "no input device"
    return endpoint, ""


def check_recognizer(options: ListeningOptions) -> None:
    """A recognizer that cannot work stops the start, before a journal is made (the engine
    itself still loads in the background while the welcome is spoken)."""
    from voice_guide.listen.factory import EngineError, check_engine

    try:
        check_engine(options.engine, options.model, options.profile)
    except EngineError as error:
        raise LiveError(str(error)) from None


def any_output_device() -> bool:
    import sounddevice as sd

    try:
        sd.query_devices(kind="output")  # the default output; raises when there is none
    except Exception:
        return any(d["max_output_channels"] > 0 for d in sd.query_devices())
    return True


def audio_note(alsa: Any, speaker: Any) -> AudioReport:
    """The session's sound glitches, journaled at its end: ALSA's underrun lines (kept off the
    terminal) and the output underflows the player counted."""
    alsa_counts = alsa.summary() if alsa is not None else {}
    return AudioReport(
        alsa_underruns=alsa_counts.get("alsa_underruns", 0),
        alsa_overruns=alsa_counts.get("alsa_overruns", 0),
        alsa_lines=alsa_counts.get("alsa_lines", 0),
        alsa_examples=tuple(alsa_counts.get("alsa_examples", ())),
        output_underflows=speaker.player.underruns() if speaker is not None else None,
    )

