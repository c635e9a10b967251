"""Memory for speed: keep the exact float64 values of some block matrices (revision 2), so a
product of several rows (the encoder's batches, a prefill) runs one GEMM per matrix instead of
widening the float32 integers slab by slab. The bits are the same either way
(`BlockMatrix.widen`); each kept value costs 8 bytes per weight.
"""

from __future__ import annotations

from typing import Any

from nacrith.models.portable.blocks import BlockMatrix

__all__ = ["PARTS", "widen"]

#: what `widen` may keep widened: nothing, the feed-forward matrices, every layer matrix, every
#: matrix with the output layer
PARTS = ("none", "ffn", "layers", "all")


def widen(weights: Any, part: str) -> int:
    """Keep the float64 values of `part` (one of `PARTS`) of a llama graph's block matrices and
    drop the others'. Returns the bytes the kept values take."""
    if part not in PARTS:
        raise ValueError(f"widen one of {', '.join(PARTS)}, not {part!r}")
    layers = weights.layers
    ffn = [m for lw in layers for m in (lw.gate_up, lw.down)]
    attention = [m for lw in layers for m in (lw.qkv, lw.out)]
    chosen = {"none": [], "ffn": ffn, "layers": ffn + attention}.get(part)
    if chosen is None:
        chosen = [*ffn, *attention, weights.output]
    total = 0
    for m in [*ffn, *attention, weights.output]:
        if not isinstance(m, BlockMatrix):
            continue
        if any(m is c for c in chosen):
            m.widen()
            total += m.values_t.nbytes  # type: ignore[union-attr]
        else:
            m.values_t = None
    return total
