"""`voice-guide models`: which speech models there are, where they were looked for, the download.

- `models where [--model DIR]`: the lookup order, what each place holds, and the model chosen.
- `models list`: every vosk model folder in the project's models/ and vosk's cache, usable or not.
- `models download [--dest DIR]`: fetch the small English vosk model from the official vosk
  model site and unpack it into models/ (the only network use in voice-guide, and only when asked).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from voice_guide.listen import models

HELP = "show where speech models are looked for, list them, or download the English vosk model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(title="actions", metavar="ACTION", dest="action")
    where = actions.add_parser("where", help="the lookup order and the model it picks")
    where.add_argument("--model", metavar="DIR", help="a vosk model folder to try first")
    actions.add_parser("list", help="every vosk model folder found, usable or not")
    download = actions.add_parser(
        "download", help="fetch the small English vosk model into models/ (needs the internet)"
    )
    download.add_argument(
        "--dest", metavar="DIR", type=Path, default=None,
        help="where to unpack it (default: the project's models/)",
    )
    download.add_argument(
        "--url", default=None, help="fetch the zip from here instead (a mirror)",
    )
    parser.set_defaults(action=None)


def run(args: argparse.Namespace) -> int:
    if args.action == "download":
        return _download(args.dest, args.url)
    if args.action == "list":
        return _list()
    return _where(getattr(args, "model", None))


def _where(explicit: str | None) -> int:
    places = models.search_places(explicit)
    for number, place in enumerate(places, start=1):
        where = place.path if place.path is not None else "-"
        print(f"{number}. {place.label:<20} {where}: {place.note}")
    model, reason = models.find_english_model(explicit)
    print(f"=> {reason}")
    print(f"=> {_what_auto_runs(places, model)}")
    return 0


def _what_auto_runs(places: list[models.Place], model: Path | None) -> str:
    """What `--engine auto` (the default) does with what the lookup found (listen/factory.py):
    a model given by --model or the variable is vosk's; otherwise whisper runs, and the vosk
    model found is used only when whisper cannot load."""
    given = next((p for p in places[:2] if p.path is not None), None)
    if given is not None:
        return f"--engine auto runs vosk with the model {given.label} gives"
    instead = ("vosk with the model above" if model is not None
               else "no engine, and `run` takes typed commands")
    return (f"--engine auto runs whisper (it needs no vosk model); if whisper cannot load: "
            f"{instead}")


def _list() -> int:
    places = models.search_places(None)
    folders = [p.path for p in places[2:] if p.path is not None and p.path.is_dir()]
    found = 0
    for folder in folders:
        for candidate in sorted(p for p in folder.iterdir() if p.is_dir()):
            if not candidate.name.startswith("vosk-model"):
                continue
            found += 1
            problem = models.model_problem(candidate)
            print(f"{candidate}: {problem or 'usable'}")
    if not found:
        looked = ", ".join(str(p.path) for p in places[2:])
        print(f"no vosk model folders in {looked}")
    return 0


def _download(dest: Path | None, url: str | None) -> int:
    url = url or models.SMALL_ENGLISH_URL
    dest = dest if dest is not None else models.PROJECT_MODELS
    try:
        path = models.download_english_model(dest, url=url)
    except models.DownloadError as error:
        print(f"voice-guide: {error}", file=sys.stderr)
        return 1
    print(f"vosk model ready: {path} (from {url})")
    return 0
