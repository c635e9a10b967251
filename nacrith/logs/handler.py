"""`LogArchiveHandler`: a `logging.Handler` that appends a program's records to a log archive."""

from __future__ import annotations

import logging
import os
import time

from nacrith.logs.archive import DEFAULT_CHUNK_BYTES, LogArchive

__all__ = ["LogArchiveHandler"]


class LogArchiveHandler(logging.Handler):
    """A `logging.Handler` that appends formatted records to a log archive.

    A chunk is written every `chunk_lines` records or `chunk_bytes` bytes, when a record comes
    more than `max_delay` seconds after the oldest buffered one (if set), on `flush()` and on
    `close()` (which `logging.shutdown` calls at exit). Records not yet written are lost if the
    process dies. Without a formatter, records are formatted as
    ``2024-05-01 12:00:00,123 INFO name: message``.

    Opening is `LogArchive` in mode "a": a file that is not a log archive (say the program's
    plain log) raises `FormatError` and is left unchanged.
    """

    DEFAULT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        chunk_lines: int = 10_000,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        max_delay: float | None = None,
        level: int = logging.NOTSET,
        effort: str = "fast",
    ) -> None:
        super().__init__(level)
        self.archive = LogArchive(
            path, "a", chunk_bytes=chunk_bytes, chunk_lines=chunk_lines, effort=effort
        )
        self.max_delay = max_delay
        self._oldest: float | None = None
        self.setFormatter(logging.Formatter(self.DEFAULT_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        """Format and buffer one record."""
        try:
            text = self.format(record)
            now = time.monotonic()
            if self._oldest is None:
                self._oldest = now
            self.archive.append(text)
            if not self.archive.pending_bytes:
                self._oldest = None
            elif self.max_delay is not None and now - self._oldest >= self.max_delay:
                self.flush()
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        """Write the buffered records as one chunk."""
        self.acquire()
        try:
            if not self.archive.closed:
                self.archive.flush()
            self._oldest = None
        finally:
            self.release()

    def close(self) -> None:
        """Flush and close the archive."""
        self.acquire()
        try:
            self.archive.close()
        finally:
            self.release()
            super().close()
