"""A private, headless PulseAudio server for tests: two null sinks, `earbud` and `room`.

Started by the session fixture `pulse_server` in conftest.py (any test asks for `pulse`, which
also puts back any sink an earlier test removed). Nothing outside the tests needs to run: the
daemon gets its own directory, socket, HOME and XDG_RUNTIME_DIR, and is stopped afterwards.
The test process only gets `PULSE_SERVER` pointing at it, and PortAudio is re-initialised so
that its ALSA `pulse` / `default` devices reach this server.

Each null sink has a `.monitor` source: what was played on the sink. `record()` / `Recorder`
read a monitor through sounddevice (PULSE_SOURCE=<sink>.monitor on PortAudio's `pulse` device),
`unload_sink()` removes a sink mid-playback (as unplugged earbuds would).

Null sinks need `norewinds=1`: without it a monitor recording lost its first ~0.8 s.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SINKS = ("earbud", "room")
START_TIMEOUT = 10.0


class PulseUnavailable(RuntimeError):
    """PulseAudio cannot run here; the message says why (the reason tests are skipped)."""


@dataclass
class PulseServer:
    directory: Path
    process: subprocess.Popen[bytes]
    server: str  # the PULSE_SERVER value

    # --- control ------------------------------------------------------------------------------

    def pactl(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            ["pactl", *args], capture_output=True, text=True, timeout=10,
            env={**os.environ, "PULSE_SERVER": self.server},
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"pactl {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def sinks(self) -> list[str]:
        return [line.split("\t")[1] for line in self.pactl("list", "short", "sinks").splitlines()]

    def load_sink(self, name: str) -> None:
        self.pactl("load-module", "module-null-sink", f"sink_name={name}", "norewinds=1")

    def ensure_sinks(self, names: tuple[str, ...] = SINKS) -> None:
        """Put back any of `names` that is missing, and make the first the default sink."""
        present = set(self.sinks())
        for name in names:
            if name not in present:
                self.load_sink(name)
        self.pactl("set-default-sink", names[0])

    def unload_sink(self, name: str) -> None:
        """Remove sink `name` (its module), as unplugging a device would."""
        for line in self.pactl("list", "short", "modules").splitlines():
            index, module, *rest = line.split("\t")
            if module == "module-null-sink" and f"sink_name={name}" in " ".join(rest).split():
                self.pactl("unload-module", index)
                return
        raise RuntimeError(f"no null sink called {name!r}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)

    def log(self) -> str:
        path = self.directory / "pulse.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # --- recording a monitor ------------------------------------------------------------------

    def record(self, source: str, seconds: float, rate: int = 22050) -> np.ndarray:
        """`seconds` of `source` (e.g. "room.monitor") as float32 mono, blocking."""
        with Recorder(source, rate) as recorder:
            time.sleep(seconds)
        return recorder.audio()


def start_pulse(sinks: tuple[str, ...] = SINKS) -> PulseServer:
    """Start a private daemon with one null sink per name; PulseUnavailable if it cannot run."""
    binary = shutil.which("pulseaudio")
    if binary is None or shutil.which("pactl") is None:
        raise PulseUnavailable(
            "pulseaudio/pactl are not installed (scripts/setup-system.sh installs them)"
        )
    directory = Path(tempfile.mkdtemp(prefix="voice-guide-pulse-"))
    (directory / "run").mkdir(mode=0o700)
    (directory / "home").mkdir(mode=0o700)
    socket = directory / "native"
    command = [
        binary, "--daemonize=no", "-n", "--use-pid-file=no", "--exit-idle-time=-1",
        "--realtime=no", "--high-priority=no", f"--log-target=file:{directory / 'pulse.log'}",
        "-L", f"module-native-protocol-unix socket={socket} auth-anonymous=1",
    ]
    for name in sinks:
        command += ["-L", f"module-null-sink sink_name={name} norewinds=1"]
    env = {
        **os.environ,
        "HOME": str(directory / "home"),
        "XDG_RUNTIME_DIR": str(directory / "run"),
        "XDG_CONFIG_HOME": str(directory / "home" / ".config"),
    }
    env.pop("PULSE_SERVER", None)
    try:
        process = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    except OSError as error:
        shutil.rmtree(directory, ignore_errors=True)
        raise PulseUnavailable(f"cannot run pulseaudio: {error}") from None
    server = PulseServer(directory, process, f"unix:{socket}")
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
            why = (stderr.strip() or server.log().strip()).splitlines()[-3:]
            server.stop()
            raise PulseUnavailable(f"pulseaudio exited at start: {' | '.join(why)}")
        if socket.exists() and set(sinks) <= set(_quiet_sinks(server)):
            if sinks:
                server.pactl("set-default-sink", sinks[0])
            return server
        time.sleep(0.05)
    server.stop()
    raise PulseUnavailable(f"pulseaudio did not answer within {START_TIMEOUT:.0f} s")


def _quiet_sinks(server: PulseServer) -> list[str]:
    try:
        return server.sinks()
    except (RuntimeError, subprocess.TimeoutExpired):
        return []


@contextmanager
def client_environment(server: PulseServer) -> Iterator[None]:
    """The test process talks to `server`: PULSE_SERVER set, PortAudio re-initialised (it lists
    devices only when it initialises). Restored afterwards."""
    import sounddevice as sd

    saved = {key: os.environ.get(key) for key in ("PULSE_SERVER", "PULSE_SINK", "PULSE_SOURCE")}
    os.environ["PULSE_SERVER"] = server.server
    os.environ.pop("PULSE_SINK", None)
    os.environ.pop("PULSE_SOURCE", None)
    sd._terminate()
    sd._initialize()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        sd._terminate()
        sd._initialize()


@dataclass
class Recorder:
    """Records a source (e.g. "room.monitor") through sounddevice while in a `with` block.

    `start_time` is the monotonic time of the first recorded sample (estimated from the first
    callback), so times in the recording can be compared with the player's times.
    """

    source: str
    rate: int = 22050
    start_time: float = 0.0
    _blocks: list[np.ndarray] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stream: object = None

    def __enter__(self) -> Recorder:
        from voice_guide.devices import open_input_stream, resolve_input

        endpoint = resolve_input(self.source)
        self._stream = open_input_stream(
            endpoint, samplerate=self.rate, channels=1, dtype="float32", latency="low",
            callback=self._callback,
        )
        self._stream.start()  # type: ignore[attr-defined]
        # Wait for the first block, so the caller's playback starts after recording does.
        deadline = time.monotonic() + 2.0
        while not self._blocks and time.monotonic() < deadline:
            time.sleep(0.005)
        return self

    def __exit__(self, *_: object) -> None:
        self._stream.stop()  # type: ignore[attr-defined]
        self._stream.close()  # type: ignore[attr-defined]

    def audio(self) -> np.ndarray:
        with self._lock:
            return np.concatenate(self._blocks) if self._blocks else np.zeros(0, np.float32)

    def time_of(self, sample: int) -> float:
        return self.start_time + sample / self.rate

    def _callback(self, indata: np.ndarray, frames: int, time_info: object, status: object) -> None:
        now = time.monotonic()
        with self._lock:
            if not self._blocks:
                captured_ago = max(
                    0.0,
                    time_info.currentTime - time_info.inputBufferAdcTime,  # type: ignore[attr-defined]
                )
                self.start_time = now - captured_ago
            self._blocks.append(indata[:, 0].copy())


# --- analysis helpers the tests share -----------------------------------------------------------


def active_span(audio: np.ndarray, rate: int, threshold: float = 0.01, frame: float = 0.01
                ) -> tuple[float, float] | None:
    """(start, end) seconds of the part of `audio` louder than `threshold` (RMS per frame)."""
    size = max(1, int(rate * frame))
    count = len(audio) // size
    if count == 0:
        return None
    rms = np.sqrt(np.mean(audio[: count * size].reshape(count, size) ** 2, axis=1))
    loud = np.flatnonzero(rms > threshold)
    if len(loud) == 0:
        return None
    return loud[0] * size / rate, (loud[-1] + 1) * size / rate


def best_correlation(recorded: np.ndarray, played: np.ndarray) -> tuple[float, int]:
    """(peak normalised cross-correlation, lag in samples) of `played` inside `recorded`."""
    from scipy.signal import correlate

    played = played.astype(np.float64)
    recorded = recorded.astype(np.float64)
    # Zero padding: `played` may run past the end of the recording (stopped a little early).
    recorded = np.pad(recorded, (0, len(played)))
    raw = correlate(recorded, played, mode="valid", method="fft")
    # Energy of each window of `recorded` the size of `played`, for normalisation.
    cumulative = np.concatenate([[0.0], np.cumsum(recorded**2)])
    windows = cumulative[len(played):] - cumulative[: -len(played)]
    norm = np.sqrt(np.maximum(windows, 1e-12) * np.sum(played**2))
    scores = raw / norm
    lag = int(np.argmax(scores))
    return float(scores[lag]), lag
