"""Rendered speech kept on disk, so the protocol's texts need no synthesis on the next start.

`SpeechCache(folder)` maps a key (which engine and model, the voice's name, rate, pitch and
volume, the text; see `speech_key`) to one file, `<sha256 of the key>.pcm`, in `folder`
(`default_folder()`: `$XDG_CACHE_HOME/voice-guide/speech`, else `~/.cache/voice-guide/speech`).
A file is a small header (magic, format, sample rate, sample count, CRC-32 of the samples)
and the int16 samples.

It can never stop the guide speaking: a missing folder is made (0700), and one that cannot be
made or written just means nothing is kept (rendered again next time); a file that is missing,
short, too long or fails its CRC is a miss (rendered again and rewritten). Writers write a
private temporary file and rename it over the name, so two processes rendering the same text
never leave a half-written file, and a reader sees a whole old file or a whole new one.

Bounded: after a write, when the folder holds more than `MAX_BYTES`, the least recently used
files are removed (a hit touches its file) down to `KEEP_BYTES`.

Only what the caller chooses is written: the live session stores the texts known before a
session (the protocol's and the guide's fixed sentences), never a sentence made up during it
(the summary names what the client asked for).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np

from voice_guide.speak.speech import Pcm

log = logging.getLogger(__name__)

MAGIC = b"VGSPEECH"
FORMAT = 1
HEADER = struct.Struct("<8sHIII")  # magic, format, sample rate, sample count, CRC-32 of samples
SUFFIX = ".pcm"
# The shipped protocol's known texts take ~53 MB per voice and pace (measured: 25 MB the
# prompts, 16 MB the "where am I" answers, 12 MB the details): room for four such sets.
MAX_BYTES = 256 * 1024 * 1024
KEEP_BYTES = 192 * 1024 * 1024  # pruned down to this, so a prune is not done on every write


def default_folder() -> Path:
    """`$XDG_CACHE_HOME/voice-guide/speech`, or `~/.cache/voice-guide/speech`."""
    base = os.environ.get("XDG_CACHE_HOME") or ""
    root = Path(base) if Path(base).is_absolute() else Path.home() / ".cache"
    return root / "voice-guide" / "speech"


def speech_key(engine: str, voice: str, rate: int, pitch: int, volume: float, text: str) -> str:
    """The name of `text` as rendered by `engine` (its model included) with these settings."""
    key = "\n".join([f"format {FORMAT}", engine, voice, str(rate), str(pitch), f"{volume:.4f}",
                     text])
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class SpeechCache:
    """Rendered speech in `folder`, one file per key. Never raises for a disk problem."""

    def __init__(self, folder: Path | None = None, max_bytes: int = MAX_BYTES,
                 keep_bytes: int = KEEP_BYTES) -> None:
        self.folder = folder if folder is not None else default_folder()
        self.max_bytes = max_bytes
        self.keep_bytes = min(keep_bytes, max_bytes)

    def get(self, key: str) -> Pcm | None:
        """The speech stored under `key`, or None (absent, unreadable or damaged)."""
        path = self._path(key)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        pcm = decode(data)
        if pcm is None:
            log.debug("speech cache: %s is damaged; it will be rendered again", path.name)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: pruned last
        return pcm

    def put(self, key: str, pcm: Pcm) -> bool:
        """Store `pcm` under `key` (atomically); False when it could not be written."""
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle, scratch = tempfile.mkstemp(prefix=".writing-", suffix=SUFFIX,
                                               dir=self.folder)
        except OSError as error:
            log.debug("speech cache: cannot write in %s (%s)", self.folder, error)
            return False
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(encode(pcm))
            os.replace(scratch, self._path(key))
        except OSError as error:
            log.debug("speech cache: cannot write in %s (%s)", self.folder, error)
            with contextlib.suppress(OSError):
                os.unlink(scratch)
            return False
        self.prune()
        return True

    def size(self) -> int:
        """Bytes in the cache's files."""
        return sum(size for _path, size, _used in self._files())

    def prune(self) -> None:
        """Over `max_bytes`: remove the least recently used files down to `keep_bytes`."""
        files = self._files()
        total = sum(size for _path, size, _used in files)
        if total <= self.max_bytes:
            return
        for path, size, _used in sorted(files, key=lambda file: file[2]):
            if total <= self.keep_bytes:
                break
            with contextlib.suppress(OSError):
                path.unlink()
                total -= size

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}{SUFFIX}"

    def _files(self) -> list[tuple[Path, int, float]]:
        """(path, bytes, last used) of each file (a writer's leftover temporary file too: a
        writer killed mid-write leaves one, and it is old by the time it is pruned)."""
        found = []
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return []
        for entry in entries:
            if entry.name.endswith(SUFFIX):
                with contextlib.suppress(OSError):
                    stat = entry.stat()
                    found.append((Path(entry.path), stat.st_size, stat.st_mtime))
        return found


def encode(pcm: Pcm) -> bytes:
    samples = np.asarray(pcm.samples, dtype="<i2").tobytes()
    return HEADER.pack(MAGIC, FORMAT, pcm.rate, len(samples) // 2, zlib.crc32(samples)) + samples


def decode(data: bytes) -> Pcm | None:
    """The `Pcm` in a file's bytes, or None when they are not a whole, intact file."""
    if len(data) < HEADER.size:
        return None
    magic, version, rate, count, crc = HEADER.unpack_from(data)
    samples = data[HEADER.size:]
    if (magic != MAGIC or version != FORMAT or rate <= 0 or len(samples) != 2 * count
            or zlib.crc32(samples) != crc):
        return None
    return Pcm(np.frombuffer(samples, dtype="<i2").astype(np.int16), rate)
