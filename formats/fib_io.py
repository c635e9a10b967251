"""Byte-level helpers of the `fib` payload: LEB128 varints and length-prefixed word streams."""

from __future__ import annotations

import numpy as np

from nacrith.errors import CorruptDataError, TruncatedError

__all__ = ["get_stream", "get_varint", "put_stream", "put_varint"]


def put_varint(out: bytearray, value: int) -> None:
    """Append `value` (>= 0) as LEB128."""
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def get_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """(value, next position) of the LEB128 number at `pos`."""
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise TruncatedError("fib payload ends inside a number")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise CorruptDataError("fib payload holds an over-long number")


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
