"""Where the tests find the repository's own files (never ../shared)."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
CORPORA = REPO / "corpora"
CANTERBURY = CORPORA / "canterbury"
LOGHUB = CORPORA / "loghub"
GOLDEN = TESTS / "golden"
FUZZ_REGRESSIONS = TESTS / "fuzz_regressions"
