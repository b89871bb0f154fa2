"""Speech-out figures of issue 4, measured through real streams on a private PulseAudio server.

    .venv/bin/python -m benchmarks.speech [--voice NAME] [--trials N]
        [--load cpu|gil|recognizer|none] [--latency S] [--blocksize FRAMES] [--streams-only]
        [--pace]

- TTS (`--voice`, default the guide's default, the natural voice `heart`; `--voice en-us` for
  espeak-ng): loading the voice (time, and the RSS it adds: model, tables and rendering all the
  protocol's texts, their PCM not counted), render time per text of the protocol (cache
  empty), its real-time factor, a cache hit's time, the background render-ahead of all
  protocol texts, and the pace: words per minute of the protocol's texts as spoken.
- `--pace`: the natural voice's words per minute at each of hibari's speeds (the table
  `natural.PACE` that `--rate` is mapped through), then exits.
- Command to first sample played, cache hit and cache miss: from the call (`render` + `play`)
  to the text's first sample, (a) as the player estimates it (handed to the stream plus the
  stream's output latency) and (b) as measured on the sink's monitor (recording through
  sounddevice, the text located by cross-correlation), and (c) to its first audible (non-zero)
  sample on the monitor: what a listener hears.
- Under load (`--load`, default cpu: a busy process on another core; gil: a busy Python thread
  in this process, which the audio callback must share the interpreter with; recognizer: the
  whisper recognizer decoding a spoken command every 1.5 s in this process, as in
  `voice-guide run` (CTranslate2 releases the interpreter lock while it computes)):
  underruns reported by the stream, and the correlation of each long text heard with what was
  played (a gap or click lowers it).
- Idle CPU of this process with both routes' streams open and silent (% of one core), before
  any load starts.
- stop(): from the call to silence on the monitor.
- Fallback: from removing the room sink mid-text to the text's first sample replayed on the
  earbud sink.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from pulse import (  # the tests' PulseAudio helpers
    PulseUnavailable,
    Recorder,
    active_span,
    best_correlation,
    client_environment,
    start_pulse,
)

from voice_guide.events import Route
from voice_guide.prompts import known_texts
from voice_guide.protocol import load
from voice_guide.speak import natural
from voice_guide.speak.player import _at_rate
from voice_guide.speak.tts import Pcm, Tts, Voice

RATE = 22050  # the player's stream rate, the recordings', and both voices' PCM
PACE_SPEEDS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.79, 0.8, 0.85, 0.9, 0.95, 1.0, 1.1, 1.2, 1.35,
               1.5, 1.75, 2.0)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.speech")
    parser.add_argument("--trials", type=int, default=10, help="plays per measurement")
    parser.add_argument("--load", default="cpu", choices=LOADS, help="load while measuring")
    parser.add_argument("--latency", type=float, default=None, help="player output latency (s)")
    parser.add_argument("--blocksize", type=int, default=None, help="player frames per callback")
    parser.add_argument("--streams-only", action="store_true", help="skip the TTS figures")
    parser.add_argument("--voice", default=Voice().name, help="the voice to measure")
    parser.add_argument("--pace", action="store_true",
                        help="measure the natural voice's words per minute per speed, and exit")
    args, _ = parser.parse_known_args()  # run_all passes every benchmark the same extras
    texts = known_texts(load())
    if args.pace:
        pace_table(texts)
        return 0
    voice = Voice(args.voice)
    if not args.streams_only:
        tts_figures(texts, voice)
    try:
        server = start_pulse()
    except PulseUnavailable as why:
        print(f"stream figures skipped: {why}")
        return 1
    try:
        with client_environment(server):
            stream_figures(server, texts, args.trials, _player_options(args), args.load, voice)
    finally:
        server.stop()
    return 0


def tts_figures(texts: list[str], voice: Voice) -> None:
    natural.release_memory()
    before = _rss()
    speech = Tts(voice)
    started = time.perf_counter()
    line = speech.load()
    speech.render("Warm up.")  # engine start-up is not a sentence's cost
    loaded = time.perf_counter() - started
    renders, ratios = [], []
    for text in texts:
        started = time.perf_counter()
        pcm = speech.render(text)
        elapsed = time.perf_counter() - started
        renders.append(elapsed)
        ratios.append(elapsed / max(pcm.duration, 1e-6))
    hits = []
    for text in texts:
        started = time.perf_counter()
        speech.render(text)
        hits.append(time.perf_counter() - started)
    megabytes = sum(len(speech.render(t).samples) for t in texts) * 2 / 1e6
    natural.release_memory()
    added = _rss() - before - megabytes
    pace = natural.words_per_minute((t, speech.render(t)) for t in texts)
    ahead = Tts(voice)  # a new Tts: an empty cache, the engine already loaded
    started = time.perf_counter()
    ahead.render_ahead(texts)
    ahead.wait_ahead()
    total = time.perf_counter() - started
    rate = speech.render(texts[0]).rate
    print(f"TTS ({line}; {len(texts)} protocol texts, {rate} Hz, {voice}):")
    print(f"  load voice + first   {loaded * 1000:.0f} ms")
    print(f"  RSS the voice adds   {added:.1f} MB (model, tables, rendering; PCM not counted)")
    print(f"  render per text      {_ms(renders)}")
    print(f"  real-time factor     median {statistics.median(ratios):.4f}")
    print(f"  cache hit            median {statistics.median(hits) * 1e6:.1f} us")
    print(f"  render ahead, all    {total:.2f} s in the background")
    print(f"  memory for all PCM   {megabytes:.1f} MB")
    print(f"  pace                 {pace:.1f} words per minute (asked for {voice.rate})")


def pace_table(texts: list[str]) -> None:
    engine = natural.NaturalEngine()
    engine.load()
    print(f"natural voice {natural.NAME}: words per minute of the {len(texts)} protocol texts")
    for speed in PACE_SPEEDS:
        spoken = [(t, engine.render_at_speed(t, speed, 0.9)) for t in texts]
        print(f"  speed {speed:4.2f}  {natural.words_per_minute(spoken):6.1f} wpm")


def _rss() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 1e6


def stream_figures(
    server: object, texts: list[str], trials: int, options: dict[str, float | int], load: str,
    voice: Voice,
) -> None:
    from voice_guide.devices import resolve_output
    from voice_guide.speak.player import Player

    speech = Tts(voice)
    prompt = texts[min(3, len(texts) - 1)]
    speech.render(prompt)
    long_texts = [t for t in texts if len(t) > 150][: max(2, trials // 2)]
    speech.render_ahead(long_texts)
    speech.wait_ahead()
    with Player(resolve_output("earbud"), resolve_output("room"), **options) as player:
        player.open()
        time.sleep(0.5)
        idle = _idle_cpu(5.0)
        busy = Load(load).__enter__()
        hit = [_first_sample(player, speech, prompt) for _ in range(trials)]
        miss = [
            _first_sample(player, speech, f"Step {n}: keep your hands soft and slow.")
            for n in range(trials)
        ]
        stops = [_stop_latency(player, speech) for _ in range(max(3, trials // 2))]
        before = player.underruns()
        correlations = [_played_faithfully(player, speech, text) for text in long_texts]
        underruns = player.underruns() - before
        total_underruns = player.underruns()
        busy.__exit__()
        latency = player.latency
        blocksize = player.blocksize
    print(f"Command to first sample played (room null sink, real streams; latency {latency} s, "
          f"blocksize {blocksize}):")
    print(f"  cache hit,  player estimate  {_ms([h[0] for h in hit])}")
    print(f"  cache hit,  on the monitor   {_ms([h[1] for h in hit])}")
    print(f"  cache hit,  first audible    {_ms([h[2] for h in hit])}")
    print(f"  cache miss, player estimate  {_ms([m[0] for m in miss])}")
    print(f"  cache miss, on the monitor   {_ms([m[1] for m in miss])}")
    print(f"  cache miss, first audible    {_ms([m[2] for m in miss])}")
    print(f"stop() to silence on the monitor  {_ms(stops)}")
    print(f"Long texts ({len(long_texts)}, {sum(c[2] for c in correlations):.0f} s, load "
          f"{load}): underruns {underruns} (whole run {total_underruns}); 0.5 s pieces heard: "
          f"worst correlation {min(c[0] for c in correlations):.4f}, "
          f"largest shift {max(c[1] for c in correlations):.1f} ms")
    print(f"Idle CPU with both routes' streams open: {idle:.1f} % of one core")
    # The fallback logs an error and warnings each time, as it should; not wanted here.
    logging.getLogger("voice_guide.speak.routes").setLevel(logging.CRITICAL)
    fallbacks = [_fallback_latency(server, speech, options) for _ in range(3)]
    print(f"(voice {speech.active.name}, {speech.render(prompt).rate} Hz; the player's streams "
          f"run at {RATE} Hz)")
    print(f"Sink removed to replay heard on the fallback  {_ms(fallbacks)}")


def _player_options(args: argparse.Namespace) -> dict[str, float | int]:
    options: dict[str, float | int] = {}
    if args.latency is not None:
        options["latency"] = args.latency
    if args.blocksize is not None:
        options["blocksize"] = args.blocksize
    return options


def _first_sample(player: object, speech: Tts, text: str) -> tuple[float, float, float]:
    with Recorder("room.monitor") as room:
        time.sleep(0.1)
        commanded = time.monotonic()
        pcm = speech.render(text)
        utterance = player.play(pcm, Route.ROOM, text)  # type: ignore[attr-defined]
        utterance.wait(pcm.duration + 5)
    assert utterance.started_at is not None
    estimate = utterance.started_at - commanded
    _, lag = best_correlation(room.audio(), _float(pcm))
    measured = room.time_of(lag) - commanded
    played = _at_rate(pcm, RATE)
    onset = int(np.flatnonzero(np.abs(played.astype(np.int32)) > 16)[0])
    return estimate, measured, measured + onset / RATE


def _played_faithfully(player: object, speech: Tts, text: str) -> tuple[float, float, float]:
    """What the room monitor heard of `text`'s speech, in 0.5 s pieces each found on its own:
    (the worst piece's correlation, the largest shift of a piece from where the first one puts
    it in ms (a gap or lost samples), the duration)."""
    pcm = speech.render(text)
    with Recorder("room.monitor") as room:
        utterance = player.play(pcm, Route.ROOM, text)  # type: ignore[attr-defined]
        utterance.wait(pcm.duration + 5)
        time.sleep(0.1)
    heard, played = room.audio(), _float(pcm)
    _, origin = best_correlation(heard, played)
    piece = RATE // 2
    scores, shifts = [], []
    for start in range(0, len(played) - piece + 1, piece):
        chunk = played[start : start + piece]
        if np.sqrt(np.mean(chunk**2)) < 0.01:
            continue  # a pause between words: nothing to locate
        near = heard[max(0, origin + start - piece) : origin + start + 2 * piece]
        score, lag = best_correlation(near, chunk)
        scores.append(score)
        shifts.append(abs(max(0, origin + start - piece) + lag - (origin + start)) / RATE)
    return min(scores), max(shifts) * 1000, pcm.duration


def _idle_cpu(seconds: float) -> float:
    """CPU of this whole process (every thread) over `seconds` of doing nothing, % of a core."""
    cpu, wall = time.process_time(), time.monotonic()
    time.sleep(seconds)
    return 100.0 * (time.process_time() - cpu) / (time.monotonic() - wall)


LOADS = ("cpu", "gil", "recognizer", "none")


class Load:
    """A background load while the streams are measured (see the module docstring)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._stop = False
        self._process: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Load:
        if self.kind == "cpu":
            self._process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        elif self.kind == "gil":
            self._thread = threading.Thread(target=self._spin, daemon=True)
        elif self.kind == "recognizer":
            self._thread = threading.Thread(target=self._recognize, daemon=True)
        if self._thread is not None:
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop = True
        if self._process is not None:
            self._process.kill()
            self._process.wait()
        if self._thread is not None:
            self._thread.join(5)

    def _spin(self) -> None:
        count = 0
        while not self._stop:
            count += 1

    def _recognize(self) -> None:
        from speech import Voice as SpeakerVoice
        from speech import synthesize

        from voice_guide.commands import ALL_COMMANDS
        from voice_guide.listen.engine import Segment
        from voice_guide.listen.factory import make_recognizer
        from voice_guide.wav import to_16k_int16

        recognizer, _ = make_recognizer("whisper")
        clip = synthesize("where am i", SpeakerVoice("flite", "slt", 0, 1.0))
        audio = to_16k_int16(clip.astype(np.float32) / 32768, RATE)
        silence = np.zeros(3200, np.int16)
        segment = Segment(np.concatenate([silence, audio, silence]), 0.0, 1.0)
        while not self._stop:
            recognizer.recognize(segment, frozenset(ALL_COMMANDS))
            time.sleep(1.5)


def _stop_latency(player: object, speech: Tts) -> float:
    pcm = speech.render("Breathe slowly and let the shoulders sink towards the table.")
    with Recorder("room.monitor") as room:
        player.play(pcm, Route.ROOM)  # type: ignore[attr-defined]
        time.sleep(1.0)
        stopped = time.monotonic()
        player.stop()  # type: ignore[attr-defined]
        time.sleep(0.6)
    audio = room.audio()
    after = audio[max(0, int((stopped - room.start_time) * RATE)) :]
    span = active_span(after, RATE, threshold=0.003)
    return 0.0 if span is None else span[1]


def _fallback_latency(server: object, speech: Tts, options: dict[str, float | int]) -> float:
    from voice_guide.devices import resolve_output
    from voice_guide.speak.player import Player

    server.ensure_sinks()  # type: ignore[attr-defined]
    pcm = speech.render("Use long, slow strokes from the lower back up to the shoulders.")
    with Player(resolve_output("earbud"), resolve_output("room"), **options) as player:
        player.open()
        with Recorder("earbud.monitor") as earbud:
            utterance = player.play(pcm, Route.ROOM)
            time.sleep(1.0)
            removed = time.monotonic()
            server.unload_sink("room")  # type: ignore[attr-defined]
            utterance.wait(pcm.duration + 5)
    _, lag = best_correlation(earbud.audio(), _float(pcm))
    server.ensure_sinks()  # type: ignore[attr-defined]
    return earbud.time_of(lag) - removed


def _float(pcm: Pcm) -> np.ndarray:
    """The samples as the stream plays them: at its rate, as floats."""
    return _at_rate(pcm, RATE).astype(np.float32) / 32768


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"median {statistics.median(ordered) * 1000:6.1f} ms   p95 {p95 * 1000:6.1f} ms   "
        f"max {ordered[-1] * 1000:6.1f} ms   (n={len(ordered)})"
    )


if __name__ == "__main__":
    raise SystemExit(main())
