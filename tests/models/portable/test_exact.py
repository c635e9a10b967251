"""The exact elementary functions: accuracy against the math module, special values, and the
same bits whether numpy evaluates them on long arrays (SIMD loops) or one element at a time."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nacrith import exact

RNG = np.random.default_rng(20261206)


def _relative_error(got: np.ndarray, want: np.ndarray) -> float:
    nonzero = want != 0
    assert np.array_equal(got[~nonzero], want[~nonzero])
    return float(np.max(np.abs(got[nonzero] / want[nonzero] - 1.0)))


def test_exp_matches_math_exp_to_1e13_relative():
    x = np.concatenate(
        [
            RNG.uniform(-708.0, 709.7, 50_000),
            RNG.uniform(-1.0, 1.0, 20_000),
            RNG.uniform(-1e-9, 1e-9, 1_000),
            np.arange(-700, 700, 0.5),
        ]
    )
    want = np.array([math.exp(v) for v in x])
    assert _relative_error(exact.exp(x), want) < 1e-13


def test_exp_special_values_and_no_subnormals():
    got = exact.exp(np.array([0.0, -0.0, -np.inf, np.inf, np.nan, 710.0, -746.0, 1e-300]))
    assert got[0] == 1.0 and got[1] == 1.0
    assert got[2] == 0.0 and got[3] == np.inf and np.isnan(got[4])
    assert got[5] == np.inf and got[6] == 0.0 and got[7] == 1.0
    deep = exact.exp(np.linspace(-760.0, -700.0, 10_001))
    assert np.all((deep == 0.0) | (deep >= exact.TINY))


def test_log_matches_math_log_to_1e13_relative():
    x = np.concatenate(
        [
            np.ldexp(RNG.uniform(0.5, 1.0, 50_000), RNG.integers(-1020, 1020, 50_000)),
            RNG.uniform(0.5, 2.0, 20_000),
            1.0 + RNG.uniform(-1e-6, 1e-6, 1_000),
            [100000.0, 2.0, 10.0],
        ]
    )
    want = np.array([math.log(v) for v in x])
    assert _relative_error(exact.log(x), want) < 1e-13


def test_log_special_values():
    got = exact.log(np.array([1.0, 0.0, -1.0, np.inf, np.nan, -np.inf]))
    assert got[0] == 0.0 and got[1] == -np.inf and np.isnan(got[2])
    assert got[3] == np.inf and np.isnan(got[4]) and np.isnan(got[5])


@pytest.mark.parametrize(("ours", "theirs"), [(exact.sin, math.sin), (exact.cos, math.cos)])
def test_sin_cos_match_math_to_1e15_absolute(ours, theirs):
    x = np.concatenate(
        [RNG.uniform(-1e4, 1e4, 50_000), RNG.uniform(-4.0, 4.0, 20_000), np.arange(0, 8192.0)]
    )
    want = np.array([theirs(v) for v in x])
    assert float(np.max(np.abs(ours(x) - want))) < 1e-15
    assert ours(np.array([0.0]))[0] == theirs(0.0)


def test_sin_cos_refuse_arguments_they_cannot_reduce():
    with pytest.raises(ValueError, match="sin/cos take"):
        exact.sin(np.array([1e7]))
    with pytest.raises(ValueError, match="sin/cos take"):
        exact.cos(np.array([np.nan]))


def test_silu_matches_its_definition():
    x = np.concatenate([RNG.uniform(-30.0, 30.0, 20_000), RNG.uniform(-1e-3, 1e-3, 100)])
    want = np.array([v / (1.0 + math.exp(-v)) for v in x])
    assert _relative_error(exact.silu(x), want) < 1e-13
    assert exact.silu(np.array([-1000.0]))[0] == 0.0


@pytest.mark.parametrize("function", [exact.exp, exact.log, exact.sin, exact.cos, exact.silu])
def test_vector_and_scalar_loops_give_the_same_bits(function):
    x = RNG.uniform(0.001, 50.0, 4099) * RNG.choice([-1.0, 1.0], 4099)
    if function is exact.log:
        x = np.abs(x)
    whole = function(x)
    one_by_one = np.array([function(np.array([v]))[0] for v in x[:257]])
    strided = function(x[::3].copy())
    assert np.array_equal(whole[:257], one_by_one)
    assert np.array_equal(whole[::3], strided)


def test_softmax_is_close_to_the_float_softmax_and_its_weights_sum_exactly():
    logits = RNG.normal(0.0, 4.0, (3, 49152))
    weights, sums = exact.softmax_weights(logits)
    assert np.array_equal(sums, weights.sum(axis=1))
    assert np.all(sums < 2**52)
    p = exact.softmax(logits)
    z = logits - logits.max(axis=1, keepdims=True)
    ref = np.array([[math.exp(v) for v in row] for row in z])
    ref /= ref.sum(axis=1, keepdims=True)
    assert float(np.max(np.abs(p - ref))) < 2.0**-34
    assert np.allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_fixed_point_bounds_and_round_trip():
    x = RNG.normal(0.0, 1.0, (50, 576)) * np.exp(RNG.uniform(-20, 20, (50, 1)))
    x[3] = 0.0
    ints, scale = exact.fixed_point(x, 16)
    assert np.all(np.abs(ints) <= 2**16)
    assert np.array_equal(ints, np.rint(ints))
    assert np.all(np.abs(ints * scale[:, None] - x) <= scale[:, None] / 2)
    assert np.array_equal(np.frexp(scale)[0], np.full(50, 0.5))  # powers of two
    assert np.all(ints[3] == 0)


def _exp_reference(x: np.ndarray) -> np.ndarray:
    """exact.exp's definition in one pass over the whole array, each step as written in its
    docstring: k = rint(x / ln 2), r = (x - k ln2_hi) - k ln2_lo, Taylor(r) by Horner, ldexp."""
    xs = np.where(np.isnan(x) | (np.abs(x) > exact._EXP_MAX), 0.0, x)
    k = np.rint(xs * exact._INV_LN2)
    r = (xs - k * exact._LN2_HI) - k * exact._LN2_LO
    p = np.full_like(r, exact._EXP_C[0])
    for c in exact._EXP_C[1:]:
        p = p * r + c
    under = k < exact._EXP_MIN_K
    out = np.ldexp(np.where(under, 0.0, p), np.where(under, 0, k.astype(np.int64)))
    out = np.where(x > exact._EXP_MAX, np.inf, np.where(x < -exact._EXP_MAX, 0.0, out))
    return np.where(np.isnan(x), np.nan, out)


def test_exp_in_chunks_gives_the_bits_of_its_one_pass_definition():
    rng = np.random.default_rng(5)
    special = [0.0, -0.0, np.nan, np.inf, -np.inf, 709.78, 709.79, -709.79, -708.4, -745.2]
    x = np.concatenate([rng.uniform(-750.0, 750.0, 3 * exact._EXP_CHUNK + 7), special])
    rng.shuffle(x)  # specials land in several chunks
    assert exact.exp(x).tobytes() == _exp_reference(x).tobytes()
    grid = x[:6000].reshape(2, 3, 1000)
    assert exact.exp(grid).tobytes() == _exp_reference(grid).tobytes()
    assert exact.exp(grid.T).tobytes() == _exp_reference(grid.T).tobytes()  # strided input
