"""coders.quantize: exact totals, floors, and robustness to bad numbers."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nacrith.coders.quantize import TOTAL, quantize, sanitize


def check(freqs: np.ndarray) -> None:
    f2 = freqs.reshape(-1, freqs.shape[-1])
    assert f2.dtype == np.int64
    assert (f2 >= 1).all()
    assert (f2.sum(axis=1) == TOTAL).all()


def test_simple_row() -> None:
    f = quantize(np.array([0.5, 0.25, 0.25]))
    assert f.tolist() == [TOTAL // 2, TOTAL // 4, TOTAL // 4]


def test_zero_probability_symbols_get_one() -> None:
    f = quantize(np.array([1.0, 0.0, 0.0, 0.0]))
    assert f.tolist() == [TOTAL - 3, 1, 1, 1]


def test_batch_matches_rows() -> None:
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.full(100, 0.05), size=7)
    f = quantize(p)
    check(f)
    for i in range(7):
        assert (f[i] == quantize(p[i])).all()


def test_large_vocabulary_flat_and_peaked() -> None:
    v = 49_152
    check(quantize(np.full(v, 1.0 / v)))
    p = np.full(v, 1e-12)
    p[123] = 1.0
    f = quantize(p)
    check(f)
    assert f[123] == TOTAL - (v - 1)


def test_deficit_fallback_when_argmax_cannot_absorb() -> None:
    # many symbols at the floor and a weak maximum: the fallback path must still be exact
    v = 1 << 20
    p = np.full(v, 0.9 / TOTAL)
    p[:10] = 1.0
    check(quantize(p))


@pytest.mark.parametrize(
    "row",
    [
        [np.nan, 1.0, 2.0],
        [np.inf, 1.0, 2.0],
        [np.inf, np.inf, 0.0],
        [-1.0, 0.0, 0.0],
        [0.0, 0.0, 0.0],
        [np.nan, np.nan, np.nan],
        [-np.inf, 1.0, 1.0],
        [1e308, 1e308, 1e308],
    ],
)
def test_bad_numbers(row: list[float]) -> None:
    check(quantize(np.array(row)))
    s = sanitize(np.array(row))
    assert np.isfinite(s).all() and abs(s.sum() - 1) < 1e-12


def test_too_many_symbols() -> None:
    with pytest.raises(ValueError, match="cannot quantize 5 symbols into a total of 4"):
        quantize(np.ones(5), total=4)


@settings(max_examples=200, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=64),
        elements=st.floats(allow_nan=True, allow_infinity=True),
    )
)
def test_any_input_gives_valid_frequencies(p: np.ndarray) -> None:
    check(quantize(p))


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.float64, st.integers(2, 300), elements=st.floats(-50, 50)))
def test_close_to_probabilities(logits: np.ndarray) -> None:
    p = np.exp(logits - logits.max())
    p /= p.sum()
    f = quantize(p)
    check(f)
    # every symbol is within the floor/rounding slack, except the one that settles the total
    err = np.abs(f - p * TOTAL)
    err[np.argmax(p)] = 0
    assert (err <= 1.0 + 1e-6).all()
