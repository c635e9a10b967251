"""A disk cache of converted weights: reading a GGUF into fixed-point matrices takes seconds,
reading the integers back takes a fraction of that.

An entry is one uncompressed ``.npz`` under the model cache directory, named
``{graph}-{GGUF sha256}-r{revision}-{code}.npz`` where `code` hashes the modules that convert
it (`weights`, `blocks`, `nacrith.exact`, and the graph's own), so a change to the conversion
never reads stale integers; writing an entry removes the entries of the same GGUF, graph and
revision made by other code, and those of earlier releases' naming (an upgrade leaves no stale
copy behind). Revision 2 entries hold
the block integers as int8 (int16 where they need it). Entries are written to a temporary file
and renamed into place (atomic); a cache that cannot be written or read is skipped, never an
error.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from nacrith import exact
from nacrith.models.llm import registry
from nacrith.models.portable import blocks as blocks_module
from nacrith.models.portable import weights as weights_module
from nacrith.models.portable.blocks import BlockMatrix
from nacrith.models.portable.weights import (
    FixedMatrix,
    LayerWeights,
    LlamaConfig,
    ModelWeights,
    load_weights,
    matrix_revision,
)

__all__ = [
    "cache_path",
    "cached",
    "cached_weights",
    "entry_path",
    "get_matrix",
    "put_matrix",
    "write_entry",
]

_MATRICES = ("qkv", "out", "gate_up", "down")
#: weights of either graph (they carry their arithmetic `revision`)
W = TypeVar("W")
#: entry names of earlier releases, which named entries by one hash (never read any more)
_UNVERSIONED = re.compile(r"(gemma-)?[0-9a-f]{32}\.npz")
_VECTORS = ("attn_norm", "ffn_norm")


def entry_path(
    gguf: str | os.PathLike[str], revision: int, graph: str, modules: tuple[Any, ...]
) -> Path:
    """Where the `graph`'s converted weights of the GGUF at `gguf` are cached, for arithmetic
    `revision`, as converted by the code of `modules`."""
    code = hashlib.sha256(f"revision {revision}".encode())
    for module in modules:
        code.update(Path(module.__file__ or "").read_bytes())
    model = registry.file_sha256(gguf)[:16]
    return (
        registry.cache_dir()
        / "portable"
        / f"{graph}-{model}-r{revision}-{code.hexdigest()[:16]}.npz"
    )


def cache_path(gguf: str | os.PathLike[str], revision: int = 1) -> Path:
    """Where the converted weights of the llama GGUF at `gguf` are cached, for arithmetic
    `revision`."""
    modules = (weights_module, exact) if revision == 1 else (weights_module, blocks_module, exact)
    return entry_path(gguf, revision, "llama", modules)


def write_entry(path: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Write the cache entry `path` atomically, then remove its stale siblings (the same
    graph, GGUF and revision, other code)."""
    arrays = {**arrays, "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    family = path.name.rsplit("-", 1)[0] + "-"
    for stale in path.parent.glob("*.npz"):
        if stale != path and (stale.name.startswith(family) or _UNVERSIONED.fullmatch(stale.name)):
            stale.unlink(missing_ok=True)


def put_matrix(
    arrays: dict[str, np.ndarray], meta: dict[str, Any], name: str, m: FixedMatrix | BlockMatrix
) -> None:
    """Store matrix `m` as `name` in a cache entry's `arrays` and `meta`."""
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


def get_matrix(data: Any, meta: dict[str, Any], name: str) -> FixedMatrix | BlockMatrix:
    """The matrix `put_matrix` stored as `name`."""
    info = meta[name]
    if "span" in info:
        mins = data[name + ".mins_t"] if info["mins"] else None
        return BlockMatrix.restore(
            data[name + ".qt"], data[name + ".scale_t"], mins, info["act_bits"], info["span"]
        )
    return FixedMatrix.restore(data[name + ".ints_t"], data[name + ".scale"], **meta[name])


def _save(path: Path, w: ModelWeights) -> None:
    arrays: dict[str, np.ndarray] = {"output_norm": w.output_norm}
    meta: dict[str, Any] = {
        "config": dataclasses.asdict(w.config),
        "tied": w.output is w.embed,
        "revision": w.revision,
    }
    put_matrix(arrays, meta, "embed", w.embed)
    if w.output is not w.embed:
        put_matrix(arrays, meta, "output", w.output)
    for i, layer in enumerate(w.layers):
        for name in _MATRICES:
            put_matrix(arrays, meta, f"{i}.{name}", getattr(layer, name))
        for name in _VECTORS:
            arrays[f"{i}.{name}"] = getattr(layer, name)
    write_entry(path, arrays, meta)


def _load(path: Path) -> ModelWeights:
    with np.load(path) as data:
        meta = json.loads(data["meta"].tobytes())
        embed = get_matrix(data, meta, "embed")
        layers = [
            LayerWeights(
                **{name: get_matrix(data, meta, f"{i}.{name}") for name in _MATRICES},
                **{name: data[f"{i}.{name}"] for name in _VECTORS},
            )
            for i in range(meta["config"]["n_layer"])
        ]
        return ModelWeights(
            config=LlamaConfig(**meta["config"]),
            embed=embed,
            output=embed if meta["tied"] else get_matrix(data, meta, "output"),
            output_norm=data["output_norm"],
            layers=layers,
            revision=meta.get("revision", 1),
        )


def cached(
    gguf: str | os.PathLike[str],
    revision: int,
    path: Callable[[str | os.PathLike[str], int], Path],
    read: Callable[[Path], W],
    convert: Callable[[str | os.PathLike[str], int], W],
    write: Callable[[Path, W], None],
) -> W:
    """Weights of the GGUF at `gguf` for arithmetic `revision`: `read` from the entry at
    `path(gguf, revision)` when it is there and whole, else `convert`ed and `write`n there (a
    cache that cannot be read or written is skipped, never an error). Revisions with the same
    matrices (`weights.matrix_revision`) share the entry."""
    revision = matrix_revision(revision)
    entry = path(gguf, revision) if Path(gguf).is_file() else None
    if entry is not None and entry.is_file():
        try:
            weights = read(entry)
            if weights.revision == revision:
                return weights
        except (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile):
            pass  # an unreadable entry: convert again and replace it
    weights = convert(gguf, revision)  # ModelNotFoundError when the file is missing or unreadable
    if entry is not None:
        try:
            write(entry, weights)
        except (OSError, ValueError):
            pass
    return weights


def cached_weights(gguf: str | os.PathLike[str], revision: int = 1) -> ModelWeights:
    """The weights of the GGUF at `gguf` for arithmetic `revision`: from the cache when there,
    else converted and cached."""
    return cached(gguf, revision, cache_path, _load, load_weights, _save)
