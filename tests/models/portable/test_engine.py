"""The portable engine on the real model, every arithmetic revision: close to llama.cpp in
cross-entropy, and the same bits whether tokens come as one batch, one at a time, or beside
another stream."""

from __future__ import annotations

import gguf
import numpy as np
import pytest

from nacrith.models.portable import PortableModel, exact
from nacrith.models.portable.backend import shared_weights
from nacrith.models.portable.weights import dequantize
from tests.paths import CANTERBURY

pytestmark = pytest.mark.llm

N_TOKENS = 200


@pytest.fixture(scope="module", params=[1, 2, 3], ids=["revision1", "revision2", "revision3"])
def model(request, portable_model_path):
    weights = shared_weights(portable_model_path, request.param)
    return PortableModel(n_seq=2, n_ctx=256, weights=weights, revision=request.param)


@pytest.fixture(scope="module")
def alice_tokens(portable_model_path):
    """BOS and the first N_TOKENS tokens of alice29.txt, with llama.cpp's tokenizer."""
    pytest.importorskip("llama_cpp")
    from nacrith.models.llm.backend import LlamaBackend

    text = (CANTERBURY / "alice29.txt").read_bytes()[: N_TOKENS * 8]
    with LlamaBackend(portable_model_path, n_ctx=N_TOKENS + 8) as backend:
        tokens = [backend.bos, *backend.tokenize(text)[:N_TOKENS].tolist()]
        llama_logits = np.array(
            [backend.step([0], [t], [i])[0] for i, t in enumerate(tokens[:-1])], dtype=np.float64
        )
    return tokens, llama_logits


def _bits_per_token(logits: np.ndarray, targets: list[int]) -> float:
    top = logits.max(axis=1, keepdims=True)
    log_z = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    return float(np.mean(log_z - logits[np.arange(len(targets)), targets]) / np.log(2.0))


def test_cross_entropy_is_within_half_a_percent_of_llama_cpp(model, alice_tokens):
    tokens, llama_logits = alice_tokens
    ours = model.prefill(0, tokens[:-1], all_logits=True)
    assert ours.shape == (N_TOKENS, model.n_vocab) and ours.dtype == np.float64
    ours_bits = _bits_per_token(ours, tokens[1:])
    llama_bits = _bits_per_token(llama_logits, tokens[1:])
    assert abs(ours_bits - llama_bits) < 0.005 * llama_bits
    agree = np.mean(ours.argmax(axis=1) == llama_logits.argmax(axis=1))
    assert agree > 0.9


def test_batched_prefill_has_the_bits_of_token_by_token(model):
    tokens = [1, 2738, 16980, 1047, 9206, 15799, 23, 67, 5236, 48932, 42606, 5622, 408, 2154]
    batched = model.prefill(0, tokens, all_logits=True)
    model.clear(1)
    one_by_one = np.array([model.step([1], [t], [i])[0] for i, t in enumerate(tokens)])
    assert np.array_equal(batched, one_by_one)
    # half as a batch, the rest one at a time, continuing the same cache
    half = model.prefill(1, tokens[:6])
    assert np.array_equal(half, batched[5])
    rest = [model.step([1], [t], [6 + i])[0] for i, t in enumerate(tokens[6:])]
    assert np.array_equal(np.array(rest), batched[6:])


def test_streams_stepped_together_match_streams_stepped_alone(model):
    a, b = [1, 504, 2184, 3214], [1, 2738, 16980]
    model.prefill(0, a)
    model.prefill(1, b)
    together = model.step([0, 1], [77, 88], [4, 3])
    model.prefill(0, a)
    model.prefill(1, b)
    alone_b = model.step([1], [88], [3])  # stream 1 first: the order must not matter
    alone_a = model.step([0], [77], [4])
    assert np.array_equal(together, np.concatenate([alone_a, alone_b]))
    assert model.length(0) == 5 and model.length(1) == 4


def test_probabilities_use_the_exact_softmax(model):
    logits = model.prefill(0, [1, 2738, 16980])
    p = model.probabilities(logits)
    assert np.array_equal(p, exact.softmax(logits))
    assert abs(p.sum() - 1.0) < 1e-12 and p.min() >= 0.0


def test_misuse_is_refused(model):
    model.prefill(0, [1, 2, 3])
    with pytest.raises(ValueError, match="holds 3 tokens, not 5"):
        model.step([0], [4], [5])
    with pytest.raises(ValueError, match="token ids must lie"):
        model.step([0], [model.n_vocab], [3])
    with pytest.raises(ValueError, match="does not fit a context"):
        model.prefill(0, [1] * 257)
    with pytest.raises(ValueError, match="at most once"):
        model.step([0, 0], [4, 5], [3, 3])


def test_revisions_are_checked(portable_model_path):
    weights = shared_weights(portable_model_path, 1)
    with pytest.raises(ValueError, match="weights of revision 1, not 2"):
        PortableModel(weights=weights, revision=2)
    with pytest.raises(ValueError, match="weights of revision 1, not 2"):
        PortableModel(weights=weights, revision=3)  # revision 2's matrices
    with pytest.raises(ValueError, match="unknown arithmetic revision 4"):
        PortableModel(weights=weights, revision=4)


def test_model_tensors_dequantize_like_gguf(portable_model_path):
    reader = gguf.GGUFReader(portable_model_path)
    for tensor in reader.tensors[:6]:
        ours = dequantize(tensor.tensor_type.name, tensor.data, int(tensor.shape[0]))
        theirs = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
        assert np.array_equal(ours.astype(np.float32).reshape(theirs.shape), theirs)


def test_hidden_states_are_the_output_layers_input(model):
    tokens = [1, 2738, 16980, 1047, 9206]
    logits = model.prefill(0, tokens)
    hidden = model.hidden_states()
    assert hidden.shape == (1, model.n_embd) and hidden.dtype == np.float64
    assert np.array_equal(model.weights.output(hidden)[0], logits)
    model.prefill(1, tokens[:3])
    stepped = model.step([0, 1], [77, 88], [5, 3])
    assert np.array_equal(model.weights.output(model.hidden_states()), stepped)
