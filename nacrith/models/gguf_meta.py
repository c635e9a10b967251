"""The one reader of GGUF headers: metadata and tensor descriptions, with arrays decoded on request.

`gguf.GGUFReader` builds a numpy view for every element of every metadata array, which for a
vocabulary of a quarter of a million tokens takes far longer than reading the weights
(`scripts/bench_gguf_meta.py` measures both). This reader walks the memory-mapped header once:

- scalars come back as Python values and strings as `str` (invalid UTF-8 replaced);
- an array comes back as its length, unless `arrays` selects its key: then numeric arrays are
  numpy arrays (copied out of the file), string arrays lists of `bytes`, other arrays lists;
- each tensor is described by name, dimensions (GGUF order, columns first), GGML type id and the
  offset of its data from `data_start` (the aligned end of the header).

The portable engine's header check (`models.portable.support`), its tensor index
(`models.portable.gguf_index`) and the pure vocabulary (`models.llm.vocab`) all read through it.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nacrith.errors import ModelNotFoundError

__all__ = ["GGUFHeader", "TensorInfo", "read_gguf"]

# GGUF metadata value types with a fixed size (struct formats); 8 = string, 9 = array
_SCALARS = {
    0: "B",
    1: "b",
    2: "H",
    3: "h",
    4: "I",
    5: "i",
    6: "f",
    7: "?",
    10: "Q",
    11: "q",
    12: "d",
}
_STRING, _ARRAY = 8, 9


@dataclass(frozen=True)
class TensorInfo:
    """One tensor's description in the header: its data lies at `data_start + offset`."""

    name: str
    dims: tuple[int, ...]
    type_id: int
    offset: int


@dataclass(frozen=True)
class GGUFHeader:
    """A GGUF file's metadata (`fields`: key -> value), its tensors in file order, and the
    absolute offset where tensor data starts."""

    fields: dict[str, object]
    tensors: list[TensorInfo]
    data_start: int


class _Parser:
    """Little-endian reads from the mapped header."""

    def __init__(self, buf: mmap.mmap, decode: Callable[[str], bool]) -> None:
        self.buf = buf
        self.pos = 0
        self.decode = decode

    def unpack(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def raw_string(self) -> bytes:
        (n,) = self.unpack("Q")
        self.pos += n
        if self.pos > len(self.buf):
            raise ValueError("a string runs past the end of the file")
        return self.buf[self.pos - n : self.pos]

    def value(self, kind: int, decode: bool) -> object:
        if kind == _STRING:
            return self.raw_string().decode("utf-8", "replace")
        if kind == _ARRAY:
            return self.array(decode)
        if kind in _SCALARS:
            return self.unpack(_SCALARS[kind])[0]
        raise ValueError(f"unknown GGUF value type {kind}")

    def array(self, decode: bool) -> object:
        inner, count = self.unpack("IQ")
        if inner in _SCALARS:
            dtype = np.dtype("<" + _SCALARS[inner])
            if self.pos + count * dtype.itemsize > len(self.buf):
                raise ValueError("an array runs past the end of the file")
            arr = None
            if decode:
                arr = np.frombuffer(self.buf, dtype=dtype, count=count, offset=self.pos).copy()
            self.pos += count * dtype.itemsize
            return arr if decode else count
        if inner == _STRING:
            if decode:
                return [self.raw_string() for _ in range(count)]
            for _ in range(count):
                (n,) = self.unpack("Q")
                self.pos += n
            if self.pos > len(self.buf):
                raise ValueError("an array runs past the end of the file")
            return count
        items = [self.value(inner, decode) for _ in range(count)]
        return items if decode else count


def read_gguf(
    path: str | os.PathLike[str],
    arrays: bool | Callable[[str], bool] = False,
    *,
    what: str | None = None,
) -> GGUFHeader:
    """The header of the GGUF file at `path`; arrays whose key `arrays` selects (all with True)
    are decoded. A file that cannot be read raises `ModelNotFoundError` naming `what` (by
    default "the GGUF file <path>")."""
    path = Path(path)
    decode = arrays if callable(arrays) else (lambda _key: bool(arrays))
    try:
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _parse(_Parser(buf, decode))
    except (OSError, ValueError, struct.error) as exc:
        raise ModelNotFoundError(f"cannot read {what or f'the GGUF file {path}'}: {exc}") from exc


def _parse(cur: _Parser) -> GGUFHeader:
    magic, version, n_tensors, n_kv = cur.unpack("4sIQQ")
    if magic != b"GGUF" or version < 2:
        raise ValueError("not a GGUF file of version 2 or later")
    fields: dict[str, object] = {}
    for _ in range(n_kv):
        key = cur.raw_string().decode("utf-8", "replace")
        (kind,) = cur.unpack("I")
        fields[key] = cur.value(kind, kind == _ARRAY and cur.decode(key))
    tensors = []
    for _ in range(n_tensors):
        name = cur.raw_string().decode("utf-8", "replace")
        (n_dims,) = cur.unpack("I")
        dims = cur.unpack("Q" * n_dims)
        kind, offset = cur.unpack("IQ")
        tensors.append(TensorInfo(name, tuple(int(d) for d in dims), int(kind), int(offset)))
    align = int(fields.get("general.alignment", 32))  # type: ignore[call-overload]
    if align <= 0:
        raise ValueError(f"bad alignment {align}")
    return GGUFHeader(fields, tensors, (cur.pos + align - 1) // align * align)
