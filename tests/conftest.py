"""Shared fixtures and hypothesis profiles (HYPOTHESIS_PROFILE=default|ci|expensive)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from tests.paths import CORPORA

settings.register_profile("default", max_examples=60, deadline=None)
settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("expensive", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def canterbury() -> dict[str, bytes]:
    """The 11 Canterbury corpus files, by name."""
    folder = CORPORA / "canterbury"
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.suffix != ".md"}
