"""The disk cache of converted Gemma weights gives back the converted integers and replaces a
damaged entry."""

from __future__ import annotations

import numpy as np
import pytest

from nacrith.models.portable.gemma_cache import cached_gemma_weights, gemma_cache_path
from nacrith.models.portable.gemma_weights import load_gemma_weights
from tests.models.portable import gemma_fixtures

pytestmark = [pytest.mark.llm, pytest.mark.slow]

gemma_model_path = gemma_fixtures.gemma_model_path


def _same(a, b) -> bool:
    """Whether two revision-2 weight sets hold the same numbers."""
    mats = [(a.embed, b.embed)]
    for la, lb in zip(a.layers, b.layers):
        mats += [(getattr(la, n), getattr(lb, n)) for n in ("qkv", "out", "gate_up", "down")]
        for n in ("attn_norm", "q_norm", "k_norm", "post_attn_norm", "ffn_norm", "post_ffn_norm"):
            if not np.array_equal(getattr(la, n), getattr(lb, n)):
                return False
    for ma, mb in mats:
        if not (np.array_equal(ma.qt, mb.qt) and np.array_equal(ma.scale_t, mb.scale_t)):
            return False
        if (ma.act_bits, ma.span) != (mb.act_bits, mb.span):
            return False
        if (ma.mins_t is None) != (mb.mins_t is None) or (
            ma.mins_t is not None and not np.array_equal(ma.mins_t, mb.mins_t)
        ):
            return False
    return a.config == b.config and a.revision == b.revision


def test_the_cache_gives_back_the_conversion_and_replaces_a_damaged_entry(
    gemma_model_path, tmp_path, monkeypatch
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    entry = gemma_cache_path(gemma_model_path, 2)
    assert entry.is_relative_to(tmp_path)
    assert gemma_cache_path(gemma_model_path, 1) != entry
    fresh = load_gemma_weights(gemma_model_path, 2)
    assert _same(cached_gemma_weights(gemma_model_path, 2), fresh)  # converted, written
    assert entry.is_file()
    assert _same(cached_gemma_weights(gemma_model_path, 2), fresh)  # read back
    entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])
    assert _same(cached_gemma_weights(gemma_model_path, 2), fresh)  # converted again
    assert _same(cached_gemma_weights(gemma_model_path, 2), fresh)
