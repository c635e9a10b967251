"""Block-quantized weight matrices with exact products in float32 (arithmetic revision 2).

A `BlockMatrix` keeps a GGUF tensor's own quantization: small integers per weight, and per block
of `block` consecutive columns a scale (and optionally a min) shared by the block. A product
``x @ W.T`` quantizes each block of each activation row to integers of at most `act_limit` in
magnitude, times a power of two per block. Then:

1. the integer dot product of every block (``block * max|int| * act_limit < 2**24``) is exact in
   float32, so a batched sgemm over the blocks gives the same integers whatever kernel, SIMD
   width, thread count or summation order computes it (4 bytes per weight read, not 8);
2. each block's term ``sx * (d * dot + m * sum(x_ints))`` is an exact float64 number on a grid
   shared by the whole output row, and the terms' magnitudes are bounded so every partial sum
   stays below 2**53 grid steps: their sum is exact in any order too.

For (2) the block exponents of one activation row are kept within `span` binary places of the
row's largest (a smaller block is then quantized a little coarser); `span` is derived at
construction from the scales, mins and integer ranges, which proves the bound. The bound also
covers the whole row product ``sum_j x_j * W[r, j]`` of the quantized activations and the exact
float64 weights, so a float64 GEMM over the dequantized weights (`widen`) gives the very same
numbers: an exact sum has one value however it is computed. A widened matrix uses that GEMM for
several rows at once (no per-block intermediates), the float32 blocks for one; any matrix uses
it for many rows (a prefill), widening a cache-sized slab of its rows at a time.

Where the compiled `kernels` run, products of fewer rows are compiled loops over the integers
as int8 (or int16), packed in tiles of output columns (`packed`), with the same exact sums, so
the same bits.

Each product's weight rows (its output columns) may be split over threads (`parallel`): a
column's value is an exact sum, so the split changes no bit.
"""

from __future__ import annotations

import numpy as np

from nacrith.errors import ModelNotFoundError, NacrithError
from nacrith.models.portable import kernels, parallel

__all__ = ["BlockMatrix", "block_tensor"]

_F32_EXACT = 2.0**24  # float32 holds every integer below this
_F64_EXACT_BITS = 53
_CHUNK = 1 << 23  # float64 elements of one pass of `widen` or `row_norm_bound`
_SLAB = 1 << 17  # float64 elements of one slab of weights widened for a product (cache-sized)
_WIDE_ROWS = 32  # from this many activation rows on, float64 GEMMs beat the blocks
_MIN_SPLIT = 64  # fewest weight rows a thread takes of one product
_MIN_SPLIT_TILES = 8  # fewest tiles of packed weights a thread takes of one compiled product


def _grid_bits(values: np.ndarray) -> int:
    """Smallest k >= 0 such that every entry of `values` is an integer multiple of 2**-k."""
    v = np.abs(values[values != 0])
    for k in range(0, 1075):
        scaled = np.ldexp(v, k)
        if np.array_equal(np.rint(scaled), scaled):
            return k
        v = v[np.rint(scaled) != scaled]
    raise NacrithError("block scales are not finite binary fractions")


class BlockMatrix:
    """A weight matrix W (rows, cols) of integers with a scale (and min) per block of columns.

    ``W[r, j] = scale[r, j // block] * ints[r, j] + mins[r, j // block]`` (mins optional).

    :param ints: (rows, cols) integer values (any numeric dtype holding integers); with the
        activation limit they bound the float32 block products, so keep them small (4-bit,
        6-bit, 8-bit quants).
    :param scale: (rows, cols // block) float64; every entry a finite binary fraction (float16
        values, or float16 times a small integer as Q4_K/Q6_K sub-block scales are).
    :param mins: (rows, cols // block) float64 added to every weight of the block (Q4_1, Q4_K),
        or None.
    :param block: columns per block (16 or 32; must divide cols).

    Raises `NacrithError` when no activation precision of at least 8 bits keeps the products
    exact.
    """

    def __init__(
        self,
        ints: np.ndarray,
        scale: np.ndarray,
        mins: np.ndarray | None = None,
        *,
        block: int = 32,
    ) -> None:
        ints = np.asarray(ints)
        rows, cols = ints.shape
        if block < 1 or cols % block:
            raise ValueError(f"block {block} does not divide {cols} columns")
        nb = cols // block
        scale = np.asarray(scale, dtype=np.float64).reshape(rows, nb)
        if mins is not None:
            mins = np.asarray(mins, dtype=np.float64).reshape(rows, nb)
        if not np.array_equal(np.rint(ints), ints):
            raise ValueError("block matrix entries must be integers")
        self.rows, self.cols, self.block, self.n_blocks = rows, cols, block, nb
        qmax = float(np.max(np.abs(ints))) if ints.size else 0.0
        if qmax * block >= _F32_EXACT:
            raise NacrithError(f"integers up to {qmax} in blocks of {block}: not exact")
        self.act_bits, self.span = self._precision(qmax, scale, mins)
        self.act_limit = float(2**self.act_bits - 1)
        #: integers as (blocks, block, rows) float32: each block one sgemm operand
        self.qt = np.ascontiguousarray(
            ints.reshape(rows, nb, block).transpose(1, 2, 0), dtype=np.float32
        )
        self.scale_t = np.ascontiguousarray(scale.T[:, None, :])
        self.mins_t = None if mins is None else np.ascontiguousarray(mins.T)
        self.values_t: np.ndarray | None = None
        self._packed: kernels.PackedBlocks | None = None

    def _precision(
        self, qmax: float, scale: np.ndarray, mins: np.ndarray | None
    ) -> tuple[int, int]:
        """(activation bits, block exponent span) that keep every product exact."""
        grid = _grid_bits(scale if mins is None else np.concatenate([scale, mins], axis=1))
        block = self.block
        a = 15
        while a >= 8 and block * qmax * (2**a - 1) >= _F32_EXACT:
            a -= 1
        while a >= 8:
            # |x| < 2**a grid steps bounds the block path (|ints| <= 2**a - 1) and the widened
            # one (x = ints * sx, summed over whole rows) alike
            limit = float(2**a)
            bound = np.sum(np.abs(scale), axis=1) * (block * qmax * limit)
            if mins is not None:
                bound = bound + np.sum(np.abs(mins), axis=1) * (block * limit)
            peak = float(np.max(bound)) * (1.0 + 2.0**-40) if bound.size else 0.0
            _, e = np.frexp(max(peak, 1.0))
            span = _F64_EXACT_BITS - grid - int(e)
            if span >= 0:
                return a, min(span, 64)
            a -= 1
        raise NacrithError("this block matrix has no exact product with 8-bit activations")

    @classmethod
    def stack(cls, parts: list[BlockMatrix]) -> BlockMatrix:
        """One matrix whose rows are those of `parts` (same columns and blocks), to share one
        product."""
        first = parts[0]
        if any(p.cols != first.cols or p.block != first.block for p in parts):
            raise ValueError("stacked block matrices need the same columns and block size")
        out = cls.__new__(cls)
        out.rows = sum(p.rows for p in parts)
        out.cols, out.block, out.n_blocks = first.cols, first.block, first.n_blocks
        out.act_bits = min(p.act_bits for p in parts)
        out.act_limit = float(2**out.act_bits - 1)
        # a lower activation precision shrinks the bounds, so each part's span still holds
        out.span = min(p.span for p in parts)
        out.values_t = None
        out._packed = None
        out.qt = np.concatenate([p.qt for p in parts], axis=2)
        out.scale_t = np.concatenate([p.scale_t for p in parts], axis=2)
        if all(p.mins_t is None for p in parts):
            out.mins_t = None
        else:
            zeros = [np.zeros((p.n_blocks, p.rows)) for p in parts]
            mins = [z if p.mins_t is None else p.mins_t for p, z in zip(parts, zeros)]
            out.mins_t = np.concatenate(mins, axis=1)
        return out

    @classmethod
    def restore(
        cls,
        qt: np.ndarray,
        scale_t: np.ndarray,
        mins_t: np.ndarray | None,
        act_bits: int,
        span: int,
    ) -> BlockMatrix:
        """The matrix from its stored layout (`qt`, `scale_t`, `mins_t` as this class holds
        them) and precision, e.g. read back from a cache."""
        out = cls.__new__(cls)
        out.n_blocks, out.block, out.rows = qt.shape
        out.cols = out.n_blocks * out.block
        out.act_bits, out.span = int(act_bits), int(span)
        out.act_limit = float(2**out.act_bits - 1)
        out.values_t = None
        out._packed = None
        out.qt = np.ascontiguousarray(qt, dtype=np.float32)
        out.scale_t = np.ascontiguousarray(scale_t, dtype=np.float64)
        out.mins_t = None if mins_t is None else np.ascontiguousarray(mins_t, dtype=np.float64)
        return out

    def widen(self) -> None:
        """Also keep the exact float64 values (cols, rows), for products of several rows at once
        (the same bits as the block products; twice the memory of the float32 integers)."""
        if self.values_t is None:
            values = np.empty((self.cols, self.rows))
            step = max(1, _CHUNK // max(self.cols, 1))
            for lo in range(0, self.rows, step):
                hi = min(lo + step, self.rows)
                values[:, lo:hi] = self._values(lo, hi)
            self.values_t = values

    def _values(self, lo: int, hi: int) -> np.ndarray:
        """The float64 values of rows lo:hi as (cols, hi - lo) (exact)."""
        if self.values_t is not None:
            return self.values_t[:, lo:hi]
        v = np.multiply(self.qt[:, :, lo:hi], self.scale_t[:, :, lo:hi], dtype=np.float64)
        if self.mins_t is not None:
            v += self.mins_t[:, None, lo:hi]
        return v.reshape(self.cols, hi - lo)

    def ints(self) -> np.ndarray:
        """The integers as (rows, cols) float32."""
        return self.qt.transpose(2, 0, 1).reshape(self.rows, self.cols)

    def row_values(self, rows: np.ndarray) -> np.ndarray:
        """The float64 values of the given rows, (len(rows), cols) (exact)."""
        if self.values_t is not None:
            return self.values_t[:, rows].T
        q = self.qt[:, :, rows].astype(np.float64)  # (nb, block, n)
        q *= self.scale_t[:, :, rows]
        if self.mins_t is not None:
            q += self.mins_t[:, None, rows]
        return q.transpose(2, 0, 1).reshape(len(rows), self.cols)

    def row_norm_bound(self) -> np.ndarray:
        """An upper bound on each row's Euclidean norm, computed with exact integer sums."""
        out = np.empty(self.rows)
        step = max(1, _CHUNK // max(self.cols, 1))
        for lo in range(0, self.rows, step):
            v = np.abs(self.row_values(np.arange(lo, min(lo + step, self.rows))))
            peak = np.max(v, axis=1)
            _, e = np.frexp(np.where(peak > 0, peak, 1.0))
            coarse = np.floor(np.ldexp(v, (15 - e)[:, None])) + 1.0
            squares = (coarse * coarse).astype(np.int64).sum(axis=1)
            out[lo : lo + len(peak)] = np.ldexp(
                np.sqrt(squares.astype(np.float64)) * (1 + 2.0**-40), e - 15
            )
        return out

    def quantize(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Activation rows `x` (n, cols) as integers (n, blocks, block) and block scales
        (n, blocks), powers of two within `span` binary places of each row's largest."""
        n = x.shape[0]
        xb = x.reshape(n, self.n_blocks, self.block)
        peak_b = np.max(np.abs(xb), axis=2)
        peak = np.max(peak_b, axis=1)
        dead = ~(peak >= 2.0**-900)  # also NaN rows
        _, top = np.frexp(np.where(dead, 1.0, peak))
        _, e = np.frexp(np.where(peak_b > 0, peak_b, 0.0))
        shift = np.maximum(e, (top - self.span)[:, None]) - self.act_bits
        ints = xb * np.ldexp(1.0, -shift)[..., None]  # powers of two: exact, as ldexp
        np.rint(ints, out=ints)
        np.minimum(ints, self.act_limit, out=ints)
        np.maximum(ints, -self.act_limit, out=ints)
        ints[dead] = 0.0
        return ints, np.ldexp(1.0, shift)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """x @ W.T for x of shape (n, cols), with x quantized per block (`quantize`); float64."""
        n = x.shape[0]
        if n > 1 and (self.values_t is not None or n >= _WIDE_ROWS):
            return self._wide(x)
        return self._product(x)

    def _wide(self, x: np.ndarray) -> np.ndarray:
        """The product as float64 GEMMs over the exact values, a slab of rows at a time (a
        widened matrix: all at once); exact sums, so the bits of the block products."""
        n = x.shape[0]
        ints, sx = self.quantize(x)
        ints *= sx[..., None]  # powers of two: exact
        xq = ints.reshape(n, self.cols)
        out = np.empty((n, self.rows))
        if self.values_t is not None:
            values = self.values_t

            def whole(lo: int, hi: int) -> None:
                np.matmul(xq, values[:, lo:hi], out=out[:, lo:hi])

            parallel.for_ranges(self.rows, whole, min_size=_MIN_SPLIT)
            return out
        step = max(1, _SLAB // self.cols)

        def slabs(lo: int, hi: int) -> None:
            for a in range(lo, hi, step):
                b = min(a + step, hi)
                out[:, a:b] = xq @ self._values(a, b)

        parallel.for_ranges(self.rows, slabs, min_size=_MIN_SPLIT)
        return out

    def packed(self) -> kernels.PackedBlocks:
        """The integers and scales packed for the compiled products (built once)."""
        if self._packed is None:
            self._packed = kernels.pack(self.qt, self.scale_t[:, 0, :], self.mins_t)
        return self._packed

    def _product(self, x: np.ndarray) -> np.ndarray:
        """The product by exact block products combined in float64: compiled (`kernels`) where
        they run, else float32 sgemms a slab of rows at a time (per-block terms cache-sized)."""
        n = x.shape[0]
        if self.block % 2 == 0 and kernels.available():
            quantized = kernels.quantize(x, self.block, self.span, self.act_bits)
            if quantized is not None:
                return self._compiled_product(*quantized)
        ints, sx = self.quantize(x)
        lhs = ints.astype(np.float32).transpose(1, 0, 2)  # (nb, n, block)
        sx_t = sx.T[:, :, None]
        x_sums = None if self.mins_t is None else np.sum(ints, axis=2) * sx
        out = np.empty((n, self.rows))
        step = max(1, _SLAB // (self.n_blocks * n))

        def slabs(lo: int, hi: int) -> None:
            for a in range(lo, hi, step):
                b = min(a + step, hi)
                dots = np.matmul(lhs, self.qt[:, :, a:b])  # (nb, n, rows): exact integers
                terms = self.scale_t[:, :, a:b] * sx_t
                terms *= dots  # float32 integers widen exactly
                acc = np.sum(terms, axis=0)
                if x_sums is not None:
                    acc += x_sums @ self.mins_t[:, a:b]  # type: ignore[index]
                out[:, a:b] = acc

        parallel.for_ranges(self.rows, slabs, min_size=_MIN_SPLIT)
        return out

    def _compiled_product(self, ints: np.ndarray, sx: np.ndarray) -> np.ndarray:
        packed = self.packed()
        x = ints.astype(np.int16, copy=False)  # at most 15 bits (`_precision`)
        out = np.empty((x.shape[0], self.rows))

        def tiles(lo: int, hi: int) -> None:
            kernels.block_product(packed, x, sx, out, lo, hi)

        tile_count = packed.q.shape[0]
        parallel.for_ranges(tile_count, tiles, min_size=_MIN_SPLIT_TILES)
        return out


def _halves(raw: np.ndarray) -> np.ndarray:
    """Little-endian float16 from a (..., 2) uint8 array, as float64 (exact)."""
    return np.ascontiguousarray(raw).view("<f2")[..., 0].astype(np.float64)


def block_tensor(type_name: str, data: np.ndarray, cols: int) -> BlockMatrix:
    """A GGUF tensor's raw data as a `BlockMatrix` keeping its quantization (Q4_1, Q8_0); F16 and
    F32 matrices are rounded to 12-bit integers times a power of two per 32-block."""
    if type_name in ("F32", "F16"):
        dtype = np.float32 if type_name == "F32" else np.float16
        values = np.asarray(data, dtype=dtype).reshape(-1, cols).astype(np.float64)
        rows = values.shape[0]
        blocks = values.reshape(rows, cols // 32, 32)
        peak = np.max(np.abs(blocks), axis=2)
        _, e = np.frexp(np.where(peak > 0, peak, 1.0))
        shift = e - 11
        ints = np.clip(np.rint(np.ldexp(blocks, -shift[..., None])), -2047, 2047)
        return BlockMatrix(ints.reshape(rows, cols), np.ldexp(1.0, shift), block=32)
    raw = np.asarray(data, dtype=np.uint8)
    rows = raw.shape[0]
    if type_name == "Q8_0":
        blocks = raw.reshape(rows, cols // 32, 34)
        q = blocks[..., 2:].view(np.int8).reshape(rows, cols)
        return BlockMatrix(q, _halves(blocks[..., 0:2]), block=32)
    if type_name == "Q4_1":
        blocks = raw.reshape(rows, cols // 32, 20)
        qs = blocks[..., 4:]
        q = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).reshape(rows, cols)
        return BlockMatrix(q, _halves(blocks[..., 0:2]), _halves(blocks[..., 2:4]), block=32)
    raise ModelNotFoundError(f"the portable engine cannot read {type_name} tensors")
