"""Compiled forms of the llama layer's elementwise parts (numba), with the bits of the numpy path.

Each loop does the IEEE operations its numpy form does, in the same order, with no fastmath:

- `rms_norm`: `exact.fixed_point` of each row, the exact sum of the squared integers, then
  ``h * (1 / sqrt(squares * scale**2 / n + eps)) * gain``;
- `rope`: llama.cpp's "normal" rotation of adjacent pairs, ``a*c - b*s`` and ``a*s + b*c``;
- `silu_mul`: ``gate / (exact.exp(-gate) + 1) * up``, the exponential by `exact.exp_value`.

A decoder's step runs these on single rows, where numpy's per-call overhead is most of their
cost. Rows holding a NaN or an infinity go back to the numpy forms, which decide what they give.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from typing import NamedTuple

import numpy as np

from nacrith import exact, jit
from nacrith.exact import exp_value as exact_value
from nacrith.models.portable.kernels import row_peak

__all__ = ["available", "rms_norm", "rope", "silu_mul"]


def _silu_mul(gate, up, coefficients, pow2, out):  # pragma: no cover - compiled
    rows, cols = gate.shape
    for t in range(rows):
        g, u, o = gate[t], up[t], out[t]
        for i in range(cols):
            o[i] = g[i] / (exact_value(-g[i], coefficients, pow2) + 1.0) * u[i]


def _rms_norm(h, gain, bits, eps, out):  # pragma: no cover - compiled
    rows, cols = h.shape
    for t in range(rows):
        row = h[t]
        peak = row_peak(row)
        if peak < 0.0:
            return False  # NaN or infinite: the numpy path decides
        squares = 0.0
        scale = 1.0
        if peak >= 2.0**-900:
            shift = math.frexp(peak)[1] - bits
            for i in range(cols):
                q = np.rint(math.ldexp(row[i], -shift))
                squares += q * q  # integers below 2**52: exact in any order
            scale = math.ldexp(1.0, shift)
        mean = squares * (scale * scale) / float(cols)
        inv = 1.0 / math.sqrt(mean + eps)
        o = out[t]
        for i in range(cols):
            o[i] = row[i] * inv * gain[i]
    return True


def _rope(x, cos, sin, positions, out):  # pragma: no cover - compiled
    n, heads, dim = x.shape
    for t in range(n):
        c, s = cos[positions[t]], sin[positions[t]]
        for h in range(heads):
            xr, o = x[t, h], out[t, h]
            for i in range(dim // 2):
                a, b = xr[2 * i], xr[2 * i + 1]
                o[2 * i] = a * c[i] - b * s[i]
                o[2 * i + 1] = a * s[i] + b * c[i]


class _Loops(NamedTuple):
    silu_mul: Callable[..., None]
    rms_norm: Callable[..., bool]
    rope: Callable[..., None]


@cache
def _compiled() -> _Loops | None:
    if jit.compiler() is None:
        return None
    jit.share_helper(exact_value)
    jit.share_helper(row_peak)
    # these two call helpers of other files, which numba's disk cache would not see change
    return _Loops(
        silu_mul=jit.compile_loop(_silu_mul, cache=False),
        rms_norm=jit.compile_loop(_rms_norm, cache=False),
        rope=jit.compile_loop(_rope),
    )


def available() -> bool:
    """Whether these loops run compiled here (`jit.compiler`)."""
    return _compiled() is not None


def _loops() -> _Loops:
    loops = _compiled()
    if loops is None:
        raise RuntimeError("the compiled layer kernels are not available here")
    return loops


def silu_mul(gate: np.ndarray, up: np.ndarray) -> np.ndarray:
    """``exact.silu(gate) * up`` for (n, cols) rows, compiled; the same bits."""
    gate = np.ascontiguousarray(gate, dtype=np.float64)
    up = np.ascontiguousarray(up, dtype=np.float64)
    out = np.empty_like(gate)
    _loops().silu_mul(gate, up, *exact.EXP_TABLES, out)
    return out


def rms_norm(h: np.ndarray, gain: np.ndarray, bits: int, eps: float) -> np.ndarray | None:
    """The engine's RMSNorm of rows `h` (n, cols): `exact.fixed_point` at `bits`, exact sums of
    squares, then the same scaling; None when a row holds a NaN or an infinity."""
    h = np.ascontiguousarray(h, dtype=np.float64)
    out = np.empty_like(h)
    if not _loops().rms_norm(h, np.ascontiguousarray(gain, dtype=np.float64), bits, eps, out):
        return None
    return out


def rope(x: np.ndarray, cos: np.ndarray, sin: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Rotate adjacent pairs of `x` (n, heads, dim) by the tables' rows at `positions`."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    out = np.empty_like(x)
    _loops().rope(x, cos, sin, np.ascontiguousarray(positions, dtype=np.int64), out)
    return out
