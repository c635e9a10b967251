"""Word streams of the `fib` payload: a range coder's output framed by its length."""

from __future__ import annotations

import numpy as np

from nacrith.errors import TruncatedError
from nacrith.formats.varint import get_varint, put_varint

__all__ = ["FIB_PAYLOAD", "get_stream", "put_stream"]

#: how the `fib` payload names itself in error messages
FIB_PAYLOAD = "fib payload"


def put_stream(out: bytearray, words: np.ndarray) -> None:
    """Append a range coder's output: its length in u32 words, then the words."""
    put_varint(out, len(words))
    out += np.asarray(words, dtype="<u4").tobytes()


def get_stream(buf: bytes, pos: int) -> tuple[np.ndarray, int]:
    """Inverse of `put_stream`: (words as uint32, next position); a cut stream is a
    `TruncatedError`."""
    n, pos = get_varint(buf, pos, FIB_PAYLOAD, TruncatedError)
    end = pos + 4 * n
    if end > len(buf):
        raise TruncatedError("fib coded stream is cut short")
    return np.frombuffer(buf[pos:end], dtype="<u4").astype(np.uint32), end
