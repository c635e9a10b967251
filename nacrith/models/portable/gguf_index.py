"""A GGUF file's scalar metadata and tensors, read without decoding its metadata arrays.

`gguf.GGUFReader` builds a numpy view for every element of every metadata array; for a model with
a vocabulary of a quarter of a million tokens that takes far longer than reading the weights. This
index keeps the scalars and strings, the lengths of arrays, and memory-mapped views of the tensor
data (type names and sizes from the `gguf` package's tables).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nacrith.errors import ModelNotFoundError

__all__ = ["GGUFIndex", "Tensor"]

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
class Tensor:
    """One tensor: `shape` in GGUF order (columns first), `type_name` as GGML names it, `data`
    its raw bytes (rows, bytes per row) as uint8, or float32 / float16 values for F32 / F16."""

    name: str
    shape: tuple[int, ...]
    type_name: str
    data: np.ndarray


class GGUFIndex:
    """Scalar metadata (`fields`: key -> value; arrays as their length) and tensors by name."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        import gguf

        self.path = Path(path)
        try:
            raw = np.memmap(self.path, dtype=np.uint8, mode="r")
            self.fields, self.tensors = self._read(raw, gguf)
        except (OSError, ValueError, struct.error, KeyError) as exc:
            raise ModelNotFoundError(f"cannot read the GGUF file {self.path}: {exc}") from exc

    @staticmethod
    def _read(raw: np.ndarray, gguf: object) -> tuple[dict[str, object], dict[str, Tensor]]:
        buf = raw.data
        pos = 0

        def unpack(fmt: str) -> tuple:
            nonlocal pos
            values = struct.unpack_from("<" + fmt, buf, pos)
            pos += struct.calcsize("<" + fmt)
            return values

        def string() -> str:
            nonlocal pos
            (n,) = unpack("Q")
            pos += n
            return bytes(buf[pos - n : pos]).decode("utf-8", "replace")

        def value(kind: int) -> object:
            nonlocal pos
            if kind == _STRING:
                return string()
            if kind == _ARRAY:
                inner, count = unpack("IQ")
                if inner in _SCALARS:
                    pos += count * struct.calcsize("<" + _SCALARS[inner])
                else:
                    for _ in range(count):
                        value(inner)
                return count
            if kind in _SCALARS:
                return unpack(_SCALARS[kind])[0]
            raise ValueError(f"unknown GGUF value type {kind}")

        magic, version, n_tensors, n_kv = unpack("4sIQQ")
        if magic != b"GGUF" or version < 2:
            raise ValueError("not a GGUF file of version 2 or later")
        fields: dict[str, object] = {}
        for _ in range(n_kv):
            key = string()
            (kind,) = unpack("I")
            fields[key] = value(kind)
        infos = []
        for _ in range(n_tensors):
            name = string()
            (n_dims,) = unpack("I")
            dims = unpack("Q" * n_dims)
            kind, offset = unpack("IQ")
            infos.append((name, tuple(int(d) for d in dims), int(kind), int(offset)))
        align = int(fields.get("general.alignment", 32))  # type: ignore[call-overload]
        start = (pos + align - 1) // align * align
        tensors = {}
        for name, dims, kind, offset in infos:
            qtype = gguf.GGMLQuantizationType(kind)  # type: ignore[attr-defined]
            block, size = gguf.GGML_QUANT_SIZES[qtype]  # type: ignore[attr-defined]
            cols = dims[0]
            rows = int(np.prod(dims[1:], dtype=np.int64)) if len(dims) > 1 else 1
            row_bytes = cols // block * size
            lo = start + offset
            data = raw[lo : lo + rows * row_bytes].reshape(rows, row_bytes)
            if qtype.name in ("F32", "F16"):
                data = data.view("<f4" if qtype.name == "F32" else "<f2")
            tensors[name] = Tensor(name, dims, qtype.name, data)
        return fields, tensors
