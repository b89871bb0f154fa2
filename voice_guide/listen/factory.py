"""Choose and load a recognizer engine (`auto`, `vosk`, `pocketsphinx`, `classifier`,
`combined`), with a one-line reason. Engines are imported only when chosen: this module is
cheap to import."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voice_guide.listen.engine import Recognizer

ENGINES = ("auto", "vosk", "pocketsphinx", "classifier", "combined")


class EngineError(Exception):
    """The engine asked for cannot be used; the message says why in one line."""


def make_recognizer(
    engine: str = "auto", model: str | None = None, second_pass: bool = True
) -> tuple[Recognizer, str]:
    """The recognizer, and one line saying which engine runs and why.

    auto: vosk when an English vosk model is found (`--model`, $VOICE_GUIDE_MODEL, `models/`,
    vosk's cache), otherwise the pocketsphinx model that ships inside its wheel.
    pocketsphinx has a second pass: the classifier engine checks every command it hears
    (`listen/second_pass.py`); `second_pass=False` gives pocketsphinx alone.
    """
    if engine not in ENGINES:
        raise EngineError(f"unknown engine {engine!r} (choose from {', '.join(ENGINES)})")
    if engine == "pocketsphinx":
        recognizer, checked = _pocketsphinx(second_pass)
        return recognizer, f"engine: pocketsphinx (asked for; {checked})"
    if engine == "combined":
        return _combined(), (
            "engine: combined (asked for; the classifier when it is sure, otherwise pocketsphinx "
            "checked by the classifier)"
        )
    if engine == "classifier":
        return _classifier(), (
            "engine: classifier (asked for; speech-embedding front end + command classifier)"
        )
    found, why = _find_vosk_model(model, required=engine == "vosk")
    if found is not None:
        from voice_guide.listen.vosk_engine import VoskRecognizer

        reason = "asked for" if engine == "vosk" else "auto: English model found"
        try:
            recognizer = VoskRecognizer(found)
        except Exception as error:  # a broken model: one line, not a traceback
            raise EngineError(str(error)) from None
        return recognizer, f"engine: vosk ({reason}; {why})"
    recognizer, checked = _pocketsphinx(second_pass)
    return recognizer, (
        f"engine: pocketsphinx (auto: {why}; using the model in its wheel; {checked})"
    )


def _pocketsphinx(second_pass: bool) -> tuple[Recognizer, str]:
    """pocketsphinx, checked by the classifier when it loads; and a few words saying which."""
    from voice_guide.listen.pocketsphinx_engine import PocketsphinxRecognizer

    first = PocketsphinxRecognizer()
    if not second_pass:
        return first, "no second pass"
    from voice_guide.listen.classifier_engine import ClassifierError, ClassifierRecognizer
    from voice_guide.listen.second_pass import CheckedRecognizer

    try:
        checker = ClassifierRecognizer()
    except ClassifierError as error:  # pocketsphinx still works alone
        return first, f"no second pass: {error}"
    return CheckedRecognizer(first, checker), "every command checked by the classifier"


def _combined() -> Recognizer:
    from voice_guide.listen.classifier_engine import ClassifierError, ClassifierRecognizer
    from voice_guide.listen.pocketsphinx_engine import PocketsphinxRecognizer
    from voice_guide.listen.second_pass import CombinedRecognizer

    try:
        classifier = ClassifierRecognizer()
    except ClassifierError as error:
        raise EngineError(str(error)) from None
    return CombinedRecognizer(PocketsphinxRecognizer(), classifier)


def _classifier() -> Recognizer:
    from voice_guide.listen.classifier_engine import ClassifierError, ClassifierRecognizer

    try:
        return ClassifierRecognizer()
    except ClassifierError as error:
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
    except Exception as error:  # a model finder problem must not stop pocketsphinx from working
        if required:
            raise EngineError(str(error)) from None
        return None, f"no English vosk model ({error})"
    if found is None:
        if required or model is not None:
            raise EngineError(why)
        return None, why
    return Path(found), why
