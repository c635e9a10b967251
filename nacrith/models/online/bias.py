"""Online bias head: the LLM's logits plus a per-stream bias vector learned by Adagrad.

``q = softmax(logits + b)``; after the token x is known, with ``g = onehot(x) - q`` (the gradient
of log q(x) with respect to b), ``G += g**2`` and ``b += lr * g / sqrt(G)`` (G starts at 1). It
learns the document's own token frequencies within a few hundred tokens (its gain: BENCHMARKS.md,
"Ratio: the `llm` codec", row "bias head alone"). With ``lr = 0`` it is the LLM alone (a plain
softmax).

In exact mode (`exact=True`) the softmax is `nacrith.exact.softmax` (machine-independent exp,
integer normalising sum); the Adagrad step is elementwise IEEE arithmetic, the same bits
everywhere in both modes.
"""

from __future__ import annotations

import numpy as np

from nacrith import exact as exact_math

__all__ = ["BiasHead"]


def _rows(streams: np.ndarray) -> slice | np.ndarray:
    """A slice when `streams` are consecutive (views, no copies), else the index array."""
    n = len(streams)
    if n and int(streams[-1]) - int(streams[0]) == n - 1 and (np.diff(streams) == 1).all():
        return slice(int(streams[0]), int(streams[0]) + n)
    return streams


class BiasHead:
    """Softmax of the LLM's logits plus an Adagrad-trained bias, for `n_streams` streams."""

    def __init__(self, n_streams: int, n_vocab: int, lr: float = 0.5, exact: bool = False) -> None:
        self.lr = float(lr)
        self.exact = exact
        self.n_vocab = n_vocab
        self.bias = np.zeros((n_streams, n_vocab)) if self.lr else None
        self.accum = np.ones((n_streams, n_vocab)) if self.lr else None
        self._q = np.empty((n_streams, n_vocab))
        self._tmp = np.empty((n_streams, n_vocab))
        self._n = 0

    def reset(self, stream: int) -> None:
        """Zero the bias of `stream`."""
        if self.bias is not None and self.accum is not None:
            self.bias[stream] = 0.0
            self.accum[stream] = 1.0

    def predict(self, streams: np.ndarray, logits: np.ndarray) -> np.ndarray:
        """softmax(logits + bias) for each stream's row (a view valid until the next call)."""
        n = len(streams)
        z = self._q[:n]
        if self.bias is not None:
            np.add(logits, self.bias[_rows(streams)], out=z)
        else:
            z[...] = logits
        if self.exact:
            z[...] = exact_math.softmax(z)
            self._n = n
            return z
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        self._n = n
        return z

    def update(self, streams: np.ndarray, tokens: np.ndarray) -> None:
        """One Adagrad step on each stream's bias toward its actual token."""
        if self.bias is None or self.accum is None:
            return
        n = len(streams)
        if n != self._n:
            raise RuntimeError("BiasHead.update must follow predict on the same streams")
        g = np.negative(self._q[:n], out=self._q[:n])
        g[np.arange(n), tokens] += 1.0
        sq = np.multiply(g, g, out=self._tmp[:n])
        idx = _rows(streams)
        if isinstance(idx, slice):
            acc = self.accum[idx]
            acc += sq
            np.sqrt(acc, out=sq)
            g /= sq
            g *= self.lr
            self.bias[idx] += g
        else:
            self.accum[idx] += sq
            np.sqrt(self.accum[idx], out=sq)
            g /= sq
            g *= self.lr
            self.bias[idx] += g
        self._n = 0
