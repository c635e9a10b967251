"""Elementary functions and fixed-point helpers whose bits do not depend on the machine.

Everything here is built from IEEE operations that are correctly rounded by the standard
(``+ - * /``, ``sqrt``), exact operations (``rint``, ``ldexp``, ``frexp``, ``max``, ``abs``,
comparisons, integer sums) and fixed constants, always applied in the same order. numpy never fuses
a multiply and an add written as two operations, so a Horner scheme gives the same bits on every
CPU and under every SIMD dispatch path. numpy's own ``exp``, ``log``, ``sin`` and friends are not
used: their bits differ between dispatch paths.

No function here returns a subnormal number: results below the smallest normal float64 are
flushed to zero explicitly, so flush-to-zero CPU modes cannot change them.

`exp` runs as one compiled loop where numba does (`jit`), with the same operations per element
(`exp_value`), so the same bits as its numpy form.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import cache
from math import factorial

import numpy as np

from nacrith import jit

__all__ = [
    "EXP_TABLES",
    "TINY",
    "cos",
    "exp",
    "exp_value",
    "fixed_point",
    "fixed_sum",
    "flush_subnormals",
    "log",
    "ordered_sum",
    "silu",
    "sin",
    "softmax",
    "softmax_weights",
]

#: smallest positive normal float64; anything below it is flushed to 0
TINY = 2.0**-1022

# ln 2 split so that k * LN2_HI is exact for |k| < 2**11 (fdlibm's split)
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
_EXP_MAX = 709.782712893383973096  # above: +inf
_EXP_MIN_K = -1021  # 2**k * p with p >= 1/sqrt(2) stays normal for k >= this
_SQRT_HALF = 0.70710678118654752440

# pi/2 split into three 33-bit parts: k * part is exact for |k| < 2**20 (fdlibm's split)
_PIO2_1 = 1.57079632673412561417e00
_PIO2_2 = 6.07710050630396597660e-11
_PIO2_3 = 2.02226624871116645580e-21
_TWO_OVER_PI = 6.36619772367581382433e-01
#: largest |x| that sin and cos reduce accurately
TRIG_MAX = 2.0**19


def _coefficients(terms: list[Fraction]) -> tuple[float, ...]:
    return tuple(float(t) for t in terms)


# Taylor coefficients, highest degree first, for Horner evaluation
_EXP_C = _coefficients([Fraction(1, factorial(n)) for n in range(14, -1, -1)])
_LOG_C = _coefficients([Fraction(1, 2 * n + 1) for n in range(11, 0, -1)])
_SIN_C = _coefficients([Fraction((-1) ** n, factorial(2 * n + 1)) for n in range(10, 0, -1)])
_COS_C = _coefficients([Fraction((-1) ** n, factorial(2 * n)) for n in range(10, 0, -1)])


def _horner(coefficients: tuple[float, ...], x: np.ndarray) -> np.ndarray:
    acc = np.multiply(x, coefficients[0])  # the same product as c0 * x: IEEE `*` commutes
    for c in coefficients[1:-1]:
        acc += c
        acc *= x
    acc += coefficients[-1]
    return acc


_EXP_CHUNK = 1 << 14  # elements per pass of `exp` (its temporaries stay in cache)


#: `exp_value`'s constant arrays: the Taylor coefficients and the powers of two 2**-600..2**600
EXP_TABLES = (np.asarray(_EXP_C), np.ldexp(1.0, np.arange(-600, 601)))


def exp(x: np.ndarray | float) -> np.ndarray:
    """e**x for float64 input, same bits on every machine; results below 2**-1021 become 0."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty(x.shape)
    flat_x, flat_out = x.reshape(-1), out.reshape(-1)
    loop = _compiled_exp()
    if loop is not None:
        loop(np.ascontiguousarray(flat_x), *EXP_TABLES, flat_out)
        return out
    for lo in range(0, flat_x.size, _EXP_CHUNK):
        _exp_into(flat_x[lo : lo + _EXP_CHUNK], flat_out[lo : lo + _EXP_CHUNK])
    return out


def exp_value(v: float, coefficients: np.ndarray, pow2: np.ndarray) -> float:
    """`exp` of one float64 by the same operations as `_exp_into` (`EXP_TABLES` as the arrays),
    for compiled loops (`jit.share_helper`): 2**k is taken as two exact products by table powers
    of two, and the Horner scheme is written out, so that no call or inner loop is left."""
    special = not abs(v) <= _EXP_MAX
    xs = 0.0 if special else v
    k = np.rint(xs * _INV_LN2)
    r = xs - k * _LN2_HI
    r = r - k * _LN2_LO
    c = coefficients
    acc = r * c[0]
    acc = (acc + c[1]) * r
    acc = (acc + c[2]) * r
    acc = (acc + c[3]) * r
    acc = (acc + c[4]) * r
    acc = (acc + c[5]) * r
    acc = (acc + c[6]) * r
    acc = (acc + c[7]) * r
    acc = (acc + c[8]) * r
    acc = (acc + c[9]) * r
    acc = (acc + c[10]) * r
    acc = (acc + c[11]) * r
    acc = (acc + c[12]) * r
    acc = (acc + c[13]) * r
    p = acc + c[14]
    ki = int(k)
    under = ki < _EXP_MIN_K
    p = 0.0 if under else p
    ki = 0 if under else ki
    half = ki >> 1  # p * 2**half * 2**(ki - half): both products exact (normal results)
    out = p * pow2[half + 600] * pow2[ki - half + 600]
    if special:
        out = v if v != v else (math.inf if v > 0 else 0.0)
    return out


def _exp_loop(x, coefficients, pow2, out):  # pragma: no cover - compiled
    for i in range(x.shape[0]):
        out[i] = exp_value(x[i], coefficients, pow2)


@cache
def _compiled_exp():  # type: ignore[no-untyped-def]
    """`exp`'s compiled loop, or None where the numpy form runs (`jit.compiler`)."""
    if jit.compiler() is None:
        return None
    jit.share_helper(exp_value)
    return jit.compile_loop(_exp_loop)


def _exp_into(x: np.ndarray, out: np.ndarray) -> None:
    """`exp` of a 1-d chunk into `out`: range reduction e**x = 2**k * e**r with |r| <= ln2/2,
    a degree-14 Taylor polynomial of r by Horner, then an exact ldexp."""
    special = ~(np.abs(x) <= _EXP_MAX)  # NaN, and results that are 0 or inf outright
    xs = np.where(special, 0.0, x) if special.any() else x
    k = np.multiply(xs, _INV_LN2)
    np.rint(k, out=k)
    r = np.multiply(k, _LN2_HI)
    np.subtract(xs, r, out=r)
    r -= np.multiply(k, _LN2_LO)
    p = _horner(_EXP_C, r)
    ki = k.astype(np.int64)
    under = ki < _EXP_MIN_K
    if under.any():
        p[under] = 0.0
        ki[under] = 0
    np.ldexp(p, ki, out=out)
    if special.any():
        xv = x[special]
        out[special] = np.where(np.isnan(xv), np.nan, np.where(xv > 0, np.inf, 0.0))


def log(x: np.ndarray | float) -> np.ndarray:
    """Natural logarithm for float64 input, same bits on every machine (log 0 = -inf)."""
    x = np.asarray(x, dtype=np.float64)
    ok = (x > 0) & np.isfinite(x)
    m, e = np.frexp(np.where(ok, x, 1.0))
    low = m < _SQRT_HALF
    m = np.where(low, m * 2.0, m)
    e = (e - low).astype(np.float64)
    f = m - 1.0
    s = f / (f + 2.0)
    z = s * s
    series = _horner(_LOG_C, z) * z
    two_s = s + s
    log1p_f = two_s + two_s * series
    out = e * _LN2_HI + (e * _LN2_LO + log1p_f)
    out = np.where(x == 0, -np.inf, out)
    out = np.where(x == np.inf, np.inf, out)
    return np.where((x < 0) | np.isnan(x), np.nan, out)


def _reduce_pio2(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x = k * pi/2 + r with |r| <= pi/4 (about); returns (r, k mod 4)."""
    if x.size and not np.all(np.abs(x) <= TRIG_MAX):
        raise ValueError(f"sin/cos take |x| <= {TRIG_MAX} (and no NaN)")
    k = np.rint(x * _TWO_OVER_PI)
    r = ((x - k * _PIO2_1) - k * _PIO2_2) - k * _PIO2_3
    return r, k.astype(np.int64) & 3


def _sin_cos_reduced(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = r * r
    s = r + r * (z * _horner(_SIN_C, z))
    c = 1.0 + z * _horner(_COS_C, z)
    return s, c


def sin(x: np.ndarray | float) -> np.ndarray:
    """Sine of float64 input with |x| <= TRIG_MAX, same bits on every machine."""
    r, q = _reduce_pio2(np.asarray(x, dtype=np.float64))
    s, c = _sin_cos_reduced(r)
    return np.select([q == 0, q == 1, q == 2], [s, c, -s], -c)


def cos(x: np.ndarray | float) -> np.ndarray:
    """Cosine of float64 input with |x| <= TRIG_MAX, same bits on every machine."""
    r, q = _reduce_pio2(np.asarray(x, dtype=np.float64))
    s, c = _sin_cos_reduced(r)
    return np.select([q == 0, q == 1, q == 2], [c, -s, -c], s)


def silu(x: np.ndarray) -> np.ndarray:
    """x * sigmoid(x) = x / (1 + e**-x), same bits on every machine."""
    return x / (exp(-x) + 1.0)


def fixed_point(x: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row of `x` as integers (float64, |value| <= 2**bits) times a power of two per row.

    Returns ``(ints, scale)`` with ``x ~= ints * scale[..., None]``; ``scale`` holds exact powers
    of two, so multiplying by it is exact. Rows whose largest magnitude is below 2**-900 become 0.
    """
    peak = np.max(np.abs(x), axis=-1)
    tiny = ~(peak >= 2.0**-900)  # also catches NaN rows, which the caller's bounds then reject
    _, e = np.frexp(np.where(tiny, 1.0, peak))
    shift = np.where(tiny, 0, e - bits)
    ints = np.rint(np.ldexp(x, -shift[..., None]))
    ints[tiny] = 0.0
    return ints, np.ldexp(1.0, shift)


def softmax_weights(logits: np.ndarray, bits: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Integer weights proportional to softmax(logits) along the last axis, and their sums.

    The weights are ``rint(e**(l - max l) * 2**bits)`` as int64; the default `bits` keeps every
    row sum below 2**52. Integer sums are exact, so probabilities ``weights / sums`` are the same
    bits everywhere.
    """
    logits = np.asarray(logits, dtype=np.float64)
    n = logits.shape[-1]
    if bits is None:
        bits = 52 - int(n - 1).bit_length()
    top = np.max(logits, axis=-1, keepdims=True)
    weights = np.rint(np.ldexp(exp(logits - top), bits)).astype(np.int64)
    return weights, weights.sum(axis=-1)


def softmax(logits: np.ndarray) -> np.ndarray:
    """softmax along the last axis, float64, same bits on every machine."""
    weights, sums = softmax_weights(logits)
    return weights.astype(np.float64) / sums[..., None].astype(np.float64)


def flush_subnormals(x: np.ndarray) -> np.ndarray:
    """Set the subnormal entries of the float array `x` to 0, in place; returns `x`.

    A CPU in flush-to-zero or denormals-are-zero mode would treat them as 0 anyway, so results
    that could land below the smallest normal float64 pass through here to be the same
    everywhere.
    """
    np.copyto(x, 0.0, where=np.abs(x) < TINY)
    return x


def fixed_sum(x: np.ndarray, bits: int | None = None) -> np.ndarray:
    """Sums along the last axis whose bits do not depend on the order of summation.

    Each row is first rounded to integers times a power of two (`fixed_point`); the default `bits`
    keeps every partial sum of those integers below 2**53, where float64 adds them exactly in any
    order. Entries far below a row's largest one (by more than `bits` binary places) are lost.
    """
    x = np.asarray(x, dtype=np.float64)
    if bits is None:
        bits = 52 - int(x.shape[-1]).bit_length()
    ints, scale = fixed_point(x, bits)
    return ints.sum(axis=-1) * scale


def ordered_sum(x: np.ndarray) -> np.ndarray:
    """Sums along a short last axis, adding its columns left to right (elementwise IEEE adds)."""
    x = np.asarray(x, dtype=np.float64)
    acc = x[..., 0].copy()
    for j in range(1, x.shape[-1]):
        acc += x[..., j]
    return acc
