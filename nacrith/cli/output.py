"""Writing the outputs of `ncz`: a complete file or nothing, errors named by the output.

A file output is written to an unnamed temporary file beside it (O_TMPFILE on Linux: a
killed process, even by SIGKILL, leaves nothing behind; elsewhere a hidden temporary file,
removed on any exception), synced, and only then given its name: with no-clobber linking
when the output must not replace anything, else by a rename over the old file. An existing
character device (`-o /dev/null`) is written into in place, never replaced.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from nacrith.cli.report import STDOUT_NAME, FileError, describe

EXISTS = "already exists; not overwritten (use -f to overwrite)"

_AT_FDCWD = -100
_AT_SYMLINK_FOLLOW = 0x400


class OutputSink:
    """A binary writer that names its output in errors and hashes what it writes.

    `streaming`: flush every write, so that a reader (`ncz -dc big.ncz | head`) gets each
    verified chunk as soon as it is written.
    """

    def __init__(self, raw: IO[bytes], name: str, streaming: bool = False) -> None:
        self._raw = raw
        self.name = name
        self.streaming = streaming
        self.hash = hashlib.blake2b(digest_size=16)
        self.size = 0

    def write(self, data: bytes) -> int:
        """Write all of `data`; an OSError becomes a `FileError` naming the output.

        An unbuffered writer (stdout under ``python -u`` or PYTHONUNBUFFERED) may take part of
        `data` (a pipe whose reader left, a signal): the rest is written until all of it is
        taken or the writer raises, never dropped.
        """
        view = memoryview(data).cast("B")
        with named_errors(self.name):
            while view:
                written = self._raw.write(view)
                if written is None:  # a non-blocking writer that took nothing
                    raise BlockingIOError(errno.EAGAIN, "output would block")
                view = view[written:]
            if self.streaming:
                self._raw.flush()
        self.hash.update(data)
        self.size += len(data)
        return len(data)

    def fileno(self) -> int | None:
        """The descriptor written to; None when the writer has none (e.g. captured output)."""
        try:
            return self._raw.fileno()
        except (OSError, ValueError, AttributeError):
            return None

    def flush(self) -> None:
        """Flush the underlying writer (errors named by the output)."""
        with named_errors(self.name):
            self._raw.flush()


@contextlib.contextmanager
def named_errors(name: str) -> Iterator[None]:
    """Turn an OSError into a `FileError` about `name` (a broken pipe stays what it is)."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise FileError(name, describe(exc)) from exc


def stdout_sink() -> OutputSink:
    """Standard output as an `OutputSink`; a `FileError` when it is closed."""
    if sys.stdout is None:
        raise FileError(STDOUT_NAME, "standard output is closed")
    return OutputSink(sys.stdout.buffer, STDOUT_NAME, streaming=True)


def default_mode() -> int:
    """Permission bits of a new file: 0o666 less the umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_file(
    target: Path,
    mode: int | None = None,
    replace: bool = False,
    before_link: Callable[[], None] | None = None,
) -> Iterator[OutputSink]:
    """Yield a sink whose bytes appear at `target` only once the block completes.

    `replace`: rename over an existing `target` (else it must not exist, checked atomically).
    `before_link`: called after the data is synced, just before the file gets its name, to
    check once more that the output may go there. The file gets permission bits `mode`
    exactly, as gzip gives its outputs the input's (default: 0o666 less the umask).
    """
    directory = target.parent
    mode = default_mode() if mode is None else mode
    with named_errors(str(target)):
        fd, tmp_name = _temporary_file(directory, target.name, mode)
    try:
        with os.fdopen(fd, "wb") as raw:
            yield OutputSink(raw, str(target))
            with named_errors(str(target)):
                raw.flush()
                os.fsync(raw.fileno())
                if before_link is not None:
                    before_link()
                _put_in_place(raw.fileno(), tmp_name, target, replace)
    except BaseException:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
        raise


@contextlib.contextmanager
def device_output(target: Path, allow_terminal: bool) -> Iterator[OutputSink]:
    """Yield a sink writing into the existing character device `target` (never replaced).

    A terminal is refused unless `allow_terminal`.
    """
    flags = os.O_WRONLY | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_NOFOLLOW", 0)
    with named_errors(str(target)):
        fd = os.open(target, flags | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISCHR(os.fstat(fd).st_mode):
            raise FileError(str(target), "not a regular file - not overwritten")
        if os.isatty(fd) and not allow_terminal:
            raise FileError(
                str(target), "compressed data cannot be written to a terminal (use -f to force)"
            )
        os.set_blocking(fd, True)
        raw = os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise
    with raw:
        sink = OutputSink(raw, str(target))
        yield sink
        sink.flush()


def check_written(path: Path, sink: OutputSink) -> None:
    """Re-read `path` and check that it holds exactly the bytes written through `sink`."""
    digest = hashlib.blake2b(digest_size=16)
    size = 0
    with named_errors(str(path)), path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            size += len(block)
    if (size, digest.digest()) != (sink.size, sink.hash.digest()):
        raise FileError(str(path), "does not read back as written")


def _linkat() -> Callable[..., int] | None:
    """libc's linkat, which can give an O_TMPFILE file a name (os.link cannot on Python < 3.13)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).linkat
    except (OSError, AttributeError):
        return None


def _temporary_file(directory: Path, name: str, mode: int) -> tuple[int, str | None]:
    """An open fd for the output: unnamed (O_TMPFILE) when possible, else a hidden file."""
    flag = getattr(os, "O_TMPFILE", 0)
    fd, tmp_name = -1, None
    if flag and _linkat() is not None:
        try:
            fd = os.open(directory, flag | os.O_WRONLY, mode)
        except OSError:
            pass  # filesystem without O_TMPFILE support: the error recurs below if it is real
    if fd < 0:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, mode)  # the bits asked for, not narrowed by the umask
    except BaseException:
        os.close(fd)
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
        raise
    return fd, tmp_name


def _link_unnamed(fd: int, path: str) -> None:
    """Give the O_TMPFILE file open as `fd` the name `path` (OSError EEXIST if taken)."""
    import ctypes

    linkat = _linkat()
    assert linkat is not None
    source = f"/proc/self/fd/{fd}".encode()
    if linkat(_AT_FDCWD, source, _AT_FDCWD, os.fsencode(path), _AT_SYMLINK_FOLLOW) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)


def _link_no_clobber(fd: int, tmp_name: str | None, target: Path) -> None:
    try:
        if tmp_name is None:
            _link_unnamed(fd, str(target))
        else:
            _link_or_rename(tmp_name, target)
    except FileExistsError:
        raise FileError(str(target), EXISTS) from None


def _link_or_rename(tmp_name: str, target: Path) -> None:
    """Give a hidden temporary file the name `target` unless taken (a rename where the
    filesystem has no hard links, after checking that the name is free)."""
    try:
        os.link(tmp_name, target)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target)) from None
        os.rename(tmp_name, target)
        return
    os.unlink(tmp_name)


def _put_in_place(fd: int, tmp_name: str | None, target: Path, replace: bool) -> None:
    """Name the finished file `target`: no-clobber unless `replace`."""
    if not replace:
        _link_no_clobber(fd, tmp_name, target)
        return
    if tmp_name is None:
        tmp_name = _hidden_name_for(fd, target)
    try:
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def _hidden_name_for(fd: int, target: Path) -> str:
    """Link the O_TMPFILE file to a free hidden name beside `target` (then renamed over it)."""
    for attempt in range(100):
        tmp_name = str(target.parent / f".{target.name}.{os.getpid()}.{attempt}.tmp")
        try:
            _link_unnamed(fd, tmp_name)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
            continue
        return tmp_name
    raise FileExistsError(errno.EEXIST, f"no free temporary name beside {target}")
