"""The voices one can choose (`--voice`, `voice-guide voices`), and the one-line complaint about
a voice that does not exist (`espeak.unknown_voice`, which names them all) or a pace it cannot
do (`problem`).

- `heart`: the natural voice (hibari-tts, American English, female; inside its wheel), the
  default for both routes.
- espeak-ng's English voices (the design card's formant synthesizer, through pyttsx3): named
  by their language code as `espeak-ng --voices=en` shows it (`en-us`, `en-gb`, `en-gb-x-rp`,
  ...), optionally with one of its variants (`en-us+f2`). `en-us` is the fallback.

Only voices that are on the machine are offered: hibari's other voices would be downloaded on
first use, and the guide never downloads anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from voice_guide.speak import natural
from voice_guide.speak.espeak import ENGINE, ESPEAK_RATE
from voice_guide.speak.speech import DEFAULT_VOICE, SpeechError, Voice

ESPEAK_RATES = (60, 400)


@dataclass(frozen=True)
class VoiceInfo:
    name: str
    engine: str  # "hibari-tts" | "espeak-ng"
    description: str
    rates: tuple[int, int]  # words per minute it can do
    sample_rate: int


def natural_voice() -> VoiceInfo:
    return VoiceInfo(DEFAULT_VOICE, "hibari-tts", "natural American English, female",
                     natural.rate_range(), natural.OUTPUT_RATE)


def espeak_voices() -> list[VoiceInfo]:
    """espeak-ng's English voices (SpeechError when pyttsx3/espeak-ng is not there)."""
    return [VoiceInfo(name, "espeak-ng", description, ESPEAK_RATES, ESPEAK_RATE)
            for name, _id, description in ENGINE.table()]


def espeak_variants() -> list[str]:
    return ENGINE.variants()


def problem(voice: Voice, check_espeak: bool = True) -> str:
    """"" when `voice` can be used, else why not in one line: an unknown name (espeak-ng's
    names are checked only with `check_espeak`: it starts espeak-ng), a rate the voice cannot
    do."""
    if voice.natural:
        low, high = natural_voice().rates
        if not low <= voice.rate <= high:
            return (f"rate {voice.rate} is out of range for {DEFAULT_VOICE} ({low}..{high} "
                    "words per minute)")
        return ""
    if check_espeak:
        try:
            ENGINE.spec(voice.name)
        except SpeechError as error:
            return str(error)
    return ""
