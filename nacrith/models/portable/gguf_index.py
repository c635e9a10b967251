"""A GGUF file's scalar metadata and tensors, read without decoding its metadata arrays.

The header comes from `models.gguf_meta` (arrays kept as their length); the tensors are
memory-mapped views of the file's data, with type names and sizes from the `gguf` package's tables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nacrith.errors import ModelNotFoundError
from nacrith.models.gguf_meta import GGUFHeader, read_gguf

__all__ = ["GGUFIndex", "Tensor"]


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
        self.path = Path(path)
        header = read_gguf(self.path)
        self.fields = header.fields
        try:
            raw = np.memmap(self.path, dtype=np.uint8, mode="r")
            self.tensors = self._views(raw, header)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelNotFoundError(f"cannot read the GGUF file {self.path}: {exc}") from exc

    @staticmethod
    def _views(raw: np.ndarray, header: GGUFHeader) -> dict[str, Tensor]:
        import gguf

        tensors = {}
        for info in header.tensors:
            qtype = gguf.GGMLQuantizationType(info.type_id)
            block, size = gguf.GGML_QUANT_SIZES[qtype]
            dims = info.dims
            cols = dims[0]
            rows = int(np.prod(dims[1:], dtype=np.int64)) if len(dims) > 1 else 1
            row_bytes = cols // block * size
            lo = header.data_start + info.offset
            data = raw[lo : lo + rows * row_bytes].reshape(rows, row_bytes)
            if qtype.name in ("F32", "F16"):
                data = data.view("<f4" if qtype.name == "F32" else "<f2")
            tensors[info.name] = Tensor(info.name, dims, qtype.name, data)
        return tensors
