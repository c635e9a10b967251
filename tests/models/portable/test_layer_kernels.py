"""The compiled elementwise parts of a llama layer (numba) give the bits of the engine's numpy
forms: exp and SiLU over the whole float64 range and its special values, RMSNorm at tiny, huge
and ordinary magnitudes, and RoPE (no model file)."""

from __future__ import annotations

import numpy as np
import pytest

from nacrith import exact, jit
from nacrith.models.portable import kernels, layer_kernels
from nacrith.models.portable.engine import _rope_tables

pytest.importorskip("numba")

RNG = np.random.default_rng(31)
SPECIAL = [0.0, -0.0, np.nan, np.inf, -np.inf, 5e-324, -5e-324, 1e-300, 2.0**-1022]
# around the ends of exp's range: overflow, the last normal results, the flush to zero
EDGES = [709.78, 709.79, 709.43, -708.39, -708.4, -744.4, -745.2, -709.8, 700.0, -700.0]


@pytest.fixture(autouse=True)
def _compiled(monkeypatch):
    monkeypatch.delenv(kernels.ENV, raising=False)
    jit.compiler.cache_clear()
    layer_kernels._compiled.cache_clear()
    exact._compiled_exp.cache_clear()
    assert layer_kernels.available()
    yield
    jit.compiler.cache_clear()
    layer_kernels._compiled.cache_clear()
    exact._compiled_exp.cache_clear()


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(
        np.asarray(a, dtype=np.float64).view(np.int64),
        np.asarray(b, dtype=np.float64).view(np.int64),
    )


def _wide_values(n: int) -> np.ndarray:
    return np.concatenate(
        [
            RNG.normal(0.0, 4.0, n),
            RNG.uniform(-760.0, 760.0, n),
            RNG.normal(0.0, 1.0, n) * np.exp(RNG.uniform(-700.0, 700.0, n)),
            np.nextafter(np.asarray(EDGES), np.inf),
            np.asarray(EDGES + SPECIAL),
        ]
    )


def _numpy_exp(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    exact._exp_into(x, out)
    return out


def test_the_compiled_exp_has_the_bits_of_the_numpy_form():
    x = _wide_values(20_000)
    assert exact._compiled_exp() is not None
    assert _same_bits(exact.exp(x), _numpy_exp(x))


def test_the_compiled_exp_keeps_the_shape():
    x = RNG.normal(0.0, 3.0, (4, 5, 6))
    assert _same_bits(exact.exp(x), _numpy_exp(x.reshape(-1)).reshape(x.shape))


def test_silu_times_up_has_the_bits_of_the_numpy_form():
    gate = _wide_values(3_000).reshape(1, -1)
    gate = np.concatenate([gate, RNG.normal(0.0, 3.0, gate.shape)])
    up = RNG.normal(0.0, 3.0, gate.shape)
    with np.errstate(invalid="ignore"):  # -inf / inf
        want = gate / (_numpy_exp(-gate.reshape(-1)).reshape(gate.shape) + 1.0) * up
    assert _same_bits(layer_kernels.silu_mul(gate, up), want)


def _numpy_rms_norm(h: np.ndarray, gain: np.ndarray, bits: int, eps: float) -> np.ndarray:
    """The engine's numpy form (`PortableModel._rms_norm` without the kernels)."""
    ints, scale = exact.fixed_point(h, bits)
    squares = np.sum(ints * ints, axis=-1)
    with np.errstate(over="ignore"):  # 1e150: the mean overflows, and the row becomes 0
        mean = squares * (scale * scale) / float(h.shape[-1])
    inv = 1.0 / np.sqrt(mean + eps)
    return h * inv[:, None] * gain


@pytest.mark.parametrize("magnitude", [1e-310, 1e-280, 1e-3, 1.0, 1e6, 1e150])
def test_rms_norm_has_the_bits_of_the_numpy_form(magnitude):
    cols, bits, eps = 576, 21, 1e-5
    h = RNG.normal(0.0, magnitude, (5, cols))
    h[1] *= np.exp(RNG.uniform(-30.0, 30.0, cols))  # one row of wildly mixed magnitudes
    h[2] = 0.0
    gain = RNG.normal(1.0, 0.3, cols)
    got = layer_kernels.rms_norm(h, gain, bits, eps)
    assert got is not None
    assert _same_bits(got, _numpy_rms_norm(h, gain, bits, eps))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_rms_norm_leaves_rows_that_are_not_finite_to_numpy(bad):
    h = RNG.normal(0.0, 1.0, (3, 64))
    h[1, 7] = bad
    assert layer_kernels.rms_norm(h, np.ones(64), 21, 1e-5) is None


def test_rope_has_the_bits_of_the_numpy_form():
    n_ctx, heads, dim = 300, 9, 64
    cos, sin = _rope_tables(n_ctx, dim, 10000.0)
    x = RNG.normal(0.0, 1.0, (7, heads, dim)) * np.exp(RNG.uniform(-20.0, 20.0, (7, heads, dim)))
    positions = np.asarray([0, 1, 5, 100, 299, 298, 3])
    pairs = x.reshape(7, heads, dim // 2, 2)
    a, b = pairs[..., 0], pairs[..., 1]
    c, s = cos[positions][:, None, :], sin[positions][:, None, :]
    want = np.empty_like(pairs)
    want[..., 0] = a * c - b * s
    want[..., 1] = a * s + b * c
    got = layer_kernels.rope(x, cos, sin, positions)
    assert _same_bits(got, want.reshape(x.shape))


def test_the_numpy_setting_turns_the_layer_kernels_off(monkeypatch):
    monkeypatch.setenv(kernels.ENV, "numpy")
    jit.compiler.cache_clear()
    layer_kernels._compiled.cache_clear()
    exact._compiled_exp.cache_clear()
    assert not layer_kernels.available()
    assert exact._compiled_exp() is None
    with pytest.raises(RuntimeError):
        layer_kernels.silu_mul(np.zeros((1, 3)), np.zeros((1, 3)))
