"""The decoder's context representations (`models.fib.contexts`) build the rows the schedule
defines: the counts at the last version point, then the escape weight, padded when small."""

from __future__ import annotations

import random
from typing import Any

import pytest

from nacrith.models.fib import contexts
from nacrith.models.fib.contexts import (
    FRESH,
    LAZY_LIMIT,
    LAZY_ROWS,
    SMALL_K,
    STALE_BITS,
    BigCtx,
    SmallCtx,
)

ESC_A = 1.5


def _is_version_point(n: int, added: bool, k_before: int) -> bool:
    """The schedule, from its definition: update n (1-based) of a context."""
    if n < FRESH or (added and k_before < LAZY_LIMIT):
        return True
    return n % (1 << (n.bit_length() - STALE_BITS)) == 0


def _expected_row(version: list[int]) -> tuple[list[float], dict[str, bool]]:
    k = len(version)
    row = [float(c) for c in version] + [k * ESC_A + 0.5]
    if k <= SMALL_K:
        return row + [0.0] * (SMALL_K - k), {"lazy": True}
    return row, {"lazy": True} if k <= LAZY_ROWS else {"perfect": False}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_contexts_build_the_rows_of_the_schedule(seed: int, monkeypatch: Any) -> None:
    def record(row: Any, **kwargs: bool) -> tuple[list[float], dict[str, bool]]:
        return [float(x) for x in row], kwargs

    monkeypatch.setattr(contexts, "Categorical", record)
    rng = random.Random(seed)
    # a skewed alphabet large enough to pass LAZY_LIMIT symbols and to keep hitting old ones
    syms = [int(rng.paretovariate(0.7)) % 400 for _ in range(6000)]
    counts: dict[int, int] = {syms[0]: 1}
    order = [syms[0]]
    version = [1]
    cache: dict[tuple[int, ...], Any] = {}
    ctx: Any = None
    became_big = False
    for n, sym in enumerate(syms[1:], start=2):
        added = sym not in counts
        k_before = len(order)
        if added:
            order.append(sym)
            counts[sym] = 0
        counts[sym] += 1
        if _is_version_point(n, added, k_before):
            version = [counts[s] for s in order]
        if ctx is None:
            ctx = SmallCtx(syms[0], sym)
        elif isinstance(ctx, BigCtx) and not added and rng.random() < 0.5:
            ctx.hit(ctx.slot[sym])
        else:
            ctx = ctx.add(sym)
        became_big = became_big or isinstance(ctx, BigCtx)
        if rng.random() < 0.2:  # builds at random, so updates also pile up between them
            ctx.model = None
            assert ctx.build(cache, ESC_A) == _expected_row(version), f"update {n}"
            assert ctx.kb == len(version)
    assert became_big, "the sequence never reached LAZY_LIMIT symbols"
