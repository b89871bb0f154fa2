"""`voice-guide profiles`: list the speaker profiles (phrases, takes, date), or delete one."""

from __future__ import annotations

import argparse
import json

HELP = "list the speaker profiles made by `voice-guide enroll`, or delete one (--delete NAME)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--delete", metavar="NAME", help="remove this profile")
    parser.add_argument("--json", action="store_true", help="one JSON object per profile")


def run(args: argparse.Namespace) -> int:
    from voice_guide.cli import fail
    from voice_guide.listen.profile import (
        Profile,
        ProfileError,
        delete_profile,
        list_profiles,
        profiles_dir,
    )

    if args.delete is not None:
        try:
            folder = delete_profile(args.delete)
        except ProfileError as error:
            return fail(str(error))
        print(f"deleted profile {args.delete!r} ({folder})")
        return 0
    found = list_profiles()
    if not found and not args.json:
        print(f"no profiles in {profiles_dir()} (voice-guide enroll makes one)")
    for item in found:
        if isinstance(item, Profile):
            takes = {p: len(t) for p, t in item.templates.items()}
            if args.json:
                print(json.dumps({"name": item.name, "phrases": takes, "takes": item.takes,
                                  "created": item.created, "updated": item.updated}))
            else:
                print(f"{item.name:<16} {_count(len(takes), 'phrase')}  "
                      f"{_count(item.takes, 'take')}  "
                      f"updated {item.updated[:16].replace('T', ' ')}  "
                      + ", ".join(f"{p} ({n})" for p, n in takes.items()))
        else:
            name, problem = item
            if args.json:
                print(json.dumps({"name": name, "problem": problem}))
            else:
                print(f"{name:<16} cannot be read: {problem}")
    return 0


def _count(n: int, noun: str) -> str:
    return f"{n:3d} {noun}" + ("s" if n != 1 else " ")
