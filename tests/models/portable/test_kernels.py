"""The compiled kernels (numba) give the bits of the engine's numpy path: block products of every
integer width, with and without mins, split over threads or not; the attention's dot products
and weighted sums at the largest magnitudes the engine allows; the compact KV cache against the
wide one (no model file)."""

from __future__ import annotations

import gguf
import numpy as np
import pytest

from nacrith.models.portable import kernels, parallel
from nacrith.models.portable.blocks import BlockMatrix, block_tensor
from nacrith.models.portable.engine import QK_BITS, V_BITS
from nacrith.models.portable.kv_cache import KVCache
from nacrith.models.portable.softmax import P_BITS

pytest.importorskip("numba")

RNG = np.random.default_rng(29)


@pytest.fixture(autouse=True)
def _compiled(monkeypatch):
    monkeypatch.delenv(kernels.ENV, raising=False)
    kernels._compiled.cache_clear()
    assert kernels.available()
    yield
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
    assert matrix.small_ints().dtype == (np.int16 if type_name == "F16" else np.int8)


def test_block_products_at_the_largest_activations(monkeypatch):
    matrix = _matrix("Q8_0", 300, 128)
    x = np.full((2, 128), 1.0)
    x[1] = -1.0  # every activation integer at its limit, both signs
    q = matrix.small_ints()
    q[...] = np.where(RNG.random(q.shape) < 0.5, -127, 127)
    matrix.qt[...] = q
    assert np.array_equal(matrix(x), _numpy_product(matrix, x, monkeypatch))


def test_attention_dots_and_sums_at_the_largest_magnitudes():
    n_kv, hd, n_ctx, total = 3, 64, 700, 650
    limit = 2**QK_BITS
    keys = RNG.integers(-limit, limit + 1, (n_kv, hd, n_ctx)).astype(np.int32)
    keys[:, :, :3] = limit  # the bound itself
    for rows in (1, 3, 8):
        q = RNG.integers(-limit, limit + 1, (n_kv, rows, hd)).astype(np.float64)
        q[:, 0] = limit
        expected = np.matmul(q, keys[..., :total].astype(np.float64))
        assert np.array_equal(kernels.attention_dots(q, keys, total), expected)
    v_limit = 2**V_BITS
    values = RNG.integers(-v_limit, v_limit + 1, (n_kv, hd, n_ctx)).astype(np.int32)
    values[:, :, :50] = v_limit
    weights = np.zeros((n_kv, 3, total))
    weights[:, 0, :50] = 2**P_BITS // 50  # all the weight on the largest values
    weights[:, 1] = RNG.integers(0, 2**P_BITS // total, (n_kv, total))
    weights[:, 2, 7] = 2**P_BITS
    expected = np.matmul(weights, values[..., :total].astype(np.float64).transpose(0, 2, 1))
    assert np.array_equal(kernels.attention_mix(weights, values), expected)


def test_the_compact_cache_holds_and_multiplies_what_the_wide_one_does():
    n_layer, n_ctx, n_kv, hd = 2, 40, 3, 8
    wide = KVCache(n_layer, n_ctx, n_kv, hd)
    compact = KVCache(n_layer, n_ctx, n_kv, hd, compact=True)
    assert compact.k_int.dtype == np.int32 and wide.k_int.dtype == np.float64
    for layer in range(n_layer):
        k = RNG.integers(-(2**QK_BITS), 2**QK_BITS, (30, n_kv, hd)).astype(np.float64)
        ks = np.ldexp(1.0, RNG.integers(-30, -10, (30, n_kv)))
        v = RNG.integers(-(2**V_BITS), 2**V_BITS, (30, n_kv * hd)).astype(np.float64)
        for cache in (wide, compact):
            cache.put(layer, slice(0, 30), k, ks, v)
    moved = wide.keys(slice(20, 30)) * 2.0
    scales = wide.k_scale[:, 20:30] * 0.5
    for cache in (wide, compact):
        cache.move(slice(20, 30), slice(5, 15), moved, scales)
    assert np.array_equal(compact.keys(slice(0, 30)), wide.keys(slice(0, 30)))
    assert np.array_equal(compact.k_scale, wide.k_scale)
    for rows in (2, 8, 9, 24):  # the kernels, then BLAS over the widened cache
        q = RNG.integers(-(2**QK_BITS), 2**QK_BITS, (n_kv, rows, hd)).astype(np.float64)
        w = RNG.integers(0, 2**20, (n_kv, rows, 30)).astype(np.float64)
        for layer in range(n_layer):
            assert np.array_equal(compact.dots(layer, q, 30), wide.dots(layer, q, 30))
            assert np.array_equal(compact.mix(layer, w), wide.mix(layer, w))


def test_the_numpy_setting_turns_the_kernels_off(monkeypatch):
    monkeypatch.setenv(kernels.ENV, "numpy")
    kernels._compiled.cache_clear()
    assert not kernels.available()
    with pytest.raises(RuntimeError):
        kernels.attention_dots(np.zeros((1, 1, 2)), np.zeros((1, 2, 4), np.int32), 4)
