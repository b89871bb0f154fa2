"""The live session's figures: `python -m benchmarks.live [--trials N] [--json]`.

Everything goes through real streams on a private PulseAudio set up like a treatment room: the
`earbud` null sink is the practitioner's earbuds, `room` is the kiosk speaker, and the microphone
is `room.monitor`. The real `voice-guide run` process runs on it; commands are spoken into the room
(generated speech played on the `room` sink), and the benchmark records both sinks' monitors
itself, so every time is read off the audio, from outside the program:

- end to end: from the last loud sample of a spoken command (room monitor) to the first sample of
  the answer (earbud monitor), median and 95th percentile; commands alternate "stop" and "resume"
  (each answered with a short cue), plus "where am I" (an answer rendered on demand); every
  other "resume" is a real human "go" from `../shared/corpus` (validation speakers, trimmed to
  the speech), which resumes as well and is the slow case: "go" may be the start of "go back",
  so it is answered only after the full 200 ms of quiet;
- time from start (process spawn) to the first spoken word on the earbuds;
- CPU of the process (and any process under it) while idle (listening to a quiet room) and
  while speaking, in % of one core. Idle is measured with the benchmark's own recorders closed
  (`idle_cpu_percent`): a second client recording the microphone's source with a low latency
  makes PulseAudio hand the guide its input in tiny pieces (measured: its capture thread 169 ->
  677 wake-ups a second), which a treatment room's microphone does not have. The same with the
  recorders running is `idle_cpu_recorded_percent`;
- resident memory (RSS) of the process and any under it together, at their peaks.

Bars (the speed issue): median <= 250 ms, p95 <= 400 ms, idle CPU <= 3 % of a core,
RSS <= 300 MB (the process tree, with the natural voice), first word <= 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from voice_guide.listen.factory import ENGINES

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from pulse import PulseUnavailable, Recorder, client_environment, start_pulse  # noqa: E402
from speech import RATE, Voice, synthesize, trim  # noqa: E402

SPEAKER = Voice("flite", "slt", 0, 1.0)
# RMS (full scale 1.0) of a 10 ms frame that counts as sound: -54 dBFS. The null sinks are
# digitally silent, so this finds the true end of a word (a final "p" or "t" release is quiet).
LOUD = 0.002
ANSWER_WAIT = 3.5  # seconds after a command before the next one (the answer has finished)
BARS = {"median_ms": 250, "p95_ms": 400, "idle_cpu_percent": 3.0, "rss_mb": 300,
        "first_word_s": 1.0}


@dataclass
class Figures:
    engine: str = ""
    commands: int = 0
    human: int = 0  # of which spoken by real human voices
    answered: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    median_ms: float | None = None
    p95_ms: float | None = None
    first_word_s: float | None = None
    idle_cpu_percent: float | None = None  # the benchmark's recorders closed
    idle_cpu_recorded_percent: float | None = None  # ...and running
    speaking_cpu_percent: float | None = None
    rss_mb: float | None = None
    rss_now_mb: float | None = None  # resident at the end (the peak is at the model's load)
    # Where the time goes (measured in the benchmark's own process, same components):
    endpoint_ms: float | None = None  # end of speech -> the listener returns the command
    recognize_ms: float | None = None  # of which: the recognizer's compute time
    output_ms: float | None = None  # Speaker.say (cached text) -> first sample on the sink


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.live")
    parser.add_argument("--trials", type=int, default=16, help="commands spoken (default 16)")
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--engine", default="auto", choices=ENGINES)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--voice", default=None, help="the guide's voice (default: run's own)")
    args, _ = parser.parse_known_args(argv)  # run_all passes every benchmark the same extras
    try:
        server = start_pulse()
    except PulseUnavailable as why:
        print(f"live: cannot run without PulseAudio: {why}")
        return 1
    try:
        with client_environment(server), tempfile.TemporaryDirectory() as scratch:
            figures = measure(Path(scratch), args.trials, args.idle_seconds, args.engine,
                              args.voice)
            breakdown(figures, args.engine)
    finally:
        server.stop()
    if args.json:
        print(json.dumps(asdict(figures)))
    else:
        report(figures)
    return 0


def measure(scratch: Path, trials: int, idle_seconds: float, engine: str,
            voice: str | None = None) -> Figures:
    figures = Figures()
    commands = {text: synthesize(text, SPEAKER)
                for text in ("stop", "resume", "next", "where am i")}
    humans = human_go_clips()
    journal = scratch / "session.jsonl"
    env = {**os.environ, "XDG_DATA_HOME": str(scratch / "data")}
    spawned = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "voice_guide", "run", "--skip-prep", "--engine", engine,
         "--input-device", "room.monitor", "--practitioner-device", "earbud",
         "--room-device", "room", "--journal", str(journal),
         *(["--voice", voice] if voice else [])],
        cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )
    try:
        peak_rss = Peak(process.pid)
        with Recorder("room.monitor", RATE) as room, Recorder("earbud.monitor", RATE) as earbud:
            # The first word: the welcome, on the earbuds.
            first = wait_for_sound(earbud, after=spawned, timeout=15.0)
            figures.first_word_s = None if first is None else first - spawned
            # Let the opening (room) and step 1 (earbuds) be spoken, then stay quiet: idle.
            wait_for_quiet([room, earbud], quiet=1.5, timeout=60.0)
            peak_rss.sample()
            figures.idle_cpu_recorded_percent = cpu_percent(process.pid, idle_seconds)
        time.sleep(0.5)  # the sound server settles on the guide's own input alone
        figures.idle_cpu_percent = cpu_percent(process.pid, idle_seconds)
        peak_rss.sample()
        with Recorder("room.monitor", RATE) as room, Recorder("earbud.monitor", RATE) as earbud:
            # Latency trials: stop / resume / stop / next, and before every other stop a
            # "where am i".
            sequence = (["stop", "resume", "stop", "next"] * trials)[:trials]
            for number, text in enumerate(sequence):
                if number % 4 == 2 and text == "stop":  # a dynamic answer, rendered on demand
                    latency = trial(commands["where am i"], room, earbud)
                    figures.commands += 1
                    if latency is not None:
                        figures.latencies_ms.append(latency)
                clip = commands[text]
                if text == "resume" and number % 4 == 1 and humans:  # a human "go" resumes
                    clip = humans[(number // 4) % len(humans)]
                    figures.human += 1
                latency = trial(clip, room, earbud)
                figures.commands += 1
                if latency is not None:
                    figures.latencies_ms.append(latency)
                peak_rss.sample()
            # CPU while speaking: a long answer (the step's instruction, "repeat").
            play_into_room(synthesize("repeat", SPEAKER))
            figures.speaking_cpu_percent = cpu_percent(process.pid, 3.0)
            peak_rss.sample()
            figures.rss_mb = peak_rss.mb
            figures.rss_now_mb = peak_rss.now()
    finally:
        process.send_signal(2)  # Ctrl-C: the clean end
        try:
            _, err = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
    figures.engine = next(
        (line.split("engine: ", 1)[1] for line in err.splitlines() if "engine: " in line), "?"
    )
    figures.answered = len(figures.latencies_ms)
    if figures.latencies_ms:
        ordered = sorted(figures.latencies_ms)
        figures.median_ms = statistics.median(ordered)
        figures.p95_ms = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return figures


def human_go_clips(count: int = 8) -> list[np.ndarray]:
    """Real human "go"s (validation speakers of the corpus), cut to their speech; none when the
    corpus is absent."""
    import human_corpus

    from voice_guide.wav import read_wav_16k

    if not human_corpus.available():
        print(f"live: {human_corpus.ABSENT}; generated speech only")
        return []
    clips = []
    for item in human_corpus.recordings("word", "validate"):
        if item.label == "go" and len(clips) < count:
            audio = read_wav_16k(item.path)
            peak = int(np.abs(audio.astype(np.int32)).max())
            clips.append(trim(audio, threshold=0.1 * peak / 32768))
    return clips


def breakdown(figures: Figures, engine: str) -> None:
    """The two halves of the latency, timed on the same components in this process."""
    from voice_guide.commands import ALL_COMMANDS
    from voice_guide.events import Say
    from voice_guide.listen.factory import make_recognizer
    from voice_guide.listen.pipeline import Listener
    from voice_guide.speak.speaker import Speaker

    recognizer, _ = make_recognizer(engine)
    endpoint, compute = [], []
    for text in ("stop", "resume", "next", "where am i"):
        clip = synthesize(text, SPEAKER)
        audio = np.concatenate([np.zeros(RATE, np.int16), clip, np.zeros(RATE, np.int16)])
        frames = audio[: len(audio) // 160 * 160].astype(np.float64).reshape(-1, 160)
        loud = np.flatnonzero(np.sqrt(np.mean(frames**2, axis=1)) / 32768 > LOUD)
        spoken_end = (loud[-1] + 1) / 100
        listener = Listener(recognizer, ALL_COMMANDS)
        for offset in range(0, len(audio), 320):  # 20 ms blocks, as the live input
            began = time.perf_counter()
            heard = listener.feed(audio[offset : offset + 320])
            if heard:
                compute.append((time.perf_counter() - began) * 1000)
                endpoint.append(((offset + 320) / RATE - spoken_end) * 1000 + compute[-1])
                break
    figures.endpoint_ms = statistics.median(endpoint) if endpoint else None
    figures.recognize_ms = statistics.median(compute) if compute else None

    speaker = Speaker.open(practitioner_device="earbud", room_device="room")
    delays = []
    try:
        with Recorder("earbud.monitor", RATE) as earbud:
            for text in ("Resuming.", "Paused. Say resume when ready.") * 3:
                speaker.tts.render(text)
                wait_for_quiet([earbud], quiet=0.3, timeout=10.0)
                began = time.monotonic()
                speaker.say(Say(text))
                time.sleep(1.0)
                heard_at = first_sound(earbud, began, time.monotonic())
                if heard_at is not None:
                    delays.append((heard_at - began) * 1000)
                speaker.silence()
    finally:
        speaker.close()
    figures.output_ms = statistics.median(delays) if delays else None


def trial(clip: np.ndarray, room: Recorder, earbud: Recorder) -> float | None:
    """Speak `clip` into the room; ms from its last loud sample to the answer's first sample."""
    wait_for_quiet([earbud], quiet=0.8, timeout=15.0)  # longer than a pause between sentences
    began = time.monotonic()
    play_into_room(clip)
    time.sleep(ANSWER_WAIT)
    spoken = sound_span(room, began, time.monotonic())
    if spoken is None:
        return None
    answer = first_sound(earbud, after=spoken[1], until=spoken[1] + ANSWER_WAIT)
    return None if answer is None else (answer - spoken[1]) * 1000


def play_into_room(clip: np.ndarray) -> None:
    from voice_guide.devices import open_output_stream, resolve_output

    stream = open_output_stream(resolve_output("room"), samplerate=RATE, channels=1,
                                dtype="int16")
    stream.start()
    stream.write(np.concatenate([clip, np.zeros(RATE // 10, np.int16)]).reshape(-1, 1))
    stream.stop()
    stream.close()


# --- reading times off the recordings -----------------------------------------------------------


def frame_levels(recorder: Recorder, since: float, until: float) -> tuple[np.ndarray, float]:
    """RMS per 10 ms frame of what `recorder` heard between two monotonic times, and the
    monotonic time of the first frame."""
    audio = recorder.audio()
    first = max(0, int((since - recorder.start_time) * recorder.rate))
    last = max(first, int((until - recorder.start_time) * recorder.rate))
    chunk = audio[first:last].astype(np.float64)
    size = recorder.rate // 100
    count = len(chunk) // size
    levels = np.sqrt(np.mean(chunk[: count * size].reshape(count, size) ** 2, axis=1))
    return levels, recorder.start_time + first / recorder.rate


def sound_span(recorder: Recorder, since: float, until: float) -> tuple[float, float] | None:
    levels, origin = frame_levels(recorder, since, until)
    loud = np.flatnonzero(levels > LOUD)
    if len(loud) == 0:
        return None
    # The command is the first burst: end at the first 300 ms gap after it starts.
    end = loud[0]
    for index in loud[1:]:
        if index - end > 30:
            break
        end = index
    return origin + loud[0] / 100, origin + (end + 1) / 100


def first_sound(recorder: Recorder, after: float, until: float) -> float | None:
    levels, origin = frame_levels(recorder, after, until)
    loud = np.flatnonzero(levels > LOUD)
    return None if len(loud) == 0 else origin + loud[0] / 100


def wait_for_sound(recorder: Recorder, after: float, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = first_sound(recorder, after, time.monotonic())
        if found is not None:
            return found
        time.sleep(0.05)
    return None


def wait_for_quiet(recorders: list[Recorder], quiet: float, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = time.monotonic()
        if all(first_sound(r, now - quiet, now) is None for r in recorders):
            return
        time.sleep(0.1)


# --- the process's CPU and memory ---------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """CPU time of the process and every process under it (it starts none today: counted so
    that work moved into a helper process could not hide)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in tree_files(pid, "stat"):
        fields = stat.rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return total


def tree_files(pid: int, name: str) -> Iterator[str]:
    """/proc/<p>/<name> of `pid` and of each process under it (those that have not ended)."""
    for each in process_tree(pid):
        try:
            yield Path(f"/proc/{each}/{name}").read_text()
        except OSError:  # it ended meanwhile
            continue


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants, read from /proc."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += parents.get(current, [])
    return tree


def cpu_percent(pid: int, seconds: float) -> float:
    before, began = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return 100.0 * (cpu_seconds(pid) - before) / (time.monotonic() - began)


class Peak:
    """Peak resident memory: the kernel's own high-water mark (VmHWM) of the process, plus that
    of each process under it, as of each sample."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.mb = 0.0

    def sample(self) -> None:
        total = sum(int(line.split()[1]) / 1024
                    for status in tree_files(self.pid, "status")
                    for line in status.splitlines() if line.startswith("VmHWM:"))
        self.mb = max(self.mb, total)

    def now(self) -> float:
        """Resident memory of the tree at this moment (VmRSS), MB."""
        return sum(int(line.split()[1]) / 1024
                   for status in tree_files(self.pid, "status")
                   for line in status.splitlines() if line.startswith("VmRSS:"))


def report(figures: Figures) -> None:
    def bar(value: float | None, limit: float, unit: str) -> str:
        if value is None:
            return "not measured"
        verdict = "meets" if value <= limit else "MISSES"
        return f"{value:.1f} {unit} ({verdict} the bar of {limit:g} {unit})"

    print(f"live: engine {figures.engine}; null sinks earbud + room, microphone room.monitor")
    print(f"commands spoken: {figures.commands} ({figures.human} by human voices), answered: "
          f"{figures.answered}")
    print(f"end of command -> first answer sample: median "
          f"{bar(figures.median_ms, BARS['median_ms'], 'ms')}")
    print(f"                                       p95    "
          f"{bar(figures.p95_ms, BARS['p95_ms'], 'ms')}")
    if figures.latencies_ms:
        print("  each: " + " ".join(f"{v:.0f}" for v in figures.latencies_ms))
    if figures.endpoint_ms is not None and figures.output_ms is not None:
        print(f"  where it goes: end of speech -> command {figures.endpoint_ms:.0f} ms "
              f"(recognizer {figures.recognize_ms:.0f} ms of it), "
              f"say -> first sample on the device {figures.output_ms:.0f} ms")
    print(f"first spoken word after start: {bar(figures.first_word_s, BARS['first_word_s'], 's')}")
    print(f"CPU idle (listening, quiet room): "
          f"{bar(figures.idle_cpu_percent, BARS['idle_cpu_percent'], '%')}")
    recorded = figures.idle_cpu_recorded_percent
    if recorded is not None:
        print(f"  the same with the benchmark recording the microphone's source too: "
              f"{recorded:.1f} %")
    speaking = figures.speaking_cpu_percent
    print(f"CPU while speaking: {'not measured' if speaking is None else f'{speaking:.1f} %'}")
    print(f"peak RSS: {bar(figures.rss_mb, BARS['rss_mb'], 'MB')}")
    if figures.rss_now_mb is not None:
        print(f"RSS at the end of the session: {figures.rss_now_mb:.0f} MB")


if __name__ == "__main__":
    raise SystemExit(main())
