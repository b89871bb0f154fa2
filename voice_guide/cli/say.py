"""`voice-guide say TEXT [--route practitioner|room] [--device D] [--out FILE.wav]`: a sound check.

Speaks TEXT with the guide's voice on a route's device (or the device given), or writes it to a
WAV file with --out (then nothing is played). --voice/--rate/--volume/--pitch tune the voice:
the natural voice `heart` by default, espeak-ng's if it cannot load (a warning says so);
`voice-guide voices` lists the voices.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from voice_guide.cli import fail

if TYPE_CHECKING:
    from voice_guide.devices import Endpoint
    from voice_guide.speak.tts import Pcm, Voice

HELP = "sound check: speak a text on a route or device (or write it to a WAV file)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from voice_guide.speak.tts import Voice

    calm = Voice()
    parser.add_argument("text", metavar="TEXT", help="what to say")
    parser.add_argument(
        "--route", choices=("practitioner", "room"), default="practitioner",
        help="which route's device to use (default: practitioner)",
    )
    parser.add_argument(
        "--device", metavar="D", help="output device (index or part of a name); overrides --route"
    )
    parser.add_argument(
        "--practitioner-device", metavar="D", help="the practitioner route's device (earbuds)"
    )
    parser.add_argument("--room-device", metavar="D", help="the room route's device (speaker)")
    parser.add_argument(
        "--out", metavar="FILE.wav", help="write the speech to this WAV file instead of playing"
    )
    add_voice_arguments(parser)
    parser.add_argument(
        "--pitch", type=int, default=None,
        help=f"espeak-ng voices only: 0..99 (default: {calm.pitch}; the natural voice keeps its "
        "own)",
    )


def add_voice_arguments(parser: argparse.ArgumentParser) -> None:
    """`--voice`, `--rate` and `--volume`, the same for `say` and `run`."""
    from voice_guide.speak.tts import Voice

    calm = Voice()
    parser.add_argument(
        "--voice", default=calm.name, metavar="NAME",
        help=f"voice (default: {calm.name}, the natural voice; espeak-ng's en-us when it cannot "
        "load); `voice-guide voices` lists them",
    )
    parser.add_argument(
        "--rate", type=int, default=calm.rate, metavar="WPM",
        help=f"words per minute (default: {calm.rate}, calm and unhurried)",
    )
    parser.add_argument(
        "--volume", type=float, default=calm.volume, help=f"0..1 (default: {calm.volume})"
    )


def voice_from(args: argparse.Namespace, command: str) -> tuple[Voice | None, str]:
    """(the Voice the options ask for, "") or (None, the one-line problem with them)."""
    from voice_guide.speak import voices
    from voice_guide.speak.tts import Voice

    pitch = getattr(args, "pitch", None)
    try:
        name = args.voice.strip()
        voice = (Voice(name, args.rate, args.volume) if pitch is None
                 else Voice(name, args.rate, args.volume, pitch))
    except ValueError as error:
        return None, f"{command}: {error}"
    if voice.natural and pitch is not None:
        return None, (f"{command}: --pitch is for the espeak-ng voices; {voice.name} keeps its "
                      "own pitch")
    problem = voices.problem(voice)
    return (None, f"{command}: {problem}") if problem else (voice, "")


def run(args: argparse.Namespace) -> int:
    from voice_guide.devices import DeviceError, list_devices, resolve_output
    from voice_guide.speak.tts import SpeechError, Tts

    if not args.text.strip():
        return fail("say: TEXT is empty")
    voice, problem = voice_from(args, "say")
    if voice is None:
        return fail(problem)
    speech = Tts(voice)
    try:
        pcm = speech.render(args.text)
    except SpeechError as error:
        print(args.text)  # the words still reach the user
        return fail(f"say: {error}")
    spoken = speech.active.name
    if speech.fallback_reason:
        print(f"voice-guide: warning: {speech.fallback_reason}; using espeak-ng's "
              f"{spoken} instead", file=sys.stderr)
    if args.out:
        problem = write_out(pcm, args.out)
        if problem:
            return fail(f"say: {problem}")
        print(f"wrote {args.out} ({pcm.duration:.2f} s, {pcm.rate} Hz mono, voice {spoken})")
        return 0
    if args.device:
        spec = args.device
    else:
        spec = args.practitioner_device if args.route == "practitioner" else args.room_device
    try:
        endpoint = resolve_output(spec)
        if endpoint.is_default and not list_devices().outputs:
            return fail("say: there are no audio outputs (see `voice-guide devices`)")
    except DeviceError as error:
        return fail(f"say: {error}")
    return _play(pcm, args.route, endpoint, args.text, spoken)


def write_out(pcm: Pcm, out: str) -> str:
    """Write `--out`; "" when done, else why not (one line). A folder, or a file in a folder that
    does not exist, is named as such: "No such file or directory" does not say which is missing.
    A file left half written (a full disk) is removed, so no broken WAV stays behind."""
    path = Path(out)
    if out.endswith(("/", os.sep)) or path.is_dir():
        return f"--out {out} is a folder; give a file name (e.g. {path / 'say.wav'})"
    folder = path.parent
    if not folder.is_dir():
        what = f"{folder} is a file, not a folder" if folder.exists() else (
            f"the folder {folder} does not exist")
        return f"cannot write {out}: {what}"
    try:
        pcm.write_wav(path)
    except OSError as error:
        with contextlib.suppress(OSError):
            path.unlink()
        return f"cannot write {out}: {error.strerror or error}"
    return ""


def _play(pcm: Pcm, route: str, endpoint: Endpoint, text: str, voice: str) -> int:
    from voice_guide.speak.player import Player

    player = Player(endpoint, endpoint)
    try:
        utterance = player.play(pcm, route, text)
        if not utterance.wait(pcm.duration + 10.0):
            return fail(f"say: playback on {endpoint.label} did not finish")
    except KeyboardInterrupt:
        player.stop()
        return 130
    finally:
        player.close()
    if utterance.outcome != "played":
        print(text)
        return fail(f"say: could not play on {endpoint.label} ({utterance.outcome})")
    where = utterance.output or endpoint.label
    print(f"said on {route} ({where}): {pcm.duration:.2f} s, voice {voice}", file=sys.stdout)
    return 0
