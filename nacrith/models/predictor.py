"""The interface every online predictor of the `llm` codec implements.

Predictors serve B independent streams in lockstep: state is kept per stream id, and each call
handles the rows of the streams that are active in this step, so the per-token Python cost is
shared by all streams. A predictor only ever sees tokens that were already coded, so encoder and
decoder, calling the same methods in the same order, hold identical state.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["Predictor"]


@runtime_checkable
class Predictor(Protocol):
    """An online model of the next token of each stream."""

    def reset(self, stream: int) -> None:
        """Forget everything about `stream` (a new chunk starts there)."""
        ...

    def predict(self, streams: np.ndarray, logits: np.ndarray) -> np.ndarray:
        """Probabilities (len(streams), V), float64, rows summing to 1, for the next token.

        `logits` are the LLM's rows for the same streams; predictors that do not use the LLM
        ignore them.
        """
        ...

    def update(self, streams: np.ndarray, tokens: np.ndarray) -> None:
        """Learn that the next token of each stream in `streams` was `tokens` (after predict)."""
        ...
