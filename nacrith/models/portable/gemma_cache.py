"""A disk cache of converted Gemma 3 weights (what `weight_cache` is to the llama graph).

An entry is one uncompressed ``.npz`` beside `weight_cache`'s entries, named and written by
`weight_cache` (graph ``gemma``; the code hashed is the llama converter's and the Gemma
converter's), so a change to either never reads stale integers and leaves no stale entry.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from nacrith import exact
from nacrith.models import gguf_meta
from nacrith.models.portable import blocks, gemma_weights, gguf_index, kquants
from nacrith.models.portable import weights as llama_weights
from nacrith.models.portable.gemma_weights import (
    GemmaConfig,
    GemmaLayer,
    GemmaWeights,
    load_gemma_weights,
)
from nacrith.models.portable.weight_cache import (
    cached,
    entry_path,
    get_matrix,
    put_matrix,
    write_entry,
)

__all__ = ["cached_gemma_weights", "gemma_cache_path"]

_MATRICES = ("qkv", "out", "gate_up", "down")
_VECTORS = ("attn_norm", "q_norm", "k_norm", "post_attn_norm", "ffn_norm", "post_ffn_norm")


def gemma_cache_path(gguf: str | os.PathLike[str], revision: int = 1) -> Path:
    """Where the converted Gemma weights of the GGUF at `gguf` are cached, for arithmetic
    `revision`."""
    modules = (llama_weights, exact, gemma_weights, gguf_index, gguf_meta, kquants)
    return entry_path(gguf, revision, "gemma", modules + ((blocks,) if revision != 1 else ()))


def _save(path: Path, w: GemmaWeights) -> None:
    arrays: dict[str, np.ndarray] = {"output_norm": w.output_norm}
    meta: dict[str, Any] = {"config": dataclasses.asdict(w.config), "revision": w.revision}
    put_matrix(arrays, meta, "embed", w.embed)
    for i, layer in enumerate(w.layers):
        for name in _MATRICES:
            put_matrix(arrays, meta, f"{i}.{name}", getattr(layer, name))
        for name in _VECTORS:
            arrays[f"{i}.{name}"] = getattr(layer, name)
    write_entry(path, arrays, meta)


def _load(path: Path) -> GemmaWeights:
    with np.load(path) as data:
        meta = json.loads(data["meta"].tobytes())
        layers = [
            GemmaLayer(
                **{name: get_matrix(data, meta, f"{i}.{name}") for name in _MATRICES},
                **{name: data[f"{i}.{name}"] for name in _VECTORS},
            )
            for i in range(meta["config"]["n_layer"])
        ]
        return GemmaWeights(
            config=GemmaConfig(**meta["config"]),
            embed=get_matrix(data, meta, "embed"),
            output_norm=data["output_norm"],
            layers=layers,
            revision=int(meta["revision"]),
        )


def cached_gemma_weights(gguf: str | os.PathLike[str], revision: int = 1) -> GemmaWeights:
    """The Gemma weights of the GGUF at `gguf` for arithmetic `revision`: from the cache when
    there, else converted and cached."""
    return cached(gguf, revision, gemma_cache_path, _load, load_gemma_weights, _save)
