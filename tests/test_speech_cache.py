"""Rendered speech kept on disk (speak/cache.py) and how `Tts` uses it: a hit needs no synthesis,
a damaged file is rendered again, writers never leave a torn file, and a folder that cannot be
written changes nothing but the speed."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

from voice_guide.speak.cache import SUFFIX, SpeechCache, default_folder, speech_key
from voice_guide.speak.speech import Pcm
from voice_guide.speak.tts import Tts, Voice

ESPEAK = Voice("en-us")
TEXTS = ["Resuming.", "Paused. Say resume when ready."]


def pcm_of(length: int, seed: int = 0) -> Pcm:
    samples = np.random.default_rng(seed).integers(-20000, 20000, length).astype(np.int16)
    return Pcm(samples, 22050)


def files(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"*{SUFFIX}"))


def test_a_stored_text_is_read_back_whole_and_an_unknown_one_is_a_miss(tmp_path: Path) -> None:
    store = SpeechCache(tmp_path / "speech")
    pcm = pcm_of(5000)
    assert store.get("a" * 64) is None  # nothing there yet, not even the folder
    assert store.put("a" * 64, pcm)
    back = store.get("a" * 64)
    assert back is not None and back.rate == 22050
    assert np.array_equal(back.samples, pcm.samples)
    assert store.get("b" * 64) is None
    assert (tmp_path / "speech").stat().st_mode & 0o777 == 0o700


def test_the_key_changes_with_every_setting_that_changes_the_samples() -> None:
    base = ("hibari heart 1", "heart", 138, 0, 0.9, "Resuming.")
    keys = {speech_key(*base)}
    for position, other in ((0, "hibari heart 2"), (1, "en-us"), (2, 150), (3, 40),
                            (4, 0.5), (5, "Paused.")):
        changed = list(base)
        changed[position] = other
        keys.add(speech_key(*changed))  # type: ignore[arg-type]
    assert len(keys) == 7


def test_the_folder_is_under_xdg_cache_home_else_the_home_cache(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XDG_CACHE_HOME", "/var/tmp/somewhere")
    assert default_folder() == Path("/var/tmp/somewhere/voice-guide/speech")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # the spec: absolute paths only
    assert default_folder() == Path.home() / ".cache" / "voice-guide" / "speech"


def test_a_damaged_file_is_a_miss_and_tts_renders_and_rewrites_it(tmp_path: Path) -> None:
    folder = tmp_path / "speech"
    first = Tts(ESPEAK, store=SpeechCache(folder))
    first.render_ahead(TEXTS)
    assert first.wait_ahead(60)
    [short, long] = sorted(files(folder), key=lambda path: path.stat().st_size)
    short.write_bytes(short.read_bytes()[: short.stat().st_size // 2])  # cut off
    flipped = bytearray(long.read_bytes())
    flipped[len(flipped) // 2] ^= 0xFF  # one damaged sample: the CRC tells
    long.write_bytes(bytes(flipped))
    damaged = {path: path.read_bytes() for path in (short, long)}
    store = SpeechCache(folder)
    assert all(store.get(path.stem) is None for path in (short, long))
    again = Tts(ESPEAK, store=store)
    again.render_ahead(TEXTS)
    assert again.wait_ahead(60)
    for path in (short, long):  # rendered again and rewritten whole
        assert path.read_bytes() != damaged[path]
        assert store.get(path.stem) is not None
    for text in TEXTS:
        assert abs(again.render(text).duration - first.render(text).duration) < 0.05


def test_concurrent_writers_never_leave_a_torn_file(tmp_path: Path) -> None:
    """Writers of one key (two guides starting at once) and a reader: every read is a whole
    file of one writer or a miss, the last file is whole, no temporary file is left."""
    store = SpeechCache(tmp_path / "speech")
    versions = [pcm_of(200_000, seed) for seed in range(4)]
    seen: list[int] = []
    done = threading.Event()

    def write(pcm: Pcm) -> None:
        for _ in range(15):
            assert store.put("k" * 64, pcm)

    def read() -> None:
        while not done.is_set():
            got = store.get("k" * 64)
            if got is not None:
                matches = [i for i, v in enumerate(versions)
                           if np.array_equal(v.samples, got.samples)]
                assert len(matches) == 1
                seen.append(matches[0])

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=write, args=(pcm,)) for pcm in versions]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    reader.join()
    assert seen, "the reader never saw a file"
    assert store.get("k" * 64) is not None
    assert [path.name for path in (tmp_path / "speech").iterdir()] == [f"{'k' * 64}{SUFFIX}"]


def test_a_folder_that_cannot_be_written_only_means_nothing_is_kept(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("in the way")  # the folder would be under a file: it cannot be made
    store = SpeechCache(blocked / "speech")
    assert store.get("a" * 64) is None
    assert not store.put("a" * 64, pcm_of(100))
    speech = Tts(ESPEAK, store=store)
    speech.render_ahead(TEXTS)
    assert speech.wait_ahead(60)
    assert speech.render(TEXTS[0]).duration > 0.3
    assert store.size() == 0


def test_only_the_texts_rendered_ahead_are_kept(tmp_path: Path) -> None:
    """A sentence made up during a session (the summary names what the client asked for) stays
    in memory; the known texts go to disk, also when one is asked for before its turn."""
    folder = tmp_path / "speech"
    speech = Tts(ESPEAK, store=SpeechCache(folder))
    speech.render("The client asked for: firmer.")
    assert files(folder) == []
    speech.render_ahead(TEXTS[1:])  # registered at once: rendering it now keeps it
    speech.render(TEXTS[1])
    assert speech.wait_ahead(60)
    assert len(files(folder)) == 1


def test_the_size_is_bounded_by_removing_the_least_recently_used(tmp_path: Path) -> None:
    one = len(pcm_of(10_000).samples) * 2 + 22  # header and samples
    store = SpeechCache(tmp_path / "speech", max_bytes=3 * one, keep_bytes=2 * one)
    for number in range(3):
        store.put(f"{number:064d}", pcm_of(10_000, number))
        os.utime(store.folder / f"{number:064d}{SUFFIX}", (1000 + number, 1000 + number))
    assert store.get(f"{0:064d}") is not None  # used now: the most recent
    store.put(f"{3:064d}", pcm_of(10_000, 3))  # over the bound: pruned down to two files
    kept = {path.stem for path in files(store.folder)}
    assert kept == {f"{0:064d}", f"{3:064d}"}
    assert store.size() <= 2 * one


def test_a_warm_store_speaks_the_natural_voice_without_loading_it(tmp_path: Path) -> None:
    """The point of the store: on the next start the known texts come from disk, and neither
    onnxruntime nor hibari's model is loaded."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from voice_guide.speak import natural\n"
        "from voice_guide.speak.cache import SpeechCache\n"
        "from voice_guide.speak.tts import Tts\n"
        f"speech = Tts(store=SpeechCache(Path({str(tmp_path)!r})))\n"
        "print(speech.load())\n"
        f"speech.render_ahead({TEXTS!r}); speech.wait_ahead(120)\n"
        f"print(sum(len(speech.render(t).samples) for t in {TEXTS!r}))\n"
        "print(natural.ENGINE.loaded, 'onnxruntime' in sys.modules)\n"
    )

    def run() -> list[str]:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=180)
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    cold = run()
    assert cold[0].startswith("voice: heart (natural")
    assert cold[2] == "True True"
    warm = run()
    assert warm[0] == cold[0] and warm[1] == cold[1]  # the same speech, sample for sample
    assert warm[2] == "False False"


def test_stored_speech_is_read_from_disk_when_said_not_held_in_memory(tmp_path: Path) -> None:
    """The protocol's speech is tens of MB: a stored text is read back each time it is said,
    so a file removed mid-session is simply rendered (and stored) again."""
    folder = tmp_path / "speech"
    speech = Tts(ESPEAK, store=SpeechCache(folder))
    speech.render_ahead(TEXTS[:1])
    assert speech.wait_ahead(60) and speech.cached(TEXTS[0])
    [path] = files(folder)
    path.unlink()
    assert speech.render(TEXTS[0]).duration > 0.3
    assert path.exists()
