"""Vectorised order-1/2 context statistics for the `fib` encoder.

Given every update of a context table (key, symbol, time) and every use (key, symbol, time), this
computes with numpy what the decoder (`models.fib.events.EventDecoder`) sees at each use: whether
the context exists, the version point its model was built at, the number of symbols then, and
whether the symbol is among them (hit, coded as its slot) or not (escape, coded as the slot after
the last). Rows of small contexts come out as one array; large ones as per-version rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nacrith.models.fib.events import FRESH, LAZY_LIMIT, SMALL_K, STALE_BITS

__all__ = ["ChainCodes", "context_codes"]


@dataclass
class ChainCodes:
    """Per use: `exists`, `hit`, `code` (slot or escape), `kb` (symbols in the model),
    `small` and `version` (the version, global update index, its model was built at). The
    small uses share rows by version: `rows` holds each such version's counts (float32, exact
    below 2**24; column `kb` left 0) and `esc` its escape weight, which goes in column `kb`;
    `row_of` gives each small use's row, in use order. `large_rows` holds the exact row of
    each version a large use needs."""

    exists: np.ndarray
    hit: np.ndarray
    code: np.ndarray
    kb: np.ndarray
    small: np.ndarray
    rows: np.ndarray
    esc: np.ndarray
    row_of: np.ndarray
    version: np.ndarray
    large_rows: dict[int, np.ndarray]


def _empty(nq: int) -> ChainCodes:
    z = np.zeros(nq, dtype=bool)
    return ChainCodes(
        z,
        z,
        np.zeros(nq, np.int32),
        np.zeros(nq, np.int32),
        z,
        np.zeros((0, SMALL_K + 1), np.float32),
        np.zeros(0),
        np.zeros(0, np.int32),
        np.zeros(nq, np.int32),
        {},
    )


_Schedule = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]


def _schedule(g: np.ndarray, sy: np.ndarray) -> _Schedule:
    """For updates sorted by (context, time), contexts `g` and symbols `sy`: (first update of
    the context, symbols in the context after the update, slot of the symbol, last version
    point at or before the update, the distinct (context, symbol) pairs as context * nsym +
    symbol, their first updates, nsym). Indices and counts are int32."""
    nu = len(g)
    newg = np.ones(nu, dtype=bool)
    newg[1:] = g[1:] != g[:-1]
    start_of = np.flatnonzero(newg)[np.cumsum(newg) - 1].astype(np.int32)
    del newg
    nsym = int(sy.max()) + 1
    pu, pfirst, pinv = np.unique(g * nsym + sy, return_index=True, return_inverse=True)
    pfirst = pfirst.astype(np.int32)
    is_first = np.zeros(nu, dtype=bool)
    is_first[pfirst] = True
    cs = np.cumsum(is_first)
    kafter = (cs - cs[start_of] + 1).astype(np.int32)  # symbols in the context after each update
    del cs
    slot = kafter[pfirst[pinv]] - 1
    del pinv
    m = np.arange(nu) - start_of + 1  # 1-based update count within the context
    bits = np.frexp(m.astype(np.float64))[1]  # bit_length(m)
    mask = (np.int64(1) << np.maximum(bits - STALE_BITS, 0)) - 1
    del bits
    vp = (m < FRESH) | ((m & mask) == 0) | (is_first & (kafter <= LAZY_LIMIT))
    del m, mask, is_first
    vp_acc = np.maximum.accumulate(np.where(vp, np.arange(nu), -1)).astype(np.int32)
    return start_of, kafter, slot, vp_acc, pu, pfirst, nsym


def _small_rows(
    slot: np.ndarray, start_of: np.ndarray, kafter: np.ndarray, vpos: np.ndarray, esc_a: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, escape weights, row of each use) for the small uses at versions `vpos`: the
    counts of each slot over the context's updates up to the version, one row per version,
    counted one slot at a time (a prefix table of every slot took 64 bytes per update)."""
    versions, row_of = np.unique(vpos, return_inverse=True)
    start = start_of[versions]
    rows = np.zeros((len(versions), SMALL_K + 1), dtype=np.float32)  # counts: exact
    for s in range(SMALL_K):
        is_s = slot == s
        c = np.cumsum(is_s, dtype=np.int32)  # c[i]: updates 0..i in slot s
        rows[:, s] = c[versions] - c[start] + is_s[start]
    esc = kafter[versions] * esc_a + 0.5  # float64, set into the rows when they are coded
    return rows, esc, row_of.astype(np.int32)


def _large_rows(
    slot: np.ndarray, start_of: np.ndarray, kafter: np.ndarray, vpos: np.ndarray, esc_a: float
) -> dict[int, np.ndarray]:
    """The exact row (counts, then the escape weight) of each version in `vpos`."""
    large_rows: dict[int, np.ndarray] = {}
    for v in np.unique(vpos).tolist():
        k = int(kafter[v])
        row = np.empty(k + 1)
        row[:k] = np.bincount(slot[start_of[v] : v + 1], minlength=k)
        row[k] = k * esc_a + 0.5
        large_rows[v] = row
    return large_rows


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
    tmax = int(max(upd_time.max(), use_time.max())) + 1
    order = np.lexsort((upd_time, upd_key))
    g = upd_key[order]
    tm = upd_time[order]
    sy = upd_sym[order]
    # the callers pass the update arrays as temporaries: this frees them for what follows
    del order, upd_key, upd_time, upd_sym
    start_of, kafter, slot, vp_acc, pu, pfirst, nsym = _schedule(g, sy)
    del sy
    # the symbol's first update in the context (frees the pair table early)
    qpair = use_key * nsym + use_sym
    idx = np.minimum(np.searchsorted(pu, qpair), len(pu) - 1)
    found = (use_sym >= 0) & (use_sym < nsym) & (pu[idx] == qpair)
    del qpair
    f = pfirst[idx]
    del idx, pu, pfirst
    # the context's first update and the updates before the use
    gs = np.full(n_keys, -1, dtype=np.int64)
    gs[g] = start_of
    g0 = gs[use_key]
    del gs
    gt = g * tmax + tm
    del g, tm
    p = np.searchsorted(gt, use_key * tmax + use_time)
    del gt
    exists = (g0 >= 0) & (p > g0)
    del g0
    vpos = vp_acc[np.where(exists, p - 1, 0)]
    del p, vp_acc
    kv = kafter[vpos]
    hit = exists & found & (f <= vpos)
    del found
    code = np.where(hit, slot[f], kv).astype(np.int32)
    del f
    small = exists & (kv <= SMALL_K)
    rows, esc, row_of = _small_rows(slot, start_of, kafter, vpos[small], esc_a)
    large_rows = _large_rows(slot, start_of, kafter, vpos[exists & ~small], esc_a)
    return ChainCodes(
        exists,
        hit,
        code,
        kv.astype(np.int32),
        small,
        rows,
        esc,
        row_of,
        vpos.astype(np.int32),
        large_rows,
    )
