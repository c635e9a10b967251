"""The stream interface both portable graphs share: `n_seq` independent KV caches, fed by
prefill, append and step, each a batch through the graph's `_forward`.

A graph subclasses `Streams` and provides `_caches` (one object with a `length` per stream),
`_hidden` (the final hidden states of the last rows returned) and `_forward(segments,
all_rows)`, which feeds each (stream, tokens) segment at the stream's next positions as one
batch and returns the logits of each segment's last token, or of every token.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from nacrith import exact
from nacrith.models.portable import parallel
from nacrith.models.portable.weights import matrix_revision

__all__ = ["MAX_CTX", "Streams", "checked_setup"]

#: the longest context of a stream: the exact softmax's row sums stay below 2**53
MAX_CTX = 1 << 14

W = TypeVar("W")


def checked_setup(
    path: Any, weights: W | None, revision: int, n_seq: int, n_ctx: int, load: Callable[..., W]
) -> W:
    """The weights a graph runs (`weights`, else `load(path, revision)`), after checking the
    revision, the stream count and the context length; `ValueError` when one is wrong."""
    matrices = matrix_revision(revision)  # ValueError for an unknown revision
    if weights is None:
        if path is None:
            raise ValueError("give a GGUF path or loaded weights")
        weights = load(path, matrices)
    if weights.revision != matrices:  # type: ignore[attr-defined]
        raise ValueError(f"weights of revision {weights.revision}, not {matrices}")  # type: ignore[attr-defined]
    if n_seq < 1 or not 8 <= n_ctx <= MAX_CTX:
        raise ValueError(f"need n_seq >= 1 and 8 <= n_ctx <= {MAX_CTX}, got {n_seq}, {n_ctx}")
    return weights


class Streams:
    """Stream bookkeeping and the batched entry points of a portable graph."""

    n_ctx: int
    _caches: list[Any]
    _hidden: np.ndarray
    #: threads each matrix product is split over (`parallel`); never changes a bit
    threads: int = 1

    def _forward(self, segments: list[tuple[int, np.ndarray]], all_rows: bool) -> np.ndarray:
        raise NotImplementedError

    def clear(self, seq: int) -> None:
        """Forget everything stream `seq` has seen."""
        self._caches[seq].length = 0

    def length(self, seq: int) -> int:
        """How many tokens stream `seq` holds."""
        return self._caches[seq].length

    def prefill(
        self, seq: int, tokens: Sequence[int] | np.ndarray, *, all_logits: bool = False
    ) -> np.ndarray:
        """Clear stream `seq` and feed `tokens` at positions 0.. as one batch.

        Returns the logits (float64) of the last token, or of every token when `all_logits`.
        """
        n = len(tokens)
        if not 1 <= n <= self.n_ctx:
            raise ValueError(f"prefill of {n} tokens does not fit a context of {self.n_ctx}")
        self.clear(seq)
        return self.append(seq, tokens, all_logits=all_logits)

    def append(
        self, seq: int, tokens: Sequence[int] | np.ndarray, *, all_logits: bool = False
    ) -> np.ndarray:
        """Feed `tokens` to stream `seq` at its next positions as one batch (the same bits as
        feeding them one at a time). Returns the logits of the last token, or of every token
        when `all_logits`."""
        toks = np.asarray(tokens, dtype=np.int64).reshape(-1)
        if toks.size == 0:
            raise ValueError("append needs at least one token")
        with parallel.using(self.threads):
            logits = self._forward([(seq, toks)], all_logits)
        return logits if all_logits else logits[0]

    def step(
        self,
        seqs: Sequence[int],
        tokens: Sequence[int] | np.ndarray,
        positions: Sequence[int] | np.ndarray,
    ) -> np.ndarray:
        """Feed one token to each stream in `seqs` at its next position; logits as (B, V)."""
        if len(set(seqs)) != len(seqs):
            raise ValueError("step feeds each stream at most once")
        for s, p in zip(seqs, positions):
            if int(p) != self._caches[s].length:
                raise ValueError(f"stream {s} holds {self._caches[s].length} tokens, not {p}")
        segments = [(int(s), np.asarray([t], dtype=np.int64)) for s, t in zip(seqs, tokens)]
        with parallel.using(self.threads):
            return self._forward(segments, False)

    def hidden_states(self) -> np.ndarray:
        """Final hidden states (the output layer's input, float64) of the rows the last `prefill`
        or `step` returned logits for, one row per logits row."""
        return self._hidden.copy()

    @staticmethod
    def probabilities(logits: np.ndarray) -> np.ndarray:
        """softmax of `logits` along the last axis, with the engine's exact rules (float64)."""
        return exact.softmax(logits)
