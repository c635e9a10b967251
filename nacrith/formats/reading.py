"""Reading a stream in blocks of an exact size."""

from __future__ import annotations

from typing import IO


def read_exactly(reader: IO[bytes], size: int) -> bytes:
    """`size` bytes from `reader`, fewer only where the stream ends first (pipes and raw
    files may return short reads before their end)."""
    parts = []
    remaining = size
    while remaining:
        part = reader.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)
