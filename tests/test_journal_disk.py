"""A session whose disk fails under it: `voice-guide run --text` on a real, tiny tmpfs.

The journal's file system is filled (or mounted read-only) while the session runs. The session
must go on (exit 0, no traceback), say once that the journal cannot be written, keep its records
in memory, and write them all, after a `journal_gap` record, as soon as the disk takes them again.
Mounting needs root (CAP_SYS_ADMIN): elsewhere these tests skip, saying so.
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_helpers import REPO, live_env

from voice_guide.journal import JournalWriter, read_journal

PROTOCOL = """\
name: Disk routine
opening: Tell me if anything feels wrong.
stations:
  head:
    announce: Stand at the head of the table.
checkins:
  question: How is the pressure?
  every_minutes: 60
  answer_seconds: 8
rest:
  seconds: 60
  say: Relax now.
  closing: Offer a glass of water.
steps:
  - number: 1
    station: head
    title: Opening hold
    say: Rest your hands on the back.
    seconds: 600
  - number: 2
    station: head
    title: Knead the shoulder
    say: Knead the shoulder top.
    seconds: 600
"""
FIRST = "Rest your hands on the back."  # what step 1 says: the session is under way
SECOND = "Knead the shoulder top."
FAILED = "cannot write the journal"
SPOKEN = "[practitioner] The session journal cannot be saved"
AGAIN = "is written again"


def mount_tmpfs(where: Path, options: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")


@contextlib.contextmanager
def tmpfs(where: Path, options: str) -> Iterator[Path]:
    mount_tmpfs(where, options)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(filesystem: Path) -> Path:
    """Fill `filesystem` up; the filler file, to delete to free the space again."""
    filler = filesystem / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, b"x" * 512)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


class Session:
    """`voice-guide run --text` as a real process, typed to line by line, its output read as it
    comes (so a test can wait for a message while the session keeps running)."""

    def __init__(self, journal: Path, tmp_path: Path) -> None:
        protocol = tmp_path / "protocol.yaml"
        protocol.write_text(PROTOCOL)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "voice_guide", "run", str(protocol), "--text", "--silent",
             "--skip-prep", "--journal", str(journal)],
            cwd=REPO, env=live_env(tmp_path), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._lines: queue.Queue[str] = queue.Queue()
        for stream, into in ((self.process.stdout, self.out), (self.process.stderr, self.err)):
            threading.Thread(target=self._pump, args=(stream, into), daemon=True).start()
        self.typed = 0

    def _pump(self, stream: object, into: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            into.append(line)
            self._lines.put(line)

    def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        self.typed += 1

    def wait_for(self, text: str, timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.out + self.err):
            if time.monotonic() > deadline or self.process.poll() is not None:
                return any(text in line for line in self.out + self.err)
            time.sleep(0.02)
        return True

    def type_until(self, phrase: str, text: str, most: int = 200) -> None:
        """Type `phrase` until `text` shows (the journal's last page fills a record at a time)."""
        for _ in range(most):
            self.type(phrase)
            if self.wait_for(text, timeout=0.3):
                return
        raise AssertionError(f"{text!r} never came; stderr: {''.join(self.err)}")

    def finish(self) -> int:
        assert self.process.stdin is not None
        self.process.stdin.close()
        code = self.process.wait(timeout=30)
        time.sleep(0.1)  # the pump threads read the last lines
        return code

    @property
    def stderr(self) -> str:
        return "".join(self.err)

    @property
    def stdout(self) -> str:
        return "".join(self.out)


def heard(journal: Path) -> list[str]:
    return [r["phrase"] for r in read_journal(journal, warn=False).records if r["type"] == "heard"]


def test_a_full_disk_mid_session_holds_the_records_and_writes_them_when_space_returns(
    tmp_path: Path,
) -> None:
    with tmpfs(tmp_path / "disk", "size=12k") as disk:
        journal = disk / "j.jsonl"
        session = Session(journal, tmp_path)
        try:
            assert session.wait_for(FIRST), session.stderr
            filler = fill(disk)
            session.type_until("where am i", FAILED)
            session.type("how long")  # the session goes on
            time.sleep(0.3)
            assert session.process.poll() is None
            filler.unlink()
            session.type_until("repeat", AGAIN, most=5)  # the next write catches up
            session.type("next")
            assert session.wait_for(SECOND)
        finally:
            code = session.finish()
        assert code == 0, session.stderr
        assert "Traceback" not in session.stderr
        [failed] = [line for line in session.err if FAILED in line]
        assert failed.startswith(f"voice-guide: cannot write the journal {journal} "
                                 "(No space left on device): the session goes on")
        assert session.stdout.count(SPOKEN) == 1  # said once, on the practitioner route
        records = read_journal(journal, warn=False).records
        [gap] = [r for r in records if r["type"] == "journal_gap"]
        assert gap["held"] >= 1 and gap["reason"] == "No space left on device"
        assert gap["from"] <= gap["to"]
        assert len(heard(journal)) == session.typed  # every typed command, none twice
        assert records[-1]["type"] == "exit"
        times = [r["t"] for r in records]
        assert times == sorted(times)
        resumed = subprocess.run(
            [sys.executable, "-m", "voice_guide", "run", "--text", "--silent", "--resume",
             "--journal", str(journal)],
            cwd=REPO, input="", capture_output=True, text=True, timeout=60,
        )
        assert resumed.returncode == 0, resumed.stderr
        assert "Knead the shoulder" in resumed.stdout  # at step 2: the late records count


def test_a_disk_still_full_at_the_end_says_what_was_lost_and_exits_0(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "size=12k") as disk:
        journal = disk / "j.jsonl"
        session = Session(journal, tmp_path)
        try:
            assert session.wait_for(FIRST), session.stderr
            fill(disk)
            session.type_until("where am i", FAILED)
        finally:
            code = session.finish()
        assert code == 0, session.stderr
        assert "Traceback" not in session.stderr
        assert "journal records could not be written to" in session.stderr
        assert "this session cannot be resumed" in session.stderr
        assert read_journal(journal, warn=False).warnings == ()  # no torn line left behind


def test_a_read_only_disk_at_the_start_runs_the_session_and_journals_once_writable(
    tmp_path: Path,
) -> None:
    with tmpfs(tmp_path / "disk", "ro,size=64k") as disk:
        journal = disk / "j.jsonl"
        session = Session(journal, tmp_path)
        try:
            assert session.wait_for(FAILED), session.stderr
            session.type("where am i")
            time.sleep(0.3)
            assert session.process.poll() is None  # the session goes on
            assert not journal.exists()
            remount = subprocess.run(["mount", "-o", "remount,rw", str(disk)],
                                     capture_output=True, text=True)
            assert remount.returncode == 0, remount.stderr
            session.type_until("how long", AGAIN, most=5)
        finally:
            code = session.finish()
        assert code == 0, session.stderr
        assert "(Read-only file system): the session goes on" in session.stderr
        assert session.stdout.count(SPOKEN) == 1
        journal_read = read_journal(journal, warn=False)
        assert journal_read.header is not None  # the header is still the first line
        assert journal.read_text().splitlines()[0].startswith('{"t":0.0,"type":"session"')
        assert journal_read.records[0]["type"] == "journal_gap"
        assert journal_read.records[0]["reason"] == "Read-only file system"
        assert len(heard(journal)) == session.typed


def test_the_writer_holds_what_a_full_disk_refuses_and_writes_it_after_a_gap_record(
    tmp_path: Path,
) -> None:
    with tmpfs(tmp_path / "disk", "size=12k") as disk:
        path = disk / "j.jsonl"
        writer = JournalWriter.create(path, {"t": 0.0, "type": "session", "id": "x"})
        filler = fill(disk)
        notices = [writer.write({"t": float(i), "type": "clock", "pad": "p" * 200})
                   for i in range(1, 40)]
        failed = [n for n in notices if n is not None]
        assert len(failed) == 1 and "(No space left on device)" in failed[0].line
        assert failed[0].speech  # the first outage is for the practitioner's ear too
        assert writer.held > 0
        on_disk = read_journal(path, warn=False)
        assert on_disk.warnings == ()  # the refused write was cut off, not left torn
        filler.unlink()
        again = writer.write({"t": 40.0, "type": "clock"})
        assert again is not None and "is written again" in again.line
        assert writer.held == 0
        assert writer.close() is None
        journal = read_journal(path, warn=False)
        assert [r["t"] for r in journal.records if r["type"] == "clock"] == [
            float(i) for i in range(1, 41)
        ]
        [gap] = [r for r in journal.records if r["type"] == "journal_gap"]
        assert gap["to"] == 39.0 and gap["held"] == 39 - gap["from"] + 1


def test_the_writer_says_what_is_lost_when_the_disk_is_still_full_at_close(
    tmp_path: Path,
) -> None:
    with tmpfs(tmp_path / "disk", "size=12k") as disk:
        writer = JournalWriter.create(disk / "j.jsonl", {"t": 0.0, "type": "session"})
        fill(disk)
        for i in range(1, 40):
            writer.write({"t": float(i), "type": "clock", "pad": "p" * 200})
        held = writer.held
        lost = writer.close()
        assert lost is not None
        assert lost.line.startswith(f"{held} journal records could not be written to ")
        assert writer.write({"t": 41.0, "type": "clock"}) is None  # closed: nothing, no error
