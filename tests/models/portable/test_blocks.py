"""Block-quantized matrices (arithmetic revision 2): products equal the exact rational product of
the quantized activations and the weights, whatever the quantization type (no model file)."""

from __future__ import annotations

from fractions import Fraction

import gguf
import numpy as np
import pytest

from nacrith.errors import NacrithError
from nacrith.models.portable import blocks
from nacrith.models.portable.blocks import BlockMatrix, block_tensor
from nacrith.models.portable.weights import dequantize

RNG = np.random.default_rng(11)


def _exact_product(matrix: BlockMatrix, values: np.ndarray, x: np.ndarray) -> np.ndarray:
    """x @ W.T in rationals from the matrix's own activation integers: the one right answer."""
    ints, sx = matrix.quantize(x)
    flat = (ints * sx[..., None]).reshape(x.shape[0], -1)
    out = np.empty((x.shape[0], values.shape[0]))
    for i, row in enumerate(flat.tolist()):
        a = [Fraction(v) for v in row]
        for j, w in enumerate(values.tolist()):
            out[i, j] = float(sum(ai * Fraction(wj) for ai, wj in zip(a, w)))
    return out


def _activations(n: int, cols: int) -> np.ndarray:
    """Rows with magnitudes spread over many binary places, as real activations are."""
    return RNG.normal(0.0, 1.0, (n, cols)) * np.exp(RNG.uniform(-6.0, 6.0, (n, cols)))


@pytest.mark.parametrize("type_name", ["Q4_1", "Q8_0"])
def test_gguf_blocks_multiply_exactly(type_name):
    values = RNG.normal(0.0, 0.05, (12, 256)).astype(np.float32)
    raw = gguf.quants.quantize(values, getattr(gguf.GGMLQuantizationType, type_name))
    matrix = block_tensor(type_name, raw, 256)
    exact_values = dequantize(type_name, raw, 256)
    assert np.array_equal(matrix.row_values(np.arange(12)), exact_values)
    x = _activations(4, 256)
    got = matrix(x)
    assert np.array_equal(got, _exact_product(matrix, exact_values, x))
    assert np.max(np.abs(got - x @ exact_values.T)) < 1e-3 * np.max(np.abs(x @ exact_values.T))
    # the same block integers summed without BLAS (numpy's own loop): the same products
    ints, _ = matrix.quantize(x)
    dots = np.einsum("nbk,bkr->bnr", ints.astype(np.float32), matrix.qt, optimize=False)
    assert np.array_equal(dots, np.matmul(ints.astype(np.float32).transpose(1, 0, 2), matrix.qt))


@pytest.mark.parametrize("type_name", ["Q4_1", "Q8_0"])
def test_a_widened_matrix_gives_the_bits_of_the_block_products(type_name):
    raw = gguf.quants.quantize(
        RNG.normal(0.0, 0.05, (40, 512)).astype(np.float32),
        getattr(gguf.GGMLQuantizationType, type_name),
    )
    matrix = block_tensor(type_name, raw, 512)
    x = _activations(5, 512)
    blocks = matrix(x)
    matrix.widen()
    assert np.array_equal(matrix.row_values(np.arange(40)), dequantize(type_name, raw, 512))
    assert np.array_equal(matrix(x), blocks)  # several rows: one float64 GEMM
    assert np.array_equal(matrix(x[2:3]), blocks[2:3])  # one row: the float32 blocks


def test_many_rows_give_the_bits_of_one_row_at_a_time():
    raw = gguf.quants.quantize(
        RNG.normal(0.0, 0.05, (24, 256)).astype(np.float32), gguf.GGMLQuantizationType.Q4_1
    )
    matrix = block_tensor("Q4_1", raw, 256)
    x = _activations(40, 256)
    one_by_one = np.concatenate([matrix(x[i : i + 1]) for i in range(40)])
    assert np.array_equal(matrix(x), one_by_one)  # 40 rows: one float64 GEMM
    assert matrix.values_t is None  # widened for that product only


def test_sixteen_column_blocks_of_signed_six_bit_integers_with_integer_sub_scales():
    """The shape of a Q6_K tensor: scale = float16 d times an int8 sub-block scale."""
    ints = RNG.integers(-32, 32, (6, 512))
    d = RNG.uniform(1e-4, 1e-3, (6, 1)).astype(np.float16).astype(np.float64)
    scale = d * RNG.integers(-128, 128, (6, 32))
    matrix = BlockMatrix(ints, scale, block=16)
    assert matrix.act_bits == 15 and matrix.span >= 0
    values = ints * np.repeat(scale, 16, axis=1)
    assert np.array_equal(matrix.row_values(np.arange(6)), values)
    x = _activations(3, 512)
    assert np.array_equal(matrix(x), _exact_product(matrix, values, x))


def test_activation_blocks_stay_within_the_span_of_their_row():
    matrix = block_tensor(
        "Q4_1",
        gguf.quants.quantize(
            RNG.normal(0.0, 0.05, (4, 128)).astype(np.float32), gguf.GGMLQuantizationType.Q4_1
        ),
        128,
    )
    x = np.zeros((2, 128))
    x[0, :32], x[0, 32:64], x[0, 64:] = 1e6, 1e-6, 0.0
    x[1, 5] = np.nan
    ints, sx = matrix.quantize(x)
    assert np.all(np.abs(ints) <= matrix.act_limit)
    assert np.max(np.abs(ints[0, 0])) > matrix.act_limit / 2  # the largest block: every bit
    assert sx[0, 1] == sx[0, 0] * 2.0**-matrix.span  # a tiny block is floored to the span
    assert not np.any(ints[1]) and np.all(np.isfinite(matrix(x)))


def test_stacked_block_matrices_equal_their_parts():
    a = block_tensor(
        "Q4_1",
        gguf.quants.quantize(
            RNG.normal(0.0, 0.05, (8, 64)).astype(np.float32), gguf.GGMLQuantizationType.Q4_1
        ),
        64,
    )
    b = block_tensor(
        "Q8_0",
        gguf.quants.quantize(
            RNG.normal(0.0, 0.05, (5, 64)).astype(np.float32), gguf.GGMLQuantizationType.Q8_0
        ),
        64,
    )
    both = BlockMatrix.stack([a, b])
    x = _activations(3, 64)
    assert both.act_bits == min(a.act_bits, b.act_bits)
    values = np.concatenate([a.row_values(np.arange(8)), b.row_values(np.arange(5))])
    assert np.array_equal(both(x), _exact_product(both, values, x))
    restored = BlockMatrix.restore(both.qt, both.scale_t, both.mins_t, both.act_bits, both.span)
    assert np.array_equal(restored(x), both(x))


def test_unusable_blocks_are_refused():
    with pytest.raises(ValueError, match="block 32 does not divide 48 columns"):
        BlockMatrix(np.zeros((2, 48)), np.ones((2, 1)), block=32)
    with pytest.raises(ValueError, match="must be integers"):
        BlockMatrix(np.full((2, 32), 0.5), np.ones((2, 1)))
    with pytest.raises(NacrithError, match="not exact"):
        BlockMatrix(np.full((2, 32), 2.0**20), np.ones((2, 1)))
    with pytest.raises(NacrithError, match="no exact product with 8-bit activations"):
        BlockMatrix(np.ones((2, 32)), np.full((2, 1), 2.0**40 + 2.0**-12))


@pytest.mark.parametrize("rows", [1, 3, 40])
def test_products_split_into_slabs_of_rows_give_the_bits_of_one_slab(monkeypatch, rows):
    """Both paths cut the matrix's rows into slabs (float64 values widened per slab, block terms
    per slab); every cut gives the exact product, so the bits of an uncut product."""
    raw = gguf.quants.quantize(
        RNG.normal(0.0, 0.05, (70, 256)).astype(np.float32), gguf.GGMLQuantizationType.Q4_1
    )
    matrix = block_tensor("Q4_1", raw, 256)
    x = _activations(rows, 256)
    whole = matrix(x)
    monkeypatch.setattr(blocks, "_SLAB", 256 * 3)  # 3 rows per wide slab, a few per block slab
    assert np.array_equal(matrix._product(x), whole)
    assert np.array_equal(matrix._wide(x), whole)
    assert np.array_equal(whole, _exact_product(matrix, dequantize("Q4_1", raw, 256), x))
