"""The Fibonacci phrase hierarchy and the cost-based parse of the `fib` codec.

Phrases are runs of 2, 3, 5, 8, ..., 144 tokens (Fibonacci lengths). Their hashes are built level
by level the way the hierarchy is defined: a phrase of length F(k) is a phrase of length F(k-1)
followed by one of length F(k-2), so each level costs one vectorised pass over the token ids.
A run that occurs at least twice is a candidate; the parse is the cheapest cover of the token
sequence by single tokens and candidate phrases under an estimated cost per token and per
phrase (dynamic programming, not greedy). Phrases the parse uses only once are spelled out as
tokens by the encoder. Short phrases are left to the word-context models (`min_length`).
"""

from __future__ import annotations

from array import array

import numpy as np

__all__ = ["FIB_LENGTHS", "fib_hashes", "parse", "repeat_counts", "token_costs"]

FIB_LENGTHS: tuple[int, ...] = (2, 3, 5, 8, 13, 21, 34, 55, 89, 144)
_P = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1
#: candidates converted to Python objects at a time by the phrase DP
_DP_BLOCK = 1 << 16


def fib_hashes(ids: np.ndarray) -> dict[int, np.ndarray]:
    """64-bit hashes of every run of each Fibonacci length (key: length; index: start)."""
    n = len(ids)
    h1 = (ids.astype(np.uint64) + np.uint64(1)) * np.uint64(0xD6E8FEB86659FD93)
    h1 ^= h1 >> np.uint64(29)
    out: dict[int, np.ndarray] = {1: h1}
    if n >= 2:
        out[2] = h1[:-1] * np.uint64(_P) + h1[1:]
    a, b = 2, 1  # F(k-1), F(k-2)
    while a + b <= min(n, FIB_LENGTHS[-1]):
        length = a + b
        count = n - length + 1
        mult = np.uint64(pow(_P, b, 1 << 64))
        out[length] = out[a][:count] * mult + out[b][a : a + count]
        a, b = length, a
    return out


def token_costs(ids: np.ndarray) -> np.ndarray:
    """Estimated bits of each token under a word-context model (static order 1, smoothed)."""
    n = len(ids)
    if n == 0:
        return np.zeros(0)
    uni = np.bincount(ids).astype(np.float64)
    cost = np.empty(n)
    first = np.zeros(n, dtype=bool)
    _, first_idx = np.unique(ids, return_index=True)
    first[first_idx] = True
    cost[0] = 12.0
    if n > 1:
        key = ids[:-1].astype(np.int64) * (int(ids.max()) + 1) + ids[1:]
        _, inv, cnt = np.unique(key, return_inverse=True, return_counts=True)
        pair = cnt[inv].astype(np.float64)
        ctx = uni[ids[:-1]]
        p1 = (pair - 0.5) / (ctx + 1.0)
        p0 = uni[ids[1:]] / n
        cost[1:] = -np.log2(0.85 * p1 + 0.15 * p0)
    cost[first] += 12.0
    return cost


def repeat_counts(hashes: dict[int, np.ndarray], min_length: int = 2) -> dict[int, np.ndarray]:
    """For each Fibonacci length from `min_length`, how often the run starting at each position
    occurs (0 where it cannot repeat because its first F(k-1) tokens do not)."""
    out: dict[int, np.ndarray] = {}
    prev: np.ndarray | None = None
    for length in FIB_LENGTHS:
        if length < min_length:
            continue
        h = hashes.get(length)
        if h is None:
            break
        cnt = np.zeros(len(h), dtype=np.int64)
        sel = np.arange(len(h)) if prev is None else np.flatnonzero(prev[: len(h)] >= 2)
        if len(sel) == 0:
            break
        _, inv, c = np.unique(h[sel], return_inverse=True, return_counts=True)
        cnt[sel] = c[inv]
        out[length] = cnt
        prev = cnt
    return out


def parse(
    ids: np.ndarray, hashes: dict[int, np.ndarray], phrase_bias: float = 2.0, min_length: int = 2
) -> list[tuple[int, int]]:
    """Choose phrases of `min_length` tokens or more by dynamic programming; returns (start,
    length) pairs in order."""
    n = len(ids)
    if n < max(2, min_length):
        return []
    counts = repeat_counts(hashes, min_length)
    if not counts:
        return []
    w = token_costs(ids)
    cum = np.concatenate(([0.0], np.cumsum(w)))
    allowed = {length: cnt >= 2 for length, cnt in counts.items()}
    return _dp(n, cum, counts, allowed, phrase_bias)


def _dp(
    n: int,
    cum: np.ndarray,
    counts: dict[int, np.ndarray],
    allowed: dict[int, np.ndarray],
    phrase_bias: float,
) -> list[tuple[int, int]]:
    """Cheapest cover by tokens and allowed phrases (phrase cost: log2(n/count) + bias)."""
    starts_l: list[np.ndarray] = []
    lens_l: list[np.ndarray] = []
    costs_l: list[np.ndarray] = []
    for length, ok in allowed.items():
        cand = np.flatnonzero(ok)
        if len(cand) == 0:
            continue
        pcost = np.log2(n / counts[length][cand]) + phrase_bias
        gain = cum[cand + length] - cum[cand] - pcost
        keep = gain > 0
        if keep.any():
            starts_l.append(cand[keep].astype(np.int32))
            lens_l.append(np.full(int(keep.sum()), length, dtype=np.int16))
            costs_l.append(pcost[keep])
    if not starts_l:
        return []
    starts = np.concatenate(starts_l)
    lens = np.concatenate(lens_l)
    costs = np.concatenate(costs_l)
    order = np.lexsort((lens, -starts))
    starts = starts[order]
    lens = lens[order]
    costs = costs[order]
    del order
    cand_pos = np.unique(starts)
    # next candidate position at or after x (n when none), for every x in 0..n
    nxt = np.full(n + 1, n, dtype=np.int64)
    nxt[cand_pos] = cand_pos
    nxt = np.minimum.accumulate(nxt[::-1])[::-1]
    cumf = cum.tolist()
    nxtl = nxt.tolist()
    # best[p]: cheapest cover of p..n; read only at n and at candidate positions, each written
    # before it is read (positions run downwards). Candidates are walked in blocks so that only
    # a block of them is ever held as Python objects (4.8 M of them took 900 MiB as lists).
    best = [0.0] * (n + 1)
    pick = array("I", bytes(4 * (n + 1)))
    cur, b, choice = -1, 0.0, 0
    for a in range(0, len(starts), _DP_BLOCK):
        block = zip(
            starts[a : a + _DP_BLOCK].tolist(),
            lens[a : a + _DP_BLOCK].tolist(),
            costs[a : a + _DP_BLOCK].tolist(),
        )
        for p, length, cost in block:
            if p != cur:
                if cur >= 0:
                    best[cur] = b
                    pick[cur] = choice
                cur = p
                q = nxtl[p + 1]
                b = best[q] + cumf[q] - cumf[p]
                choice = 0
            e = p + length
            q = nxtl[e]
            c = cost + best[q] + cumf[q] - cumf[e]
            if c < b:
                b = c
                choice = length
    best[cur] = b
    pick[cur] = choice
    out: list[tuple[int, int]] = []
    p = nxtl[0]
    while p < n:
        length = pick[p]
        if length:
            out.append((p, length))
            p = nxtl[p + length]
        else:
            p = nxtl[p + 1]
    return out
