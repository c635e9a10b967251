"""Which GGUF files the portable engine runs: read from the file's header alone (fast).

The header scan reads the architecture key and every tensor's type without loading metadata
arrays or weights, so a codec can pick its engine before any model is loaded.
"""

from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path

from nacrith.errors import ModelNotFoundError

__all__ = ["SUPPORTED_TYPES", "gguf_summary", "unsupported_reason"]

#: GGML tensor types `weights.dequantize` reads, by GGML type id
SUPPORTED_TYPES = {0: "F32", 1: "F16", 3: "Q4_1", 8: "Q8_0"}
#: GGML tensor types the Gemma graph reads (`kquants`), by GGML type id
GEMMA_TYPES = {**SUPPORTED_TYPES, 6: "Q5_0", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K"}
_ARCHITECTURES = ("llama", "gemma3")

# GGUF metadata value types: fixed sizes; 8 = string, 9 = array
_SCALAR_SIZE = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9


class _Cursor:
    """Little-endian reads from a buffer."""

    def __init__(self, buf: mmap.mmap) -> None:
        self.buf = buf
        self.pos = 0

    def unpack(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def string(self) -> bytes:
        (n,) = self.unpack("Q")
        self.pos += n
        return bytes(self.buf[self.pos - n : self.pos])

    def skip_value(self, kind: int) -> None:
        if kind == _STRING:
            (n,) = self.unpack("Q")
            self.pos += n
        elif kind == _ARRAY:
            inner, count = self.unpack("IQ")
            if inner in _SCALAR_SIZE:
                self.pos += count * _SCALAR_SIZE[inner]
            else:
                for _ in range(count):
                    self.skip_value(inner)
        elif kind in _SCALAR_SIZE:
            self.pos += _SCALAR_SIZE[kind]
        else:
            raise ValueError(f"unknown GGUF value type {kind}")


def gguf_summary(path: str | os.PathLike[str]) -> tuple[str, set[int]]:
    """(architecture, set of GGML tensor type ids) of the GGUF file at `path`."""
    path = Path(path)
    try:
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            cur = _Cursor(buf)
            magic, version, n_tensors, n_kv = cur.unpack("4sIQQ")
            if magic != b"GGUF" or version < 2:
                raise ValueError("not a GGUF file of version 2 or later")
            arch = ""
            for _ in range(n_kv):
                key = cur.string()
                (kind,) = cur.unpack("I")
                if key == b"general.architecture" and kind == _STRING:
                    arch = cur.string().decode("utf-8", "replace")
                else:
                    cur.skip_value(kind)
            types = set()
            for _ in range(n_tensors):
                cur.string()
                (n_dims,) = cur.unpack("I")
                cur.pos += 8 * n_dims
                kind, _offset = cur.unpack("IQ")
                types.add(kind)
    except (OSError, ValueError, struct.error) as exc:
        raise ModelNotFoundError(f"cannot read the GGUF header of {path}: {exc}") from exc
    return arch, types


def unsupported_reason(path: str | os.PathLike[str]) -> str | None:
    """Why the portable engine cannot run the model at `path`, or None when it can."""
    arch, types = gguf_summary(path)
    if arch not in _ARCHITECTURES:
        return f"the portable engine runs {', '.join(_ARCHITECTURES)} models, not {arch or '?'}"
    known = GEMMA_TYPES if arch == "gemma3" else SUPPORTED_TYPES
    other = sorted(types - set(known))
    if other:
        return f"the portable engine cannot read tensors of GGML types {other}"
    return None
