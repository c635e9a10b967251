"""The model the portable engine is tested with: SmolLM2-135M, Q4_1 (the registry's base file)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def portable_model_path() -> Path:
    """Path of the Q4_1 GGUF, pulled into the user cache if missing."""
    from nacrith.models.llm.registry import pull

    return pull("smollm2-135m-q4_1", quiet=True)
