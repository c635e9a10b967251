"""Decoder-side order-1/2 contexts of the `fib` codec (payload version 2).

A context counts the symbols seen after it, in order of first appearance, and is coded with the
counts plus an escape weight of k * esc_a + 0.5 (k symbols) as they stood at the context's last
*version point*: update n is one if n < FRESH, if n is a multiple of
2**(bit_length(n) - STALE_BITS), or if it added a symbol and the context then held at most
LAZY_LIMIT. Rows with at most SMALL_K symbols are padded to SMALL_K + 1 entries (and shared
through a cache); larger ones are exact.

Three representations, all giving the same models: a context updated once is its bare symbol
in the table (count 1); `SmallCtx` holds its counts in a list (the cache key of its padded row);
a context that reaches LAZY_LIMIT symbols becomes a `BigCtx`, whose counts live in a float64
array plus a list of pending increments folded in when a model is built, so that a rebuild
costs array operations rather than a conversion of every count.
"""

from __future__ import annotations

from typing import Any

import constriction
import numpy as np

Categorical = constriction.stream.model.Categorical

__all__ = [
    "FRESH",
    "LAZY_LIMIT",
    "LAZY_ROWS",
    "SMALL_K",
    "STALE_BITS",
    "BigCtx",
    "SmallCtx",
    "small_model",
]

STALE_BITS = 5
FRESH = 1 << STALE_BITS
LAZY_LIMIT = 48
SMALL_K = 15
CACHE_MAX = 1 << 17
# rows up to this size are built lazily (cheap to build, each decode scans the row); larger ones
# get a lookup table. Both quantize as the encoder's perfect=False rows do.
LAZY_ROWS = 256
_PAD = tuple((0.0,) * (SMALL_K - k) for k in range(SMALL_K + 1))


def small_model(key: tuple[int, ...], cache: dict[tuple[int, ...], Any], esc_a: float) -> Any:
    """The model of counts `key` (at most SMALL_K symbols) and the escape, padded to SMALL_K + 1
    entries; shared through `cache` (one cache per escape weight)."""
    m = cache.get(key)
    if m is None:
        if len(cache) >= CACHE_MAX:
            cache.clear()
        k = len(key)
        row = np.fromiter((*key, k * esc_a + 0.5, *_PAD[k]), np.float64, SMALL_K + 1)
        m = cache[key] = Categorical(row, lazy=True)
    return m


class SmallCtx:
    """A context with at least two updates and fewer than LAZY_LIMIT symbols (the decoder
    inlines `add` and the count of a hit in its loop)."""

    __slots__ = ("counts", "kb", "model", "n", "slot", "snap", "syms")

    def __init__(self, s0: int, sym: int) -> None:
        """The context that held only `s0`, after its second update, with `sym`."""
        if sym == s0:
            self.slot: dict[int, int] = {s0: 0}
            self.syms: list[int] = [s0]
            self.counts: list[int] = [2]
        else:
            self.slot = {s0: 0, sym: 1}
            self.syms = [s0, sym]
            self.counts = [1, 1]
        # `counts` at the last version point; None while that is still `counts` itself
        self.snap: tuple[int, ...] | None = None
        self.model: Any = None  # built from the snapshot when first needed
        self.kb = 0  # symbols in `model`; symbol kb is the escape
        self.n = 2  # updates so far

    def build(self, cache: dict[tuple[int, ...], Any], esc_a: float) -> Any:
        """The model of the last version point (also kept in `model`, its size in `kb`)."""
        snap = self.snap or tuple(self.counts)
        k = len(snap)
        self.kb = k
        if k <= SMALL_K:
            m = cache.get(snap)
            if m is None:
                m = small_model(snap, cache, esc_a)
        else:
            m = Categorical(np.fromiter((*snap, k * esc_a + 0.5), np.float64, k + 1), lazy=True)
        self.model = m
        return m

    def add(self, sym: int) -> SmallCtx | BigCtx:
        """Count `sym`; returns the context to keep (a `BigCtx` once it reaches LAZY_LIMIT)."""
        n = self.n + 1
        self.n = n
        counts = self.counts
        j = self.slot.get(sym, -1)
        if j < 0:
            k = len(counts)
            if k < LAZY_LIMIT or n < FRESH or not n & ((1 << (n.bit_length() - STALE_BITS)) - 1):
                self.snap = self.model = None
            elif self.snap is None:
                self.snap = tuple(counts)
            self.slot[sym] = k
            self.syms.append(sym)
            counts.append(1)
            return BigCtx(self) if k + 1 == LAZY_LIMIT else self
        if n < FRESH or not n & ((1 << (n.bit_length() - STALE_BITS)) - 1):
            self.snap = self.model = None
        elif self.snap is None:
            self.snap = tuple(counts)
        counts[j] += 1
        return self


class BigCtx:
    """A context with at least LAZY_LIMIT symbols: counts `base[:k]` plus the slots in `pend`;
    the version point is `snap` = (pending increments then, symbols then), or None when it is
    the current state."""

    __slots__ = ("base", "k", "kb", "model", "n", "pend", "slot", "snap", "syms")

    def __init__(self, c: SmallCtx) -> None:
        """Take over `c`, whose last update was a version point."""
        self.k = len(c.counts)
        self.base = np.zeros(2 * self.k + 2)
        self.base[: self.k] = c.counts
        self.pend: list[int] = []
        self.snap: tuple[int, int] | None = None
        self.model: Any = None
        self.kb = 0
        self.n = c.n
        self.slot = c.slot
        self.syms = c.syms

    def build(self, cache: dict[tuple[int, ...], Any], esc_a: float) -> Any:
        """The model of the last version point (also kept in `model`, its size in `kb`)."""
        snap = self.snap
        npend, k = (len(self.pend), self.k) if snap is None else snap
        if len(self.base) < k:
            grown = np.zeros(2 * k)
            grown[: len(self.base)] = self.base
            self.base = grown
        if npend:
            inc = np.bincount(np.array(self.pend[:npend], dtype=np.intp))
            self.base[: len(inc)] += inc
            del self.pend[:npend]
            if snap is not None:
                self.snap = (0, k)
        row = np.empty(k + 1)
        row[:k] = self.base[:k]
        row[k] = k * esc_a + 0.5
        self.kb = k
        m = self.model = (
            Categorical(row, lazy=True) if k <= LAZY_ROWS else Categorical(row, perfect=False)
        )
        return m

    def hit(self, j: int) -> None:
        """Count the symbol in slot `j`."""
        n = self.n + 1
        self.n = n
        if n < FRESH or not n & ((1 << (n.bit_length() - STALE_BITS)) - 1):
            self.snap = self.model = None
        elif self.snap is None:
            self.snap = (len(self.pend), self.k)
        self.pend.append(j)

    def add(self, sym: int) -> BigCtx:
        """Count `sym` (see `SmallCtx.add`)."""
        j = self.slot.get(sym, -1)
        if j >= 0:
            self.hit(j)
            return self
        n = self.n + 1
        self.n = n
        k = self.k
        if k < LAZY_LIMIT or n < FRESH or not n & ((1 << (n.bit_length() - STALE_BITS)) - 1):
            self.snap = self.model = None
        elif self.snap is None:
            self.snap = (len(self.pend), k)
        self.slot[sym] = k
        self.syms.append(sym)
        self.pend.append(k)
        self.k = k + 1
        return self
