"""Faults during a run: signals, a full disk, unwritable outputs, inputs changing under us."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

NCZ = [sys.executable, "-m", "nacrith.cli"]


def _big_text(path: Path, lines: int = 1_500_000) -> None:
    with path.open("wb") as f:
        for i in range(0, lines, 1000):
            f.write(
                b"".join(
                    b"%d some log line with value %d\n" % (j, j * 7919) for j in range(i, i + 1000)
                )
            )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_signal_mid_compress_leaves_no_output(tmp_path: Path, sig: signal.Signals) -> None:
    src = tmp_path / "big.txt"
    _big_text(src)
    before = src.read_bytes()
    proc = subprocess.Popen(
        [*NCZ, "compress", "-m", "zstd", "-T", "1", "big.txt"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
    )
    time.sleep(1.0)
    assert proc.poll() is None, "compression finished before the signal; make the input larger"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.txt"]
    assert src.read_bytes() == before
    assert b"Traceback" not in err


def test_unwritable_directory(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root ignores directory permissions")
    (tmp_path / "a.txt").write_bytes(b"data")
    (tmp_path / "ro").mkdir()
    os.chmod(tmp_path / "ro", 0o500)
    r = subprocess.run(
        [*NCZ, "compress", "-m", "zstd", "-o", "ro/a.ncz", "a.txt"],
        cwd=tmp_path,
        capture_output=True,
    )
    assert r.returncode == 1 and b"Permission denied" in r.stderr


def test_missing_output_directory(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"data")
    r = subprocess.run(
        [*NCZ, "compress", "-m", "zstd", "-o", "nodir/a.ncz", "a.txt"],
        cwd=tmp_path,
        capture_output=True,
    )
    assert r.returncode == 1
    assert r.stderr.decode().startswith("ncz: a.txt: No such file or directory")


def test_disk_full(tmp_path: Path) -> None:
    full = Path("/dev/full")
    if not full.exists():
        pytest.skip("/dev/full is not available")
    (tmp_path / "a.txt").write_bytes(os.urandom(200_000))
    with full.open("wb") as sink:
        r = subprocess.run(
            [*NCZ, "compress", "-m", "zstd", "-c", "-f", "a.txt"],
            cwd=tmp_path,
            stdout=sink,
            stderr=subprocess.PIPE,
        )
    assert r.returncode == 1
    assert b"No space left on device" in r.stderr
    assert b"Traceback" not in r.stderr
