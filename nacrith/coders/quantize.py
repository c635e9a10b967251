"""Probabilities -> integer frequencies for the range coder.

Every row becomes non-negative integers that sum to exactly ``TOTAL = 2**24`` with every symbol at
least 1, so any symbol stays codable. The arithmetic is exact and portable: scaling by a power of
two and `floor` are exact in IEEE float64, and everything after that is integer arithmetic, so the
same probabilities give the same frequencies on every machine.

Rows that hold NaN, infinities, negatives or only zeros are repaired first (NaN and negatives
count as 0, +inf rows become uniform over their infinite entries, an all-zero row becomes
uniform); nothing here raises on bad numbers.

The float mode normalises a row with numpy's floating-point sum, whose rounding could in
principle depend on the summation order numpy picks. ``exact=True`` removes that: each row is
first rounded to integers times a power of two (`integer_weights`), integer-valued float64 sums
below 2**53 are exact in any order, and the rest is the same elementwise arithmetic.
"""

from __future__ import annotations

import numpy as np

from nacrith.exact import TINY, fixed_point

__all__ = ["PRECISION", "TOTAL", "integer_weights", "quantize", "sanitize"]

PRECISION = 24
TOTAL = 1 << PRECISION


def sanitize(probs: np.ndarray) -> np.ndarray:
    """A float64 copy of `probs` (shape (V,) or (B, V)) whose rows are finite and sum to 1."""
    p = np.array(probs, dtype=np.float64, copy=True, ndmin=1)
    p2 = p.reshape(-1, p.shape[-1]) if p.ndim > 1 else p[None, :]
    posinf = np.isposinf(p2)
    if posinf.any():
        rows = posinf.any(axis=1)
        p2[rows] = posinf[rows].astype(np.float64)
    bad = ~np.isfinite(p2) | (p2 < 0)
    if bad.any():
        p2[bad] = 0.0
    peak = p2.max(axis=1)
    scalable = peak > 0
    p2[scalable] /= peak[scalable, None]
    sums = p2.sum(axis=1)
    empty = ~(sums > 0)
    if empty.any():
        p2[empty] = 1.0
        sums[empty] = p2.shape[1]
    p2 /= sums[:, None]
    return p2.reshape(p.shape)


def integer_weights(probs: np.ndarray) -> np.ndarray:
    """Rows of `probs` (shape (V,) or (B, V)) as non-negative integer weights, float64.

    The same repairs as `sanitize` (NaN, negatives and subnormals count as 0, +inf rows become
    uniform over their infinite entries, empty rows uniform), then each row is scaled by a power
    of two and rounded, so that its largest weight is at most 2**(52 - bit_length(V)) and any
    sum of a row's weights is exact in float64.
    """
    p = np.array(probs, dtype=np.float64, copy=True, ndmin=1)
    p2 = p.reshape(-1, p.shape[-1])
    posinf = np.isposinf(p2)
    if posinf.any():
        rows = posinf.any(axis=1)
        p2[rows] = posinf[rows].astype(np.float64)
    p2[~(p2 >= TINY) | ~np.isfinite(p2)] = 0.0
    weights, _ = fixed_point(p2, 52 - int(p2.shape[1]).bit_length())
    empty = ~(weights.max(axis=1, initial=0.0) > 0)
    weights[empty] = 1.0
    return weights.reshape(p.shape)


def quantize(probs: np.ndarray, total: int = TOTAL, exact: bool = False) -> np.ndarray:
    """Integer frequencies (int64, same shape as `probs`) summing to `total` per row, each >= 1.

    Each symbol gets ``max(1, floor(p * total))``; the rounding surplus or deficit is settled on
    the row's most probable symbol. If that symbol cannot absorb the deficit (only in extreme rows
    with thousands of symbols below the floor), the row falls back to ``1 + floor(p * (total -
    V))`` plus the remainder on the argmax, which always works.

    With `exact`, each row is normalised through `integer_weights` (exact sums) instead of a
    floating-point sum: the frequencies are then the same on every machine.
    """
    if exact:
        w = integer_weights(probs)
        w2 = w.reshape(-1, w.shape[-1])
        return _counts(w2 / w2.sum(axis=1, keepdims=True), total).reshape(w.shape)
    p = np.asarray(probs, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        total_mass = p.sum() if p.ndim == 1 else np.nan
    clean = p.ndim == 1 and 0 < total_mass < np.inf and p.min() >= 0
    p = p / total_mass if clean else sanitize(p)  # a clean row (the common case) skips repairs
    squeeze = p.ndim == 1
    p2 = p[None, :] if squeeze else p.reshape(-1, p.shape[-1])
    counts = _counts(p2, total)
    return counts[0] if squeeze else counts.reshape(p.shape)


def _counts(p2: np.ndarray, total: int) -> np.ndarray:
    """The frequencies of the normalised rows `p2` (B, V); see `quantize`."""
    n_rows, n_sym = p2.shape
    if n_sym < 1 or n_sym > total:
        raise ValueError(f"cannot quantize {n_sym} symbols into a total of {total}")
    counts = np.floor(p2 * total).astype(np.int64)
    np.maximum(counts, 1, out=counts)
    top = np.argmax(p2, axis=1)
    rows = np.arange(n_rows)
    diff = total - counts.sum(axis=1)
    new_top = counts[rows, top] + diff
    ok = new_top >= 1
    counts[rows[ok], top[ok]] = new_top[ok]
    if not ok.all():
        bad = rows[~ok]
        safe = np.floor(p2[bad] * (total - n_sym)).astype(np.int64) + 1
        safe[np.arange(bad.size), top[bad]] += total - safe.sum(axis=1)
        counts[bad] = safe
    return counts
