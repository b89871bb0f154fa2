"""Audio devices: list them, resolve `--practitioner-device`, `--room-device`, `--input-device`.

Two views of the machine's sound:
- PortAudio's devices (sounddevice): index, name, channels, default sample rate.
- The sound server's sinks and sources (PulseAudio, or PipeWire's pulse server), by name, from
  `pactl`. Debian's PortAudio has no PulseAudio host API: it reaches the server only through the
  ALSA `pulse` device, as one device. A particular sink or source is reached by setting
  `PULSE_SINK` / `PULSE_SOURCE` just while that ALSA device is opened (`open_output_stream`,
  `open_input_stream` do this). That is the only way to play on a chosen sink here, and on a kiosk.

A device is given as a PortAudio index, or a part of a name (a device's, or a sink's / source's
name or description). A name that matches nothing, or several things, is a `DeviceError` whose
one-line message lists what exists.

A stream whose source is removed is not stopped by the sound server: it is moved to another
source, possibly the monitor of our own earbud output. `pulse_sources()` and `PulseEvents` (the
server's `pactl subscribe`) let the microphone side notice (voice_guide/listening.py,
`ListeningThread`).

ALSA writes its own lines (`ALSA lib pcm.c:8570:(snd_pcm_recover) underrun occurred`) to the C
level stderr, over the status panel: `AlsaMessages` takes fd 2 over for a live session, sends
those lines to logging (`voice_guide.alsa`) and counts them, and passes every other line on.
"""

from __future__ import annotations

import contextlib
import faulthandler
import io
import json
import logging
import os
import select
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal

Kind = Literal["output", "input"]
PACTL_TIMEOUT = 3.0


class DeviceError(ValueError):
    """A device that cannot be found or used; the message lists what exists."""


@dataclass(frozen=True)
class AudioDevice:
    """One PortAudio device (or one sound-server sink/source, `api == "pulse"`, index None)."""

    index: int | None
    name: str
    channels: int
    sample_rate: float
    default: bool
    api: str
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def label(self) -> str:
        if self.index is None:
            return f"{self.name} ({self.api})"
        return f"{self.index} {self.name}"


@dataclass(frozen=True)
class Endpoint:
    """Where a stream goes to (or comes from): a PortAudio device, or a sound-server sink/source
    reached through PortAudio's `pulse` device. `device=None` means PortAudio's default."""

    device: int | None = None
    pulse: str | None = None  # sink name (outputs) or source name (inputs)
    label: str = "default"

    @property
    def is_default(self) -> bool:
        return self.device is None and self.pulse is None


DEFAULT_ENDPOINT = Endpoint()


@dataclass(frozen=True)
class DeviceList:
    outputs: list[AudioDevice]
    inputs: list[AudioDevice]
    server: str | None  # the sound server's name and version, None when none answers

    def to_json(self) -> dict[str, Any]:
        return {
            "outputs": [d.to_json() for d in self.outputs],
            "inputs": [d.to_json() for d in self.inputs],
            "server": self.server,
        }


def list_devices() -> DeviceList:
    """Every output and input: PortAudio's devices first, then the sound server's sinks/sources."""
    outputs, inputs = _portaudio_devices()
    server = _pactl_info()
    if server is not None:
        outputs += _pulse_nodes("sinks", server.get("default_sink_name"))
        inputs += _pulse_nodes("sources", server.get("default_source_name"))
    name = None
    if server is not None:
        name = f"{server.get('server_name', 'sound server')} {server.get('server_version', '')}"
    return DeviceList(outputs, inputs, name.strip() if name else None)


def resolve_output(spec: str | int | None) -> Endpoint:
    """`--practitioner-device` / `--room-device` / `say --device`: index, or part of a name."""
    return resolve(spec, "output")


def resolve_input(spec: str | int | None) -> Endpoint:
    """`--input-device`: index, or part of a name (a source such as `room.monitor` works)."""
    return resolve(spec, "input")


def resolve(spec: str | int | None, kind: Kind, devices: DeviceList | None = None) -> Endpoint:
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return DEFAULT_ENDPOINT
    devices = devices or list_devices()
    candidates = devices.outputs if kind == "output" else devices.inputs
    text = str(spec).strip()
    if text.isdigit():
        for device in candidates:
            if device.index == int(text):
                return Endpoint(device=device.index, label=device.label)
        raise DeviceError(f"no {kind} device with index {text}; {_existing(candidates, kind)}")
    wanted = text.lower()
    exact = [d for d in candidates if d.name.lower() == wanted]
    partial = exact or [
        d for d in candidates if wanted in d.name.lower() or wanted in d.description.lower()
    ]
    if len(partial) > 1:
        # "pulse" the ALSA device vs a sink called "pulse-something": prefer the PortAudio one.
        named = [d for d in partial if d.index is not None] if exact else []
        if len(named) != 1:
            names = ", ".join(repr(d.name) for d in partial)
            raise DeviceError(f"{kind} device {text!r} is ambiguous: it matches {names}")
        partial = named
    if not partial:
        raise DeviceError(f"no {kind} device matches {text!r}; {_existing(candidates, kind)}")
    return _endpoint(partial[0], kind, devices)


def open_output_stream(endpoint: Endpoint, **kwargs: Any) -> Any:
    """A sounddevice OutputStream on `endpoint` (not started). kwargs go to OutputStream."""
    import sounddevice as sd

    with _pulse_target("PULSE_SINK", endpoint.pulse):
        return sd.OutputStream(device=endpoint.device, **kwargs)


def open_input_stream(endpoint: Endpoint, **kwargs: Any) -> Any:
    """A sounddevice InputStream on `endpoint` (not started). kwargs go to InputStream."""
    import sounddevice as sd

    with _pulse_target("PULSE_SOURCE", endpoint.pulse):
        return sd.InputStream(device=endpoint.device, **kwargs)


def pulse_sink_exists(name: str) -> bool:
    """Whether the sound server still has a sink called `name` (False when none answers)."""
    return any(d.name == name for d in _pulse_nodes("sinks", None))


@dataclass(frozen=True)
class PulseSource:
    """One of the sound server's sources. A monitor hears what is played on its sink (our own
    speech, when that sink is one of our outputs): never a microphone to fall back to."""

    name: str
    monitor: bool


def pulse_sources() -> list[PulseSource] | None:
    """The sound server's sources, or None when no server answers (unknown, not "none")."""
    text = _pactl("-f", "json", "list", "sources")
    if text:
        try:
            return [
                PulseSource(
                    str(item["name"]),
                    str(item.get("monitor_source") or "n/a") != "n/a"
                    or (item.get("properties") or {}).get("device.class") == "monitor",
                )
                for item in json.loads(text)
            ]
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
    short = _pactl("list", "short", "sources")
    if short is None:
        return None
    names = [parts[1] for parts in (line.split("\t") for line in short.splitlines())
             if len(parts) > 1]
    return [PulseSource(name, name.endswith(".monitor")) for name in names]


def pulse_default_source() -> str | None:
    """The sound server's default source (what PortAudio's `default`/`pulse` device records)."""
    info = _pactl_info()
    return (info or {}).get("default_source_name") or None


def pulse_source_endpoint(name: str) -> Endpoint:
    """The source `name` reached through PortAudio's `pulse` (or `default`) device."""
    return _endpoint(AudioDevice(None, name, 0, 0.0, False, "pulse"), "input", list_devices())


SOURCE_EVENTS = ("'new' on source #", "'remove' on source #", "on server")
SINK_REMOVED = ("'remove' on sink #",)  # not "sink-input #": a stream ending


class PulseEvents:
    """`pactl subscribe` in the background: `on_event(line)` for each event line that holds one
    of `wanted` (default: a source comes or goes, or the server changes: its default source may
    have). Nothing when there is no pactl (`running` is False). (A source's state changes, which
    come with every start and end of speech on a sink, are left out.)"""

    def __init__(self, on_event: Callable[[str], None],
                 wanted: tuple[str, ...] = SOURCE_EVENTS, thread: str = "pulse-events") -> None:
        self._on_event = on_event
        self._wanted = wanted
        self._process: subprocess.Popen[str] | None = None
        if shutil.which("pactl") is None:
            return
        try:
            self._process = subprocess.Popen(
                ["pactl", "subscribe"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, text=True,
            )
        except OSError as error:
            logging.getLogger(__name__).warning("cannot watch the sound server: %s", error)
            return
        threading.Thread(target=self._read, name=thread, daemon=True).start()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            if any(wanted in line for wanted in self._wanted):
                self._on_event(line.strip())

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._process.kill()


# --- ALSA's own lines on stderr -----------------------------------------------------------------

ALSA_LOG = logging.getLogger("voice_guide.alsa")
# ALSA's error handler prints "ALSA lib FILE:LINE:(FUNCTION) message"; PortAudio's ALSA host API
# prints "Expression '...' failed in 'src/hostapi/alsa/pa_linux_alsa.c', line: N".
_ALSA_MARKS = (b"ALSA lib ",)
_PORTAUDIO_ALSA = b"pa_linux_alsa.c"
_FLUSH_PARTIAL = 0.2  # s: a line without its newline yet is passed on after this long


class AlsaMessages:
    """fd 2 (the C-level stderr) becomes a pipe read by a thread: ALSA's lines go to logging
    (`voice_guide.alsa`, at INFO: not on the terminal) and are counted (`underruns`,
    `overruns`, `lines`); every other line goes on to the real stderr at once. Python's own
    `sys.stderr` (and the logging handlers on it, and faulthandler) write to the real stderr
    directly, so Python's errors never depend on the thread. `close()` puts everything back."""

    def __init__(self, real: int, read: int, saved_stderr: Any, python_stderr: Any,
                 faulthandler_was: bool) -> None:
        self.underruns = 0
        self.overruns = 0
        self.lines = 0
        self.examples: list[str] = []  # the first few different lines, for the journal
        self._real = real  # a copy of the real stderr
        self._read = read
        self._saved_stderr = saved_stderr  # sys.stderr before (None: it was left alone)
        self._python_stderr = python_stderr  # ours, on the real stderr (None: left alone)
        self._faulthandler_was = faulthandler_was
        self._closed = False
        self._real_lock = threading.Lock()  # `_real` is closed once, by close() or the thread
        self._thread = threading.Thread(target=self._pump, name="alsa-stderr", daemon=True)

    @classmethod
    def start(cls) -> AlsaMessages | None:
        """Take fd 2 over; None when it cannot be (no fd 2, no pipes): nothing changed then."""
        with contextlib.suppress(AttributeError, OSError, ValueError):
            sys.stderr.flush()
        try:
            real = os.dup(2)
        except OSError:
            return None
        try:
            read, write = os.pipe()
        except OSError:
            os.close(real)
            return None
        saved, ours = None, None
        if _writes_to_fd2(sys.stderr):
            # Python's stderr keeps writing to the terminal itself, not through the pipe.
            saved = sys.stderr
            ours = io.TextIOWrapper(
                io.FileIO(os.dup(real), "w"), encoding=getattr(saved, "encoding", None) or "utf-8",
                errors=getattr(saved, "errors", None) or "backslashreplace", line_buffering=True,
            )
            sys.stderr = ours
            _repoint_handlers(saved, ours)
        was = faulthandler.is_enabled()
        if ours is not None:  # a fatal error's traceback reaches the terminal even if we die
            faulthandler.enable(file=ours, all_threads=True)
        os.dup2(write, 2)
        os.close(write)
        messages = cls(real, read, saved, ours, was)
        messages._thread.start()
        return messages

    def summary(self) -> dict[str, Any]:
        """The counts, for the journal's end-of-session note."""
        return {"alsa_underruns": self.underruns, "alsa_overruns": self.overruns,
                "alsa_lines": self.lines, "alsa_examples": list(self.examples)}

    def close(self, timeout: float = 2.0) -> None:
        """Give fd 2 back; the thread passes on what is left, then ends (when no child process
        still holds the pipe)."""
        if self._closed:
            return
        self._closed = True
        os.dup2(self._real, 2)  # the pipe's write end closes: the thread reads to its end
        self._thread.join(timeout)
        if self._python_stderr is not None:
            faulthandler.disable()
            if sys.stderr is self._python_stderr:
                sys.stderr = self._saved_stderr
            _repoint_handlers(self._python_stderr, self._saved_stderr)
            self._python_stderr.flush()
            self._python_stderr.close()
            if self._faulthandler_was:
                faulthandler.enable(file=sys.stderr, all_threads=True)
        if not self._thread.is_alive():  # else a child process still holds the pipe: the
            self._release()               # thread passes its lines on, then closes `_real`

    def _release(self) -> None:
        with self._real_lock:
            if self._real >= 0:
                os.close(self._real)
                self._real = -1

    # --- the pipe's reader ------------------------------------------------------------------

    def _pump(self) -> None:
        pending = b""
        try:
            while True:
                ready, _, _ = select.select([self._read], [], [], _FLUSH_PARTIAL)
                if not ready:
                    if pending:  # a line without a newline (a prompt): pass it on
                        self._line(pending)
                        pending = b""
                    continue
                chunk = os.read(self._read, 65536)
                if not chunk:
                    break
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    self._line(line + b"\n")
            if pending:
                self._line(pending)
        except OSError:
            pass
        finally:
            os.close(self._read)
            if self._closed:
                self._release()

    def _line(self, line: bytes) -> None:
        if line.startswith(_ALSA_MARKS) or _PORTAUDIO_ALSA in line:
            text = line.decode(errors="replace").strip()
            self.lines += 1
            if b"underrun occurred" in line:
                self.underruns += 1
            elif b"overrun occurred" in line:
                self.overruns += 1
            if len(self.examples) < 3 and text not in self.examples:
                self.examples.append(text)
            ALSA_LOG.info("%s", text)
            return
        with self._real_lock, contextlib.suppress(OSError):
            if self._real >= 0:
                os.write(self._real, line)


def _writes_to_fd2(stream: Any) -> bool:
    try:
        return bool(stream.fileno() == 2)
    except (AttributeError, OSError, ValueError):  # pytest's capture, a closed stream
        return False


def _repoint_handlers(old: Any, new: Any) -> None:
    """Logging handlers made on `old` (basicConfig's on sys.stderr) write to `new`."""
    for logger in [logging.getLogger(), *(
            item for item in logging.Logger.manager.loggerDict.values()
            if isinstance(item, logging.Logger))]:
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is old:
                handler.setStream(new)


# --- helpers ------------------------------------------------------------------------------------

# PULSE_SINK/PULSE_SOURCE are process-wide: one stream opens at a time while they are set.
_ENV_LOCK = threading.Lock()


@contextlib.contextmanager
def _pulse_target(variable: str, name: str | None) -> Iterator[None]:
    with _ENV_LOCK:
        if name is None:
            yield
            return
        previous = os.environ.get(variable)
        os.environ[variable] = name
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = previous


def _endpoint(device: AudioDevice, kind: Kind, devices: DeviceList) -> Endpoint:
    if device.index is not None:
        return Endpoint(device=device.index, label=device.label)
    # A sink/source: through PortAudio's ALSA "pulse" device (or "default", which is the sound
    # server too when one runs).
    listed = devices.outputs if kind == "output" else devices.inputs
    portaudio = [d for d in listed if d.index is not None]
    for wanted in ("pulse", "default"):
        for candidate in portaudio:
            if candidate.name == wanted:
                return Endpoint(device=candidate.index, pulse=device.name, label=device.name)
    raise DeviceError(
        f"{kind} {device.name!r} is a sound-server {('sink' if kind == 'output' else 'source')}, "
        "but PortAudio shows no 'pulse' or 'default' device to reach it through "
        "(is the ALSA pulse plugin, libasound2-plugins, installed?)"
    )


def _existing(candidates: list[AudioDevice], kind: Kind) -> str:
    if not candidates:
        return f"there are no {kind} devices"
    return f"{kind}s: " + ", ".join(d.label for d in candidates)


def _portaudio_devices() -> tuple[list[AudioDevice], list[AudioDevice]]:
    import sounddevice as sd

    try:
        raw = sd.query_devices()
        apis = sd.query_hostapis()
    except sd.PortAudioError as error:
        raise DeviceError(f"cannot list audio devices: {error}") from None
    default_in, default_out = _defaults(sd)
    outputs: list[AudioDevice] = []
    inputs: list[AudioDevice] = []
    for info in raw:
        api = apis[info["hostapi"]]["name"]
        common = {"index": info["index"], "name": info["name"], "api": api}
        rate = float(info["default_samplerate"])
        if info["max_output_channels"] > 0:
            outputs.append(
                AudioDevice(
                    channels=info["max_output_channels"], sample_rate=rate,
                    default=info["index"] == default_out, **common,
                )
            )
        if info["max_input_channels"] > 0:
            inputs.append(
                AudioDevice(
                    channels=info["max_input_channels"], sample_rate=rate,
                    default=info["index"] == default_in, **common,
                )
            )
    return outputs, inputs


def _defaults(sd: Any) -> tuple[int, int]:
    indices = []
    for kind in ("input", "output"):
        try:
            indices.append(int(sd.query_devices(kind=kind)["index"]))
        except (sd.PortAudioError, ValueError, TypeError):
            indices.append(-1)
    return indices[0], indices[1]


def _pactl(*args: str) -> str | None:
    """pactl's output, or None when there is no pactl or no server answers."""
    if shutil.which("pactl") is None:
        return None
    try:
        done = subprocess.run(
            ["pactl", *args], capture_output=True, text=True, timeout=PACTL_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _pactl_info() -> dict[str, Any] | None:
    text = _pactl("info")
    if text is None:
        return None
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields[key.strip().lower().replace(" ", "_")] = value.strip()
    return {
        "server_name": fields.get("server_name", "sound server"),
        "server_version": fields.get("server_version", ""),
        "default_sink_name": fields.get("default_sink"),
        "default_source_name": fields.get("default_source"),
    }


def _pulse_nodes(what: Literal["sinks", "sources"], default: str | None) -> list[AudioDevice]:
    """The server's sinks or sources; descriptions when pactl speaks JSON."""
    nodes: list[AudioDevice] = []
    text = _pactl("-f", "json", "list", what)
    try:
        for item in json.loads(text) if text else []:
            channels, rate = _spec(str(item.get("sample_specification", "")))
            nodes.append(
                AudioDevice(
                    index=None, name=str(item["name"]), channels=channels, sample_rate=rate,
                    default=item["name"] == default, api="pulse",
                    description=str(item.get("description") or ""),
                )
            )
        if text:
            return nodes
    except (ValueError, KeyError, TypeError):
        nodes = []
    for line in (_pactl("list", "short", what) or "").splitlines():
        parts = line.split("\t")
        if len(parts) < 4:
            continue
        channels, rate = _spec(parts[3])
        nodes.append(
            AudioDevice(None, parts[1], channels, rate, parts[1] == default, "pulse")
        )
    return nodes


def _spec(spec: str) -> tuple[int, float]:
    """'s16le 2ch 44100Hz' -> (2, 44100.0)."""
    channels, rate = 0, 0.0
    for part in spec.split():
        if part.endswith("ch") and part[:-2].isdigit():
            channels = int(part[:-2])
        elif part.endswith("Hz") and part[:-2].isdigit():
            rate = float(part[:-2])
    return channels, rate
