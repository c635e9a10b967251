"""Recency ranks for the `fib` codec's order-0 model (payload version 2).

An id that no word context predicts is coded by its recency rank: how many other ids were used
more recently. Ranks follow a move-to-front order that is exact for the ids used since the last
refresh (the *front*, kept in a dict in use order) and a snapshot for the rest; the coder
merges the front into the snapshot (`refresh`, numpy) every so many uses. The rank space is the
front followed by the whole snapshot, so a snapshot position held by an id now in the front is
never used (a little code space wasted, no search needed). Encoder and decoder make the same
calls in the same order, so they see the same ranks.

A rank r is coded as the bucket i = bit_length(r + 1) (an adaptive symbol) and the offset of
r + 1 within [2**(i-1), 2**i) (uniform), see `split_rank`.
"""

from __future__ import annotations

from itertools import islice

import numpy as np

__all__ = ["MAX_BUCKETS", "Recency", "join_rank", "split_rank"]

MAX_BUCKETS = 32


class Recency:
    """Approximate move-to-front ranks over dense ids 0, 1, 2, ... (each touched when created)."""

    __slots__ = ("dtype", "front", "need_srank", "order", "srank")

    def __init__(self, need_srank: bool = True, max_ids: int = 1 << 62) -> None:
        """`max_ids` bounds the ids (narrower arrays make `refresh` cheaper)."""
        self.dtype = np.int32 if max_ids < (1 << 31) else np.int64
        self.front: dict[int, None] = {}
        self.order = np.zeros(0, dtype=self.dtype)  # snapshot ids, most recent first
        self.srank = np.zeros(0, dtype=np.int64)  # id -> position in `order` (encoder only)
        self.need_srank = need_srank

    def touch(self, sym: int) -> None:
        """Record a use of `sym` (move it to the front); the coders inline this."""
        front = self.front
        front.pop(sym, None)
        front[sym] = None

    def size(self) -> int:
        """The number of ranks in use (front plus snapshot)."""
        return len(self.front) + len(self.order)

    def rank(self, sym: int) -> int:
        """Encoder: the rank of a touched id."""
        front = self.front
        if sym in front:
            keys = list(front)
            return len(keys) - 1 - keys.index(sym)
        return len(front) + int(self.srank[sym])

    def symbol(self, rank: int) -> int:
        """Decoder: the id at `rank`; `ValueError` for a rank no encoder produces."""
        front = self.front
        nf = len(front)
        if rank < nf:
            return next(islice(reversed(front), rank, None))
        rank -= nf
        if rank >= len(self.order):
            raise ValueError("recency rank out of range")
        sym = int(self.order[rank])
        if sym in front:
            raise ValueError("recency rank of a moved id")
        return sym

    def refresh(self) -> None:
        """Merge the front into the snapshot."""
        front = self.front
        if not front:
            return
        fl = np.fromiter(reversed(front), dtype=self.dtype, count=len(front))
        old = self.order
        keep = np.ones(len(old) + len(fl), dtype=bool)
        keep[fl] = False
        order = np.concatenate((fl, old[keep[old]]))
        self.order = order
        if self.need_srank:
            srank = np.empty(len(order), dtype=np.int64)
            srank[order] = np.arange(len(order))
            self.srank = srank
        front.clear()


def split_rank(rank: int, space: int) -> tuple[int, int, int]:
    """(bucket, offset, offset range) of `rank` among `space` ranks; bucket is 1-based."""
    v = rank + 1
    i = v.bit_length()
    lo = 1 << (i - 1)
    return i, v - lo, min(lo << 1, space + 1) - lo


def join_rank(bucket: int, offset: int) -> int:
    """Inverse of `split_rank`."""
    return (1 << (bucket - 1)) + offset - 1
