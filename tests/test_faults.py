"""Faults during a run: signals, a full disk, unwritable outputs, inputs changing under us."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import nacrith
import nacrith.cli
import nacrith.cli.inputs
from tests.child import default_signals

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
        preexec_fn=default_signals,
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
    assert r.stderr.decode().startswith("ncz: nodir/a.ncz: No such file or directory")


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


# --- signals while the output is half written -----------------------------------------------


@pytest.fixture(scope="module")
def big_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 65 MB text file and its `stored` archive (both quick to write and to decode)."""
    folder = tmp_path_factory.mktemp("big")
    text = folder / "big.txt"
    _big_text(text)
    archive = folder / "big.txt.ncz"
    with text.open("rb") as src, archive.open("wb") as dst:
        nacrith.Compressor("stored", workers=1).compress_stream(src, dst, text.stat().st_size)
    return text, archive


def _unnamed_output(pid: int, directory: Path) -> Path | None:
    """The /proc link of an unnamed (O_TMPFILE) file that `pid` has open in `directory`."""
    try:
        for link in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(link)
                if target.startswith(f"{directory}/#") and target.endswith(" (deleted)"):
                    return link
    except OSError:
        pass
    return None


def _signal_when_written(proc: subprocess.Popen, directory: Path, sig: int, size: int) -> None:
    """Send `sig` once the process's unnamed output holds at least `size` bytes."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        link = _unnamed_output(proc.pid, directory)
        with contextlib.suppress(OSError):
            if link is not None and os.stat(link).st_size >= size:
                proc.send_signal(sig)
                return
        time.sleep(0.001)
    pytest.fail("the command finished before its output was half written")


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
@pytest.mark.parametrize("command", ["compress", "decompress"])
def test_signal_with_output_half_written(
    tmp_path: Path, big_pair: tuple[Path, Path], command: str, sig: signal.Signals
) -> None:
    """The output is an unnamed file until it is complete: a signal leaves nothing behind."""
    source = big_pair[0] if command == "compress" else big_pair[1]
    name = source.name
    os.link(source, tmp_path / name)  # same bytes, no copy
    args = ["-m", "stored"] if command == "compress" else []
    proc = subprocess.Popen(
        [*NCZ, command, *args, "-T", "1", name],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        preexec_fn=default_signals,
    )
    try:
        _signal_when_written(proc, tmp_path, sig, 8 << 20)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    if sig == signal.SIGINT:
        # click starts a new line after a terminal's ^C
        assert (proc.returncode, err) == (130, b"\nncz: interrupted\n")
    else:
        assert proc.returncode == -sig and b"Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    assert (tmp_path / name).stat().st_size == source.stat().st_size
    assert (tmp_path / name).stat().st_mtime_ns == source.stat().st_mtime_ns


# --- file size limit (a quota), unwritable and missing directories ------------------------


def _limit_file_size(limit: int) -> Callable[[], None]:
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.parametrize("command", ["compress", "decompress"])
def test_file_size_limit(tmp_path: Path, command: str) -> None:
    """RLIMIT_FSIZE (like a quota) stops the write: a one-line error, nothing left."""
    if command == "compress":
        name, args, output = "a.bin", ["-m", "zstd"], "a.bin.ncz"
        (tmp_path / name).write_bytes(os.urandom(1 << 20))
    else:
        name, args, output = "a.bin.ncz", [], "a.bin"
        data = b"".join(b"line %d of a file larger than the limit\n" % i for i in range(30_000))
        (tmp_path / name).write_bytes(nacrith.compress(data, method="zstd"))
        assert (tmp_path / name).stat().st_size < 200_000
    before = sorted(p.name for p in tmp_path.iterdir())
    r = subprocess.run(
        [*NCZ, command, *args, "-T", "1", name],
        cwd=tmp_path,
        capture_output=True,
        preexec_fn=_limit_file_size(200_000),
    )
    assert (r.returncode, r.stderr) == (1, f"ncz: {output}: File too large\n".encode())
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@contextlib.contextmanager
def _unwritable(directory: Path) -> Iterator[str]:
    """Make `directory` refuse new files, also for root (immutable attribute); yield the
    error message expected. Skips when neither works here."""
    if os.geteuid() != 0:
        os.chmod(directory, 0o555)
        try:
            yield "Permission denied"
        finally:
            os.chmod(directory, 0o755)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", directory]).returncode != 0:
        pytest.skip("running as root, and the immutable attribute is not available")
    try:
        yield "Operation not permitted"
    finally:
        subprocess.run([chattr, "-i", directory], check=True)


@pytest.mark.parametrize("command", ["compress", "decompress"])
def test_read_only_output_directory(tmp_path: Path, command: str) -> None:
    """An output directory that refuses new files: a one-line error, the input kept."""
    out = tmp_path / "ro"
    out.mkdir()
    if command == "compress":
        name, args = "a.txt", ["-m", "zstd"]
        (tmp_path / name).write_bytes(b"some data\n" * 100)
    else:
        name, args = "a.txt.ncz", []
        (tmp_path / name).write_bytes(nacrith.compress(b"some data\n" * 100, method="zstd"))
    before = (tmp_path / name).read_bytes()
    with _unwritable(out) as message:
        r = subprocess.run(
            [*NCZ, command, *args, "-o", "ro/a", name], cwd=tmp_path, capture_output=True
        )
        assert list(out.iterdir()) == []
    assert (r.returncode, r.stderr.decode()) == (1, f"ncz: ro/a: {message}\n")
    assert (tmp_path / name).read_bytes() == before


def test_missing_output_directory_decompress(tmp_path: Path) -> None:
    (tmp_path / "a.ncz").write_bytes(nacrith.compress(b"data", method="zstd"))
    r = subprocess.run(
        [*NCZ, "decompress", "-o", "nodir/a", "a.ncz"], cwd=tmp_path, capture_output=True
    )
    assert (r.returncode, r.stderr) == (1, b"ncz: nodir/a: No such file or directory\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ncz"]


# --- an input that changes while it is read ------------------------------------------------


class _Changing:
    """Wraps the CLI's input handle: after `after` bytes were read, `change` the file once."""

    def __init__(self, handle, after: int, change: Callable[[], None]) -> None:
        self.handle, self.after, self.change, self.done = handle, after, change, 0

    def read(self, n: int = -1) -> bytes:
        if self.change is not None and self.done >= self.after:
            self.change()
            self.change = None
        data = self.handle.read(n if n < 0 or self.change is None else min(n, self.after))
        self.done += len(data)
        return data

    def __getattr__(self, name: str):
        return getattr(self.handle, name)


def _grow(path: Path) -> Callable[[], None]:
    return lambda: path.open("ab").write(b"appended while compressing\n" * 1000)


def _shrink_to(path: Path, size: int) -> Callable[[], None]:
    return lambda: os.truncate(path, size)


@pytest.mark.parametrize("to_stdout", [False, True], ids=["file", "stdout"])
@pytest.mark.parametrize(
    "how", ["grow", "shrink below what was read", "shrink above what was read"]
)
@pytest.mark.parametrize("workers", [1, 2])
def test_input_changing_while_read(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
    how: str,
    to_stdout: bool,
    workers: int,
) -> None:
    """A file that grows or shrinks under `ncz compress`: a clear error and no archive (on
    stdout, an archive without its end record, which no decoder accepts)."""
    monkeypatch.chdir(tmp_path)
    src = tmp_path / "a.txt"
    src.write_bytes(b"".join(b"record %d of the original file\n" % i for i in range(10_000)))
    size = src.stat().st_size
    change = {
        "grow": _grow(src),
        "shrink below what was read": _shrink_to(src, 1000),
        "shrink above what was read": _shrink_to(src, 200_000),
    }[how]
    real_open = nacrith.cli.inputs.open_input

    def open_changing(*args, **kwargs):
        opened = real_open(*args, **kwargs)
        return dataclasses.replace(opened, handle=_Changing(opened.handle, 100_000, change))

    monkeypatch.setattr(nacrith.cli.inputs, "open_input", open_changing)
    args = ["compress", "-m", "zstd", "-T", str(workers)] + (["-c", "-f"] if to_stdout else [])
    status = nacrith.cli.main([*args, "--", "a.txt"])
    out, err = capsysbinary.readouterr()
    assert status == 1
    assert err.startswith(b"ncz: a.txt: changed while being read (%d bytes when opened" % size)
    assert err.count(b"\n") == 1 and err.endswith(b") -- not compressed\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    if to_stdout:
        with pytest.raises(nacrith.NacrithError, match=r"ended before|empty input is not"):
            nacrith.decompress(out)
    else:
        assert out == b""
