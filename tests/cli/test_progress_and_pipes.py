"""Progress, estimates and closed pipes (safety issue, item 11), with real subprocesses,
real pipes, a real terminal (pty) and real signals."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
from pathlib import Path

import pytest

import nacrith
from nacrith.cli.progress import pipe_reader_gone
from tests.child import default_signals
from tests.cli.ncz import NCZ
from tests.paths import CANTERBURY

BIG = os.urandom(3 << 20) + bytes(6 << 20)


def _stop_reading_after_one_byte(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run ncz ARGS with stdout a pipe; read one byte, close the pipe, wait for the exit."""
    proc = subprocess.Popen(
        [*NCZ, *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=None if env is None else {**os.environ, **env},
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.read(1)
    proc.stdout.close()
    stderr = proc.stderr.read()
    proc.wait(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, first, stderr)


@pytest.mark.parametrize("command", ["compress", "decompress"])
def test_closed_pipe_ends_quietly_as_gzip_does(tmp_path: Path, command: str) -> None:
    (tmp_path / "big").write_bytes(BIG)
    (tmp_path / "big.ncz").write_bytes(nacrith.compress(BIG, method="zstd", chunk_size=1 << 20))
    args = ["-1", "-c", "big"] if command == "compress" else ["-dc", "big.ncz"]
    r = _stop_reading_after_one_byte(args, tmp_path)
    assert r.stdout != b""  # output started before the end of the input
    assert r.returncode == 141  # what a shell reports for gzip killed by SIGPIPE
    assert r.stderr == b""


@pytest.mark.parametrize("unbuffered", ["", "1"])
def test_a_partial_write_is_never_dropped(tmp_path: Path, unbuffered: str) -> None:
    """Unbuffered stdout (PYTHONUNBUFFERED, python -u) takes part of a big write when the reader
    leaves: the rest must be written (and fail), never dropped with status 0. A long-range
    member writes its whole content at once."""
    data = os.urandom(1 << 20) + bytes(5 << 20)
    (tmp_path / "far.ncz").write_bytes(nacrith.compress(data, method="zstd", chunk_size=1 << 20))
    r = _stop_reading_after_one_byte(["-dc", "far.ncz"], tmp_path, {"PYTHONUNBUFFERED": unbuffered})
    assert r.stdout == data[:1]
    assert r.returncode == 141, r.stderr
    assert r.stderr == b""


def test_pipe_reader_gone_sees_a_closed_reading_end() -> None:
    read_end, write_end = os.pipe()
    try:
        assert not pipe_reader_gone(write_end)
        os.close(read_end)
        assert pipe_reader_gone(write_end)
    finally:
        os.close(write_end)


def _alice(folder: Path, size: int) -> Path:
    path = folder / "alice.txt"
    path.write_bytes((CANTERBURY / "alice29.txt").read_bytes()[:size])
    return path


@pytest.mark.llm
def test_bar_moves_with_tokens_before_the_chunk_ends(tmp_path: Path) -> None:
    """One small chunk: the bar shows percentages between 0 and 100 while it is coded."""
    _alice(tmp_path, 400)
    leader, follower = pty.openpty()
    # a terminal of 24 rows and 100 columns (a new pty has none, and tqdm then draws nothing)
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        proc = subprocess.Popen(
            [*NCZ, "compress", "-m", "llm", "-c", "alice.txt"],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=follower,
            env=dict(os.environ, COLUMNS="100"),
        )
        os.close(follower)
        seen = b""
        while True:
            ready, _, _ = select.select([leader], [], [], 300)
            assert ready, "no output from ncz"
            try:
                block = os.read(leader, 4096)
            except OSError:  # the terminal closed: the process ended
                break
            if not block:
                break
            seen += block
        assert proc.wait(timeout=300) == 0
    finally:
        os.close(leader)
    percents = {int(p) for p in re.findall(rb"(\d+)%", seen)}
    assert any(0 < p < 100 for p in percents), seen[-2000:]


@pytest.mark.llm
def test_estimate_before_a_long_job_then_ctrl_c(tmp_path: Path) -> None:
    """-v prints one line with the estimate and the fast alternative; SIGINT ends the run."""
    _alice(tmp_path, 40_000)
    proc = subprocess.Popen(
        [*NCZ, "-v", "alice.txt"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=default_signals,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    proc.send_signal(signal.SIGINT)
    rest = proc.stderr.read()
    status = proc.wait(timeout=120)
    assert re.match(rb"ncz: alice.txt: about [\d.]+ (minutes|hours) to go at .* KiB/s; -1", line)
    assert b"--fast" in line
    assert status == 130 and b"interrupted" in rest
    assert not (tmp_path / "alice.txt.ncz").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alice.txt"]
