"""Choose and load a recognizer engine (`auto`, `whisper`, `vosk`), with a one-line reason.
Engines are imported only when chosen: this module is cheap to import.

whisper (Whisper base) is the default: it measures best on human speech (`benchmarks.human`).
vosk is the design card's engine, for a vosk model the user provides (`--model`,
$VOICE_GUIDE_MODEL, `voice-guide models`). A speaker profile (`--profile`) wraps either.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voice_guide.listen.engine import Recognizer
    from voice_guide.listen.profile import Profile

ENGINES = ("auto", "whisper", "vosk")


class EngineError(Exception):
    """The engine asked for cannot be used; the message says why in one line."""


def make_recognizer(
    engine: str = "auto", model: str | None = None, profile: str | None = None,
) -> tuple[Recognizer, str]:
    """The recognizer, and one line saying which engine runs and why.

    auto: whisper unless a vosk model is asked for with `--model` or $VOICE_GUIDE_MODEL; when
    whisper cannot load, vosk when an English vosk model is found (`models/`, vosk's cache);
    with neither, an EngineError saying why (`run` then carries on from typed commands).
    `profile` (`--profile`): a speaker profile's name wraps the engine in the profile's
    recognizer (`listen/profile.py`); `auto`: the profile `default` when it exists; `none` or
    None: no profile. A profile asked for by name that cannot be used is an EngineError; under
    `auto` the reason line says why none is used.
    """
    if engine not in ENGINES:
        raise EngineError(f"unknown engine {engine!r} (choose from {', '.join(ENGINES)})")
    chosen, profile_reason = _profile(profile)
    recognizer, reason = _make(engine, model)
    if chosen is not None:
        from voice_guide.listen.embedding import EmbeddingError
        from voice_guide.listen.profile import ProfileRecognizer

        try:
            recognizer = ProfileRecognizer(recognizer, chosen)
        except EmbeddingError as error:
            raise EngineError(f"the profile cannot be used: {error}") from None
    if profile_reason:
        reason += f"; {profile_reason}"
    return recognizer, reason


def _profile(option: str | None) -> tuple[Profile | None, str]:
    """The profile `--profile` names (None: none) and the words for the reason line."""
    if option is None:
        return None, ""
    from voice_guide.listen.profile import AUTO, ProfileError, choose_profile

    try:
        return choose_profile(option)
    except ProfileError as error:
        if option == AUTO:
            return None, f"no profile ({error})"
        raise EngineError(str(error)) from None


def check_engine(engine: str, model: str | None, profile: str | None = None) -> None:
    """Raise EngineError for an engine or model that cannot work, without loading it, so that
    `run` says so before it creates a journal: a missing Whisper model, an explicit vosk model
    that is not usable, a profile asked for by name that cannot be read."""
    _profile(profile)
    if engine not in ENGINES:
        raise EngineError(f"unknown engine {engine!r} (choose from {', '.join(ENGINES)})")
    if engine == "whisper":
        from voice_guide.listen.whisper_model import WhisperModelError, ensure_model

        try:
            ensure_model()
        except WhisperModelError as error:
            raise EngineError(str(error)) from None
    elif engine == "vosk" or model is not None:
        _find_vosk_model(model, required=True)


def _make(engine: str, model: str | None) -> tuple[Recognizer, str]:
    if engine == "whisper":
        return _whisper(), "engine: whisper (asked for; Whisper base, trained on real speech)"
    from voice_guide.listen.models import ENV_VAR  # a vosk model chosen: vosk is the choice

    whisper_problem = ""
    if engine == "auto" and model is None and not os.environ.get(ENV_VAR):
        try:
            return _whisper(), ("engine: whisper (auto: Whisper base, trained on real speech, "
                                "hears human voices best)")
        except EngineError as error:
            whisper_problem = str(error)
    found, why = _find_vosk_model(model, required=engine == "vosk")
    if found is None and not whisper_problem:  # $VOICE_GUIDE_MODEL names no usable model
        raise EngineError(why)
    if found is None:  # auto: whisper cannot load, and there is no vosk model either
        raise EngineError(f"whisper cannot load ({whisper_problem}) and there is no English "
                          "vosk model to use instead (`voice-guide models where` says where one "
                          "is looked for)")
    from voice_guide.listen.vosk_engine import VoskRecognizer

    if engine == "vosk":
        reason = "asked for"
    elif whisper_problem:
        reason = f"auto: whisper cannot load: {whisper_problem}; English model found"
    else:
        reason = "auto: a vosk model was given"
    try:
        recognizer = VoskRecognizer(found)
    except Exception as error:  # a broken model: one line, not a traceback
        raise EngineError(str(error)) from None
    return recognizer, f"engine: vosk ({reason}; {why})"


def _whisper() -> Recognizer:
    from voice_guide.listen.whisper_engine import WhisperError, WhisperRecognizer

    try:
        return WhisperRecognizer()
    except WhisperError as error:
        raise EngineError(str(error)) from None


def _find_vosk_model(model: str | None, required: bool) -> tuple[Path | None, str]:
    """The English vosk model directory, or None and why not (an error when vosk is required)."""
    try:
        from voice_guide.listen.models import find_english_model
    except ImportError:
        if required:
            raise EngineError("the vosk engine is not available in this build") from None
        return None, "vosk support not available"
    try:
        found, why = find_english_model(model)
    except Exception as error:  # a model finder problem is one line, not a traceback
        if required:
            raise EngineError(str(error)) from None
        return None, f"no English vosk model ({error})"
    if found is None:
        if required or model is not None:
            raise EngineError(why)
        return None, why
    return Path(found), why
