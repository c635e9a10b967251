"""Opening the inputs of `ncz`: regular files (or `-`, stdin) only, never blocking.

As gzip does: an input that is not a regular file (a directory, device, FIFO or socket) is
refused before it is opened, and a symbolic link is followed only when the command allows
it (compress/decompress with -f or -c; test and info always). The file is opened with
O_NONBLOCK (so a FIFO swapped in after the check cannot block the open) and checked again
on the open descriptor. A URL (``s3://bucket/key``, ``file:///path``) is read with fsspec,
when installed (the `cluster` extra); it is never written, replaced or removed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from nacrith.cli.progress import Progress
from nacrith.cli.report import STDIN, FileError, display
from nacrith.cluster.shared import is_url, open_url

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


@dataclass
class OpenedInput:
    """An open input: its name, binary handle, the stat of the open file (None for stdin and
    URLs), whether the name was a symbolic link, and the size of a URL's file."""

    name: str
    handle: IO[bytes]
    stat: os.stat_result | None
    is_link: bool = False
    url_size: int | None = None

    @property
    def is_url(self) -> bool:
        """Whether the input is a file at a URL (read through fsspec)."""
        return self.url_size is not None

    @property
    def size(self) -> int | None:
        """The size of a regular file (or URL) when it was opened; None for stdin."""
        return self.url_size if self.stat is None else self.stat.st_size

    @property
    def mode(self) -> int | None:
        """Permission bits of a regular input file, to give its output the same."""
        return None if self.stat is None else self.stat.st_mode & 0o777

    @property
    def times(self) -> tuple[int, int] | None:
        """(atime, mtime) in nanoseconds of a regular input file, to give its output the same."""
        return None if self.stat is None else (self.stat.st_atime_ns, self.stat.st_mtime_ns)

    def close(self) -> None:
        """Close the handle (never stdin's)."""
        if self.stat is not None or self.is_url:
            self.handle.close()


def stdin_handle() -> IO[bytes]:
    """Standard input as a binary stream; a `FileError` when it is closed."""
    if sys.stdin is None:
        raise FileError(STDIN, "standard input is closed")
    return sys.stdin.buffer


def _refuse_unless_regular(name: str, mode: int) -> None:
    if stat.S_ISLNK(mode):
        raise FileError(name, "is a symbolic link - ignored (use -f or -c to follow it)")
    if stat.S_ISDIR(mode):
        raise FileError(name, "is a directory -- ignored")
    if not stat.S_ISREG(mode):
        raise FileError(name, "not a regular file - ignored")


def open_input(name: str, follow_symlinks: bool = True) -> OpenedInput:
    """Open input `name` (`-`: stdin), refusing anything but a regular file.

    `follow_symlinks`: read the file a symbolic link points to; otherwise refuse the link.
    """
    if name == STDIN:
        return OpenedInput(name, stdin_handle(), None)
    if is_url(name):
        return _open_url(name)
    named = os.lstat(name)
    is_link = stat.S_ISLNK(named.st_mode)
    _refuse_unless_regular(
        name, os.stat(name).st_mode if is_link and follow_symlinks else named.st_mode
    )
    flags = _OPEN_FLAGS | _NONBLOCK | (0 if follow_symlinks else _NOFOLLOW)
    try:
        fd = os.open(name, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            _refuse_unless_regular(name, stat.S_IFLNK)
        raise
    try:
        opened = os.fstat(fd)
        _refuse_unless_regular(name, opened.st_mode)
        os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    return OpenedInput(name, handle, opened, is_link)


def _open_url(name: str) -> OpenedInput:
    try:
        handle = open_url(name)
    except ModuleNotFoundError as exc:
        raise FileError(name, str(exc)) from exc
    except (OSError, ValueError, ImportError) as exc:
        raise FileError(name, f"cannot be read: {exc}") from exc
    try:
        size = int(handle.size) if getattr(handle, "size", None) is not None else None
        if size is None:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(0)
    except BaseException:
        handle.close()
        raise
    return OpenedInput(name, handle, None, url_size=size)


def needs_named_output(name: str) -> None:
    """Refuse to derive an output name from a URL input: it needs -o FILE or -c."""
    if is_url(name):
        raise FileError(name, "is a URL: give an output with -o FILE, or use -c")


class WholeFile:
    """A reader of a regular file that must hold `size` bytes from start to end.

    The archive header declares the size taken when the file was opened, so a file that
    grows or shrinks while it is read raises `FileError` instead of making an archive that
    cannot be trusted (the partial output is then discarded).
    """

    def __init__(self, raw: IO[bytes], name: str, size: int) -> None:
        self._raw = raw
        self._name = name
        self._size = size
        self._done = 0

    def read(self, n: int = -1) -> bytes:
        """Read like the raw handle; raise `FileError` once the size is seen to change."""
        data = self._raw.read(n)
        self._done += len(data)
        if self._done > self._size or (not data and n != 0 and self._done < self._size):
            raise FileError(
                self._name,
                f"changed while being read ({self._size} bytes when opened, "
                f"{'at least ' if data else ''}{self._done} read) -- not compressed",
            )
        return data


@contextlib.contextmanager
def reading(
    name: str,
    show_progress: bool,
    size_known: bool,
    follow_symlinks: bool = True,
    **progress_options: Any,
) -> Iterator[tuple[OpenedInput, Progress]]:
    """Open an input (or stdin) with its progress; close both afterwards.

    `size_known`: the bar's total is the input size (compression) or unknown (decompression,
    where the input size says nothing about the output's). `progress_options` go to
    `Progress` (explain, hint, watch_fd).
    """
    source = open_input(name, follow_symlinks)
    total = source.size if size_known else None
    progress = Progress(show_progress, total, display(name), **progress_options)
    try:
        with progress.model_steps():
            yield source, progress
    finally:
        progress.close()
        source.close()
