"""`voice-guide voices`: the voices `--voice` can name (for `run` and `say`), and whether they load.

The natural voice `heart` first (the default), then espeak-ng's English voices (the fallback is
marked), then espeak-ng's variants (`en-us+f2`). `--check` loads the natural voice and says
whether it can speak here (and what it adds to the process's memory).
"""

from __future__ import annotations

import argparse

from voice_guide.cli import fail

HELP = "list the voices --voice can choose (the natural voice heart is the default)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--check", action="store_true",
        help="load the natural voice now and say whether it can speak on this machine",
    )


def run(args: argparse.Namespace) -> int:
    from voice_guide.speak import voices
    from voice_guide.speak.tts import CALM_RATE, FALLBACK_VOICE, SpeechError, Tts, Voice

    natural = voices.natural_voice()
    low, high = natural.rates
    print("natural voice (hibari-tts, inside its package; the default for both routes):")
    print(f"  {natural.name:16s} {natural.description}, {natural.sample_rate} Hz, "
          f"--rate {low}..{high} (default {CALM_RATE})")
    try:
        espeak = voices.espeak_voices()
        variants = voices.espeak_variants()
    except SpeechError as error:
        print(f"espeak-ng voices: none ({error})")
        espeak, variants = [], []
    if espeak:
        print("espeak-ng voices (formant synthesizer, through pyttsx3; "
              f"{FALLBACK_VOICE} is the fallback when the natural voice cannot load):")
        for info in espeak:
            fallback = ", the fallback" if info.name == FALLBACK_VOICE else ""
            low, high = info.rates
            print(f"  {info.name:16s} {info.description}{fallback}, --rate {low}..{high}, "
                  "--pitch 0..99")
    if variants:
        print(f"espeak-ng variants (add to an espeak-ng voice, e.g. {FALLBACK_VOICE}+f2): "
              + " ".join(variants))
    if not args.check:
        return 0
    try:
        speech = Tts(Voice(), fallback=False)
        line = speech.load()
        speech.render("Ready.")
    except SpeechError as error:
        return fail(f"voices: {error}")
    print(f"check: {line}: loads and speaks")
    return 0
