"""The portable Gemma 3 graph on the real Gemma 3 270M: its settings from the GGUF, a batch has
the bits of one token at a time (both arithmetic revisions), append and shift, the sliding
window, and its cross-entropy against llama.cpp on the same GGUF."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from nacrith.models.portable import exact
from nacrith.models.portable.gemma import GemmaModel, gelu_tanh
from tests.models.portable import gemma_fixtures

pytestmark = pytest.mark.llm

gemma_model_path = gemma_fixtures.gemma_model_path
gemma_weights_rev1 = gemma_fixtures.gemma_weights_rev1
gemma_weights_rev2 = gemma_fixtures.gemma_weights_rev2

#: BOS and tokens of alice29.txt's title line (Gemma 3's tokenizer)
TOKENS = [2, 152, 1565, 10067, 236789, 236773, 7747, 43380, 55958, 3247, 649, 206911]


@pytest.fixture(scope="module", params=[1, 2])
def model(request) -> GemmaModel:
    weights = request.getfixturevalue(f"gemma_weights_rev{request.param}")
    return GemmaModel(n_seq=3, n_ctx=64, weights=weights, revision=request.param)


def test_settings_come_from_the_gguf(gemma_weights_rev1):
    cfg = gemma_weights_rev1.config
    assert (cfg.n_vocab, cfg.n_embd, cfg.n_layer, cfg.head_dim) == (262144, 640, 18, 256)
    assert cfg.attention_scale == 1.0 / 16.0
    assert (cfg.rope_base, cfg.rope_base_local, cfg.sliding_window) == (1e6, 1e4, 512)
    assert [i for i in range(cfg.n_layer) if not cfg.is_local(i)] == [5, 11, 17]
    assert cfg.final_softcap == 0.0
    assert gemma_weights_rev1.embed.exact_rows == cfg.n_vocab  # every weight held exactly


def test_gelu_is_the_tanh_approximation():
    x = np.linspace(-12.0, 12.0, 2001)
    ref = 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))
    assert np.max(np.abs(gelu_tanh(x) - ref)) < 1e-14
    assert not np.any((gelu_tanh(-x * 30) != 0) & (np.abs(gelu_tanh(-x * 30)) < exact.TINY))


def test_a_batch_has_the_bits_of_one_token_at_a_time(model):
    batch = model.prefill(0, TOKENS, all_logits=True)
    hidden = model.hidden_states()
    assert batch.shape == (len(TOKENS), model.n_vocab)
    assert hidden.shape == (len(TOKENS), model.n_embd)
    model.prefill(1, TOKENS[:1])
    steps = [model.step([1], [t], [i + 1])[0] for i, t in enumerate(TOKENS[1:])]
    assert np.array_equal(batch[1:], np.array(steps))
    assert np.array_equal(model.hidden_states()[0], hidden[-1])
    assert np.array_equal(batch[-1], model.prefill(2, TOKENS))


def test_streams_stepped_together_do_not_disturb_each_other(model):
    model.prefill(0, TOKENS[:5])
    model.prefill(1, TOKENS[:3])
    both = model.step([1, 0], [TOKENS[3], TOKENS[5]], [3, 5])
    assert np.array_equal(both[1], model.prefill(2, TOKENS[:6]))
    assert np.array_equal(both[0], model.prefill(2, TOKENS[:4]))


def _keys(model: GemmaModel, seq: int, n: int) -> np.ndarray:
    cache = model._caches[seq]
    return np.stack([cache.keys(i, np.arange(n)) for i in range(model.config.n_layer)])


def test_append_has_the_bits_of_steps_and_shift_moves_keys(model):
    model.prefill(0, TOKENS[:4])
    appended = model.append(0, TOKENS[4:], all_logits=True)
    assert np.array_equal(appended, model.prefill(1, TOKENS, all_logits=True)[4:])
    before = _keys(model, 0, len(TOKENS))
    model.shift(0, 2, 5)
    assert model.length(0) == len(TOKENS) - 5
    after = _keys(model, 0, len(TOKENS) - 5)
    assert np.array_equal(after[:, :2], before[:, :2])
    # rotated forward again by the distance moved (each layer its own base), the moved keys are
    # the original ones
    for layer in range(model.config.n_layer):
        cos, sin = model._rope_tables[model.config.is_local(layer)]
        half = model.config.head_dim // 2
        a, b = after[layer, 2:, ..., :half], after[layer, 2:, ..., half:]
        back = np.concatenate([a * cos[5] - b * sin[5], a * sin[5] + b * cos[5]], axis=-1)
        assert np.max(np.abs(back - before[layer, 7:])) < 1e-5 * np.max(np.abs(before[layer]))
    shifted = model.step([0], [77], [model.length(0)])[0]
    fresh = model.prefill(1, [*TOKENS[:2], *TOKENS[7:], 77])
    assert np.corrcoef(shifted, fresh)[0, 1] > 0.9
    with pytest.raises(ValueError, match=r"cannot drop \[3, 9\) of 8 positions"):
        model.shift(0, 3, 6)


def test_the_sliding_window_hides_old_tokens(gemma_weights_rev1):
    """With a window of 4 on every layer, 18 layers reach back 54 positions: a change 60
    positions back changes nothing, while a change in reach does."""
    cfg = dataclasses.replace(gemma_weights_rev1.config, sliding_window=4, swa_pattern=10**6)
    m = GemmaModel(weights=dataclasses.replace(gemma_weights_rev1, config=cfg), n_ctx=64)
    rng = np.random.default_rng(5)
    tokens = list(rng.integers(1000, 100000, 62))
    base = m.prefill(0, tokens)
    assert np.array_equal(base, m.prefill(0, [tokens[0] + 1, *tokens[1:]]))
    assert not np.array_equal(base, m.prefill(0, [*tokens[:-2], tokens[-2] + 1, tokens[-1]]))


def test_bad_requests_are_refused(model):
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 262144\)"):
        model.prefill(0, [2, 262144])
    with pytest.raises(ValueError, match="does not fit a context of 64"):
        model.prefill(0, [2] * 65)
    with pytest.raises(ValueError, match="weights of revision"):
        GemmaModel(weights=model.weights, n_ctx=64, revision=3 - model.revision)


def _cross_entropy(logits: np.ndarray, targets: list[int]) -> float:
    top = logits.max(axis=1, keepdims=True)
    log_z = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    return float(np.mean(log_z - logits[np.arange(len(targets)), targets]))


@pytest.mark.slow
@pytest.mark.parametrize("revision", [1, 2, 3])
def test_cross_entropy_is_within_half_a_percent_of_llama_cpp(
    revision, request, gemma_model_path: Path
):
    from nacrith.models.llm.backend import LlamaBackend
    from tests.paths import REPO

    text = (REPO / "corpora" / "canterbury" / "alice29.txt").read_bytes()[:1500]
    with LlamaBackend(gemma_model_path, n_ctx=256) as llama:
        tokens = [llama.bos] + [int(t) for t in llama.tokenize(text)[:200]]
        llama.clear(0)
        ref = llama.append(0, tokens, all_logits=True).astype(np.float64)
    weights = request.getfixturevalue(f"gemma_weights_rev{min(revision, 2)}")
    ours = GemmaModel(weights=weights, n_ctx=256, revision=revision).prefill(
        0, tokens, all_logits=True
    )
    ce_ref = _cross_entropy(ref[:-1], tokens[1:])
    ce = _cross_entropy(ours[:-1], tokens[1:])
    assert abs(ce / ce_ref - 1.0) < 0.005, (ce, ce_ref)
