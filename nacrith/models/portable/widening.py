"""Memory for speed: keep the exact float64 values of some block matrices (revision 2), so a
product of several rows (the encoder's batches, a prefill) runs one GEMM per matrix instead of
widening the float32 integers slab by slab. The bits are the same either way
(`BlockMatrix.widen`); each kept value costs 8 bytes per weight.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nacrith.models.portable.blocks import BlockMatrix

__all__ = [
    "AUTO_MIN_AVAILABLE",
    "AUTO_MIN_TOKENS",
    "PARTS",
    "auto_part",
    "available_memory",
    "check_part",
    "widen",
]

#: what `widen` may keep widened: nothing, the feed-forward matrices, every layer matrix, every
#: matrix with the output layer
PARTS = ("none", "ffn", "layers", "all")
#: the part an encoder widens when `auto_part` finds it worth its memory and time
AUTO_PART = "layers"
#: tokens an encoder must have ahead before widening pays for its one-time cost
#: (BENCHMARKS.md, "portable engine", the encoder widened or not)
AUTO_MIN_TOKENS = 2048
#: memory the machine must have available (bytes) before an encoder widens
AUTO_MIN_AVAILABLE = 4 << 30


def available_memory(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """Bytes of memory available to new allocations (Linux's MemAvailable), or None where the
    system does not say."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def auto_part(tokens: int, available: int | None) -> str:
    """What an encoder with `tokens` tokens ahead widens when nobody chose: `AUTO_PART` when
    there are enough tokens to repay the widening and `available` bytes of memory to hold it,
    else ``"none"``."""
    if tokens < AUTO_MIN_TOKENS or available is None or available < AUTO_MIN_AVAILABLE:
        return "none"
    return AUTO_PART


def check_part(part: str) -> None:
    """`ValueError` unless `part` is one of `PARTS`."""
    if part not in PARTS:
        raise ValueError(f"widen one of {', '.join(PARTS)}, not {part!r}")


def widen(weights: Any, part: str) -> int:
    """Keep the float64 values of `part` (one of `PARTS`) of a llama graph's block matrices and
    drop the others'. Returns the bytes the kept values take."""
    check_part(part)
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
