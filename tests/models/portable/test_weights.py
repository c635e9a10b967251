"""Exact dequantization and exact fixed-point matrix products (no model file needed)."""

from __future__ import annotations

import gguf
import numpy as np
import pytest

from nacrith.errors import ModelNotFoundError
from nacrith.models.portable.exact import fixed_point
from nacrith.models.portable.weights import ACT_BITS, FixedMatrix, dequantize

RNG = np.random.default_rng(7)


@pytest.mark.parametrize("type_name", ["Q8_0", "Q4_1"])
def test_dequantize_matches_gguf_reference(type_name):
    values = RNG.normal(0.0, 0.05, (16, 256)).astype(np.float32)
    raw = gguf.quants.quantize(values, getattr(gguf.GGMLQuantizationType, type_name))
    ours = dequantize(type_name, raw, 256)
    theirs = gguf.quants.dequantize(raw, getattr(gguf.GGMLQuantizationType, type_name))
    assert ours.dtype == np.float64 and ours.shape == (16, 256)
    assert np.array_equal(ours.astype(np.float32), theirs)
    assert float(np.max(np.abs(ours - values))) < 0.02


def test_dequantize_refuses_unknown_types():
    with pytest.raises(ModelNotFoundError, match="cannot read Q2_K"):
        dequantize("Q2_K", np.zeros((1, 84), dtype=np.uint8), 256)


def _exact_product(matrix: FixedMatrix, x: np.ndarray) -> np.ndarray:
    """x @ W.T with Python integers: the one correct answer the float64 product must equal."""
    a_ints, a_scale = fixed_point(x, ACT_BITS)
    w = matrix.ints_t.T.astype(np.int64).tolist()
    out = np.empty((x.shape[0], matrix.rows))
    for i, row in enumerate(a_ints.astype(np.int64).tolist()):
        for j, w_row in enumerate(w):
            total = sum(a * b for a, b in zip(row, w_row))
            out[i, j] = float(total) * a_scale[i] * matrix.scale[j]
    return out


def test_fixed_matrix_product_is_the_exact_integer_product():
    raw = gguf.quants.quantize(
        RNG.normal(0.0, 0.05, (24, 1536)).astype(np.float32), gguf.GGMLQuantizationType.Q4_1
    )
    values = dequantize("Q4_1", raw, 1536)
    matrix = FixedMatrix(values)
    assert matrix.exact_rows == 24
    assert np.array_equal(matrix.row_values(np.arange(24)), values)
    x = RNG.normal(0.0, 3.0, (5, 1536))
    got = matrix(x)
    assert np.array_equal(got, _exact_product(matrix, x))
    # the same integers summed by another algorithm (numpy's own loop, no BLAS): the same bits
    a_ints, a_scale = fixed_point(x, ACT_BITS)
    other = np.einsum("ij,jk->ik", a_ints, matrix.ints_t, optimize=False)
    assert np.array_equal(got, other * a_scale[:, None] * matrix.scale[None, :])


def test_fixed_matrix_rows_keep_their_bit_budget_and_norm_bound():
    values = RNG.normal(0.0, 1.0, (40, 576)) * np.exp(RNG.uniform(-10, 10, (40, 1)))
    matrix = FixedMatrix(values)
    assert np.all(np.abs(matrix.ints_t) <= 2.0**matrix.bits)
    assert 576 * 2.0**ACT_BITS * 2.0**matrix.bits < 2.0**53
    norms = np.sqrt(np.sum(matrix.row_values(np.arange(40)) ** 2, axis=1))
    bound = matrix.row_norm_bound()
    assert np.all(bound >= norms) and np.all(bound <= norms * 1.01)


def test_stacked_matrix_equals_its_parts():
    a = FixedMatrix(RNG.normal(0.0, 1.0, (8, 64)))
    b = FixedMatrix(RNG.normal(0.0, 1e-3, (5, 64)))
    both = FixedMatrix.stack([a, b])
    x = RNG.normal(0.0, 1.0, (3, 64))
    assert np.array_equal(both(x), np.concatenate([a(x), b(x)], axis=1))


@pytest.mark.llm
def test_the_header_index_reads_what_gguf_reads(portable_model_path):
    """`load_weights` reads through GGUFIndex: the same tensors (type, columns, bytes) and the
    same configuration as the gguf package's reader gives."""
    from nacrith.models.portable import weights
    from nacrith.models.portable.gguf_index import GGUFIndex

    reader = gguf.GGUFReader(portable_model_path)
    index = GGUFIndex(portable_model_path)
    assert sorted(index.tensors) == sorted(t.name for t in reader.tensors)
    for t in reader.tensors:
        ours = index.tensors[t.name]
        assert (ours.type_name, ours.shape[0]) == (t.tensor_type.name, int(t.shape[0]))
        assert np.asarray(ours.data).tobytes() == np.asarray(t.data).tobytes(), t.name
    config = weights._config(index)
    fields = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("tokenizer")}
    assert config.n_embd == fields["llama.embedding_length"]
    assert config.n_layer == fields["llama.block_count"]
    assert config.n_ff == fields["llama.feed_forward_length"]
    assert config.n_head_kv == fields["llama.attention.head_count_kv"]
    assert config.rope_base == fields["llama.rope.freq_base"]
    assert config.rms_eps == fields["llama.attention.layer_norm_rms_epsilon"]
    assert config.n_vocab == len(reader.fields["tokenizer.ggml.tokens"].data)
    assert config.bos == reader.fields["tokenizer.ggml.bos_token_id"].contents()
