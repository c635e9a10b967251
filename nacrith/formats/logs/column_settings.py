"""Per-column settings of the `logs` codec's numeric columns (see `formats.logs.columns`).

Column settings stream, one entry per column in column order::

    u8      format (bits 0-1: natural, fixed, padded, text) | predictor << 2 (none, prev,
            ref, family) | upper-case hex << 4 | wide << 5
    LEB128  width, if fixed;  byte count (1-8), if wide;  k, if ref

Ref and family predictors are allowed only for the first `MAX_DEPENDENT_DEPTH` variables of a
line, so the decoder resolves them in a bounded number of passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from nacrith.errors import CorruptDataError
from nacrith.formats.logs.streams import Reader
from nacrith.formats.logs.template import DEC, HEX, TIME

if TYPE_CHECKING:
    from nacrith.formats.logs.columns import Layout
    from nacrith.formats.logs.paths import Paths

__all__ = [
    "FIXED",
    "MAX_DEPENDENT_DEPTH",
    "MAX_REF",
    "NATURAL",
    "PADDED",
    "PREDICTORS",
    "P_FAM",
    "P_NONE",
    "P_PREV",
    "P_REF",
    "TEXT",
    "ColumnSpec",
    "read_meta",
]

NATURAL, FIXED, PADDED, TEXT = 0, 1, 2, 3
P_NONE, P_PREV, P_REF, P_FAM = 0, 1, 2, 3
PREDICTORS = (P_NONE, P_PREV, P_REF, P_FAM)
MAX_REF = 24
#: ref and family predictors only for the first variables of a line, so that decoding
#: resolves dependencies in a bounded number of passes
MAX_DEPENDENT_DEPTH = 256


@dataclass
class ColumnSpec:
    """The decoded settings of every column."""

    fmt: np.ndarray
    pred: np.ndarray
    upper: np.ndarray
    width: np.ndarray
    ref_k: np.ndarray
    wide: np.ndarray
    nbytes: np.ndarray


def read_meta(meta: bytes, layout: Layout | Paths) -> ColumnSpec:
    """Parse and validate the per-column settings (vectorised when every setting is valid and
    every number in it is one byte long, else column by column, which says what is wrong)."""
    spec = _read_meta_fast(meta, layout.n_columns, layout.col_kind, layout.col_depth)
    return spec if spec is not None else _read_meta_slow(meta, layout)


def _read_meta_fast(
    meta: bytes, nc: int, kinds: np.ndarray, depths: np.ndarray
) -> ColumnSpec | None:
    """`read_meta` with numpy, or None to let the column-by-column reader decide."""
    arr = np.frombuffer(meta, dtype=np.uint8).astype(np.int64)
    size = arr.size
    if nc == 0 or size < nc:
        return None
    # from each byte read as a column's first: where the next column starts
    extra = (arr & 3 == FIXED).astype(np.int64) + (arr >> 5 & 1) + ((arr >> 2) & 3 == P_REF)
    jump = np.minimum(np.arange(size) + 1 + extra, size)
    jump = np.r_[jump, size]  # `size` is a sink
    starts = np.zeros(1, dtype=np.int64)
    while starts.size < nc:  # starts of columns 0..2^k-1, then jump 2^k columns at once
        starts = np.r_[starts, jump[starts]][:nc]
        jump = jump[jump]
    if starts[-1] >= size:
        return None
    b = arr[starts]
    f, p, u, w = b & 3, (b >> 2) & 3, (b >> 4) & 1, (b >> 5) & 1
    n_extra = (f == FIXED) + w + (p == P_REF)
    if int(starts[-1] + 1 + n_extra[-1]) != size:
        return None
    x1 = np.minimum(starts + 1, size - 1)
    x2 = np.minimum(starts + 1 + (f == FIXED), size - 1)
    x3 = np.minimum(starts + 1 + (f == FIXED) + w, size - 1)
    width = np.where(f == FIXED, arr[x1], 0)
    nbytes = np.where(w == 1, arr[x2], 0)
    ref_k = np.where(p == P_REF, arr[x3], 0)
    bad = (b >> 6) | ((f == TEXT) & ((w == 1) | (p != P_NONE) | (kinds != HEX)))
    bad |= (u == 1) & (kinds != HEX)
    bad |= (kinds == TIME) & (f != NATURAL)
    bad |= (f == FIXED) & ((width < 1) | (width > np.where(kinds == DEC, 20, 16)))
    bad |= (w == 1) & ((nbytes < 1) | (nbytes > 8))
    bad |= ((p == P_REF) | (p == P_FAM)) & (depths >= MAX_DEPENDENT_DEPTH)
    bad |= (p == P_REF) & ((ref_k < 1) | (ref_k > depths) | (ref_k >= 0x80))
    if bad.any():
        return None
    return ColumnSpec(f, p, u == 1, width, ref_k, w == 1, nbytes)


def _read_meta_slow(meta: bytes, layout: Layout | Paths) -> ColumnSpec:
    """`read_meta` column by column."""
    nc = layout.n_columns
    fmt = np.zeros(nc, dtype=np.int64)
    pred = np.zeros(nc, dtype=np.int64)
    upper = np.zeros(nc, dtype=bool)
    width = np.zeros(nc, dtype=np.int64)
    ref_k = np.zeros(nc, dtype=np.int64)
    wide = np.zeros(nc, dtype=bool)
    nbytes = np.zeros(nc, dtype=np.int64)
    r = Reader(meta)
    kinds = layout.col_kind.tolist()
    depths = layout.col_depth.tolist()
    for c in range(nc):
        b = r.byte()
        f, p, u = b & 3, (b >> 2) & 3, (b >> 4) & 1
        if b >> 6 or (f == TEXT and b >> 5) or (f == TEXT and (p != P_NONE or kinds[c] != HEX)):
            raise CorruptDataError(f"logs column {c} has bad settings {b:#x}")
        if u and kinds[c] != HEX:
            raise CorruptDataError(f"logs column {c}: case flag on a decimal column")
        if kinds[c] == TIME and f != NATURAL:
            raise CorruptDataError(f"logs time column {c} is not in natural format")
        fmt[c], pred[c], upper[c] = f, p, bool(u)
        if f == FIXED:
            width[c] = r.varint(20 if kinds[c] == DEC else 16)
            if width[c] < 1:
                raise CorruptDataError(f"logs column {c} has width 0")
        if b >> 5:
            wide[c] = True
            nbytes[c] = r.varint(8)
            if nbytes[c] < 1:
                raise CorruptDataError(f"logs column {c} is wide with 0 bytes")
        if p in (P_REF, P_FAM) and depths[c] >= MAX_DEPENDENT_DEPTH:
            raise CorruptDataError(f"logs column {c} is too deep for its predictor")
        if p == P_REF:
            ref_k[c] = r.varint(depths[c])
            if ref_k[c] < 1:
                raise CorruptDataError(f"logs column {c} refers to itself")
    if r.pos != len(meta):
        raise CorruptDataError("logs column table has trailing bytes")
    return ColumnSpec(fmt, pred, upper, width, ref_k, wide, nbytes)
