"""The disk cache of converted weights gives back the very integers the GGUF converts to, and a
damaged entry is converted again and replaced."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nacrith.models.portable.weight_cache import cache_path, cached_weights
from nacrith.models.portable.weights import FixedMatrix, ModelWeights, load_weights

pytestmark = pytest.mark.llm


def _same(a: FixedMatrix, b: FixedMatrix) -> bool:
    return (
        np.array_equal(a.ints_t, b.ints_t)
        and np.array_equal(a.scale, b.scale)
        and (a.rows, a.cols, a.bits, a.exact_rows) == (b.rows, b.cols, b.bits, b.exact_rows)
    )


def _assert_same(got: ModelWeights, want: ModelWeights) -> None:
    assert got.config == want.config
    assert _same(got.embed, want.embed) and _same(got.output, want.output)
    assert (got.output is got.embed) == (want.output is want.embed)
    assert np.array_equal(got.output_norm, want.output_norm)
    for g, w in zip(got.layers, want.layers, strict=True):
        for name in ("qkv", "out", "gate_up", "down"):
            assert _same(getattr(g, name), getattr(w, name)), name
        assert np.array_equal(g.attn_norm, w.attn_norm)
        assert np.array_equal(g.ffn_norm, w.ffn_norm)


def test_cached_weights_are_the_converted_ones(portable_model_path, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    entry = cache_path(portable_model_path)
    assert entry.parent == tmp_path / "nacrith" / "models" / "portable"
    want = load_weights(portable_model_path)
    assert not entry.exists()
    _assert_same(cached_weights(portable_model_path), want)  # converts and writes the entry
    assert entry.is_file() and list(entry.parent.iterdir()) == [entry]  # no temporary left
    _assert_same(cached_weights(portable_model_path), want)  # read back
    entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])  # a damaged entry
    _assert_same(cached_weights(portable_model_path), want)
    _assert_same(cached_weights(portable_model_path), want)  # replaced by a whole one
    assert entry.stat().st_size > 2 * Path(portable_model_path).stat().st_size


def _same_blocks(a, b) -> bool:
    return (
        np.array_equal(a.qt, b.qt)
        and np.array_equal(a.scale_t, b.scale_t)
        and (a.mins_t is None) == (b.mins_t is None)
        and (a.mins_t is None or np.array_equal(a.mins_t, b.mins_t))
        and (a.act_bits, a.span, a.block) == (b.act_bits, b.span, b.block)
    )


def test_revision_two_has_its_own_entry_with_the_same_blocks(
    portable_model_path, tmp_path, monkeypatch
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_path(portable_model_path, 2) != cache_path(portable_model_path, 1)
    want = load_weights(portable_model_path, 2)
    cached_weights(portable_model_path, 2)  # converts and writes the entry
    got = cached_weights(portable_model_path, 2)  # read back
    assert got.revision == 2 and got.config == want.config
    assert _same_blocks(got.embed, want.embed) and got.output is got.embed
    for g, w in zip(got.layers, want.layers, strict=True):
        for name in ("qkv", "out", "gate_up", "down"):
            assert _same_blocks(getattr(g, name), getattr(w, name)), name
    assert not cache_path(portable_model_path, 1).exists()


def test_a_new_entry_removes_the_stale_ones_of_its_family_only(
    portable_model_path, tmp_path, monkeypatch
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    entry = cache_path(portable_model_path, 2)
    family, _code = entry.name.rsplit("-", 1)
    entry.parent.mkdir(parents=True)
    stale = entry.parent / f"{family}-0123456789abcdef.npz"  # made by other code
    other_revision = entry.parent / f"{family.replace('-r2', '-r1')}-0123456789abcdef.npz"
    other_model = entry.parent / "llama-fedcba9876543210-r2-0123456789abcdef.npz"
    unversioned = entry.parent / "33a64bb77ad90f5e7404154f5e36ead5.npz"  # an earlier release's
    for path in (stale, other_revision, other_model, unversioned):
        path.write_bytes(b"old")
    cached_weights(portable_model_path, 2)
    assert sorted(entry.parent.iterdir()) == sorted([entry, other_revision, other_model])
