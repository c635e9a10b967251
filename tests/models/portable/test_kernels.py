"""The compiled kernels (numba) give the bits of the engine's numpy path: block products of every
integer width, with and without mins, split over threads or not; the attention's dot products
and weighted sums at the largest magnitudes the engine allows; the compact KV cache against the
wide one; revision 3's softmax (no model file)."""

from __future__ import annotations

import gguf
import numpy as np
import pytest

from nacrith import exact, jit
from nacrith.errors import NacrithError
from nacrith.models.portable import kernels, parallel, softmax
from nacrith.models.portable.blocks import BlockMatrix, block_tensor
from nacrith.models.portable.engine import QK_BITS, V_BITS
from nacrith.models.portable.kv_cache import KVCache
from nacrith.models.portable.softmax import P_BITS

pytest.importorskip("numba")

RNG = np.random.default_rng(29)


@pytest.fixture(autouse=True)
def _compiled(monkeypatch):
    monkeypatch.delenv(kernels.ENV, raising=False)
    _forget()
    assert kernels.available()
    yield
    _forget()


def _forget() -> None:
    jit.compiler.cache_clear()
    kernels._compiled.cache_clear()


def _matrix(type_name: str, rows: int, cols: int) -> BlockMatrix:
    values = RNG.normal(0.0, 0.05, (rows, cols)).astype(np.float32)
    if type_name == "F16":
        return block_tensor("F16", values.astype(np.float16), cols)
    raw = gguf.quants.quantize(values, getattr(gguf.GGMLQuantizationType, type_name))
    return block_tensor(type_name, raw, cols)


def _activations(n: int, cols: int) -> np.ndarray:
    return RNG.normal(0.0, 1.0, (n, cols)) * np.exp(RNG.uniform(-6.0, 6.0, (n, cols)))


def _numpy_product(matrix: BlockMatrix, x: np.ndarray, monkeypatch) -> np.ndarray:
    with monkeypatch.context() as m:
        m.setattr(kernels, "available", lambda: False)
        return matrix(x)


@pytest.mark.parametrize("type_name", ["Q4_1", "Q8_0", "F16"])
@pytest.mark.parametrize("n", [1, 3, 31])
@pytest.mark.parametrize("threads", [1, 3])
def test_block_products_have_the_bits_of_the_numpy_path(type_name, n, threads, monkeypatch):
    matrix = _matrix(type_name, 1100, 256)  # rows: more than two tiles, one ragged
    x = _activations(n, 256)
    expected = _numpy_product(matrix, x, monkeypatch)
    with parallel.using(threads):
        got = matrix(x)
    assert np.array_equal(got, expected)
    packed = matrix.packed()
    assert packed.q.dtype == (np.int16 if type_name == "F16" else np.int8)
    assert packed.scale.dtype == np.float32  # float16 scales and powers of two: exact


def test_block_products_at_the_largest_integers(monkeypatch):
    ints = np.where(RNG.random((300, 128)) < 0.5, -127.0, 127.0)
    scale = np.ldexp(1.0 + RNG.integers(0, 1024, (300, 4)) / 1024.0, -8)  # float16-like
    matrix = BlockMatrix(ints, scale)
    x = np.full((2, 128), 1.0)
    x[1] = -1.0  # every activation integer at its limit, both signs
    assert np.array_equal(matrix(x), _numpy_product(matrix, x, monkeypatch))


def test_scales_float32_cannot_hold_are_kept_in_float64(monkeypatch):
    ints = RNG.integers(-127, 128, (40, 64)).astype(np.float64)
    scale = 1.0 + RNG.integers(0, 2**30, (40, 2)) * 2.0**-30  # 31 significant bits
    matrix = BlockMatrix(ints, scale)
    assert matrix.packed().scale.dtype == np.float64
    x = _activations(3, 64)
    assert np.array_equal(matrix(x), _numpy_product(matrix, x, monkeypatch))


def _tiles(by_channel: np.ndarray) -> np.ndarray:
    """(n_kv, hd, n_ctx) as the kernels' (n_kv, tiles, hd, SPAN)."""
    n_kv, hd, n_ctx = by_channel.shape
    tiles = by_channel.reshape(n_kv, hd, n_ctx // kernels.SPAN, kernels.SPAN)
    return np.ascontiguousarray(tiles.transpose(0, 2, 1, 3))


def test_attention_dots_and_sums_at_the_largest_magnitudes():
    n_kv, hd, n_ctx = 3, 64, 12 * kernels.SPAN
    total = n_ctx - kernels.SPAN // 2 - 3  # a ragged last tile
    limit = 2**QK_BITS
    keys = RNG.integers(-limit, limit + 1, (n_kv, hd, n_ctx)).astype(np.int32)
    keys[:, :, :3] = limit  # the bound itself
    for rows in (1, 3, 8):
        q = RNG.integers(-limit, limit + 1, (n_kv, rows, hd)).astype(np.float64)
        q[:, 0] = limit
        expected = np.matmul(q, keys[..., :total].astype(np.float64))
        assert np.array_equal(kernels.attention_dots(q, _tiles(keys), total), expected)
    v_limit = 2**V_BITS
    values = RNG.integers(-v_limit, v_limit + 1, (n_kv, hd, n_ctx)).astype(np.int32)
    values[:, :, :50] = v_limit
    weights = np.zeros((n_kv, 3, total))
    weights[:, 0, :50] = 2**P_BITS // 50  # all the weight on the largest values
    weights[:, 1] = RNG.integers(0, 2**P_BITS // total, (n_kv, total))
    weights[:, 2, 7] = 2**P_BITS
    expected = np.matmul(weights, values[..., :total].astype(np.float64).transpose(0, 2, 1))
    assert np.array_equal(kernels.attention_mix(weights, _tiles(values), total), expected)


def test_the_compact_cache_holds_and_multiplies_what_the_wide_one_does():
    n_layer, n_ctx, n_kv, hd = 2, 3 * kernels.SPAN, 3, 8
    wide = KVCache(n_layer, n_ctx, n_kv, hd)
    compact = KVCache(n_layer, n_ctx, n_kv, hd, compact=True)
    assert compact.k_int.dtype == np.int32 and wide.k_int.dtype == np.float64
    for layer in range(n_layer):
        k = RNG.integers(-(2**QK_BITS), 2**QK_BITS, (150, n_kv, hd)).astype(np.float64)
        ks = np.ldexp(1.0, RNG.integers(-30, -10, (150, n_kv)))
        v = RNG.integers(-(2**V_BITS), 2**V_BITS, (150, n_kv * hd)).astype(np.float64)
        for cache in (wide, compact):
            cache.put(layer, slice(0, 100), k[:100], ks[:100], v[:100])
            cache.put(layer, slice(100, 150), k[100:], ks[100:], v[100:])  # across a tile
    moved = wide.keys(slice(90, 150)) * 2.0
    scales = wide.k_scale[:, 90:150] * 0.5
    for cache in (wide, compact):
        cache.move(slice(90, 150), slice(50, 110), moved, scales)
    assert np.array_equal(compact.keys(slice(0, 150)), wide.keys(slice(0, 150)))
    assert np.array_equal(compact.k_scale, wide.k_scale)
    for rows in (2, 8, 9, 24):  # the kernels, then BLAS over the widened cache
        q = RNG.integers(-(2**QK_BITS), 2**QK_BITS, (n_kv, rows, hd)).astype(np.float64)
        w = RNG.integers(0, 2**20, (n_kv, rows, 110)).astype(np.float64)
        for layer in range(n_layer):
            assert np.array_equal(compact.dots(layer, q, 110), wide.dots(layer, q, 110))
            assert np.array_equal(compact.mix(layer, w), wide.mix(layer, w))


def test_the_numpy_setting_turns_the_kernels_off(monkeypatch):
    monkeypatch.setenv(kernels.ENV, "numpy")
    _forget()
    assert not kernels.available()
    with pytest.raises(RuntimeError):
        kernels.attention_dots(np.zeros((1, 1, 2)), np.zeros((1, 2, 4), np.int32), 4)


def test_the_table_softmax_has_the_bits_of_numpy(monkeypatch):
    scores = RNG.normal(0.0, 2.0, (3, 5, 300)) * np.exp(RNG.uniform(-2, 2, (3, 5, 300)))
    scores[:, :, 250:] = -np.inf  # hidden keys
    scores[0, 0, :] = 7.25  # a flat row
    scores[1, 1, 3] = 1e300  # one key takes all
    expected = _numpy_softmax(scores.copy(), monkeypatch)
    assert np.array_equal(softmax.attention_weights(scores.copy(), 3), expected)
    assert len(np.unique(expected)) > 100  # weights of every size, not a few round values


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_the_table_softmax_refuses_scores_without_a_finite_maximum(bad):
    scores = RNG.normal(0.0, 1.0, (2, 40))
    scores[1, 7] = bad
    with pytest.raises(NacrithError, match="not finite"):
        softmax.attention_weights(scores, 3)
    with pytest.raises(NacrithError, match="not finite"):
        softmax.attention_weights(np.full((1, 4), -np.inf), 3)


def _numpy_softmax(scores: np.ndarray, monkeypatch) -> np.ndarray:
    with monkeypatch.context() as m:
        m.setattr(kernels, "available", lambda: False)
        return softmax.attention_weights(scores, 3)


@pytest.mark.parametrize("type_name", ["Q4_1", "Q8_0", "F16"])
def test_the_compiled_quantization_is_the_numpy_one(type_name):
    matrix = _matrix(type_name, 64, 256)
    x = _activations(6, 256)
    x[1] = 0.0  # a zero row
    x[2] *= 2.0**-1000  # a row below the engine's floor
    x[3, :32] = 0.0  # a zero block
    x[4, 40:60] *= 2.0**-60  # blocks far below the row's largest: the span clamps them
    ints, scales = matrix.quantize(x)
    got = kernels.quantize(x, matrix.block, matrix.span, matrix.act_bits)
    assert got is not None
    assert got[0].dtype == np.int16
    assert np.array_equal(got[0], ints) and np.array_equal(got[1], scales)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_rows_that_are_not_finite_take_the_numpy_path(bad, monkeypatch):
    matrix = _matrix("Q8_0", 64, 256)
    x = _activations(3, 256)
    x[1, 17] = bad
    assert kernels.quantize(x, matrix.block, matrix.span, matrix.act_bits) is None
    expected = _numpy_product(matrix, x, monkeypatch)
    assert np.array_equal(matrix(x), expected, equal_nan=True)


@pytest.mark.parametrize("bits", [12, 21, 22])
def test_the_compiled_fixed_point_is_the_exact_one(bits):
    x = RNG.normal(0.0, 1.0, (40, 9, 64)) * np.exp(RNG.uniform(-30, 30, (40, 9, 1)))
    x[0] = 0.0
    x[1] *= 2.0**-1000  # below the floor: zeros
    x[2, :, 5] = -0.0
    x[3] = 1e300
    expected = exact.fixed_point(x, bits)
    got = kernels.fixed_point(x, bits)
    assert np.array_equal(got[0].view(np.int64), expected[0].view(np.int64))  # signed zeros too
    assert np.array_equal(got[1], expected[1])
    x[5, 2, 7] = np.nan  # then the whole call is exact.fixed_point's
    expected = exact.fixed_point(x, bits)
    got = kernels.fixed_point(x, bits)
    assert np.array_equal(got[0], expected[0], equal_nan=True)
    assert np.array_equal(got[1], expected[1])
