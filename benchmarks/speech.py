"""Speech-out figures of issue 4, measured through real streams on a private PulseAudio server.

    .venv/bin/python -m benchmarks.speech [--trials N]

- TTS: render time per sentence of the protocol (pyttsx3 + espeak-ng, cache empty), its
  real-time factor, a cache hit's time, and the background render-ahead of all protocol texts.
- Command to first sample played, cache hit and cache miss: from the call (`render` + `play`)
  to the text's first sample, (a) as the player estimates it (handed to the stream plus the
  stream's output latency) and (b) as measured on the sink's monitor (recording through
  sounddevice, the text located by cross-correlation).
- stop(): from the call to silence on the monitor.
- Fallback: from removing the room sink mid-text to the text's first sample replayed on the
  earbud sink.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
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

from voice_guide.app import known_texts
from voice_guide.events import Route
from voice_guide.protocol import load
from voice_guide.speak.tts import Pcm, Tts, Voice

RATE = 22050


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.speech")
    parser.add_argument("--trials", type=int, default=10, help="plays per measurement")
    args = parser.parse_args()
    texts = known_texts(load())
    tts_figures(texts)
    try:
        server = start_pulse()
    except PulseUnavailable as why:
        print(f"stream figures skipped: {why}")
        return 1
    try:
        with client_environment(server):
            stream_figures(server, texts, args.trials)
    finally:
        server.stop()
    return 0


def tts_figures(texts: list[str]) -> None:
    speech = Tts(Voice())
    speech.render("Warm up.")  # engine start-up is not a sentence's cost
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
    ahead = Tts(Voice(rate=146))  # another voice: an empty cache
    started = time.perf_counter()
    ahead.render_ahead(texts)
    ahead.wait_ahead()
    total = time.perf_counter() - started
    print(f"TTS (pyttsx3 + espeak-ng, {len(texts)} protocol texts, voice {Voice()}):")
    print(f"  render per text      {_ms(renders)}")
    print(f"  real-time factor     median {statistics.median(ratios):.4f}")
    print(f"  cache hit            median {statistics.median(hits) * 1e6:.1f} us")
    print(f"  render ahead, all    {total:.2f} s in the background")
    megabytes = sum(len(speech.render(t).samples) for t in texts) * 2 / 1e6
    print(f"  memory for all PCM   {megabytes:.1f} MB")


def stream_figures(server: object, texts: list[str], trials: int) -> None:
    from voice_guide.devices import resolve_output
    from voice_guide.speak.player import Player

    speech = Tts(Voice())
    prompt = texts[min(3, len(texts) - 1)]
    speech.render(prompt)
    with Player(resolve_output("earbud"), resolve_output("room")) as player:
        player.open()
        time.sleep(0.3)
        hit = [_first_sample(player, speech, prompt) for _ in range(trials)]
        miss = [
            _first_sample(player, speech, f"Step {n}: keep your hands soft and slow.")
            for n in range(trials)
        ]
        stops = [_stop_latency(player, speech) for _ in range(max(3, trials // 2))]
    print("Command to first sample played (room null sink, real streams):")
    print(f"  cache hit,  player estimate  {_ms([h[0] for h in hit])}")
    print(f"  cache hit,  on the monitor   {_ms([h[1] for h in hit])}")
    print(f"  cache miss, player estimate  {_ms([m[0] for m in miss])}")
    print(f"  cache miss, on the monitor   {_ms([m[1] for m in miss])}")
    print(f"stop() to silence on the monitor  {_ms(stops)}")
    # The fallback logs an error and warnings each time, as it should; not wanted here.
    logging.getLogger("voice_guide.speak.player").setLevel(logging.CRITICAL)
    fallbacks = [_fallback_latency(server, speech) for _ in range(3)]
    print(f"Sink removed to replay heard on the fallback  {_ms(fallbacks)}")


def _first_sample(player: object, speech: Tts, text: str) -> tuple[float, float]:
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
    return estimate, measured


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


def _fallback_latency(server: object, speech: Tts) -> float:
    from voice_guide.devices import resolve_output
    from voice_guide.speak.player import Player

    server.ensure_sinks()  # type: ignore[attr-defined]
    pcm = speech.render("Use long, slow strokes from the lower back up to the shoulders.")
    with Player(resolve_output("earbud"), resolve_output("room")) as player:
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
    return pcm.samples.astype(np.float32) / 32768


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"median {statistics.median(ordered) * 1000:6.1f} ms   p95 {p95 * 1000:6.1f} ms   "
        f"max {ordered[-1] * 1000:6.1f} ms   (n={len(ordered)})"
    )


if __name__ == "__main__":
    raise SystemExit(main())
