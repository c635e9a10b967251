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
from collections.abc import Iterable, Iterator

import numpy as np

__all__ = [
    "FIB_LENGTHS",
    "choose_phrases",
    "fib_hashes",
    "parse",
    "phrase_keys",
    "repeat_counts",
    "token_costs",
]

FIB_LENGTHS: tuple[int, ...] = (2, 3, 5, 8, 13, 21, 34, 55, 89, 144)
_P = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1
#: positions whose candidates the phrase DP makes and walks at a time
_DP_BLOCK = 1 << 14


def _hash_levels(ids: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(length, hashes) of lengths 1, 2, 3, 5, ..., 144 in turn, holding only the two levels
    the next one is built from."""
    n = len(ids)
    h1 = (ids.astype(np.uint64) + np.uint64(1)) * np.uint64(0xD6E8FEB86659FD93)
    h1 ^= h1 >> np.uint64(29)
    yield 1, h1
    if n < 2:
        return
    ha = h1[:-1] * np.uint64(_P) + h1[1:]
    yield 2, ha
    hb = h1
    a, b = 2, 1  # F(k-1), F(k-2)
    while a + b <= min(n, FIB_LENGTHS[-1]):
        length = a + b
        count = n - length + 1
        mult = np.uint64(pow(_P, b, 1 << 64))
        ha, hb = ha[:count] * mult + hb[a : a + count], ha
        yield length, ha
        a, b = length, a


def fib_hashes(ids: np.ndarray) -> dict[int, np.ndarray]:
    """64-bit hashes of every run of each Fibonacci length (key: length; index: start)."""
    return dict(_hash_levels(ids))


def phrase_keys(ids: np.ndarray, phrases: list[tuple[int, int]]) -> list[int]:
    """The hash of each (start, length) run, equal to `fib_hashes(ids)[length][start]` (the
    levels compose to the polynomial sum of h1[start + i] * P**(length - 1 - i), mod 2**64),
    computed for these runs only."""
    if not phrases:
        return []
    h1 = next(_hash_levels(ids))[1]
    starts = np.array([s for s, _ in phrases], dtype=np.int64)
    lengths = np.array([n for _, n in phrases], dtype=np.int64)
    keys = np.zeros(len(phrases), dtype=np.uint64)
    for length in np.unique(lengths).tolist():
        sel = np.flatnonzero(lengths == length)
        acc = h1[starts[sel]]
        for i in range(1, length):
            acc = acc * np.uint64(_P) + h1[starts[sel] + i]
        keys[sel] = acc
    return keys.tolist()


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
    occurs (0 where it cannot repeat because its first F(k-1) tokens do not), as int32."""
    return _counts(hashes.items(), min_length)


def _counts(levels: Iterable[tuple[int, np.ndarray]], min_length: int) -> dict[int, np.ndarray]:
    """`repeat_counts` over (length, hashes) pairs in increasing length."""
    out: dict[int, np.ndarray] = {}
    prev: np.ndarray | None = None
    for length, h in levels:
        if length < min_length or length not in FIB_LENGTHS:
            continue
        cnt = np.zeros(len(h), dtype=np.int32)
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
    if len(ids) < max(2, min_length):
        return []
    return _choose(ids, repeat_counts(hashes, min_length), phrase_bias)


def choose_phrases(
    ids: np.ndarray, phrase_bias: float = 2.0, min_length: int = 2
) -> list[tuple[int, int]]:
    """`parse(ids, fib_hashes(ids), ...)` without holding every hash level: the levels are
    counted as they are built and dropped (`phrase_keys` gives the hashes of the chosen runs)."""
    if len(ids) < max(2, min_length):
        return []
    return _choose(ids, _counts(_hash_levels(ids), min_length), phrase_bias)


def _choose(
    ids: np.ndarray, counts: dict[int, np.ndarray], phrase_bias: float
) -> list[tuple[int, int]]:
    """The parse, given the repeat counts."""
    if not counts:
        return []
    w = token_costs(ids)
    cum = np.concatenate(([0.0], np.cumsum(w)))
    del w
    return _dp(len(ids), cum, counts, phrase_bias)


def _candidates(
    lo: int,
    hi: int,
    n: int,
    cum: np.ndarray,
    counts: dict[int, np.ndarray],
    phrase_bias: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, length, cost) of the phrases starting in lo..hi-1 that repeat and would gain
    (phrase cost: log2(n/count) + bias), by length; not sorted."""
    starts_l: list[np.ndarray] = []
    lens_l: list[np.ndarray] = []
    costs_l: list[np.ndarray] = []
    for length, cnt in counts.items():
        cand = np.flatnonzero(cnt[lo:hi] >= 2) + lo
        if len(cand) == 0:
            continue
        pcost = np.log2(n / cnt[cand]) + phrase_bias
        gain = cum[cand + length] - cum[cand] - pcost
        keep = gain > 0
        starts_l.append(cand[keep])
        lens_l.append(np.full(len(starts_l[-1]), length, dtype=np.int64))
        costs_l.append(pcost[keep])
    if not starts_l:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(starts_l), np.concatenate(lens_l), np.concatenate(costs_l)


def _next_candidate(
    n: int, cum: np.ndarray, counts: dict[int, np.ndarray], phrase_bias: float
) -> np.ndarray | None:
    """For every x in 0..n, the first position at or after x where a candidate starts (n when
    none); None when there is no candidate at all."""
    has = np.zeros(n + 1, dtype=bool)
    for lo in range(0, n, _DP_BLOCK):
        has[_candidates(lo, lo + _DP_BLOCK, n, cum, counts, phrase_bias)[0]] = True
    if not has.any():
        return None
    nxt = np.where(has, np.arange(n + 1), n)
    return np.ascontiguousarray(np.minimum.accumulate(nxt[::-1])[::-1])


def _dp(
    n: int, cum: np.ndarray, counts: dict[int, np.ndarray], phrase_bias: float
) -> list[tuple[int, int]]:
    """Cheapest cover by tokens and repeating phrases (phrase cost: log2(n/count) + bias)."""
    nxt = _next_candidate(n, cum, counts, phrase_bias)
    if nxt is None:
        return []
    # best[p]: cheapest cover of p..n; read only at n and at candidate positions, each written
    # before it is read (positions run downwards). Candidates are made and walked one block of
    # positions at a time, so only a block of them is ever held (all 4.8 M of a 4 MiB chunk
    # took 900 MiB as Python lists); what does not depend on `best` is gathered with numpy.
    best = array("d", bytes(8 * (n + 1)))
    pick = array("I", bytes(4 * (n + 1)))
    cur, b, choice = -1, 0.0, 0
    for lo in reversed(range(0, n, _DP_BLOCK)):
        starts, lens, costs = _candidates(lo, lo + _DP_BLOCK, n, cum, counts, phrase_bias)
        if len(starts) == 0:
            continue
        order = np.lexsort((lens, -starts))
        starts, lens, costs = starts[order], lens[order], costs[order]
        ends = starts + lens
        q = nxt[ends]
        head = starts[np.flatnonzero(np.diff(starts, prepend=-1))]
        q1 = nxt[head + 1]
        heads = zip(cum[q1].tolist(), cum[head].tolist(), q1.tolist())
        block = zip(
            starts.tolist(),
            lens.tolist(),
            costs.tolist(),
            q.tolist(),
            cum[q].tolist(),
            cum[ends].tolist(),
        )
        for p, length, cost, qe, cq, ce in block:
            if p != cur:
                if cur >= 0:
                    best[cur] = b
                    pick[cur] = choice
                cur = p
                c1, c0, qh = next(heads)
                b = best[qh] + c1 - c0
                choice = 0
            c = cost + best[qe] + cq - ce
            if c < b:
                b = c
                choice = length
    best[cur] = b
    pick[cur] = choice
    return _trace(n, nxt, pick)


def _trace(n: int, nxt: np.ndarray, pick: array) -> list[tuple[int, int]]:
    """The chosen (start, length) pairs, following `pick` from the start."""
    nx = memoryview(nxt)
    out: list[tuple[int, int]] = []
    p = nx[0]
    while p < n:
        length = pick[p]
        if length:
            out.append((p, length))
            p = nx[p + length]
        else:
            p = nx[p + 1]
    return out
