"""The sliding-window ring of the Gemma graph (`gemma_kv`): the same logits, bit for bit, as
the graph keeping every position, across the ring's wrap, batches longer than the window,
lockstep steps and sink shifts; a shift the ring cannot serve is refused."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from nacrith.errors import NacrithError
from nacrith.models.portable.gemma import GemmaModel
from nacrith.models.portable.gemma_weights import GemmaWeights
from tests.models.portable import gemma_fixtures

pytestmark = pytest.mark.llm

gemma_model_path = gemma_fixtures.gemma_model_path
gemma_weights_rev1 = gemma_fixtures.gemma_weights_rev1
gemma_weights_rev2 = gemma_fixtures.gemma_weights_rev2

WINDOW = 8


def _tokens(n: int, seed: int = 3) -> list[int]:
    return [2, *np.random.default_rng(seed).integers(1000, 100000, n - 1).tolist()]


def _narrow(weights: GemmaWeights, window: int = WINDOW) -> GemmaWeights:
    """The same weights with a short sliding window, so that a few dozen tokens wrap the ring."""
    return dataclasses.replace(
        weights, config=dataclasses.replace(weights.config, sliding_window=window)
    )


def _pair(weights: GemmaWeights, revision: int, sink: int, n_ctx: int = 64):
    full = GemmaModel(weights=weights, n_ctx=n_ctx, n_seq=2, revision=revision)
    ring = GemmaModel(weights=weights, n_ctx=n_ctx, n_seq=2, revision=revision, sink=sink)
    assert any(ring._caches[0].ring) and not any(full._caches[0].ring)
    return full, ring


def _same(full: GemmaModel, ring: GemmaModel, call) -> np.ndarray:
    a, b = call(full), call(ring)
    assert np.array_equal(a, b)
    assert np.array_equal(full.hidden_states(), ring.hidden_states())
    return a


@pytest.mark.parametrize("revision", [1, 2])
def test_the_ring_has_the_bits_of_the_full_cache(revision, request):
    weights = _narrow(request.getfixturevalue(f"gemma_weights_rev{revision}"), window=4)
    full, ring = _pair(weights, revision, sink=2)
    tokens = _tokens(24)
    # a batch three windows long, then lockstep steps that wrap the ring twice
    _same(full, ring, lambda m: m.prefill(0, tokens[:12], all_logits=True))
    _same(full, ring, lambda m: m.prefill(1, tokens[:3]))
    for i in range(3, 11):
        seqs, toks, pos = ([0, 1], [tokens[12 + i], tokens[i]], [12 + i - 3, i])
        _same(full, ring, lambda m, a=(seqs, toks, pos): m.step(*a))
    _same(full, ring, lambda m: m.append(1, tokens[11:17], all_logits=True))
    # sink shifts: one that keeps a long tail, one that leaves the sink next to the newest keys
    _same(full, ring, lambda m: (m.shift(0, 2, 5), m.append(0, tokens[:3], all_logits=True))[1])
    n = full.length(0)
    _same(
        full, ring, lambda m: (m.shift(0, 2, n - 3), m.append(0, tokens[5:7], all_logits=True))[1]
    )
    for i in range(6):
        _same(full, ring, lambda m, t=tokens[i]: m.step([0], [t], [m.length(0)]))
    assert full.length(0) == ring.length(0)


def test_a_shift_past_the_sink_is_refused_when_its_keys_are_gone(gemma_weights_rev2):
    weights = _narrow(gemma_weights_rev2)
    full, ring = _pair(weights, 2, sink=1)
    tokens = _tokens(30)
    for m in (full, ring):
        m.prefill(0, tokens)
        m.shift(0, 4, 22)  # positions 1..3 come back into view; the ring let them go
    full.step([0], [tokens[1]], [8])
    with pytest.raises(NacrithError, match=r"let go of positions in \[1, 8\)"):
        ring.step([0], [tokens[1]], [8])
    # past the sink, a shift whose window reaches back only into the moved tail works
    for m in (full, ring):
        m.prefill(1, tokens)
        m.shift(1, 10, 3)
    _same(full, ring, lambda m: m.step([1], [tokens[2]], [27]))


def test_the_ring_holds_sink_plus_window_positions_on_local_layers(gemma_weights_rev2):
    cfg = gemma_weights_rev2.config
    n_ctx, sink = 8192, 4
    full = GemmaModel(weights=gemma_weights_rev2, n_ctx=n_ctx, revision=2)._caches[0]
    ring = GemmaModel(weights=gemma_weights_rev2, n_ctx=n_ctx, revision=2, sink=sink)._caches[0]
    per_position = cfg.n_head_kv * (cfg.head_dim * (4 + 4) + 8)
    n_global = sum(not cfg.is_local(i) for i in range(cfg.n_layer))
    assert full.nbytes == cfg.n_layer * n_ctx * per_position
    expected = (n_global * n_ctx + (cfg.n_layer - n_global) * (sink + 512)) * per_position
    assert ring.nbytes == expected
    with pytest.raises(ValueError, match=r"sink must lie in \[0, 64\)"):
        GemmaModel(weights=gemma_weights_rev2, n_ctx=64, revision=2, sink=64)


@pytest.mark.slow
def test_the_ring_at_the_real_window(gemma_weights_rev2):
    """The model's own window of 512: a prefill past it, steps, a sink shift, more steps."""
    full, ring = _pair(gemma_weights_rev2, 2, sink=4, n_ctx=640)
    tokens = _tokens(600)
    _same(full, ring, lambda m: m.prefill(0, tokens[:560]))
    for i in range(560, 566):
        _same(full, ring, lambda m, i=i: m.step([0], [tokens[i]], [i]))
    _same(full, ring, lambda m: (m.shift(0, 4, 200), m.append(0, tokens[566:570]))[1])
    _same(full, ring, lambda m: m.step([0], [tokens[570]], [m.length(0)]))
