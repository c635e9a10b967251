"""Vectorised order-1/2 context statistics for the `fib` encoder.

Given every update of a context table (key, symbol, time) and every use (key, symbol, time),
this computes with numpy what the decoder (`fib_models.EventDecoder`) sees at each use: whether
the context exists, the version point its model was built at, the number of symbols then, and
whether the symbol is among them (hit, coded as its slot) or not (escape, coded as the slot
after the last). Rows of small contexts come out as one array; large ones as per-version rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from nacrith.models.fib_models import FRESH, LAZY_LIMIT, SMALL_K, STALE_BITS

__all__ = ["ChainCodes", "context_codes"]


@dataclass
class ChainCodes:
    """Per use: `exists`, `hit`, `code` (slot or escape), `kb` (symbols in the model) and
    `small`; for the small uses in order, `rows` holds the counts (float32, exact below 2**24)
    and `esc` the escape weight, which goes in column `kb`; `version` is the version (global
    update index) of each use, and `large_rows` the exact row of each version a large use
    needs."""

    exists: np.ndarray
    hit: np.ndarray
    code: np.ndarray
    kb: np.ndarray
    small: np.ndarray
    rows: np.ndarray
    esc: np.ndarray
    version: np.ndarray
    large_rows: dict[int, np.ndarray]


def _empty(nq: int) -> ChainCodes:
    z = np.zeros(nq, dtype=bool)
    return ChainCodes(
        z,
        z,
        np.zeros(nq, np.int64),
        np.zeros(nq, np.int64),
        z,
        np.zeros((0, SMALL_K + 1), np.float32),
        np.zeros(0),
        np.zeros(nq, np.int64),
        {},
    )


def context_codes(
    upd_key: np.ndarray,
    upd_sym: np.ndarray,
    upd_time: np.ndarray,
    use_key: np.ndarray,
    use_sym: np.ndarray,
    use_time: np.ndarray,
    esc_a: float,
    n_keys: int,
) -> ChainCodes:
    """Statistics of each use; keys are dense (0 <= key < n_keys), times of uses and updates
    are distinct, and symbols < 0 never hit."""
    nu, nq = len(upd_key), len(use_key)
    if nu == 0 or nq == 0:
        return _empty(nq)
    gu, gq = upd_key, use_key
    order = np.lexsort((upd_time, gu))
    g = gu[order]
    sy = upd_sym[order]
    tm = upd_time[order]
    newg = np.ones(nu, dtype=bool)
    newg[1:] = g[1:] != g[:-1]
    gstart = np.flatnonzero(newg)
    start_of = gstart[np.cumsum(newg) - 1]
    pos = np.arange(nu)
    m = pos - start_of + 1  # 1-based update count within the context
    nsym = int(sy.max()) + 1
    pair = g * nsym + sy
    pu, pfirst, pinv = np.unique(pair, return_index=True, return_inverse=True)
    is_first = np.zeros(nu, dtype=bool)
    is_first[pfirst] = True
    cs = np.cumsum(is_first)
    kafter = cs - cs[start_of] + 1  # symbols in the context after each update
    slot = kafter[pfirst[pinv]] - 1
    bits = np.frexp(m.astype(np.float64))[1]  # bit_length(m)
    mask = (np.int64(1) << np.maximum(bits - STALE_BITS, 0)) - 1
    vp = (m < FRESH) | ((m & mask) == 0) | (is_first & (kafter <= LAZY_LIMIT))
    vp_acc = np.maximum.accumulate(np.where(vp, pos, -1))
    del order, newg, bits, mask, vp, pair, pinv

    tmax = int(max(upd_time.max(), use_time.max())) + 1
    p = np.searchsorted(g * tmax + tm, gq * tmax + use_time)
    gs = np.full(n_keys, -1, dtype=np.int64)
    gs[g[gstart]] = gstart
    g0 = gs[gq]
    exists = (g0 >= 0) & (p > g0)
    vpos = vp_acc[np.where(exists, p - 1, 0)]
    kv = kafter[vpos]
    qpair = gq * nsym + use_sym
    idx = np.minimum(np.searchsorted(pu, qpair), len(pu) - 1)
    found = (use_sym >= 0) & (use_sym < nsym) & (pu[idx] == qpair)
    f = pfirst[idx]
    hit = exists & found & (f <= vpos)
    code = np.where(hit, slot[f], kv)
    small = exists & (kv <= SMALL_K)
    del p, qpair, idx, found, f, pu, pfirst, vp_acc

    sidx = np.flatnonzero(small)
    pref = np.zeros((nu + 1, SMALL_K), dtype=np.int32)
    ok = slot < SMALL_K
    pref[pos[ok] + 1, slot[ok]] = 1
    np.cumsum(pref, axis=0, out=pref)
    rows = np.zeros((len(sidx), SMALL_K + 1), dtype=np.float32)  # counts: exact
    rows[:, :SMALL_K] = pref[vpos[sidx] + 1] - pref[g0[sidx]]
    del pref
    esc = kv[sidx] * esc_a + 0.5  # float64, set into the rows when they are coded

    large_rows: dict[int, np.ndarray] = {}
    for v in np.unique(vpos[exists & ~small]).tolist():
        k = int(kafter[v])
        row = np.empty(k + 1)
        row[:k] = np.bincount(slot[start_of[v] : v + 1], minlength=k)
        row[k] = k * esc_a + 0.5
        large_rows[v] = row
    return ChainCodes(exists, hit, code, kv, small, rows, esc, vpos, large_rows)
