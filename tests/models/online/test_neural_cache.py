"""The neural cache predictor (models/cache.py) and its place in the ensemble."""

from __future__ import annotations

import numpy as np
import pytest

from nacrith.models.online.ensemble import Ensemble, EnsembleSettings
from nacrith.models.online.neural_cache import NeuralCache, levels, quantize_states

V, D = 50, 16


@pytest.mark.parametrize("n_embd", [576, 640, 1040, 1041, 2048, 4096])
def test_quantized_dot_products_are_exact_in_float32(n_embd: int) -> None:
    rng = np.random.default_rng(n_embd)
    h = rng.standard_normal((64, n_embd)).astype(np.float32)
    h[0] = 0.0  # an all-zero state must not divide by zero
    q = quantize_states(h, levels(n_embd))
    assert np.abs(q).max() <= levels(n_embd) and n_embd * levels(n_embd) ** 2 < 1 << 24
    exact = q.astype(np.int64) @ q.astype(np.int64).T
    assert np.array_equal((q @ q.T).astype(np.int64), exact)  # BLAS order cannot matter
    assert np.array_equal(q[1:] @ q[1], exact[1:, 1])


def test_empty_cache_predicts_uniform_and_recalls_a_seen_state() -> None:
    rng = np.random.default_rng(0)
    cache = NeuralCache(2, V, D, size=8, theta=35.0)
    states = rng.standard_normal((5, D)).astype(np.float32)
    streams = np.array([0])
    probs, ctx = cache.predict(streams, states[:1])
    assert np.allclose(probs[0], 1.0 / V) and ctx[0] == 0
    cache.update(streams, np.array([7]))
    for i in range(1, 5):
        cache.predict(streams, states[i : i + 1])
        cache.update(streams, np.array([10 + i]))
    probs, ctx = cache.predict(streams, states[:1] * 3.0)  # same direction, other scale
    assert probs[0].argmax() == 7 and probs[0, 7] > 0.9
    assert abs(probs[0].sum() - 1.0) < 1e-12 and probs[0].min() > 0
    assert ctx[0] == 15  # cosine 1: the top similarity bucket
    # the other stream saw nothing
    probs, _ = cache.predict(np.array([1]), states[:1])
    assert np.allclose(probs[0], 1.0 / V)


def test_cache_keeps_only_its_last_positions() -> None:
    cache = NeuralCache(1, V, D, size=3, theta=35.0)
    streams = np.array([0])
    first = np.eye(D, dtype=np.float32)[:1]
    cache.predict(streams, first)
    cache.update(streams, np.array([1]))
    for i in range(3):  # three more positions push the first one out
        cache.predict(streams, np.eye(D, dtype=np.float32)[i + 1 : i + 2])
        cache.update(streams, np.array([2 + i]))
    probs, _ = cache.predict(streams, first)
    assert probs[0, 1] < 0.01
    with pytest.raises(RuntimeError, match="update must follow predict on the same streams"):
        cache.update(np.array([0, 0]), np.array([1, 2]))


def test_ensemble_with_cache_needs_hidden_states() -> None:
    settings = EnsembleSettings(cache_size=16)
    with pytest.raises(ValueError, match="hidden size"):
        Ensemble(settings, 1, V)
    ens = Ensemble(settings, 2, V, n_embd=D)
    assert ens.wants_hidden and not Ensemble(EnsembleSettings(), 1, V).wants_hidden
    streams = np.array([0, 1])
    logits = np.zeros((2, V), dtype=np.float32)
    with pytest.raises(ValueError, match="hidden states"):
        ens.predict(streams, logits)
    rng = np.random.default_rng(1)
    for _ in range(20):
        p = ens.predict(streams, logits, rng.standard_normal((2, D)).astype(np.float32))
        assert np.allclose(p.sum(axis=1), 1.0) and (p > 0).all()
        ens.update(streams, np.array([3, 4]))


def test_cache_settings_default_off_for_older_headers() -> None:
    old = EnsembleSettings(column=True).to_dict()
    del old["cache_size"], old["cache_theta"]
    assert EnsembleSettings.from_dict(old).cache_size == 0
    for bad in ({"cache_size": -1}, {"cache_size": 1.5}, {"cache_size": True}):
        with pytest.raises(ValueError, match="cache_size"):
            EnsembleSettings.from_dict(dict(old, **bad))
    for bad in (0, -3, "x", 1e9):
        with pytest.raises(ValueError, match="cache_theta"):
            EnsembleSettings.from_dict(dict(old, cache_theta=bad))


def test_non_finite_states_give_a_valid_distribution() -> None:
    cache = NeuralCache(1, V, D, size=4, theta=35.0)
    streams = np.array([0])
    for bad in (np.nan, np.inf, -np.inf):
        state = np.full((1, D), bad, dtype=np.float32)
        probs, ctx = cache.predict(streams, state)
        assert np.isfinite(probs).all() and abs(probs[0].sum() - 1.0) < 1e-12
        cache.update(streams, np.array([5]))
    probs, ctx = cache.predict(streams, np.ones((1, D), dtype=np.float32))
    assert np.isfinite(probs).all() and 0 <= ctx[0] < 16
