"""SIGKILL during `LogArchive` appends: nothing acknowledged is lost, the archive stays usable.

A helper process imports `nacrith.logs` once and forks one appender per round (so a round costs
milliseconds, not an interpreter start). The appender adds chunks to one archive in a loop and
acknowledges each on stdout only after `flush()` returned; the test SIGKILLs it at a random
moment, then checks that the archive holds exactly the chunks written so far: every
acknowledged one, plus at most the one being acknowledged when the signal came.
"""

from __future__ import annotations

import io
import os
import random
import select
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest
from filelock import FileLock

import nacrith
from nacrith.errors import TruncatedError
from nacrith.logs import LogArchive, lock_path

KILLS = 50

# Shared by the test and the helper: the bytes of chunk `i` of round `r`.
CHUNK_SOURCE = r"""
import random

def chunk(r, i):
    rng = random.Random(r * 1_000_003 + i)
    n = rng.choice([1, 2, 5, 10, 30, 60, 200, 1000])
    lines = []
    for j in range(n):
        kind = rng.random()
        if kind < 0.8:
            lines.append(b"2024-05-%02d %02d:%02d:%02d host%d sshd[%d]: Accepted publickey for "
                         b"user%d from 10.0.%d.%d port %d ssh2 %x" % (
                             1 + r % 28, j % 24, j % 60, i % 60, rng.randrange(9),
                             rng.randrange(99999), rng.randrange(500), rng.randrange(256),
                             rng.randrange(256), rng.randrange(65536), rng.getrandbits(48)))
        elif kind < 0.95:
            lines.append(b"round %d chunk %d line %d \xff\xc0\x00\x1d odd \t bytes" % (r, i, j))
        else:
            lines.append(rng.randbytes(rng.randrange(200)).replace(b"\n", b" "))
    return b"\n".join(lines) + b"\n"
"""

HELPER = (
    CHUNK_SOURCE
    + r"""
import os, sys, traceback
from nacrith.logs import LogArchive

path = sys.argv[1]
for command in sys.stdin.buffer:
    word, _, arg = command.strip().partition(b" ")
    if word == b"go":
        r = int(arg)
        pid = os.fork()
        if pid == 0:
            try:
                archive = LogArchive(path, "a", chunk_bytes=1 << 30)
                os.write(1, b"ready\n")
                for i in range(1_000_000):
                    archive.write(chunk(r, i))
                    archive.flush()
                    os.write(1, b"ack %d\n" % i)
            except BaseException:
                traceback.print_exc()
            os._exit(3)
        os.write(1, b"pid %d\n" % pid)
    elif word == b"wait":
        _, status = os.waitpid(pid, 0)
        os.write(1, b"dead %d\n" % status)
"""
)

_namespace: dict = {}
exec(CHUNK_SOURCE, _namespace)
chunk = _namespace["chunk"]


class _Lines:
    """Reads lines from a pipe with a deadline, so a hung helper fails the test."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = b""

    def next(self, timeout: float = 30.0) -> bytes:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise AssertionError("the append helper stopped answering")
            data = os.read(self.fd, 65536)
            if not data:
                raise AssertionError("the append helper exited")
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\n")
        return line


def _decode_prefix(archive: bytes) -> bytes:
    """What a reader gets from `archive` before a torn last member (nothing else may fail)."""
    out = io.BytesIO()
    try:
        nacrith.Decompressor(workers=1).decompress_stream(io.BytesIO(archive), out)
    except TruncatedError:
        pass
    return out.getvalue()


def test_sigkill_during_appends_loses_nothing_acknowledged(tmp_path: Path) -> None:
    path = tmp_path / "app.log.ncz"
    rng = random.Random(20240501)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    with (tmp_path / "helper.err").open("wb") as err:
        helper = subprocess.Popen(
            [sys.executable, "-c", HELPER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            env=env,
        )
    assert helper.stdin is not None and helper.stdout is not None
    out = _Lines(helper.stdout.fileno())
    content = b""  # what the archive must hold after the rounds so far
    verified = b""  # the archive's bytes after the last round
    acknowledged = unacknowledged_kept = torn = mid_loop = 0
    try:
        for r in range(KILLS):
            helper.stdin.write(b"go %d\n" % r)
            helper.stdin.flush()
            pid = None
            ready = False
            while pid is None or not ready:
                line = out.next()
                if line.startswith(b"pid "):
                    pid = int(line[4:])
                else:
                    assert line == b"ready", line
                    ready = True
            # Mostly mid-loop; sometimes right away (the first append in flight).
            time.sleep(rng.choice([0.0, rng.uniform(0, 0.02), *[rng.uniform(0.02, 0.25)] * 2]))
            os.kill(pid, signal.SIGKILL)
            helper.stdin.write(b"wait\n")
            helper.stdin.flush()
            acks = []
            while not (line := out.next()).startswith(b"dead "):
                assert line == b"ack %d" % len(acks), line
                acks.append(line)
            status = int(line[5:])
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status

            done = len(acks)
            acknowledged += done
            mid_loop += done > 0
            new = b"".join(chunk(r, i) for i in range(done))
            with_next = new + chunk(r, done)
            # The bytes of earlier rounds are untouched; what follows reads back as the
            # acknowledged chunks, perhaps plus the next one, then at most a torn member.
            data = path.read_bytes()
            assert data.startswith(verified)
            assert _decode_prefix(data[len(verified) :]) in (new, with_next)
            # Appendable: opening for append drops a torn tail, with a warning, and nothing else.
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                LogArchive(path, "a").close()
            assert all("incomplete last chunk" in str(w.message) for w in caught), caught
            torn += bool(caught)
            repaired = path.read_bytes()
            assert data.startswith(repaired) and (caught or repaired == data)
            added = repaired[len(verified) :]
            kept = nacrith.decompress(added) if added else b""
            assert kept in (new, with_next)
            unacknowledged_kept += kept == with_next
            content += kept
            verified = repaired
            if r % 10 == 9:  # the whole archive, through the reading API
                assert LogArchive(path, "r").read() == content
    finally:
        helper.stdin.close()
        helper.wait(timeout=30)
    assert b"Traceback" not in (tmp_path / "helper.err").read_bytes()

    with LogArchive(path, "a") as archive:
        archive.write(b"after the last kill\n")
    content += b"after the last kill\n"
    assert LogArchive(path, "r").read() == content
    assert nacrith.decompress(path.read_bytes()) == content
    assert mid_loop >= KILLS // 2  # most kills landed after some appends, not before them
    print(
        f"{KILLS} SIGKILLs during appends: {acknowledged} chunks acknowledged, 0 lost; "
        f"{unacknowledged_kept} written but not yet acknowledged kept; "
        f"{torn} torn members dropped; archive {path.stat().st_size} bytes"
    )


def test_torn_last_member_at_every_offset(tmp_path: Path) -> None:
    """A crash can cut the last member anywhere: each cut reads back as the earlier chunks
    (the archive API may also give the last chunk when only its end record is missing) and
    opening for append drops exactly the torn member, with a warning."""
    earlier = b"".join(b"2024-05-01 09:00:%02d sshd: line %d\n" % (i, i) for i in range(9))
    last = b"2024-05-01 10:00:00 sshd[7]: late \xff line\n"
    path = tmp_path / "a.ncz"
    with LogArchive(path, "w") as archive:
        archive.write(earlier)
    good = path.read_bytes()
    with LogArchive(path, "a") as archive:
        archive.write(last)
    whole = path.read_bytes()
    assert whole.startswith(good)
    cuts = range(len(good) + 1, len(whole))
    for cut in cuts:
        path.write_bytes(whole[:cut])
        assert _decode_prefix(whole[:cut]) == earlier, cut
        lines = []
        with pytest.raises(TruncatedError, match="ended before"):
            for line in LogArchive(path, "r").lines(binary=True):
                lines.append(line)
        assert b"".join(line + b"\n" for line in lines) in (earlier, earlier + last), cut
        with pytest.warns(RuntimeWarning, match="incomplete last chunk"):
            LogArchive(path, "a").close()
        assert path.read_bytes() == good, cut


def test_opening_for_append_waits_for_a_writer_mid_member(tmp_path: Path) -> None:
    """Another appender holding ``<archive>.lock`` while it writes a member is not a torn
    tail: opening for append must wait for it instead of truncating the member it is
    writing."""
    path = tmp_path / "a.ncz"
    with LogArchive(path, "w") as archive:
        archive.write(chunk(1, 0))
    other = tmp_path / "other.ncz"
    with LogArchive(other, "w") as archive:
        archive.write(chunk(1, 1))
    member = other.read_bytes()
    opened: list[LogArchive] = []
    lock = FileLock(lock_path(path))
    with open(path, "ab") as writer:
        lock.acquire()
        writer.write(member[: len(member) // 2])
        writer.flush()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            opener = threading.Thread(target=lambda: opened.append(LogArchive(path, "a")))
            opener.start()
            opener.join(0.5)
            still_waiting = opener.is_alive()
            writer.write(member[len(member) // 2 :])
            writer.flush()
            os.fsync(writer.fileno())
            lock.release()
            opener.join(30)
    assert still_waiting, "the opener did not wait for the writer's lock"
    assert opened, "opening for append failed"
    with opened[0] as archive:
        archive.write(b"appended after\n")
    assert LogArchive(path, "r").read() == chunk(1, 0) + chunk(1, 1) + b"appended after\n"
