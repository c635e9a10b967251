"""Compiled loops for the portable engine (numba), with the bits of its numpy path.

A block product's per-block integer dot products are computed on the weights' own small
integers (int8, or int16 for 12-bit ones: a quarter or half of the float32 bytes numpy's sgemm
reads) with int32 sums, which are exact in any order. Each block's term
``scale * sx * dot (+ min * x_sum)`` is the same exact float64 number numpy computes, and the
terms' sums are exact whatever their order (`blocks`), so the output has the same bits.

The attention reads the KV cache as int32 (half the bytes of the float64 numpy multiplies):
the dot products of 22-bit query and key integers and the sums of integer weights times value
integers are exact in float64 in any order (`engine`), so summing them in another order
(``reassoc``) or with fused multiply-adds (``contract``) changes no bit. Integer and float64
arithmetic of this kind has one result on every machine, whatever SIMD width LLVM picks.

numba is optional: where it does not import (no wheel for the platform) or ``NACRITH_KERNELS``
is ``numpy``, `available()` is False and the engine keeps its numpy path.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache

import numpy as np

__all__ = ["ENV", "attention_dots", "attention_mix", "available", "block_product"]

#: environment variable choosing the block products' implementation: ``numba`` or ``numpy``
ENV = "NACRITH_KERNELS"
_TILE = 512  # output columns whose int32 sums and float64 accumulators stay in L1 together


def _product(q, scale, mins, x, sx, x_sums, out, lo, hi):  # pragma: no cover - compiled
    n_blocks, block, _ = q.shape
    n = x.shape[0]
    with_mins = mins.shape[0] > 0
    sums = np.empty((n, _TILE), np.int32)
    acc = np.empty((n, _TILE))
    for c0 in range(lo, hi, _TILE):
        w = min(_TILE, hi - c0)
        acc[:, :w] = 0.0
        for b in range(n_blocks):
            sums[:, :w] = 0
            qb = q[b, :, c0 : c0 + w]
            for i in range(0, block, 2):
                q0 = qb[i]
                q1 = qb[i + 1]
                for t in range(n):
                    x0 = np.int32(x[t, b, i])
                    x1 = np.int32(x[t, b, i + 1])
                    st = sums[t, :w]
                    for k in range(w):
                        st[k] += np.int32(q0[k]) * x0 + np.int32(q1[k]) * x1
            sb = scale[b, c0 : c0 + w]
            for t in range(n):
                f = sx[t, b]
                st = sums[t, :w]
                at = acc[t, :w]
                for k in range(w):
                    at[k] += sb[k] * f * st[k]
                if with_mins:
                    mb = mins[b, c0 : c0 + w]
                    xs = x_sums[t, b]
                    for k in range(w):
                        at[k] += mb[k] * xs
        out[:, c0 : c0 + w] = acc[:, :w]


def _dots(q, keys_t, total, out):  # pragma: no cover - compiled
    n_kv, rows, hd = q.shape
    for h in range(n_kv):
        for j0 in range(0, total, _TILE):
            w = min(_TILE, total - j0)
            for r in range(rows):
                out[h, r, j0 : j0 + w] = 0.0
            for d in range(hd):
                kd = keys_t[h, d, j0 : j0 + w]
                for r in range(rows):
                    c = q[h, r, d]
                    o = out[h, r, j0 : j0 + w]
                    for j in range(w):
                        o[j] += c * kd[j]


def _mix(weights, values_t, total, out):  # pragma: no cover - compiled
    n_kv, rows, _ = weights.shape
    hd = values_t.shape[1]
    for h in range(n_kv):
        for d in range(hd):
            vd = values_t[h, d, :total]
            for r in range(rows):
                wr = weights[h, r, :total]
                s = 0.0
                for j in range(total):
                    s += wr[j] * vd[j]
                out[h, r, d] = s


@cache
def _compiled() -> tuple[Callable[..., None], ...] | None:
    if os.environ.get(ENV, "numba").strip().lower() == "numpy":
        return None
    try:
        from numba import njit
    except ImportError:
        return None
    options = {"nogil": True, "cache": True, "error_model": "numpy", "boundscheck": False}
    # every partial sum of the attention is exact, so reordering or fusing changes no bit
    exact_sums = {"reassoc", "contract"}
    return (
        njit(**options)(_product),
        njit(fastmath=exact_sums, **options)(_dots),
        njit(fastmath=exact_sums, **options)(_mix),
    )


def available() -> bool:
    """Whether the compiled block product runs here (numba imports and ``NACRITH_KERNELS`` is
    not ``numpy``)."""
    return _compiled() is not None


def _kernel(index: int) -> Callable[..., None]:
    kernels = _compiled()
    if kernels is None:
        raise RuntimeError("the compiled kernels are not available here")
    return kernels[index]


def attention_dots(q: np.ndarray, keys: np.ndarray, total: int) -> np.ndarray:
    """``q @ keys[..., :total]`` per kv head: (n_kv, rows, total) float64, exact.

    :param q: (n_kv, rows, hd) float64 query integers.
    :param keys: (n_kv, hd, n_ctx) int32 key integers of one layer, by channel.
    """
    out = np.empty((q.shape[0], q.shape[1], total))
    _kernel(1)(q, keys, total, out)
    return out


def attention_mix(weights: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The weighted sums of the values per kv head: (n_kv, rows, hd) float64, exact.

    :param weights: (n_kv, rows, total) float64 integer attention weights.
    :param values: (n_kv, hd, n_ctx) int32 value integers of one layer, by channel.
    """
    out = np.empty((weights.shape[0], weights.shape[1], values.shape[1]))
    _kernel(2)(weights, values, weights.shape[2], out)
    return out


def block_product(
    q: np.ndarray,
    scale: np.ndarray,
    mins: np.ndarray | None,
    x: np.ndarray,
    sx: np.ndarray,
    out: np.ndarray,
    lo: int,
    hi: int,
) -> None:
    """Columns lo:hi of ``out`` (n, rows) = the block product, exactly as `BlockMatrix`'s numpy
    path computes it.

    :param q: (blocks, block, rows) int8 or int16 weight integers (block even).
    :param scale: (blocks, rows) float64 block scales; `mins` the same shape, or None.
    :param x: (n, blocks, block) int16 activation integers; `sx` (n, blocks) their float64
        power-of-two scales.
    """
    kernel = _kernel(0)
    if mins is None:
        mins_arg = np.empty((0, 0))
        x_sums = np.empty((0, 0))
    else:
        mins_arg = mins
        x_sums = np.sum(x, axis=2, dtype=np.int64) * sx  # integers times powers of two: exact
    kernel(q, scale, mins_arg, x, sx, x_sums, out, lo, hi)
