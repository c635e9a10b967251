"""Exact mode of the online predictors: close to the float mode, order-independent sums, no
subnormals, lockstep streams equal to streams alone. (Its portability across numpy dispatch
paths and BLAS kernels: test_exact_portability.py.)"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nacrith import exact
from nacrith.models.online.bias import BiasHead
from nacrith.models.online.ensemble import Ensemble
from nacrith.models.online.line_column import ColumnAPM
from nacrith.models.online.mixer import LinearMixer
from nacrith.models.online.neural_cache import NeuralCache
from tests.models.online.exact_sample import N_EMBD, SETTINGS, ideal_bits, load_sample, replay

V = 64


def _no_subnormals(x: np.ndarray) -> bool:
    return bool(np.all((x == 0) | (np.abs(x) >= exact.TINY)))


def test_exact_mode_codes_the_sample_as_well_as_the_float_mode() -> None:
    sample = load_sample()
    float_bits = ideal_bits(sample, exact_mode=False)
    exact_bits = ideal_bits(sample, exact_mode=True)
    assert float_bits < len(sample.tokens) * np.log2(sample.n_vocab) * 0.7  # the ensemble learns
    assert abs(exact_bits / float_bits - 1.0) < 1e-6


def test_exact_distributions_are_close_to_float_ones_and_normal() -> None:
    sample = load_sample(600)
    for got, want in zip(replay(sample, exact_mode=True), replay(sample, exact_mode=False)):
        assert np.allclose(got, want, rtol=1e-7, atol=1e-12)  # learning drifts a little
        assert abs(got.sum() - 1.0) < 1e-12 and got.min() > 0 and _no_subnormals(got)


def test_lockstep_streams_equal_streams_alone_in_exact_mode() -> None:
    sample = load_sample(400)
    n = sample.n_vocab
    together = Ensemble(SETTINGS, 2, n, sample.pieces, N_EMBD, exact=True)
    alone = [Ensemble(SETTINGS, 1, n, sample.pieces, N_EMBD, exact=True) for _ in range(2)]
    shifted = np.roll(sample.tokens, 17)
    logits = np.stack([sample.logits, sample.logits[::-1]])
    for t, (a, b) in enumerate(zip(sample.tokens.tolist(), shifted.tolist())):
        hidden = np.concatenate([sample.hidden(t), sample.hidden((t + 5) % len(shifted))])
        both = together.predict(np.array([0, 1]), logits, hidden).copy()
        for i, ens in enumerate(alone):
            one = ens.predict(np.array([0]), logits[i : i + 1], hidden[i : i + 1])
            assert np.array_equal(both[i], one[0])
        together.update(np.array([0, 1]), np.array([a, b]))
        for ens, tok in zip(alone, (a, b)):
            ens.update(np.array([0]), np.array([tok]))


def test_bias_head_exact_softmax_learns_like_the_float_one() -> None:
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 4, size=(2, V))
    heads = BiasHead(2, V, exact=True), BiasHead(2, V)
    start = exact.softmax(logits)
    for tok in [5, 9, 5, 5, 63, 5, 9] * 10:
        q_exact, q_float = (h.predict(np.array([0, 1]), logits).copy() for h in heads)
        assert np.allclose(q_exact, q_float, rtol=1e-12, atol=2.0**-45)  # fixed point
        assert np.array_equal(q_exact.sum(axis=1) > 0.999999, [True, True])
        for h in heads:
            h.update(np.array([0, 1]), np.array([tok, tok]))
    assert q_exact[0, 5] > 10 * start[0, 5] and q_exact[0, 63] > 10 * start[0, 63]


def test_bias_head_exact_mode_has_no_subnormals_for_extreme_logits() -> None:
    logits = np.linspace(-740.0, 0.0, V)[None, :]
    q = BiasHead(1, V, exact=True).predict(np.array([0]), logits)
    assert _no_subnormals(q) and q[0, -1] > 0.5 and q[0, 0] == 0


def test_mixer_exact_mode_matches_float_mode() -> None:
    rng = np.random.default_rng(4)
    mixers = LinearMixer(1, 3, 4, exact=True), LinearMixer(1, 3, 4)
    for step in range(50):
        inputs = rng.dirichlet(np.ones(V), size=3)[:, None, :]
        ctx = np.array([step % 4])
        mixed = [m.mix(np.array([0]), [x.copy() for x in inputs], ctx).copy() for m in mixers]
        assert np.allclose(mixed[0], mixed[1], rtol=1e-12)
        for m in mixers:
            m.update(np.array([step % V]))
    assert np.allclose(mixers[0].theta, mixers[1].theta, rtol=1e-10, atol=1e-12)
    assert not np.array_equal(mixers[0].theta, np.tile(mixers[0]._theta0, (1, 4, 1)))


def test_mixer_exact_mode_flushes_subnormal_mixtures() -> None:
    mixer = LinearMixer(1, 2, 1, init=[0.5, 0.5], exact=True)
    inputs = [np.full((1, 4), 1e-310), np.full((1, 4), 0.25)]
    inputs[1][0, 0] = 1e-309
    out = mixer.mix(np.array([0]), inputs, np.array([0]))
    assert _no_subnormals(out) and out[0, 0] == 0 and out[0, 1] == 0.125


def test_column_model_exact_mode_matches_float_mode() -> None:
    pieces = [b"a", b" b", b"\n", b"\nc", b"cc", b".\n"] + [b"x%d" % i for i in range(58)]
    rng = np.random.default_rng(5)
    models = ColumnAPM(1, pieces, exact=True), ColumnAPM(1, pieces)
    for _ in range(80):
        probs = rng.dirichlet(np.ones(len(pieces)), size=1)
        tok = int(rng.integers(len(pieces)))
        out = [m.apply(np.array([0]), probs.copy()) for m in models]
        assert np.allclose(out[0], out[1], rtol=1e-10)
        for m in models:
            m.update(np.array([0]), np.array([tok]))
    assert np.allclose(models[0].table, models[1].table, rtol=1e-10)


def test_neural_cache_exact_similarities_equal_the_float32_ones() -> None:
    rng = np.random.default_rng(6)
    caches = NeuralCache(1, V, N_EMBD, 32, 35.0, exact=True), NeuralCache(1, V, N_EMBD, 32, 35.0)
    states = rng.normal(size=(10, N_EMBD))
    for i in range(60):
        hidden = states[i % 10 : i % 10 + 1] + rng.normal(scale=0.1, size=(1, N_EMBD))
        (p_exact, c_exact), (p_float, c_float) = (
            (p.copy(), c) for p, c in (c.predict(np.array([0]), hidden) for c in caches)
        )
        assert np.array_equal(c_exact, c_float)  # the best similarity: integer dot products
        assert np.allclose(p_exact, p_float, rtol=1e-9, atol=1e-15)
        for c in caches:
            c.update(np.array([0]), np.array([i % 10]))
    assert c_exact[0] > 0 and p_exact[0].max() > 0.5


@settings(max_examples=80, deadline=None)
@given(
    hnp.arrays(np.float64, st.integers(1, 300), elements=st.floats(0.0, 1e6)),
    st.randoms(use_true_random=False),
)
def test_fixed_sum_does_not_depend_on_order(x: np.ndarray, rnd) -> None:
    perm = list(range(x.size))
    rnd.shuffle(perm)
    total = exact.fixed_sum(x)
    assert exact.fixed_sum(x[perm]) == total
    # each entry is rounded to a multiple of 2**-bits times the largest one's power of two;
    # rows whose largest entry is below 2**-900 sum to 0
    step = 2.0 ** (int(np.frexp(x.max())[1]) - (52 - x.size.bit_length()))
    bound = x.size * (step / 2 + 2.0**-900) + 1e-12 * total
    assert abs(total - float(np.sum(x))) <= bound


def test_ordered_sum_adds_left_to_right_and_flush_zeroes_subnormals() -> None:
    x = np.array([[1e16, 1.0, 1.0, -1e16], [1.0, 2.0, 3.0, 4.0]])
    assert exact.ordered_sum(x).tolist() == [((1e16 + 1.0) + 1.0) - 1e16, 10.0]
    y = np.array([1e-310, -1e-320, exact.TINY, -exact.TINY, 0.0, 1.0])
    assert exact.flush_subnormals(y) is y
    assert y.tolist() == [0.0, 0.0, exact.TINY, -exact.TINY, 0.0, 1.0]
