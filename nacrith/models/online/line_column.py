"""Column model: corrects the probability of a line break by the current column.

Hard-wrapped text (books, mail, source code) breaks lines near a fixed width, which the LLM,
seeing tokens rather than columns, predicts poorly. This stage takes the final distribution, sums
the probability of every token that starts with a line feed (pG), maps it through an adaptive
probability map indexed by the column bucket of the text so far (33 interpolated bins over
stretch(pG), rate 0.02, output averaged with the input), and rescales the line-feed tokens and
the others so the row still sums to 1.

In exact mode (`exact=True`) stretch and squash use `nacrith.exact`'s logarithm and exponential,
pG is an order-independent fixed-point sum, and subnormal probabilities are flushed to 0, so the
result has the same bits on every machine.
"""

from __future__ import annotations

import numpy as np

from nacrith import exact as exact_math

__all__ = ["ColumnAPM"]

_BINS = 33
_SPAN = 8.0


def _stretch(p: np.ndarray, exact: bool = False) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return exact_math.log(p / (1 - p)) if exact else np.log(p / (1 - p))


class ColumnAPM:
    """Line-break probability map per (stream, column bucket)."""

    def __init__(
        self,
        n_streams: int,
        pieces: list[bytes],
        width: int = 4,
        n_buckets: int = 32,
        rate: float = 0.02,
        mix: float = 0.5,
        exact: bool = False,
    ) -> None:
        self.mix = mix
        self.exact = exact
        self.width = width
        self.n_buckets = n_buckets
        self.rate = rate
        self.nl_tokens = np.array([i for i, p in enumerate(pieces) if p.startswith(b"\n")])
        self.piece_len = np.array([len(p) for p in pieces], dtype=np.int64)
        self.nl_last = np.array([p.rfind(b"\n") for p in pieces], dtype=np.int64)
        self.is_nl = np.zeros(len(pieces), dtype=bool)
        self.is_nl[self.nl_tokens] = True
        grid = np.linspace(-_SPAN, _SPAN, _BINS)
        self._init = 1.0 / (1.0 + (exact_math.exp(-grid) if exact else np.exp(-grid)))
        self.table = np.tile(self._init, (n_streams, n_buckets, 1))
        self.col = np.zeros(n_streams, dtype=np.int64)
        self._state: tuple | None = None

    def reset(self, stream: int) -> None:
        """Back to the identity map and column 0."""
        self.table[stream] = self._init
        self.col[stream] = 0

    def apply(self, streams: np.ndarray, probs: np.ndarray) -> np.ndarray:
        """Rescale `probs` (in place) by the column-aware line-break probability."""
        if self.nl_tokens.size == 0:
            return probs
        rows = np.arange(len(streams))
        nl = probs[:, self.nl_tokens]
        p_nl = exact_math.fixed_sum(nl) if self.exact else nl.sum(axis=1)
        ctx = np.minimum(self.col[streams] // self.width, self.n_buckets - 1)
        pos = (np.clip(_stretch(p_nl, self.exact), -_SPAN, _SPAN) + _SPAN) * (
            (_BINS - 1) / (2 * _SPAN)
        )
        lo = np.minimum(pos.astype(np.int64), _BINS - 2)
        frac = pos - lo
        t = self.table[streams, ctx]
        apm = t[rows, lo] * (1 - frac) + t[rows, lo + 1] * frac
        new = np.clip((1 - self.mix) * p_nl + self.mix * apm, 1e-7, 1 - 1e-7)
        keep_others = (1 - new) / np.maximum(1 - p_nl, 1e-300)
        scale_nl = new / np.maximum(p_nl, 1e-300)
        probs *= keep_others[:, None]
        if self.exact:
            exact_math.flush_subnormals(probs)
        probs[:, self.nl_tokens] *= (scale_nl / keep_others)[:, None]
        if self.exact:
            exact_math.flush_subnormals(probs)
        self._state = (streams, ctx, lo, frac)
        return probs

    def update(self, streams: np.ndarray, tokens: np.ndarray) -> None:
        """Train the map on whether each token was a line break; advance the columns."""
        if self._state is not None:
            st, ctx, lo, frac = self._state
            y = self.is_nl[tokens].astype(np.float64)
            for off, wgt in ((0, 1 - frac), (1, frac)):
                cur = self.table[st, ctx, lo + off]
                self.table[st, ctx, lo + off] = cur + self.rate * wgt * (y - cur)
            self._state = None
        last = self.nl_last[tokens]
        plen = self.piece_len[tokens]
        self.col[streams] = np.where(last >= 0, plen - last - 1, self.col[streams] + plen)
