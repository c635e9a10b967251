"""LEB128 varints and a bounds-checked payload reader, shared by the codecs.

Every codec payload that carries small integers writes them with `put_varint` / `varint` and
reads them back through a `PayloadReader` (or `get_varint`), which never reads past its buffer:
a payload that ends early raises the reader's `short_error`, a malformed one `CorruptDataError`.
"""

from __future__ import annotations

from nacrith.errors import CorruptDataError, NacrithError

__all__ = ["PayloadReader", "get_varint", "put_varint", "varint"]

_MAX_SHIFT = 63


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
