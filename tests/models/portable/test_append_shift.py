"""append and shift on every arithmetic revision, and their own guarantees on the real
model: a batch has the bits of one token at a time, streams do not disturb each other."""

from __future__ import annotations

import numpy as np
import pytest

from nacrith.models.portable import PortableModel, blocks, engine
from nacrith.models.portable.backend import shared_weights

pytestmark = pytest.mark.llm

TOKENS = [1, 2738, 16980, 1047, 9206, 15799, 23, 67, 5236, 48932, 42606, 5622, 408, 2154]


@pytest.fixture(scope="module", params=[1, 2, 3])
def model(request, portable_model_path):
    weights = shared_weights(portable_model_path, request.param)
    return PortableModel(n_seq=3, n_ctx=64, weights=weights, revision=request.param)


def test_append_of_k_tokens_has_the_bits_of_k_steps(model):
    model.prefill(0, TOKENS[:4])
    appended = model.append(0, TOKENS[4:9], all_logits=True)
    assert model.length(0) == 9
    last = model.append(0, TOKENS[9:])
    model.prefill(1, TOKENS[:4])
    steps = np.array([model.step([1], [t], [4 + i])[0] for i, t in enumerate(TOKENS[4:])])
    assert np.array_equal(appended, steps[:5])
    assert np.array_equal(last, steps[-1])
    assert np.array_equal(model.prefill(2, TOKENS, all_logits=True)[4:], steps)


@pytest.mark.parametrize("attention_chunk", [None, 9 * 40 * 5])
def test_a_long_prefill_has_the_bits_of_steps(model, monkeypatch, attention_chunk):
    """Enough tokens that revision 2 multiplies them with float64 GEMMs (`blocks._WIDE_ROWS`),
    and attention in one pass or a few query rows at a time."""
    if attention_chunk is not None:
        monkeypatch.setattr(engine, "_ATTN_CHUNK", attention_chunk)
    tokens = TOKENS + TOKENS[1:] + TOKENS[1:9]
    assert len(tokens) >= blocks._WIDE_ROWS
    batched = model.prefill(0, tokens, all_logits=True)
    model.clear(1)
    steps = np.array([model.step([1], [t], [i])[0] for i, t in enumerate(tokens)])
    assert np.array_equal(batched, steps)


def _shifted_run(model: PortableModel, seq: int) -> np.ndarray:
    model.prefill(seq, TOKENS)
    model.shift(seq, 2, 5)  # keep the first two positions (sinks), drop the next five
    assert model.length(seq) == len(TOKENS) - 5
    out = [model.step([seq], [t], [model.length(seq)])[0] for t in (77, 88, 99)]
    model.shift(seq, 1, 3)
    out.append(model.append(seq, [5, 6, 7]))
    return np.array(out)


def _keys(model: PortableModel, seq: int, n: int) -> np.ndarray:
    cache = model._caches[seq]
    return cache.keys(slice(0, n)) * cache.k_scale[:, :n, :, None]


def test_shift_is_deterministic_and_rotates_the_moved_keys(model):
    first = _shifted_run(model, 0)
    assert np.array_equal(first, _shifted_run(model, 1))
    model.prefill(0, TOKENS)
    before = _keys(model, 0, len(TOKENS))
    model.shift(0, 2, 5)
    after = _keys(model, 0, len(TOKENS) - 5)
    assert np.array_equal(after[:, :2], before[:, :2])  # positions before the gap stay
    # rotated forward again by the distance moved, the moved keys are the original ones
    pairs = after[:, 2:].reshape(*after[:, 2:].shape[:-1], -1, 2)
    c, s = model._cos[5], model._sin[5]
    back = np.stack([pairs[..., 0] * c - pairs[..., 1] * s, pairs[..., 0] * s + pairs[..., 1] * c])
    back = np.moveaxis(back, 0, -1).reshape(before[:, 7:].shape)
    assert np.max(np.abs(back - before[:, 7:])) < 1e-5 * np.max(np.abs(before))


def test_a_shifted_stream_predicts_like_the_kept_tokens_evaluated_afresh(model):
    model.prefill(0, TOKENS)
    model.shift(0, 2, 5)
    shifted = model.step([0], [77], [len(TOKENS) - 5])[0]
    fresh = model.prefill(1, TOKENS[:2] + TOKENS[7:] + [77])
    assert np.corrcoef(shifted, fresh)[0, 1] > 0.9


def test_shift_refuses_a_range_outside_the_stream(model):
    model.prefill(0, TOKENS[:5])
    with pytest.raises(ValueError, match=r"cannot drop \[3, 7\) of 5 positions"):
        model.shift(0, 3, 4)
    model.shift(0, 3, 2)  # the last two: nothing moves
    assert model.length(0) == 3
    assert np.array_equal(model.append(0, TOKENS[3:5]), model.prefill(1, TOKENS[:5]))
