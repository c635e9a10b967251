"""`nacrith.open`: archives as file objects, in the shape of `lzma.open`.

Writing spools the uncompressed bytes to a temporary file (in memory up to 16 MiB, then on disk)
and compresses them when the file is closed; reading decodes the archive into such a spool on
first access. Memory stays bounded either way. Mode "ab" appends a new member to an existing
archive, leaving the earlier bytes untouched.

Nothing is lost on failure. Settings are checked and codecs built (a missing model raises
`ModelNotFoundError`) before the target is touched. A path written in mode "wb" or "xb" gets its
archive through a temporary file beside it, renamed over it only once complete; mode "ab"
compresses the new member aside and then appends it, cutting a failed append back off. When the
`with` block raises, the written data is discarded and the target left as it was. (A file
object given as the target receives the archive at close, with no such guarantee.)
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import io
import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import Callable, Mapping
from typing import IO, Any

from nacrith.api import Compressor, Decompressor, byte_view

__all__ = ["NacrithFile", "open"]

_SPOOL_MEMORY = 16 << 20

Writer = Callable[[IO[bytes]], None]


class _PathTarget:
    """The archive file of a write-mode `NacrithFile` given a path: written all or nothing."""

    def __init__(self, path: str | bytes | os.PathLike[Any], mode: str) -> None:
        self.mode = mode
        self.path = os.fsdecode(path)
        self._placeholder: str | None = None
        self._append: IO[bytes] | None = None
        self._created = False
        if mode == "a":
            self._created = not os.path.exists(self.path)
            self._append = builtins.open(self.path, "ab")  # noqa: SIM115
            return
        if mode == "x":
            # claim the name now, as open(path, "xb") does; the archive replaces it at close
            os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            self._placeholder = self.path
        self.target = os.path.realpath(self.path) if mode == "w" else self.path
        try:
            if os.path.isdir(self.target):
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), self.path)
            # fail now, not at close, where the directory does not take a new file
            fd, name = self._temporary()
            os.close(fd)
            os.unlink(name)
        except BaseException:
            self.discard()
            raise

    def _temporary(self) -> tuple[int, str]:
        directory, base = os.path.split(self.target)
        while True:
            name = os.path.join(directory, f".{base}.{secrets.token_hex(4)}.tmp")
            with contextlib.suppress(FileExistsError):
                flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_BINARY", 0)
                return os.open(name, flags, 0o666), name

    def commit(self, write: Writer) -> None:
        """Write the archive with `write(file)`; on any failure leave the target as it was."""
        if self._append is not None:
            self._commit_append(write, self._append)
            return
        fd, name = self._temporary()
        try:
            with os.fdopen(fd, "wb") as tmp:
                with contextlib.suppress(FileNotFoundError):
                    os.chmod(name, stat.S_IMODE(os.stat(self.target).st_mode))
                write(tmp)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(name, self.target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(name)
            self.discard()
            raise

    def _commit_append(self, write: Writer, out: IO[bytes]) -> None:
        with tempfile.TemporaryFile() as member:
            try:
                write(member)
            except BaseException:
                self.discard()
                raise
            member.seek(0)
            start = out.seek(0, io.SEEK_END)
            try:
                shutil.copyfileobj(member, out)
                out.flush()
            except BaseException:
                with contextlib.suppress(OSError):
                    out.truncate(start)
                self.discard()
                raise
        out.close()

    def discard(self) -> None:
        """Leave the target as it was before the file was opened."""
        if self._append is not None:
            with contextlib.suppress(OSError):
                self._append.close()
                if self._created and os.path.getsize(self.path) == 0:
                    os.unlink(self.path)
        if self._placeholder is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._placeholder)


class NacrithFile(io.BufferedIOBase):
    """A binary file object over a nacrith archive (modes "rb", "wb", "xb", "ab")."""

    def __init__(
        self,
        filename: str | bytes | os.PathLike[Any] | IO[bytes],
        mode: str = "rb",
        *,
        method: str = "auto",
        workers: int | None = None,
        model: str | None = None,
        options: Mapping[str, Mapping[str, Any]] | None = None,
        max_output_size: int | None = None,
    ) -> None:
        self._ready = False  # close() (also called by __del__) has nothing to do until set
        mode = mode.replace("b", "")
        if mode not in ("r", "w", "x", "a"):
            raise ValueError(f"Invalid mode: {mode!r}")
        is_path = isinstance(filename, (str, bytes, os.PathLike))
        if not is_path and not hasattr(filename, "read" if mode == "r" else "write"):
            raise TypeError("filename must be a str, bytes, PathLike or file object")
        self._mode = mode
        self._compressor: Compressor | None = None
        self._decompressor: Decompressor | None = None
        # settings and codecs first: a bad argument or a missing model leaves the target alone
        if mode == "r":
            self._decompressor = Decompressor(workers=workers, max_output_size=max_output_size)
        else:
            self._compressor = Compressor(method, workers=workers, model=model, options=options)
        self._fp: IO[bytes] | None = None
        self._target: _PathTarget | None = None
        try:
            if not is_path:
                self._fp = filename  # type: ignore[assignment]
                self.name = getattr(filename, "name", "")
            elif mode == "r":
                self._fp = builtins.open(filename, "rb")  # type: ignore[arg-type]  # noqa: SIM115
            else:
                self._target = _PathTarget(filename, mode)  # type: ignore[arg-type]
        except BaseException:
            self._close_contexts()
            raise
        if is_path:
            self.name = os.fsdecode(filename)  # type: ignore[arg-type]
        self._close_fp = is_path
        self._spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_MEMORY)  # noqa: SIM115
        self._loaded = mode != "r"
        self._discard = False
        self._ready = True

    def _load(self) -> None:
        if not self._loaded:
            assert self._decompressor is not None and self._fp is not None
            self._decompressor.decompress_stream(self._fp, self._spool)
            self._spool.seek(0)
            self._loaded = True

    def readable(self) -> bool:
        """True in read mode."""
        self._check_open()
        return self._mode == "r"

    def writable(self) -> bool:
        """True in write and append modes."""
        self._check_open()
        return self._mode != "r"

    def seekable(self) -> bool:
        """Reading is seekable (the decoded data is spooled)."""
        self._check_open()
        return self._mode == "r"

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")

    def _check_mode(self, reading: bool) -> None:
        self._check_open()
        if reading and self._mode != "r":
            raise io.UnsupportedOperation("File not open for reading")
        if not reading and self._mode == "r":
            raise io.UnsupportedOperation("File not open for writing")

    def read(self, size: int | None = -1) -> bytes:
        """Read up to `size` decompressed bytes (all when negative or None)."""
        self._check_mode(True)
        self._load()
        return self._spool.read(-1 if size is None else size)

    def read1(self, size: int = -1) -> bytes:
        """Same as read (the data is already decoded)."""
        return self.read(size)

    def readinto(self, buffer: Any) -> int:
        """Read into a writable buffer."""
        data = self.read(len(memoryview(buffer)))
        memoryview(buffer)[: len(data)] = data
        return len(data)

    def peek(self, size: int = 0) -> bytes:
        """Return buffered bytes without advancing."""
        self._check_mode(True)
        self._load()
        pos = self._spool.tell()
        data = self._spool.read(max(size, 1))
        self._spool.seek(pos)
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Seek within the decompressed data (read mode only)."""
        self._check_mode(True)
        self._load()
        return self._spool.seek(offset, whence)

    def tell(self) -> int:
        """Position in the decompressed data."""
        self._check_open()
        if self._mode == "r":
            self._load()
        return self._spool.tell()

    def write(self, data: Any) -> int:
        """Buffer uncompressed bytes (any bytes-like object); they are compressed at close."""
        self._check_mode(False)
        view = byte_view(data, "write()")
        self._spool.write(view)
        return view.nbytes

    def discard(self) -> None:
        """Close without writing anything: the target stays as it was (write modes)."""
        self._discard = True
        self.close()

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is not None and not self.closed:
            self.discard()
        else:
            self.close()

    def _write_archive(self, out: IO[bytes]) -> None:
        assert self._compressor is not None
        size = self._spool.tell()
        self._spool.seek(0)
        self._compressor.compress_stream(self._spool, out, size)
        out.flush()

    def close(self) -> None:
        """Compress what was written (write modes), then close the underlying file if ours."""
        if self.closed:
            return
        if not self._ready:
            super().close()
            return
        try:
            if self._mode != "r":
                if self._target is not None:
                    if self._discard:
                        self._target.discard()
                    else:
                        self._target.commit(self._write_archive)
                elif not self._discard:
                    assert self._fp is not None
                    self._write_archive(self._fp)
        finally:
            try:
                self._spool.close()
                self._close_contexts()
                if self._close_fp and self._fp is not None:
                    self._fp.close()
            finally:
                super().close()

    def _close_contexts(self) -> None:
        for ctx in (self._compressor, self._decompressor):
            if ctx is not None:
                ctx.close()


class _TextFile(io.TextIOWrapper):
    """Text layer whose `with` block, when it raises, discards what was written."""

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        binary = self.buffer
        if exc_type is not None and isinstance(binary, NacrithFile) and not binary.closed:
            binary.discard()
        self.close()


def open(
    filename: str | bytes | os.PathLike[Any] | IO[bytes],
    mode: str = "rb",
    *,
    method: str = "auto",
    workers: int | None = None,
    model: str | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    max_output_size: int | None = None,
    encoding: str | None = None,
    errors: str | None = None,
    newline: str | None = None,
) -> NacrithFile | io.TextIOWrapper:
    """Open a nacrith archive in binary ("rb", "wb", "xb", "ab") or text ("rt", "wt", "xt", "at")
    mode, like `lzma.open`. `filename` is a path or a file object.

    Settings are checked, and the codecs built, before the file is touched; writes to a path are
    atomic (see the module docstring), and a `with` block that raises writes nothing.
    """
    if not isinstance(mode, str) or not mode:
        raise ValueError(f"Invalid mode: {mode!r}")
    if "t" in mode:
        if "b" in mode:
            raise ValueError(f"Invalid mode: {mode!r}")
    else:
        if encoding is not None:
            raise ValueError("Argument 'encoding' not supported in binary mode")
        if errors is not None:
            raise ValueError("Argument 'errors' not supported in binary mode")
        if newline is not None:
            raise ValueError("Argument 'newline' not supported in binary mode")
    raw_mode = mode.replace("t", "")
    if raw_mode.replace("b", "") not in ("r", "w", "x", "a") or len(set(mode)) != len(mode):
        raise ValueError(f"Invalid mode: {mode!r}")
    binary = NacrithFile(
        filename,
        raw_mode,
        method=method,
        workers=workers,
        model=model,
        options=options,
        max_output_size=max_output_size,
    )
    if "t" in mode:
        return _TextFile(binary, encoding, errors, newline)
    return binary
