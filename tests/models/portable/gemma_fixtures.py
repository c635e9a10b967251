"""Fixtures of the Gemma 3 tests: the registry's Gemma 3 270M GGUF and its converted weights."""

from __future__ import annotations

from pathlib import Path

import pytest

from nacrith.models.portable.gemma_cache import cached_gemma_weights
from nacrith.models.portable.gemma_weights import GemmaWeights


@pytest.fixture(scope="session")
def gemma_model_path() -> Path:
    """Path of the Gemma 3 270M Q4_K_M GGUF, pulled into the user cache if missing."""
    from nacrith.models.llm.registry import pull

    return pull("gemma3-270m", quiet=True)


@pytest.fixture(scope="session")
def gemma_weights_rev1(gemma_model_path: Path) -> GemmaWeights:
    """The converted weights, arithmetic revision 1 (through the disk cache)."""
    return cached_gemma_weights(gemma_model_path, 1)


@pytest.fixture(scope="session")
def gemma_weights_rev2(gemma_model_path: Path) -> GemmaWeights:
    """The converted weights, arithmetic revision 2 (through the disk cache)."""
    return cached_gemma_weights(gemma_model_path, 2)
