"""`LogArchive`: an append-only log archive file, written chunk by chunk and searched in place.

Each flush appends one complete member (header, one chunk, end record) and fsyncs it, so a
crash loses at most the lines not yet flushed and never earlier data. Appends from several
threads or processes are serialised by a lock file next to the archive, ``<archive>.lock``
(see `lock_path`), taken through `filelock` so that it works on every OS; the lock file may
stay after use. Before each write an appender checks what other appenders added since its
last one, cutting a member torn by one that died (see `nacrith.logs.repair`). Readers take no
lock: a reader that meets the member being written stops with `TruncatedError`.
"""

from __future__ import annotations

import errno
import io
import os
import threading
from collections.abc import Iterable, Iterator
from typing import IO, Any

from filelock import FileLock

from nacrith.codecs.base import Codec
from nacrith.codecs.logs import LogsCodec
from nacrith.errors import FormatError
from nacrith.formats.container import decode_chunk, iter_members, write_member
from nacrith.formats.logs.timestamps import parse_bound
from nacrith.logs.matcher import Line, Matcher
from nacrith.logs.repair import check_not_foreign, repair_tail
from nacrith.logs.search import TimeWindow, search_chunks

__all__ = ["DEFAULT_CHUNK_BYTES", "LogArchive", "lock_path"]

DEFAULT_CHUNK_BYTES = 4 << 20


def lock_path(path: str | os.PathLike[str]) -> str:
    """The lock file that appenders to the archive at `path` hold while they write."""
    return os.fspath(path) + ".lock"


class LogArchive:
    """An append-only log archive file.

    `mode` is "r" (read and search), "a" (append; creates the file) or "w" (truncate, then
    append). Lines given to `append` are buffered and coded as one chunk when the buffer holds
    `chunk_bytes` bytes or `chunk_lines` lines, and on `flush` and `close`. Reading methods
    (`lines`, iteration, `search`, `read`) see every flushed chunk plus this object's buffer.
    Writing methods are thread-safe; each chunk is appended holding ``<archive>.lock``, so
    several processes may append to one archive.

    Opening for append never destroys data: a torn last member left by a crash is cut (with
    a `RuntimeWarning`); a file that is not an archive raises `FormatError` and a damaged
    archive `CorruptDataError`, both leaving the file unchanged (see `nacrith.logs.repair`).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        mode: str = "a",
        *,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        chunk_lines: int | None = None,
        effort: str = "fast",
        fsync: bool = True,
    ) -> None:
        if mode not in ("r", "a", "w"):
            raise ValueError(f"invalid mode {mode!r} (use 'r', 'a' or 'w')")
        if not isinstance(chunk_bytes, int) or chunk_bytes < 1:
            raise ValueError(f"chunk_bytes must be a positive integer, got {chunk_bytes!r}")
        if chunk_lines is not None and (not isinstance(chunk_lines, int) or chunk_lines < 1):
            raise ValueError(f"chunk_lines must be a positive integer or None, got {chunk_lines!r}")
        self.path = os.fspath(path)
        self.mode = mode
        self.chunk_bytes = chunk_bytes
        self.chunk_lines = chunk_lines
        self._codec = LogsCodec(effort)
        self._fsync = fsync
        self._buf = bytearray()
        self._buf_lines = 0
        self._file: IO[bytes] | None = None
        self._file_lock: FileLock | None = None
        self._end = 0  # where the members this object checked or wrote end
        self._closed = False
        self._lock = threading.RLock()
        if mode == "r":
            if not os.path.exists(self.path):
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(self.path))
            return
        if mode == "a":
            check_not_foreign(self.path)  # before creating a lock file next to it
        self._file_lock = FileLock(lock_path(self.path))
        with self._file_lock:
            if mode == "w":
                self._file = open(self.path, "wb")  # noqa: SIM115 - held until close()
            else:
                self._end = repair_tail(self.path)
                self._file = open(self.path, "ab")  # noqa: SIM115 - held until close()

    # -- writing --

    def _check_writable(self) -> None:
        if self._closed:
            raise ValueError("I/O operation on a closed log archive")
        if self._file is None:
            raise io.UnsupportedOperation("log archive is open for reading only")

    def append(self, record: Line) -> None:
        """Add one line (a newline is added unless `record` ends with one)."""
        raw = record.encode("utf-8", "surrogateescape") if isinstance(record, str) else record
        with self._lock:
            self._check_writable()
            self._buf += raw
            if not raw.endswith(b"\n"):
                self._buf += b"\n"
            self._buf_lines += raw.count(b"\n") + (not raw.endswith(b"\n"))
            self._maybe_flush()

    def write_lines(self, records: Iterable[Line]) -> None:
        """`append` each record."""
        for record in records:
            self.append(record)

    def write(self, data: bytes) -> int:
        """Add raw bytes verbatim (automatic chunks end after a newline when there is one)."""
        with self._lock:
            self._check_writable()
            self._buf += data
            self._buf_lines += data.count(b"\n")
            self._maybe_flush()
        return len(data)

    def _maybe_flush(self) -> None:
        while len(self._buf) >= self.chunk_bytes or (
            self.chunk_lines is not None and self._buf_lines >= self.chunk_lines
        ):
            if self.chunk_lines is not None and self._buf_lines >= self.chunk_lines:
                cut = _nth_newline(self._buf, self.chunk_lines) + 1
            else:
                cut = self._buf.rfind(b"\n", 0, self.chunk_bytes) + 1 or self.chunk_bytes
            chunk = bytes(self._buf[:cut])
            del self._buf[:cut]
            self._buf_lines -= chunk.count(b"\n")
            self._write_chunk(chunk)

    def flush(self) -> None:
        """Code the buffered lines as one chunk and append it durably (no-op when empty)."""
        with self._lock:
            self._check_writable()
            if self._buf:
                chunk = bytes(self._buf)
                self._buf.clear()
                self._buf_lines = 0
                self._write_chunk(chunk)

    def _write_chunk(self, raw: bytes) -> None:
        assert self._file is not None and self._file_lock is not None
        out = io.BytesIO()
        write_member(out, {"logs": self._codec.params()}, [("logs", raw, self._codec.encode(raw))])
        member = out.getvalue()
        fd = self._file.fileno()
        with self._file_lock:
            size = os.fstat(fd).st_size
            if size != self._end:  # another appender wrote since: check what it left
                size = repair_tail(self.path, min(self._end, size))
            self._file.write(member)
            self._file.flush()
            if self._fsync:
                os.fsync(fd)
            self._end = size + len(member)

    def close(self) -> None:
        """Flush and close; closing twice is allowed."""
        with self._lock:
            if self._closed:
                return
            try:
                if self._file is not None:
                    self.flush()
            finally:
                self._closed = True
                if self._file is not None:
                    self._file.close()
                    self._file = None

    @property
    def pending_bytes(self) -> int:
        """Bytes appended but not yet written as a chunk."""
        return len(self._buf)

    @property
    def closed(self) -> bool:
        """Whether `close` was called."""
        return self._closed

    def __enter__(self) -> LogArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading --

    def _chunks(self) -> Iterator[tuple[Codec, Any, bytes, Any]]:
        """(codec, chunk record, payload, member reader) for every flushed chunk."""
        if self._closed:
            raise ValueError("I/O operation on a closed log archive")
        if not os.path.exists(self.path) or os.path.getsize(self.path) == 0:
            return
        from nacrith.codecs.registry import codec_class

        codecs: dict[tuple[str, str], Codec] = {}
        with open(self.path, "rb") as f:
            for member in iter_members(f):
                if member.long_range:
                    raise FormatError(
                        f"{self.path}: holds a long-range member (made by ncz compress, not "
                        "a log archive); decompress it with ncz -d"
                    )
                for record in member.chunks:
                    params = member.codec_params.get(record.codec_id, {})
                    key = (record.codec_id, repr(sorted(params.items())))
                    if key not in codecs:
                        codecs[key] = codec_class(record.codec_id).from_params(params)
                    yield codecs[key], record, record.read_payload(), member.reader

    def _raw_chunks(self) -> Iterator[bytes]:
        for codec, record, payload, reader in self._chunks():
            raw = decode_chunk(record, codec, payload)
            reader.account(raw)
            yield raw
        if self._buf:
            yield bytes(self._buf)

    def read(self) -> bytes:
        """Everything in the archive (and in this object's buffer), as bytes."""
        return b"".join(self._raw_chunks())

    def lines(self, *, binary: bool = False) -> Iterator[Line]:
        """Every line, without its newline, as str (UTF-8, undecodable bytes as surrogate
        escapes, so encoding them back is exact) or, with `binary`, as bytes."""
        for line in _split_lines(self._raw_chunks()):
            yield line if binary else line.decode("utf-8", "surrogateescape")

    def __iter__(self) -> Iterator[Line]:
        return self.lines()

    def search(
        self,
        pattern: Line,
        *,
        regex: bool = False,
        ignore_case: bool = False,
        since: Any = None,
        until: Any = None,
    ) -> Iterator[Line]:
        """Lines that contain `pattern` (or match it anywhere, with `regex`), in order.

        A bytes pattern yields bytes lines, a str pattern str lines; any other pattern raises
        TypeError at once, as do bad bounds. `since`/`until` (POSIX seconds, `datetime`, or a
        string in ISO 8601 or in the log's own time format, year-less formats in year 2000)
        keep only lines whose time t has since <= t <= until, compared exactly with the
        fractions of a second of both (see `nacrith.logs.search` for a line's time).
        """
        matcher = Matcher(pattern, regex, ignore_case)
        window = None
        if since is not None or until is not None:
            window = TimeWindow(
                parse_bound(since) if since is not None else None,
                parse_bound(until) if until is not None else None,
            )
        return self._search(matcher, window, binary=not isinstance(pattern, str))

    def _search(self, matcher: Matcher, window: TimeWindow | None, binary: bool) -> Iterator[Line]:
        for line in search_chunks(self._chunks(), self._pending, matcher, window):
            yield line if binary else line.decode("utf-8", "surrogateescape")

    def _pending(self) -> bytes:
        with self._lock:
            return bytes(self._buf)


def _split_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    carry = b""
    for raw in chunks:
        lines = (carry + raw).split(b"\n")
        carry = lines.pop()
        yield from lines
    if carry:
        yield carry


def _nth_newline(buf: bytearray, n: int) -> int:
    pos = -1
    for _ in range(n):
        pos = buf.index(b"\n", pos + 1)
    return pos
