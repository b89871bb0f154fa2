"""`voice-guide mic [--input-device D] [--seconds N]`: check the microphone before a session.

A live level meter (RMS and peak in dBFS) on one terminal line; the first second measures the
background while you keep quiet; then say "next" (or "go"): what the recognizer of a session
hears in it is printed, through the same engine, profile and listening pipeline as `run`. It
ends when a command is heard or after N seconds (default 10), and says whether the input is
silent, too quiet, clipping or noisy (voice_guide/mic_check.py decides; thresholds there).

Exit status: 0 when "next" (or another phrase of it: "go", "continue") was heard and the levels
are good, 1 when something is wrong (each said in a line; another command heard instead of
"next" is one of them), 2 when the microphone or the engine cannot be used. Nothing is recorded
to disk: blocks are measured and decoded in memory, then dropped.
"""

from __future__ import annotations

import argparse
import collections
import queue
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

from voice_guide.cli import add_engine_arguments, fail
from voice_guide.mic_check import FLOOR_DBFS

if TYPE_CHECKING:
    from voice_guide.commands import Command
    from voice_guide.events import Heard
    from voice_guide.listen.engine import Recognizer, Segment
    from voice_guide.mic_check import Level

HELP = "microphone check: live level meter, warnings (silent, clipping, noisy), say \"next\""

BLOCK = 800  # samples: 50 ms at 16 kHz, the meter's pace
METER_LOW = -60.0  # dBFS at the left end of the bar (the segmenter's quietest speech)
METER_WIDTH = 30
STALL = 3.0  # seconds without a block: the microphone delivers nothing


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input-device", metavar="D",
                        help="microphone: index or part of a name (default: the system's)")
    parser.add_argument("--seconds", type=_seconds, default=10.0, metavar="N",
                        help="listen at most this long (default 10; it ends sooner once a "
                        "command is heard)")
    add_engine_arguments(parser)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 2.0 <= value <= 600.0:  # the first second is the background; a check, not a session
        raise argparse.ArgumentTypeError("--seconds must be between 2 and 600")
    return value


def run(args: argparse.Namespace) -> int:
    from voice_guide.devices import DeviceError, resolve_input
    from voice_guide.listen.factory import EngineError, make_recognizer

    try:
        endpoint = resolve_input(args.input_device)
    except DeviceError as error:
        return fail(f"mic: {error}")
    print("loading the recognizer ...", file=sys.stderr, flush=True)
    try:
        recognizer, reason = make_recognizer(args.engine, args.model, profile=args.profile)
    except EngineError as error:
        return fail(f"mic: {error}")
    print(reason, file=sys.stderr, flush=True)
    try:
        microphone = Microphone(endpoint)
    except MicrophoneError as error:
        return fail(f"mic: {error}")
    return _check(microphone, Noting(recognizer), args.seconds)


def _check(microphone: Microphone, recognizer: Noting, seconds: float) -> int:
    from voice_guide.commands import ALL_COMMANDS, Command
    from voice_guide.listen.pipeline import Listener
    from voice_guide.mic_check import MicCheck

    check = MicCheck()
    listener = Listener(recognizer, ALL_COMMANDS)
    meter = Meter(sys.stdout)
    heard: list[Heard] = []
    print(f"microphone: {microphone.label}")
    print("Keep quiet for a second (measuring the background), then say \"next\".", flush=True)
    interrupted = False
    with microphone:
        try:
            while check.seconds < seconds and not heard:
                block = microphone.block(STALL)
                if block is None:
                    meter.clear()
                    print(f"no sound has come from {microphone.label} for {STALL:.0f} s: the "
                          "device delivers nothing", flush=True)
                    return 1
                was_measured = check.noise_floor is not None
                meter.show(check.feed(block))
                if not was_measured and check.noise_floor is not None:
                    meter.say(f"background: {_background(check.noise_floor)}; now say "
                              "\"next\"")
                for warning in check.news():
                    meter.say(f"warning: {warning.text}")
                heard += _new(_commands(listener.feed(block)), recognizer, meter, listener.time)
            if not heard:
                heard += _new(_commands(listener.flush()), recognizer, meter, float("inf"))
        except KeyboardInterrupt:
            interrupted = True
    meter.clear()
    verdicts = check.verdicts()
    for verdict in verdicts:
        print(("ok: " if verdict.kind == "ok" else "problem: ") + verdict.text)
    if not heard:
        print(f"not heard: no command in {check.seconds:.1f} s (say \"next\" on its own, after "
              "a moment of quiet)")
    wrong = [item for item in heard if item.command != Command.NEXT]
    for item in wrong:
        print(f"problem: heard \"{item.phrase}\" (the command {item.command}), not \"next\": "
              "say \"next\" again, on its own; if it is heard wrong again, `voice-guide enroll` "
              "teaches the guide your voice")
    if interrupted:
        return 130
    return 0 if heard and not wrong and all(v.kind == "ok" for v in verdicts) else 1


def _background(floor: float) -> str:
    if floor <= FLOOR_DBFS + 1:  # a real microphone always hears some noise of its own
        return "digital silence (no noise at all: a virtual or muted input?)"
    return f"{floor:.0f} dBFS"


def _commands(found: list[Any]) -> list[Heard]:
    """The commands among what the listener heard (it hears no client's words here)."""
    from voice_guide.events import Heard

    return [h for h in found if isinstance(h, Heard)]


def _new(found: list[Heard], recognizer: Noting, meter: Meter, now: float) -> list[Heard]:
    """Print the commands heard, and any utterance heard that was no command."""
    for item in found:
        meter.say(heard_line(item, recognizer.profile_heard(item)))
    for segment in recognizer.missed(now, [item.start for item in found]):
        meter.say(f"heard something ({segment.end - segment.start:.1f} s) that is not a "
                  "command: say \"next\" on its own")
    return found


def heard_line(item: Heard, profile: str | None) -> str:
    """`heard: "go" -> next (confidence 0.93)`: the engine's own confidence (Whisper's token
    probability, vosk's word posterior). A command the speaker profile heard (`profile`: its
    name) has no figure that means anything to a person: it says so instead."""
    said = f"heard: \"{item.phrase}\" -> {item.command}"
    if profile is not None:
        return f"{said} (by your profile {profile!r}: like your enrolled takes)"
    return f"{said} (confidence {item.confidence:.2f})"


class Noting:
    """The session's recognizer, noting the utterances it found no command in, so the check
    can say "heard something" rather than nothing at all."""

    # An utterance is decided at most this long after the end of its segment (the first look
    # comes 0.1 s after the speech, the final segment 0.2 s): then a miss is a miss.
    SETTLED = 0.3

    def __init__(self, recognizer: Recognizer) -> None:
        self.inner = recognizer
        self.name = recognizer.name
        self._missed: dict[float, Segment] = {}  # by start: a first look and its final segment
        self._heard: set[float] = set()
        self._by_profile: set[float] = set()  # starts of the commands the profile heard

    def __getattr__(self, name: str) -> Any:  # e.g. `first_look`, which the listener reads
        if name == "inner":  # not set yet (a copy being made): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)

    def recognize(self, segment: Segment, commands: frozenset[Command]) -> Heard | None:
        rescued = getattr(self.inner, "rescued", 0)  # a ProfileRecognizer counts its own hits
        result = self.inner.recognize(segment, commands)
        if result is None and segment.start not in self._heard:
            self._missed[segment.start] = segment
        if result is not None and getattr(self.inner, "rescued", 0) != rescued:
            self._by_profile.add(result.start)
        return result

    def profile_heard(self, item: Heard) -> str | None:
        """The profile's name when it, not the engine, heard this command."""
        profile: Any = getattr(self.inner, "profile", None)  # a ProfileRecognizer's
        return str(profile.name) if profile is not None and item.start in self._by_profile \
            else None

    def missed(self, now: float, heard: list[float]) -> list[Segment]:
        """The utterances settled by stream time `now` in which no command was heard
        (`heard`: the starts of the commands just heard)."""
        self._heard.update(heard)
        settled = sorted((s for start, s in self._missed.items()
                          if start not in self._heard and s.end + self.SETTLED <= now),
                         key=lambda s: s.start)
        for segment in settled:
            del self._missed[segment.start]
        for start in [start for start in self._missed if start in self._heard]:
            del self._missed[start]
        # A piece said too soon after another is decoded again joined to it (a second segment,
        # starting earlier): one utterance, said once, the longest reading.
        merged: list[Segment] = []
        for segment in settled:
            if merged and segment.start < merged[-1].end:
                if segment.end - segment.start > merged[-1].end - merged[-1].start:
                    merged[-1] = segment
            else:
                merged.append(segment)
        return merged


# --- the terminal -----------------------------------------------------------------------------


class Meter:
    """The level line. On a terminal it is redrawn in place (10 times a second), with the
    loudest peak of the last second held; elsewhere (a log, a pipe) one line a second."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.live = out.isatty()
        self._recent: collections.deque[Level] = collections.deque(maxlen=20)  # 1 s of blocks
        self._shown = False
        self._last = 0.0

    def show(self, level: Level) -> None:
        self._recent.append(level)
        now = time.monotonic()
        if now - self._last < (0.1 if self.live else 1.0):
            return
        self._last = now
        rms = max(level.rms_dbfs for level in list(self._recent)[-2:])  # the last 100 ms
        peak = max(level.peak_dbfs for level in self._recent)
        clipped = sum(level.clipped for level in self._recent)
        line = (f"level {rms:6.1f} dBFS  peak {peak:6.1f} dBFS  {bar(rms, peak)}"
                + ("  CLIP" if clipped else ""))
        if self.live:
            self.out.write(f"\r\x1b[K{line}")
            self._shown = True
        else:
            self.out.write(line + "\n")
        self.out.flush()

    def say(self, text: str) -> None:
        """A line of its own, above the meter."""
        self.clear()
        self.out.write(text + "\n")
        self.out.flush()

    def clear(self) -> None:
        if self._shown:
            self.out.write("\r\x1b[K")
            self._shown = False


def bar(rms: float, peak: float) -> str:
    """`|######    !     |`: the level as a bar from METER_LOW to 0 dBFS, the peak as `!`."""
    def place(db: float) -> int:
        return round(min(1.0, max(0.0, (db - METER_LOW) / -METER_LOW)) * METER_WIDTH)

    cells = ["#" if i < place(rms) else " " for i in range(METER_WIDTH)]
    at = place(peak)
    if 0 < at <= METER_WIDTH:
        cells[at - 1] = "!"
    return "|" + "".join(cells) + "|"


# --- the input stream ----------------------------------------------------------------------


class MicrophoneError(Exception):
    """The input cannot be opened; the message says why in one line."""


class Microphone:
    """The input device as 16 kHz int16 blocks (resampled when it cannot record at 16 kHz),
    kept in memory only until measured and decoded."""

    def __init__(self, endpoint: Any) -> None:
        from voice_guide.devices import open_input_stream

        self.label = "the system's default" if endpoint.is_default else endpoint.label
        self._blocks: queue.Queue[Any] = queue.Queue()
        common = {"channels": 1, "dtype": "int16", "callback": self._callback}
        try:
            try:
                self._stream = open_input_stream(endpoint, samplerate=16_000, blocksize=BLOCK,
                                                 **common)
            except Exception:  # the device cannot do 16 kHz itself: take its rate, resample
                self._stream = open_input_stream(endpoint, **common)
        except Exception as error:
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise MicrophoneError(f"cannot record from {self.label}: {first}") from None
        self.rate = int(self._stream.samplerate)

    def __enter__(self) -> Microphone:
        self._stream.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stream.stop()
        self._stream.close()

    def block(self, timeout: float) -> Any:
        """The next block (int16 at 16 kHz), or None when none comes within `timeout`."""
        import numpy as np

        try:
            block = self._blocks.get(timeout=timeout)
        except queue.Empty:
            return None
        if self.rate != 16_000:
            from voice_guide.wav import to_16k_int16

            block = to_16k_int16(block.astype("float32") / 32768.0, self.rate)
        return np.asarray(block, np.int16)

    # Runs on PortAudio's thread: a copy onto the queue, nothing more.
    def _callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        self._blocks.put(indata[:, 0].copy())
