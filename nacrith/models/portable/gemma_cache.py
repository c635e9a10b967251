"""A disk cache of converted Gemma 3 weights (what `weight_cache` is to the llama graph).

An entry is one uncompressed ``.npz`` beside `weight_cache`'s entries, named by `cache_path` of
the GGUF (its sha256 and the llama converter's code) and the code of the Gemma converter, so a
change to either never reads stale integers. Entries are written to a temporary file and renamed
into place; a cache that cannot be written or read is skipped, never an error.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from nacrith.models.portable import blocks, gemma_weights, gguf_index, kquants
from nacrith.models.portable.blocks import BlockMatrix
from nacrith.models.portable.gemma_weights import (
    GemmaConfig,
    GemmaLayer,
    GemmaWeights,
    load_gemma_weights,
)
from nacrith.models.portable.weight_cache import cache_path
from nacrith.models.portable.weights import FixedMatrix

__all__ = ["cached_gemma_weights", "gemma_cache_path"]

_MATRICES = ("qkv", "out", "gate_up", "down")
_VECTORS = ("attn_norm", "q_norm", "k_norm", "post_attn_norm", "ffn_norm", "post_ffn_norm")


def gemma_cache_path(gguf: str | os.PathLike[str], revision: int = 1) -> Path:
    """Where the converted Gemma weights of the GGUF at `gguf` are cached, for arithmetic
    `revision`."""
    base = cache_path(gguf, revision)
    h = hashlib.sha256(base.stem.encode())
    modules = (gemma_weights, gguf_index, kquants) + ((blocks,) if revision != 1 else ())
    for module in modules:
        h.update(Path(module.__file__ or "").read_bytes())
    return base.with_name(f"gemma-{h.hexdigest()[:32]}.npz")


def _put(
    arrays: dict[str, np.ndarray], meta: dict[str, Any], name: str, m: FixedMatrix | BlockMatrix
) -> None:
    if isinstance(m, BlockMatrix):
        small = np.int8 if np.max(np.abs(m.qt), initial=0) <= 127 else np.int16
        arrays[name + ".qt"] = m.qt.astype(small)
        arrays[name + ".scale_t"] = m.scale_t
        if m.mins_t is not None:
            arrays[name + ".mins_t"] = m.mins_t
        meta[name] = {"act_bits": m.act_bits, "span": m.span, "mins": m.mins_t is not None}
        return
    ints = m.ints_t.astype(np.int32)
    if not np.array_equal(ints, m.ints_t):
        raise ValueError(f"{name}: integers do not fit 32 bits")
    arrays[name + ".ints_t"] = ints
    arrays[name + ".scale"] = m.scale
    meta[name] = {"bits": m.bits, "exact_rows": m.exact_rows}


def _get(data: Any, meta: dict[str, Any], name: str) -> FixedMatrix | BlockMatrix:
    info = meta[name]
    if "span" in info:
        mins = data[name + ".mins_t"] if info["mins"] else None
        return BlockMatrix.restore(
            data[name + ".qt"], data[name + ".scale_t"], mins, info["act_bits"], info["span"]
        )
    return FixedMatrix.restore(data[name + ".ints_t"], data[name + ".scale"], **meta[name])


def _save(path: Path, w: GemmaWeights) -> None:
    arrays: dict[str, np.ndarray] = {"output_norm": w.output_norm}
    meta: dict[str, Any] = {"config": dataclasses.asdict(w.config), "revision": w.revision}
    _put(arrays, meta, "embed", w.embed)
    for i, layer in enumerate(w.layers):
        for name in _MATRICES:
            _put(arrays, meta, f"{i}.{name}", getattr(layer, name))
        for name in _VECTORS:
            arrays[f"{i}.{name}"] = getattr(layer, name)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load(path: Path) -> GemmaWeights:
    with np.load(path) as data:
        meta = json.loads(data["meta"].tobytes())
        layers = [
            GemmaLayer(
                **{name: _get(data, meta, f"{i}.{name}") for name in _MATRICES},
                **{name: data[f"{i}.{name}"] for name in _VECTORS},
            )
            for i in range(meta["config"]["n_layer"])
        ]
        return GemmaWeights(
            config=GemmaConfig(**meta["config"]),
            embed=_get(data, meta, "embed"),
            output_norm=data["output_norm"],
            layers=layers,
            revision=int(meta["revision"]),
        )


def cached_gemma_weights(gguf: str | os.PathLike[str], revision: int = 1) -> GemmaWeights:
    """The Gemma weights of the GGUF at `gguf` for arithmetic `revision`: from the cache when
    there, else converted and cached."""
    path = gemma_cache_path(gguf, revision) if Path(gguf).is_file() else None
    if path is not None and path.is_file():
        try:
            return _load(path)
        except (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile):
            pass  # an unreadable entry: convert again and replace it
    weights = load_gemma_weights(
        gguf, revision
    )  # ModelNotFoundError when the file is missing or unreadable
    if path is not None:
        try:
            _save(path, weights)
        except (OSError, ValueError):
            pass
    return weights
