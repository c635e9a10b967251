"""Adaptive count tables with a rebuild schedule, coded one symbol at a time or as whole arrays.

A table holds, per context, counts plus a prior (both exact binary fractions, so every sum is
exact in float64). The model a symbol is coded with is the table as it stood after the last
*rebuild*: after update n of a context, the model is rebuilt if n < warm or n % step == 0. The
decoder (`StagedTable`) follows the schedule symbol by symbol; the encoder (`staged_rows`)
computes every row the decoder will see at once with numpy and codes the whole array with one
constriction call, which gives bit-identical output.
"""

from __future__ import annotations

from typing import Any

import constriction
import numpy as np

__all__ = ["StagedTable", "encode_rows", "staged_rows"]

Categorical = constriction.stream.model.Categorical
_SLICE = 1 << 15


class StagedTable:
    """Decoder side: per-context counts and models on the rebuild schedule (contexts are small
    integers below the number of prior rows)."""

    __slots__ = ("models", "n", "step", "tabs", "warm", "width")

    def __init__(self, prior: np.ndarray, step: int, warm: int = 32) -> None:
        self.step = step
        self.warm = warm
        self.width = prior.shape[1]
        self.tabs: list[list[float]] = prior.tolist()
        self.models: list[Any] = [None] * len(prior)
        self.n = [0] * len(prior)

    def decode(self, dec: Any, ctx: int) -> int:
        """Decode one symbol in context `ctx` and count it."""
        m = self.models[ctx]
        tab = self.tabs[ctx]
        if m is None:
            m = self.models[ctx] = Categorical(np.fromiter(tab, np.float64, self.width), lazy=True)
        sym = int(dec.decode(m))
        tab[sym] += 1.0
        n = self.n[ctx] + 1
        self.n[ctx] = n
        if n < self.warm or n % self.step == 0:
            self.models[ctx] = None
        return sym


def staged_rows(
    ctx: np.ndarray, sym: np.ndarray, prior: np.ndarray, step: int, warm: int = 32
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encoder side: for symbols `sym` in contexts `ctx` (in coding order), the prefix-count
    table `pref` and row indices (a, b) such that row j = pref[a[j]] - pref[b[j]] +
    prior[ctx[j]] is the decoder's model for symbol j (see `encode_rows`)."""
    m = len(sym)
    width = prior.shape[1]
    order = np.argsort(ctx, kind="stable")
    cs = ctx[order]
    new = np.ones(m, dtype=bool)
    new[1:] = cs[1:] != cs[:-1]
    starts = np.flatnonzero(new)
    start_of = starts[np.cumsum(new) - 1]
    q = np.arange(m) - start_of
    u = np.where(q < warm, q, q - q % step)
    pref = np.zeros((m + 1, width), dtype=np.int32)
    pref[np.arange(1, m + 1), sym[order]] = 1
    np.cumsum(pref, axis=0, out=pref)  # pref[p]: counts of sorted[:p]
    a = np.empty(m, dtype=np.int64)
    b = np.empty(m, dtype=np.int64)
    a[order] = start_of + u
    b[order] = start_of
    return pref, a, b


def encode_rows(
    enc: Any,
    ctx: np.ndarray,
    sym: np.ndarray,
    prior: np.ndarray,
    step: int,
    warm: int = 32,
) -> None:
    """Code `sym` (in contexts `ctx`) with the models `StagedTable` would use, in slices."""
    if len(sym) == 0:
        return
    pref, a, b = staged_rows(ctx, sym, prior, step, warm)
    family = Categorical(perfect=False)
    for lo in range(0, len(sym), _SLICE):
        sl = slice(lo, lo + _SLICE)
        rows = (pref[a[sl]] - pref[b[sl]]).astype(np.float64)
        rows += prior[ctx[sl]]
        enc.encode(sym[sl].astype(np.int32), family, rows)
