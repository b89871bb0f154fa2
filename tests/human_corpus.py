"""The real human recordings of `../shared/corpus` (outside this repository), split by speaker.

Used by the human-speech benchmark, the training script and the tests that need real voices;
the audio is read where it lies and never copied into the repository. The corpus's README says
what is in it: Speech Commands' training split (isolated words: "go" 491 times, a few "stop",
"yes", "no", and other words as negatives), read speech by 87 speakers (talk), noise and room
impulse responses.

Speakers are split by a hash of their id, so no speaker is on both sides: `tune` (about a half)
is what thresholds and training may look at, `validate` is what figures are quoted on.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from voice_guide.commands import Command, parse

CORPUS = Path(os.environ.get("VOICE_GUIDE_CORPUS")
              or Path(__file__).resolve().parents[2] / "shared" / "corpus")
SPLITS = ("tune", "validate", "all")
ABSENT = f"the human speech corpus is not at {CORPUS} (set $VOICE_GUIDE_CORPUS)"


@dataclass(frozen=True)
class Recording:
    path: Path
    kind: str  # "word", "talk", "noise", "rir"
    label: str  # the word said (words), a description (others)
    speaker: str
    seconds: float

    @property
    def command(self) -> Command | None:
        """The command this word is, when it is a phrase of the vocabulary."""
        return parse(self.label) if self.kind == "word" else None

    @property
    def split(self) -> str:
        """`tune` or `validate`, by speaker (recordings with no speaker: by file name)."""
        key = self.speaker or self.path.name
        return "tune" if int(hashlib.sha1(key.encode()).hexdigest(), 16) % 2 == 0 else "validate"


def available() -> bool:
    return (CORPUS / "MANIFEST.tsv").is_file()


def recordings(kind: str | None = None, split: str = "all") -> Iterator[Recording]:
    """The corpus's recordings in manifest order, of one kind and split if asked."""
    with (CORPUS / "MANIFEST.tsv").open(newline="", encoding="utf-8") as manifest:
        for row in csv.DictReader(manifest, delimiter="\t"):
            item = Recording(path=CORPUS / row["path"], kind=row["kind"], label=row["label"],
                             speaker=row["speaker"], seconds=float(row["duration_s"] or 0))
            if kind is not None and item.kind != kind:
                continue
            if split != "all" and item.kind in ("word", "talk") and item.split != split:
                continue
            yield item
