"""`nacrith.open`: archives as file objects, in the shape of `lzma.open`.

Writing spools the uncompressed bytes to a temporary file (in memory up to 16 MiB, then on disk)
and compresses them when the file is closed; reading decodes the archive into such a spool on
first access. Memory stays bounded either way. Mode "ab" appends a new member to an existing
archive, leaving the earlier bytes untouched.
"""

from __future__ import annotations

import builtins
import io
import os
import tempfile
from collections.abc import Mapping
from typing import IO, Any

from nacrith.api import Compressor, Decompressor

__all__ = ["NacrithFile", "open"]

_SPOOL_MEMORY = 16 << 20


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
        mode = mode.replace("b", "")
        if mode not in ("r", "w", "x", "a"):
            raise ValueError(f"Invalid mode: {mode!r}")
        self._mode = mode
        if isinstance(filename, (str, bytes, os.PathLike)):
            self._fp: IO[bytes] = builtins.open(filename, mode + "b")  # noqa: SIM115
            self._close_fp = True
            self.name = os.fsdecode(filename)
        elif hasattr(filename, "read" if mode == "r" else "write"):
            self._fp = filename
            self._close_fp = False
            self.name = getattr(filename, "name", "")
        else:
            raise TypeError("filename must be a str, bytes, PathLike or file object")
        self._spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_MEMORY)  # noqa: SIM115
        self._loaded = mode != "r"
        self._compressor = (
            Compressor(method, workers=workers, model=model, options=options)
            if mode != "r"
            else None
        )
        self._decompressor = (
            Decompressor(workers=workers, max_output_size=max_output_size) if mode == "r" else None
        )

    def _load(self) -> None:
        if not self._loaded:
            assert self._decompressor is not None
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
        """Buffer uncompressed bytes; they are compressed when the file is closed."""
        self._check_mode(False)
        view = memoryview(data)
        self._spool.write(view)
        return view.nbytes

    def close(self) -> None:
        """Compress what was written (write modes), then close the underlying file if ours."""
        if self.closed:
            return
        try:
            if self._mode != "r":
                assert self._compressor is not None
                size = self._spool.tell()
                self._spool.seek(0)
                self._compressor.compress_stream(self._spool, self._fp, size)
                self._fp.flush()
        finally:
            try:
                self._spool.close()
                for ctx in (self._compressor, self._decompressor):
                    if ctx is not None:
                        ctx.close()
                if self._close_fp:
                    self._fp.close()
            finally:
                super().close()


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
    mode, like `lzma.open`. `filename` is a path or a file object."""
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
        return io.TextIOWrapper(binary, encoding, errors, newline)
    return binary
