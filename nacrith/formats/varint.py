"""LEB128 varints (one at a time, or whole numpy arrays) and a bounds-checked payload reader.

This is the only LEB128 code of the package: every payload that carries unsigned integers writes
them with `put_varint` / `varint` (or `encode_varints` for an array) and reads them back through a
`PayloadReader`, `get_varint` or `decode_varints`, none of which reads past its buffer: a payload
that ends early raises the caller's `short_error`, a malformed one `CorruptDataError`. Signed
arrays go through `zigzag` first.
"""

from __future__ import annotations

import numpy as np

from nacrith.errors import CorruptDataError, NacrithError

__all__ = [
    "PayloadReader",
    "decode_varints",
    "encode_varints",
    "get_varint",
    "put_varint",
    "unzigzag",
    "varint",
    "varint_ends",
    "zigzag",
]

_MAX_SHIFT = 63
#: bytes of the longest LEB128 number read back (64 bits)
_MAX_BYTES = 10


def put_varint(out: bytearray, value: int) -> None:
    """Append `value` (>= 0) to `out` as unsigned LEB128."""
    if value < 0:
        raise ValueError(f"varint must be >= 0, got {value}")
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def varint(value: int) -> bytes:
    """`value` (>= 0) as unsigned LEB128 bytes."""
    out = bytearray()
    put_varint(out, value)
    return bytes(out)


def get_varint(
    buf: bytes,
    pos: int,
    name: str = "payload",
    short_error: type[NacrithError] = CorruptDataError,
) -> tuple[int, int]:
    """(value, next position) of the LEB128 number at `pos` of `buf`.

    `name` says whose payload it is in error messages; a number cut off by the end of `buf`
    raises `short_error`, one longer than 64 bits `CorruptDataError`.
    """
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise short_error(f"{name} ends inside a number")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > _MAX_SHIFT:
            raise CorruptDataError(f"{name} holds an over-long number")


class PayloadReader:
    """Sequential reader of a codec payload that never reads past its end.

    Subclasses name the payload (`name`, used in messages) and choose the error raised when it
    ends early (`short_error`); every other defect is a `CorruptDataError`.
    """

    name = "payload"
    short_error: type[NacrithError] = CorruptDataError

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def byte(self) -> int:
        """One byte."""
        if self.pos >= len(self.data):
            raise self.short_error(f"{self.name} ends early")
        self.pos += 1
        return self.data[self.pos - 1]

    def varint(self, limit: int = 1 << 62) -> int:
        """One LEB128 number, which must not exceed `limit`."""
        value, self.pos = get_varint(self.data, self.pos, self.name, self.short_error)
        if value > limit:
            raise CorruptDataError(f"{self.name} field {value} exceeds its bound {limit}")
        return value

    def take(self, n: int) -> bytes:
        """Exactly the next `n` bytes."""
        if n < 0 or n > len(self.data) - self.pos:
            raise self.short_error(f"{self.name} ends early")
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def rest(self) -> bytes:
        """Everything not read yet."""
        out = self.data[self.pos :]
        self.pos = len(self.data)
        return out


# --- numpy arrays ---------------------------------------------------------------------------


def encode_varints(values: np.ndarray) -> bytes:
    """LEB128 of every value of an array (read as uint64), vectorised; the bytes `put_varint`
    would write for each in turn."""
    v = np.asarray(values, dtype=np.uint64)
    if v.size == 0:
        return b""
    nbytes = np.ones(v.size, dtype=np.int64)
    rest = v >> np.uint64(7)
    while True:
        more = rest > 0
        if not more.any():
            break
        nbytes += more
        rest = rest >> np.uint64(7)
    starts = np.cumsum(nbytes) - nbytes
    out = np.empty(int(nbytes.sum()), dtype=np.uint8)
    cur = v.copy()
    for j in range(int(nbytes.max())):
        sel = nbytes > j
        low = (cur[sel] & np.uint64(0x7F)).astype(np.uint8)
        cont = (nbytes[sel] > j + 1).astype(np.uint8) << 7
        out[starts[sel] + j] = low | cont
        cur = cur >> np.uint64(7)
    return out.tobytes()


def varint_ends(data: bytes, count: int, name: str = "varint stream") -> np.ndarray:
    """Index of the last byte of each of the `count` LEB128 numbers that must fill `data`;
    `CorruptDataError` (naming `name`) when they do not."""
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) < 0x80)
    if ends.size != count or (count and ends[-1] != len(data) - 1):
        raise CorruptDataError(f"{name} holds {ends.size} values, expected {count}")
    return ends


def decode_varints(data: bytes, count: int, name: str = "varint stream") -> np.ndarray:
    """Inverse of `encode_varints`: exactly `count` values (uint64) that fill `data`;
    `CorruptDataError` (naming `name`) otherwise."""
    ends = varint_ends(data, count, name)
    if count == 0:
        return np.zeros(0, dtype=np.uint64)
    starts = np.empty(count, dtype=np.int64)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    lengths = ends - starts + 1
    if int(lengths.max()) > _MAX_BYTES:
        raise CorruptDataError(f"{name} holds a number longer than {_MAX_BYTES} bytes")
    low = np.frombuffer(data, dtype=np.uint8) & np.uint8(0x7F)
    out = low[starts].astype(np.uint64)
    idx = np.flatnonzero(lengths > 1)  # most values are one byte: only the others loop
    j = 1
    while idx.size:
        out[idx] |= low[starts[idx] + j].astype(np.uint64) << np.uint64(7 * j)
        j += 1
        idx = idx[lengths[idx] > j]
    return out


def zigzag(values: np.ndarray) -> np.ndarray:
    """Map int64 (or wrapped uint64) values to uint64 for LEB128: 0, -1, 1, -2 -> 0, 1, 2, 3."""
    s = values.view(np.int64) if values.dtype == np.uint64 else values.astype(np.int64)
    return ((s << 1) ^ (s >> 63)).view(np.uint64)


def unzigzag(values: np.ndarray) -> np.ndarray:
    """Inverse of `zigzag`, as uint64 (two's complement of the signed value)."""
    v = values.astype(np.uint64, copy=False)
    return (v >> np.uint64(1)) ^ (np.uint64(0) - (v & np.uint64(1)))
