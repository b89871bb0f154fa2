"""Where vosk models are: lookup in a fixed order, and the one download the project offers.

Lookup order for the English model, first hit wins:
1. `--model DIR` (any vosk model: the user's choice, even another language);
2. `$VOICE_GUIDE_MODEL` (likewise);
3. the project's `models/` folder: a `vosk-model-*-en-*` folder with an acoustic model;
4. vosk's own cache, `~/.cache/vosk` (where `vosk.Model(lang="en-us")` puts downloads).
Only models with a runtime graph (`graph/HCLr.fst` + `graph/Gr.fst`) take a command grammar; the
big static-graph models (`HCLG.fst` only) cannot, so the search passes over them and says so.

`download_english_model` is the only code that touches the network, and only when asked.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "VOICE_GUIDE_MODEL"
PROJECT_MODELS = Path(__file__).resolve().parents[2] / "models"
SMALL_ENGLISH_MODEL = "vosk-model-small-en-us-0.15"
MODEL_SITE = "https://alphacephei.com/vosk/models/"
SMALL_ENGLISH_URL = f"{MODEL_SITE}{SMALL_ENGLISH_MODEL}.zip"

_ENGLISH_NAME = re.compile(r"^vosk-model(-small)?-en-")


@dataclass(frozen=True)
class Place:
    """One place the search looked: what it is, where, and what it found there."""

    label: str  # "--model", "$VOICE_GUIDE_MODEL", "project models/", "vosk cache"
    path: Path | None  # None: nothing given (an unset option or variable)
    model: Path | None  # the usable model found here, if any
    note: str  # one line: what was found, or why nothing was


class DownloadError(Exception):
    """The model could not be fetched or unpacked; the message is one line for the user."""


def find_english_model(
    explicit: str | None,
    *,
    project_models: Path | None = None,
    cache_dir: Path | None = None,
) -> tuple[Path | None, str]:
    """The vosk model to use and one line saying why; (None, why not) when there is none."""
    places = search_places(explicit, project_models=project_models, cache_dir=cache_dir)
    for place in places:
        if place.model is not None:
            return place.model, f"vosk model {place.model} ({place.note})"
        if place.label in ("--model", f"${ENV_VAR}") and place.path is not None:
            # an explicit choice that does not work: say so rather than quietly use another
            return None, f"{place.label} {place.path}: {place.note}"
    looked = ", ".join(str(p.path) for p in places if p.path is not None)
    return None, (
        f"no English vosk model: none given with --model or ${ENV_VAR}, none in {looked} "
        "(voice-guide models download fetches one)"
    )


def search_places(
    explicit: str | None,
    *,
    project_models: Path | None = None,
    cache_dir: Path | None = None,
) -> list[Place]:
    """Every place of the lookup, in order, with what each holds (for `models where`)."""
    env_value = os.environ.get(ENV_VAR) or None
    project = project_models if project_models is not None else PROJECT_MODELS
    cache = cache_dir if cache_dir is not None else Path.home() / ".cache" / "vosk"
    return [
        _given("--model", explicit),
        _given(f"${ENV_VAR}", env_value),
        _folder_of_models("project models/", project),
        _folder_of_models("vosk cache", cache),
    ]


def model_problem(path: Path) -> str | None:
    """Why `path` is not a vosk model this project can use with a grammar; None if it is."""
    if not path.exists():
        return "no such directory"
    if not path.is_dir():
        return "not a directory"
    if not ((path / "am" / "final.mdl").is_file() or (path / "final.mdl").is_file()):
        return "not a vosk model (no am/final.mdl or final.mdl)"
    graph = path / "graph"
    if not ((graph / "HCLr.fst").is_file() and (graph / "Gr.fst").is_file()):
        if (graph / "HCLG.fst").is_file():
            return "a static-graph model (HCLG.fst only): it cannot take a command grammar"
        return "no runtime graph (graph/HCLr.fst and graph/Gr.fst)"
    return None


def download_english_model(
    dest: Path | None = None, *, url: str = SMALL_ENGLISH_URL, timeout: float = 30.0
) -> Path:
    """Fetch the small English model and unpack it into `dest` (the project's models/).

    Returns the model directory. Raises `DownloadError` (one line) when offline or on a bad
    archive; nothing half-unpacked is left behind.
    """
    dest = Path(dest) if dest is not None else PROJECT_MODELS
    created = not dest.exists()
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DownloadError(f"cannot create {dest}: {error.strerror or error}") from None
    try:
        # unpacked next to its final place, so the last step is a rename on one file system
        with tempfile.TemporaryDirectory(prefix=".download-", dir=dest) as work:
            archive = Path(work) / "model.zip"
            _fetch(url, archive, timeout)
            return _unpack(archive, Path(work) / "unpacked", dest, url)
    except DownloadError:
        if created:
            shutil.rmtree(dest, ignore_errors=True)
        raise


def _fetch(url: str, archive: Path, timeout: float) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, archive.open("wb") as out:
            shutil.copyfileobj(response, out, length=1 << 20)
    except urllib.error.HTTPError as error:
        raise DownloadError(f"cannot download {url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(
            f"cannot download {url}: {_describe(reason)}; this machine looks offline: fetch the "
            f"zip elsewhere, unpack it into models/, or pass --model DIR"
        ) from None
    except OSError as error:
        raise DownloadError(f"cannot write {archive}: {error.strerror or error}") from None


def _unpack(archive: Path, scratch: Path, dest: Path, url: str) -> Path:
    try:
        with zipfile.ZipFile(archive) as zipped:
            for member in zipped.namelist():
                target = (scratch / member).resolve()
                if not target.is_relative_to(scratch.resolve()):
                    raise DownloadError(f"{url}: unsafe path {member!r} in the archive")
            zipped.extractall(scratch)
    except zipfile.BadZipFile:
        raise DownloadError(f"{url}: not a zip archive (a proxy or error page?)") from None
    tops = [p for p in scratch.iterdir()] if scratch.exists() else []
    if len(tops) != 1 or model_problem(tops[0]) is not None:
        why = model_problem(tops[0]) if len(tops) == 1 else "not one folder at the top"
        raise DownloadError(f"{url}: the archive is not a usable vosk model ({why})")
    final = dest / tops[0].name
    if final.exists():
        shutil.rmtree(final)
    tops[0].rename(final)
    return final


def _given(label: str, value: str | None) -> Place:
    if value is None:
        return Place(label, None, None, "not given")
    path = Path(value).expanduser()
    problem = model_problem(path)
    if problem is not None:
        return Place(label, path, None, problem)
    return Place(label, path, path, f"from {label}")


def _folder_of_models(label: str, folder: Path) -> Place:
    if not folder.is_dir():
        return Place(label, folder, None, "no such directory")
    english = sorted(
        (p for p in folder.iterdir() if p.is_dir() and _ENGLISH_NAME.match(p.name)),
        key=_preference,
    )
    if not english:
        return Place(label, folder, None, "no vosk-model-*-en-* folder")
    skipped = []
    for candidate in english:
        problem = model_problem(candidate)
        if problem is None:
            return Place(label, folder, candidate, f"found in {label}")
        skipped.append(f"{candidate.name}: {problem}")
    return Place(label, folder, None, "; ".join(skipped))


def _preference(path: Path) -> tuple[bool, str]:
    """Small US-English models first (they take grammars, load fast), then by name."""
    return ("small-en-us" not in path.name, path.name)


def _describe(reason: object) -> str:
    if isinstance(reason, socket.gaierror):
        return "host name not found"
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    return str(reason)
