"""The attention softmax of the portable graphs: revision 3's exp table against a
high-precision reference, and its weights against revision 2's."""

from __future__ import annotations

from decimal import Decimal, localcontext

import numpy as np
import pytest

from nacrith.errors import NacrithError
from nacrith.models.portable.softmax import (
    EXP_GRID,
    P_BITS,
    SCORE_BITS,
    attention_weights,
    exp_table,
)


def _reference(i: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 60
        return (Decimal(-i) / Decimal(2**EXP_GRID)).exp() * Decimal(2**SCORE_BITS)


def test_the_exp_table_rounds_a_high_precision_exp():
    table = exp_table()
    picks = sorted({*range(0, len(table), 53), *range(0, 64), len(table) - 1})
    for i in picks:
        # rint of exact.exp (within an ulp or two of e**x): at most half a unit and a hair off
        assert abs(Decimal(float(table[i])) - _reference(i)) <= Decimal("0.5000001"), i
    assert table[-1] == 0.0 and table[0] == 2.0**SCORE_BITS
    assert np.all(np.diff(table) <= 0)  # never rises


def test_revision3_weights_follow_revision2_within_the_grid():
    rng = np.random.default_rng(3)
    scores = rng.normal(0.0, 4.0, size=(5, 7, 300))
    scores[:, :, 250:] = -np.inf
    old = attention_weights(scores.copy(), 2)
    new = attention_weights(scores.copy(), 3)
    assert np.all(new[:, :, 250:] == 0) and np.all(old[:, :, 250:] == 0)
    assert np.all(np.abs(new.sum(axis=-1) - 2.0**P_BITS) <= 300)
    # the grid moves each exp by at most 2**-(EXP_GRID + 1) of itself, and the sum with it
    assert np.max(np.abs(new - old)) <= 2.0**P_BITS * 2.0 ** -(EXP_GRID - 1)


def test_hidden_keys_get_no_weight_and_a_nan_is_refused():
    scores = np.array([[0.0, -np.inf, -40.0, -1.0]])
    weights = attention_weights(scores.copy(), 3)
    assert weights[0, 1] == 0 and weights[0, 2] == 0 and weights[0, 0] > weights[0, 3] > 0
    for revision in (2, 3):
        with pytest.raises(NacrithError, match="not finite"):
            attention_weights(np.array([[0.0, np.nan]]), revision)
