"""Byte-level helpers of the `fib` payload: LEB128 varints (formats/varint.py) and word streams."""

from __future__ import annotations

import numpy as np

from nacrith.errors import TruncatedError
from nacrith.formats.varint import get_varint as read_varint
from nacrith.formats.varint import put_varint

__all__ = ["get_stream", "get_varint", "put_stream", "put_varint"]


def get_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """(value, next position) of the LEB128 number at `pos`; a cut one is a `TruncatedError`."""
    return read_varint(buf, pos, "fib payload", TruncatedError)


def put_stream(out: bytearray, words: np.ndarray) -> None:
    """Append a range coder's output: its length in u32 words, then the words."""
    put_varint(out, len(words))
    out += np.asarray(words, dtype="<u4").tobytes()


def get_stream(buf: bytes, pos: int) -> tuple[np.ndarray, int]:
    """Inverse of `put_stream`: (words as uint32, next position)."""
    n, pos = get_varint(buf, pos)
    end = pos + 4 * n
    if end > len(buf):
        raise TruncatedError("fib coded stream is cut short")
    return np.frombuffer(buf[pos:end], dtype="<u4").astype(np.uint32), end
