"""Products split over threads (`parallel`) have the bits of one thread: for block products of
one and of several rows, the slab-widened and the widened float64 GEMMs, the whole engine, and
an `llm` archive encoded with one thread and decoded with two."""

from __future__ import annotations

import multiprocessing
import os

import gguf
import numpy as np
import pytest

from nacrith.models.portable import parallel
from nacrith.models.portable.blocks import block_tensor

RNG = np.random.default_rng(23)


def _matrix(type_name: str, rows: int, cols: int):
    values = RNG.normal(0.0, 0.05, (rows, cols)).astype(np.float32)
    raw = gguf.quants.quantize(values, getattr(gguf.GGMLQuantizationType, type_name))
    return block_tensor(type_name, raw, cols)


@pytest.mark.parametrize("type_name", ["Q4_1", "Q8_0"])
@pytest.mark.parametrize("n", [1, 5, 40])
def test_thread_counts_give_the_same_bits(type_name, n):
    matrix = _matrix(type_name, 1000, 256)
    x = RNG.normal(0.0, 1.0, (n, 256)) * np.exp(RNG.uniform(-6.0, 6.0, (n, 256)))
    one = matrix(x)
    for threads in (2, 3, 7):
        with parallel.using(threads):
            assert parallel.current() == threads
            assert np.array_equal(matrix(x), one), f"{threads} threads changed the bits"
    matrix.widen()
    with parallel.using(2):
        assert np.array_equal(matrix(x), one)
    assert parallel.current() == 1


def test_a_thread_count_out_of_range_is_refused():
    with pytest.raises(ValueError, match="threads must lie in"), parallel.using(0):
        pass


def test_a_failing_range_raises_in_the_caller():
    def work(lo: int, hi: int) -> None:
        if lo > 0:
            raise RuntimeError(f"range {lo}:{hi} failed")

    with parallel.using(2), pytest.raises(RuntimeError, match="range 50:100 failed"):
        parallel.for_ranges(100, work)


@pytest.mark.llm
def test_the_engine_gives_the_same_logits_with_two_threads(portable_model_path):
    from nacrith.models.portable.backend import PortableBackend

    tokens = [1, 2738, 16980, 1047, 9206, 15799, 23, 67, 5236, 48932, 42606, 5622, 408, 2154]
    results = []
    for threads in (1, 2):
        with PortableBackend(
            portable_model_path, n_seq=2, n_ctx=64, revision=2, threads=threads
        ) as b:
            assert b.model.threads == threads
            got = [b.prefill(0, tokens[:6]), b.append(0, tokens[6:], all_logits=True)]
            got.append(b.step([0, 1], [tokens[0], tokens[1]], [len(tokens), 0]))
            results.append(np.concatenate([g.reshape(-1) for g in got]))
    assert np.array_equal(results[0], results[1])
    with pytest.raises(ValueError, match="threads must lie in"):
        PortableBackend(portable_model_path, n_ctx=64, revision=2, threads=0)


@pytest.mark.llm
def test_an_archive_encoded_with_one_thread_decodes_with_two():
    from nacrith.codecs.llm import LLMCodec

    data = b"Alice was beginning to get very tired of sitting by her sister on the bank. " * 3
    codec = LLMCodec(n_ctx=64, keep=32, sink=4, engine="portable")
    payload = codec.encode(data)
    decoder = LLMCodec.from_params(codec.params())
    decoder._get_backend().model.threads = 2
    assert decoder.decode(payload, len(data)) == data
    encoder = LLMCodec(n_ctx=64, keep=32, sink=4, engine="portable")
    encoder._get_backend().model.threads = 2
    assert encoder.encode(data) == payload
    for c in (codec, decoder, encoder):
        c.close()


@pytest.mark.llm
def test_widened_matrices_give_the_same_logits(portable_model_path):
    from nacrith.models.portable import PortableModel, widening
    from nacrith.models.portable.backend import shared_weights

    weights = shared_weights(portable_model_path, 2)
    model = PortableModel(n_ctx=64, weights=weights, revision=2)
    tokens = list(range(100, 140))
    plain = model.prefill(0, tokens, all_logits=True)
    sizes = {}
    try:
        for part in ("ffn", "layers", "all"):
            sizes[part] = widening.widen(weights, part)
            assert np.array_equal(model.prefill(0, tokens, all_logits=True), plain), part
    finally:
        assert widening.widen(weights, "none") == 0
    cfg = weights.config
    ffn = 3 * cfg.n_ff * cfg.n_embd * cfg.n_layer * 8
    assert sizes["ffn"] == ffn and sizes["ffn"] < sizes["layers"] < sizes["all"]
    assert all(lw.gate_up.values_t is None for lw in weights.layers)
    with pytest.raises(ValueError, match="widen one of"):
        widening.widen(weights, "most")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_splits_products_with_its_own_threads():
    matrix = _matrix("Q8_0", 600, 256)
    x = RNG.normal(0.0, 1.0, (1, 256))
    with parallel.using(2):
        one = matrix(x)  # the parent's pool now exists
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        got = pool.apply_async(_product_with_two_threads, (matrix, x)).get(timeout=120)
    assert np.array_equal(got, one)


def _product_with_two_threads(matrix, x):
    with parallel.using(2):
        return matrix(x)


@pytest.mark.llm
def test_the_backend_widens_on_request(portable_model_path):
    from nacrith.models.portable.backend import PortableBackend

    tokens = list(range(200, 240))
    with PortableBackend(portable_model_path, n_ctx=64, revision=2, widen="none") as plain:
        expected = plain.append(0, tokens, all_logits=True)
        with PortableBackend(portable_model_path, n_ctx=64, revision=2, widen="ffn") as wide:
            assert wide.model.weights.layers[0].gate_up.values_t is not None
            assert wide.model.weights.layers[0].qkv.values_t is None
            assert np.array_equal(wide.append(0, tokens, all_logits=True), expected)
        PortableBackend(portable_model_path, n_ctx=64, revision=2, widen="none").close()
        assert plain.model.weights.layers[0].gate_up.values_t is None
    with pytest.raises(ValueError, match="widen one of"):
        PortableBackend(portable_model_path, n_ctx=64, revision=2, widen="most")
