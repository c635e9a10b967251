"""Vectorised recency ranks for the `fib` encoder (the decoder uses `models.fib.recency.Recency`).

Input: the sequence of touches (uses of ids, in order), the touch positions at which the front is
merged into the snapshot, and queries (id, touch position). A query for an id touched since the
last merge gets the number of distinct ids touched after it (counted over its window); any other
gets the size of the front plus its position in the snapshot, which is rebuilt merge by merge
exactly as `Recency.refresh` does.
"""

from __future__ import annotations

import numpy as np

__all__ = ["recency_ranks"]

_SPAN = 1 << 20


def _neighbours(touches: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(order of touches by id then position, previous touch of the same id or -1, next touch
    of the same id or n)."""
    n = len(touches)
    order = np.argsort(touches, kind="stable")
    same = touches[order][1:] == touches[order][:-1]
    prev = np.full(n, -1, dtype=np.int64)
    nxt = np.full(n, n, dtype=np.int64)
    prev[order[1:][same]] = order[:-1][same]
    nxt[order[:-1][same]] = order[1:][same]
    return order, prev, nxt


def recency_ranks(
    touches: np.ndarray, merges: np.ndarray, q_sym: np.ndarray, q_pos: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(rank, rank-space size) of each query; every queried id must have been touched before
    its query position, and `merges` must be increasing touch positions."""
    n = len(touches)
    nq = len(q_sym)
    ranks = np.zeros(nq, dtype=np.int64)
    space = np.zeros(nq, dtype=np.int64)
    if nq == 0:
        return ranks, space
    order, prev, nxt = _neighbours(touches)
    bounds = np.concatenate(([0], merges, [n + 1])).astype(np.int64)
    q_period = np.searchsorted(bounds, q_pos, side="right") - 1
    q_start = bounds[q_period]
    # last touch of the queried id before the query
    keys = touches[order] * (n + 1) + order
    at = np.searchsorted(keys, q_sym * (n + 1) + q_pos) - 1
    lt = order[at]
    front = lt >= q_start

    # ids in the front: distinct ids touched after the last touch (window (lt, q_pos)), counted
    # in slices of about _SPAN window entries to bound memory
    fq = np.flatnonzero(front)
    width = q_pos[fq] - lt[fq] - 1
    ends = np.cumsum(width)
    lo = 0
    while lo < len(fq):
        hi = max(lo + 1, int(np.searchsorted(ends, ends[lo] - width[lo] + _SPAN)))
        w = width[lo:hi]
        total = int(w.sum())
        if total:
            qid = np.repeat(np.arange(hi - lo), w)
            first = np.repeat(lt[fq[lo:hi]] + 1 - (np.cumsum(w) - w), w)
            alive = nxt[first + np.arange(total)] >= q_pos[fq[lo:hi]][qid]
            ranks[fq[lo:hi]] = np.bincount(qid, weights=alive, minlength=hi - lo).astype(np.int64)
        lo = hi

    # front sizes: ids touched for the first time since the period began
    t_period = np.searchsorted(bounds, np.arange(n), side="right") - 1
    first_in = prev < bounds[t_period]
    cs = np.concatenate(([0], np.cumsum(first_in)))
    f_size = cs[q_pos] - cs[q_start]
    # snapshot sizes: distinct ids touched before the period
    seen = np.concatenate(([0], np.cumsum(prev < 0)))
    space[:] = f_size + seen[q_start]
    ranks[~front] = f_size[~front]

    # snapshot positions, merge by merge
    back = np.flatnonzero(~front)
    if len(back):
        snap = np.zeros(0, dtype=np.int64)
        n_ids = int(touches.max()) + 1 if n else 0
        mark = np.zeros(n_ids, dtype=bool)
        srank = np.zeros(n_ids, dtype=np.int64)
        by_period = back[np.argsort(q_period[back], kind="stable")]
        periods = q_period[by_period]
        cuts = np.flatnonzero(np.diff(periods)) + 1
        groups = np.split(by_period, cuts)
        built = 0  # snapshot holds the merges of periods < built
        for grp in groups:
            k = int(q_period[grp[0]])
            while built < k:
                lo, hi = bounds[built], bounds[built + 1]
                last = np.flatnonzero(nxt[lo:hi] >= hi) + lo
                fl = touches[last[::-1]]
                if len(fl):
                    mark[fl] = True
                    snap = np.concatenate((fl, snap[~mark[snap]]))
                    mark[fl] = False
                built += 1
            srank[snap] = np.arange(len(snap))
            ranks[grp] += srank[q_sym[grp]]
    return ranks, space
