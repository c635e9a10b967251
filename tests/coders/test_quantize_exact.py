"""The quantizer's and the two-level coder's exact mode: valid frequencies for any input,
order-independent, the same as the float mode up to rounding, and a lossless round trip."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nacrith.coders.quantize import TOTAL, integer_weights, quantize
from nacrith.coders.range_coder import (
    HEAD_MIN,
    RangeDecoder,
    RangeEncoder,
    code_length,
    split_head,
)
from nacrith.exact import TINY
from tests.samples import llm_like_rows as _llm_like_rows


def _check(freqs: np.ndarray) -> None:
    assert freqs.dtype == np.int64
    assert (freqs >= 1).all()
    assert (freqs.reshape(-1, freqs.shape[-1]).sum(axis=1) == TOTAL).all()


@settings(max_examples=150, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 3), st.integers(1, 400)),
        elements=st.one_of(
            st.floats(0, 1),
            st.floats(-1, 1e300),
            st.sampled_from([0.0, 1e-310, np.nan, np.inf, -np.inf]),
        ),
    )
)
def test_any_input_gives_valid_deterministic_frequencies(p: np.ndarray) -> None:
    freqs = quantize(p, exact=True)
    _check(freqs)
    assert np.array_equal(quantize(p.copy(), exact=True), freqs)
    for i, row in enumerate(p):  # a batch quantizes like its rows
        assert np.array_equal(quantize(row, exact=True), freqs[i])


@settings(max_examples=100, deadline=None)
@given(
    hnp.arrays(np.float64, st.integers(2, 2000), elements=st.floats(0, 1)),
    st.randoms(use_true_random=False),
)
def test_frequencies_do_not_depend_on_symbol_order(p: np.ndarray, rnd) -> None:
    p[rnd.randrange(p.size)] = 2.0  # a unique most probable symbol takes the rounding surplus
    perm = np.array(rnd.sample(range(p.size), p.size))
    assert np.array_equal(quantize(p[perm], exact=True), quantize(p, exact=True)[perm])


def test_exact_frequencies_are_the_float_ones_up_to_rounding() -> None:
    rng = np.random.default_rng(0)
    for v in (2, 50, 49_152):
        logits = rng.standard_normal(v) * 3
        p = np.exp(logits - logits.max())
        p /= p.sum()
        got, want = quantize(p, exact=True), quantize(p)
        top = np.argmax(p)
        assert np.abs(np.delete(got - want, top)).max() <= 1
        assert abs(int(got[top]) - int(want[top])) <= 1 + v // 1000


def test_integer_weights_are_exact_integers_with_exact_sums() -> None:
    p = np.array([[0.5, 0.25, 1e-300, 1e-310, -1.0, np.nan], [0, 0, 0, 0, 0, 0.0]])
    w = integer_weights(p)
    assert np.array_equal(w, np.rint(w)) and w.sum(axis=1).max() < 2**53
    assert w[0, 0] == 2 * w[0, 1] and (w[0, 2:] == 0).all()
    assert (w[1] == 1).all()  # an empty row becomes uniform
    subnormal = np.array([TINY / 2, TINY / 4, 1e-320])  # subnormals count as 0: uniform
    assert integer_weights(subnormal).tolist() == [1.0, 1.0, 1.0]


def test_exact_two_level_round_trip_costs_what_the_float_one_does() -> None:
    rows, syms = _llm_like_rows(150, 49_152, 1)
    syms[7] = int(np.argmin(rows[7]))  # a deep-tail symbol: escape path
    enc = RangeEncoder()
    for p, s in zip(rows, syms):
        enc.encode_probs(s, p, exact=True)
    data = enc.finish()
    dec = RangeDecoder(data)
    assert [dec.decode_probs(p, exact=True) for p in rows] == syms
    exact_bits = sum(code_length(p, s, exact=True) for p, s in zip(rows, syms))
    float_bits = sum(code_length(p, s) for p, s in zip(rows, syms))
    assert 8 * len(data) <= exact_bits + 32
    assert abs(exact_bits - float_bits) < 1e-3


def test_exact_head_split_puts_the_integer_tail_mass_on_the_escape() -> None:
    p = np.full(1000, 1e-9)
    p[:5] = [0.4, 0.3, 0.2, 0.05, 0.05 - 995e-9]
    head, level1 = split_head(p, exact=True)
    assert head.tolist() == [0, 1, 2, 3, 4] and (p[head] >= HEAD_MIN).all()
    _check(level1)
    assert abs(level1[-1] - 995e-9 * TOTAL) <= 1
    whole, single = split_head(np.array([0.5, 0.5]), exact=True)
    assert whole.tolist() == [0, 1] and single.tolist() == [TOTAL // 2, TOTAL // 2]
