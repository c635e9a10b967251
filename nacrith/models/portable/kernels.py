"""Compiled loops for the portable engine (numba), with the bits of its numpy path.

A block product's per-block integer dot products are computed on the weights' own small
integers (int8, or int16 for 12-bit ones: a quarter or half of the float32 bytes numpy's sgemm
reads) with int32 sums, which are exact in any order. The weights are packed (`pack`) in tiles
of `TILE` output columns, each tile's integers and scales contiguous, so one product streams
through memory once. Each block's term ``scale * sx * dot (+ min * x_sum)`` is the same exact
float64 number numpy computes, and the terms' sums are exact whatever their order (`blocks`), so
the output has the same bits.

The attention reads the KV cache as int32 in tiles of `SPAN` positions (half the bytes of the
float64 numpy multiplies, in one stream):
the dot products of 22-bit query and key integers and the sums of integer weights times value
integers are exact in float64 in any order (`engine`), so summing them in another order
(``reassoc``) or with fused multiply-adds (``contract``) changes no bit. Integer and float64
arithmetic of this kind has one result on every machine, whatever SIMD width LLVM picks.

numba is optional: where it does not import (no wheel for the platform) or ``NACRITH_KERNELS``
is ``numpy``, `available()` is False and the engine keeps its numpy path.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from typing import NamedTuple

import numpy as np

from nacrith import exact, jit
from nacrith.errors import NacrithError

__all__ = [
    "ENV",
    "SPAN",
    "TILE",
    "PackedBlocks",
    "attention_dots",
    "attention_mix",
    "available",
    "block_product",
    "fixed_point",
    "pack",
    "quantize",
    "row_peak",
    "table_softmax",
]

#: environment variable choosing the kernels' implementation: ``numba`` or ``numpy``
ENV = jit.ENV
#: output columns of one tile of packed weights: its int32 sums and float64 sums stay in L1
TILE = 256
#: cache positions of one tile of the compact KV cache (`kv_cache`)
SPAN = 64


class PackedBlocks(NamedTuple):
    """A block matrix's integers and scales packed for `block_product`."""

    #: (tiles, blocks, block, TILE) int8 or int16 integers, zero past the last row
    q: np.ndarray
    #: (tiles, blocks, TILE) block scales, float32 where that holds them exactly, else float64
    scale: np.ndarray
    #: the same for the block mins, or None
    mins: np.ndarray | None
    #: the matrix's rows (output columns)
    rows: int


def _product(q, scale, mins, x, sx, x_sums, out, lo, hi, rows):  # pragma: no cover - compiled
    _, n_blocks, block, tile = q.shape
    n = x.shape[0]
    with_mins = mins.shape[0] > 0
    sums = np.empty((n, tile), np.int32)
    acc = np.empty((n, tile))
    for ti in range(lo, hi):
        acc[:] = 0.0
        for b in range(n_blocks):
            sums[:] = 0
            qb = q[ti, b]
            for i in range(0, block, 2):
                q0 = qb[i]
                q1 = qb[i + 1]
                for t in range(n):
                    x0 = np.int32(x[t, b, i])
                    x1 = np.int32(x[t, b, i + 1])
                    st = sums[t]
                    for k in range(tile):
                        st[k] += np.int32(q0[k]) * x0 + np.int32(q1[k]) * x1
            sb = scale[ti, b]
            for t in range(n):
                f = sx[t, b]
                st = sums[t]
                at = acc[t]
                for k in range(tile):
                    at[k] += np.float64(sb[k]) * f * st[k]
                if with_mins:
                    mb = mins[ti, b]
                    xs = x_sums[t, b]
                    for k in range(tile):
                        at[k] += np.float64(mb[k]) * xs
        c0 = ti * tile
        w = min(tile, rows - c0)
        out[:, c0 : c0 + w] = acc[:, :w]


def _dots(q, keys, total, out):  # pragma: no cover - compiled
    n_kv, rows, hd = q.shape
    span = keys.shape[3]
    for h in range(n_kv):
        for ti in range((total + span - 1) // span):
            j0 = ti * span
            w = min(span, total - j0)
            block = keys[h, ti]
            for r in range(rows):
                o = out[h, r, j0 : j0 + w]
                o[:] = 0.0
                qr = q[h, r]
                for d in range(hd):
                    c = qr[d]
                    kd = block[d, :w]
                    for j in range(w):
                        o[j] += c * kd[j]


def _mix(weights, values, total, out):  # pragma: no cover - compiled
    n_kv, rows, _ = weights.shape
    span, hd = values.shape[3], values.shape[2]
    for h in range(n_kv):
        oh = out[h]
        oh[:] = 0.0
        for ti in range((total + span - 1) // span):
            j0 = ti * span
            w = min(span, total - j0)
            block = values[h, ti]
            for r in range(rows):
                wr = weights[h, r, j0 : j0 + w]
                orow = oh[r]
                for d in range(hd):
                    vd = block[d, :w]
                    s = 0.0
                    for j in range(w):
                        s += wr[j] * vd[j]
                    orow[d] += s


def _table_softmax(scores, table, grid, p_scale, out):  # pragma: no cover - compiled
    rows, total = scores.shape
    last = float(table.shape[0] - 1)
    for r in range(rows):
        s = scores[r]
        top = -np.inf
        for j in range(total):
            v = s[j]
            if v != v:
                return False
            top = max(top, v)
        if not -np.inf < top < np.inf:
            return False
        o = out[r]
        whole = 0.0
        for j in range(total):
            x = min(np.rint((top - s[j]) * grid), last)
            o[j] = table[int(x)]
            whole += o[j]  # integers below 2**53: exact in any order
        for j in range(total):
            o[j] = np.rint(o[j] * p_scale / whole)
    return True


def _quantize(x, block, span, act_bits, act_limit, ints, scales):  # pragma: no cover - compiled
    n, cols = x.shape
    n_blocks = cols // block
    peaks = np.empty(n_blocks)
    for t in range(n):
        row = x[t]
        peak = 0.0
        for b in range(n_blocks):
            m = 0.0
            for i in range(b * block, (b + 1) * block):
                v = abs(row[i])
                if not v <= 1.7976931348623157e308:
                    return False  # NaN or infinite: the numpy path decides
                m = max(m, v)
            peaks[b] = m
            peak = max(peak, m)
        dead = not peak >= 2.0**-900
        top = math.frexp(1.0 if dead else peak)[1]
        for b in range(n_blocks):
            e = math.frexp(peaks[b])[1] if peaks[b] > 0 else 0
            shift = max(e, top - span) - act_bits
            factor = math.ldexp(1.0, -shift)
            for i in range(b * block, (b + 1) * block):
                v = 0.0 if dead else min(max(np.rint(row[i] * factor), -act_limit), act_limit)
                ints[t, b, i - b * block] = np.int16(v)
            scales[t, b] = math.ldexp(1.0, shift)
    return True


def row_peak(row: np.ndarray) -> float:
    """The largest magnitude of a row, or -1.0 when it holds a NaN or an infinity (a helper of
    compiled loops, `jit.share_helper`)."""
    peak = 0.0
    for i in range(row.shape[0]):
        v = abs(row[i])
        if not v <= 1.7976931348623157e308:
            return -1.0
        peak = max(peak, v)
    return peak


def _fixed_point(x, bits, ints, scales):  # pragma: no cover - compiled
    rows, cols = x.shape
    for t in range(rows):
        row = x[t]
        peak = row_peak(row)
        if peak < 0.0:
            return False  # NaN or infinite: the numpy path decides
        if not peak >= 2.0**-900:
            ints[t, :] = 0.0
            scales[t] = 1.0
            continue
        shift = math.frexp(peak)[1] - bits
        for i in range(cols):
            ints[t, i] = np.rint(math.ldexp(row[i], -shift))
        scales[t] = math.ldexp(1.0, shift)
    return True


class _Loops(NamedTuple):
    """The compiled forms of this module's loops."""

    product: Callable[..., None]
    dots: Callable[..., None]
    mix: Callable[..., None]
    table_softmax: Callable[..., bool]
    quantize: Callable[..., bool]
    fixed_point: Callable[..., bool]


@cache
def _compiled() -> _Loops | None:
    if jit.compiler() is None:
        return None
    jit.share_helper(row_peak)
    # every partial sum of the attention is exact, so reordering or fusing changes no bit
    exact_sums = {"reassoc", "contract"}
    return _Loops(
        product=jit.compile_loop(_product),
        dots=jit.compile_loop(_dots, fastmath=exact_sums),
        mix=jit.compile_loop(_mix, fastmath=exact_sums),
        table_softmax=jit.compile_loop(_table_softmax),  # numpy's IEEE operations: no fastmath
        quantize=jit.compile_loop(_quantize),
        fixed_point=jit.compile_loop(_fixed_point),
    )


def available() -> bool:
    """Whether the compiled kernels run here (`jit.compiler`: numba imports and
    ``NACRITH_KERNELS`` is not ``numpy``)."""
    return _compiled() is not None


def _loops() -> _Loops:
    loops = _compiled()
    if loops is None:
        raise RuntimeError("the compiled kernels are not available here")
    return loops


def attention_dots(q: np.ndarray, keys: np.ndarray, total: int) -> np.ndarray:
    """The dot products of queries and the first `total` keys per kv head: (n_kv, rows,
    total) float64, exact.

    :param q: (n_kv, rows, hd) float64 query integers.
    :param keys: (n_kv, tiles, hd, SPAN) int32 key integers of one layer (`kv_cache`).
    """
    out = np.empty((q.shape[0], q.shape[1], total))
    _loops().dots(q, keys, total, out)
    return out


def attention_mix(weights: np.ndarray, values: np.ndarray, total: int) -> np.ndarray:
    """The weighted sums of the first `total` values per kv head: (n_kv, rows, hd) float64,
    exact.

    :param weights: (n_kv, rows, total) float64 integer attention weights.
    :param values: (n_kv, tiles, hd, SPAN) int32 value integers of one layer (`kv_cache`).
    """
    out = np.empty((weights.shape[0], weights.shape[1], values.shape[2]))
    _loops().mix(weights, values, total, out)
    return out


def table_softmax(scores: np.ndarray, table: np.ndarray, grid: float, p_scale: float) -> np.ndarray:
    """`softmax.attention_weights` of revision 3 on (..., total) scores, the same operations
    in the same order; `NacrithError` for a row without a finite maximum (NaN, overflow)."""
    rows = np.ascontiguousarray(scores).reshape(-1, scores.shape[-1])
    out = np.empty_like(rows)
    if not _loops().table_softmax(rows, table, grid, p_scale, out):
        raise NacrithError("attention scores are not finite (NaN or overflow?)")
    return out.reshape(scores.shape)


def quantize(
    x: np.ndarray, block: int, span: int, act_bits: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """`BlockMatrix.quantize` of finite rows `x` (n, cols), the same operations: integers as
    (n, blocks, block) int16 and the blocks' power-of-two scales (n, blocks); None when `x`
    holds a NaN or an infinity (then the numpy path decides what that gives)."""
    n, cols = x.shape
    ints = np.empty((n, cols // block, block), dtype=np.int16)
    scales = np.empty((n, cols // block))
    limit = float(2**act_bits - 1)
    x = np.ascontiguousarray(x, dtype=np.float64)
    if not _loops().quantize(x, block, span, act_bits, limit, ints, scales):
        return None
    return ints, scales


def fixed_point(x: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """`exact.fixed_point` (rows along the last axis), the same operations; rows holding a NaN
    or an infinity make the whole call take `exact.fixed_point` itself."""
    rows = np.ascontiguousarray(x, dtype=np.float64).reshape(-1, x.shape[-1])
    ints = np.empty_like(rows)
    scales = np.empty(rows.shape[0])
    if not _loops().fixed_point(rows, bits, ints, scales):
        return exact.fixed_point(x, bits)
    return ints.reshape(x.shape), scales.reshape(x.shape[:-1])


def _packed_scales(scale: np.ndarray, tiles: int) -> np.ndarray:
    """(blocks, rows) scales as (tiles, blocks, TILE), float32 when that is exact."""
    blocks, rows = scale.shape
    narrow = scale.astype(np.float32)
    dtype = np.float32 if np.array_equal(narrow, scale) else np.float64
    out = np.zeros((blocks, tiles * TILE), dtype=dtype)
    out[:, :rows] = scale
    return np.ascontiguousarray(out.reshape(blocks, tiles, TILE).transpose(1, 0, 2))


def pack(ints: np.ndarray, scale: np.ndarray, mins: np.ndarray | None) -> PackedBlocks:
    """Pack a block matrix for `block_product`.

    :param ints: (blocks, block, rows) weight integers (any dtype); int8 where they fit, else
        int16 (at most 15 bits; `BlockMatrix` keeps them far smaller).
    :param scale: (blocks, rows) block scales; `mins` the same shape, or None.
    """
    blocks, block, rows = ints.shape
    if block % 2:
        raise ValueError(f"blocks of {block} columns: the kernel takes an even block")
    peak = float(np.max(np.abs(ints))) if ints.size else 0.0
    if peak >= 2**15:
        raise ValueError(f"weight integers up to {peak} do not fit int16")
    dtype = np.int8 if peak <= 127 else np.int16
    tiles = -(-rows // TILE)
    q = np.zeros((blocks, block, tiles * TILE), dtype=dtype)
    q[:, :, :rows] = ints
    q = np.ascontiguousarray(q.reshape(blocks, block, tiles, TILE).transpose(2, 0, 1, 3))
    packed_mins = None if mins is None else _packed_scales(mins, tiles)
    return PackedBlocks(q, _packed_scales(scale, tiles), packed_mins, rows)


def block_product(
    packed: PackedBlocks,
    x: np.ndarray,
    sx: np.ndarray,
    out: np.ndarray,
    lo: int,
    hi: int,
) -> None:
    """Tiles lo:hi of ``out`` (n, rows) = the block product, exactly as `BlockMatrix`'s numpy
    path computes it (tile i holds output columns ``i * TILE`` up to ``(i + 1) * TILE``).

    :param packed: the weights (`pack`).
    :param x: (n, blocks, block) int16 activation integers; `sx` (n, blocks) their float64
        power-of-two scales.
    """
    if packed.mins is None:
        mins_arg = np.empty((0, 0, 0))
        x_sums = np.empty((0, 0))
    else:
        mins_arg = packed.mins
        x_sums = np.sum(x, axis=2, dtype=np.int64) * sx  # integers times powers of two: exact
    _loops().product(packed.q, packed.scale, mins_arg, x, sx, x_sums, out, lo, hi, packed.rows)
