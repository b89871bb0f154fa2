"""Choose and load a recognizer engine: `auto`, `vosk` or `pocketsphinx`, with a one-line reason."""

from __future__ import annotations

from pathlib import Path

from voice_guide.listen.engine import Recognizer

ENGINES = ("auto", "vosk", "pocketsphinx")


class EngineError(Exception):
    """The engine asked for cannot be used; the message says why in one line."""


def make_recognizer(engine: str = "auto", model: str | None = None) -> tuple[Recognizer, str]:
    """The recognizer, and one line saying which engine runs and why.

    auto: vosk when an English vosk model is found (`--model`, $VOICE_GUIDE_MODEL, `models/`,
    vosk's cache), otherwise the pocketsphinx model that ships inside its wheel.
    """
    if engine not in ENGINES:
        raise EngineError(f"unknown engine {engine!r} (choose from {', '.join(ENGINES)})")
    if engine == "pocketsphinx":
        return _pocketsphinx(), "engine: pocketsphinx (asked for)"
    found, why = _find_vosk_model(model, required=engine == "vosk")
    if found is not None:
        from voice_guide.listen.vosk_engine import VoskRecognizer

        reason = "asked for" if engine == "vosk" else "auto: English model found"
        try:
            recognizer = VoskRecognizer(found)
        except Exception as error:  # a broken model: one line, not a traceback
            raise EngineError(str(error)) from None
        return recognizer, f"engine: vosk ({reason}; {why})"
    return _pocketsphinx(), f"engine: pocketsphinx (auto: {why}; using the model in its wheel)"


def _pocketsphinx() -> Recognizer:
    from voice_guide.listen.pocketsphinx_engine import PocketsphinxRecognizer

    return PocketsphinxRecognizer()


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
    except Exception as error:  # a model finder problem must not stop pocketsphinx from working
        if required:
            raise EngineError(str(error)) from None
        return None, f"no English vosk model ({error})"
    if found is None:
        if required or model is not None:
            raise EngineError(why)
        return None, why
    return Path(found), why
