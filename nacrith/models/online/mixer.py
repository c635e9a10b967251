"""Linear mixer: ``p = sum_j w_j p_j`` with ``w = softmax(theta[ctx])``, learned online.

The update ``theta_j += lr * w_j * (p_j(x) / p(x) - 1)`` is the exact gradient of log p(x); it
needs each component's probability of the actual token only, so it costs O(1) beyond the mix.
Weight sets are chosen per token by a small context (n-gram order x match-length bucket), so the
mixer trusts the n-gram in long contexts and the match model in long matches, and it recovers
from a bad stretch because the softmax weights never reach 0 or 1.

In exact mode (`exact=True`) the logarithm and exponential are `nacrith.exact`'s, the weights are
normalised by adding their few columns left to right, and subnormal products are flushed to 0, so
the mixture has the same bits on every machine.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nacrith import exact as exact_math

__all__ = ["LinearMixer"]


class LinearMixer:
    """Mixes `n_inputs` distributions for `n_streams` streams with `n_contexts` weight sets."""

    def __init__(
        self,
        n_streams: int,
        n_inputs: int,
        n_contexts: int,
        lr: float = 0.5,
        init: Sequence[float] | None = None,
        exact: bool = False,
    ) -> None:
        if init is None:
            init = [0.85] + [0.15 / max(1, n_inputs - 1)] * (n_inputs - 1)
        if len(init) != n_inputs:
            raise ValueError(f"need {n_inputs} initial weights, got {len(init)}")
        self.lr = float(lr)
        self.n_inputs = n_inputs
        self.exact = exact
        log = exact_math.log if exact else np.log
        self._theta0 = log(np.asarray(init, dtype=np.float64))
        self.theta = np.tile(self._theta0, (n_streams, n_contexts, 1))
        self._out: np.ndarray | None = None
        self._state: tuple | None = None

    def reset(self, stream: int) -> None:
        """Back to the initial weights for `stream`."""
        self.theta[stream] = self._theta0

    def mix(
        self, streams: np.ndarray, inputs: Sequence[np.ndarray], contexts: np.ndarray
    ) -> np.ndarray:
        """The mixture (len(streams), V) of `inputs`, each (len(streams), V).

        The result is a buffer reused by the next call. Inputs after the first are scaled in
        place (they are the caller's scratch rows).
        """
        if self.n_inputs == 1:
            self._state = None
            return inputs[0]
        n, v = inputs[0].shape
        if self._out is None or self._out.shape[0] < n or self._out.shape[1] != v:
            self._out = np.empty((max(n, self.theta.shape[0]), v))
        out = self._out[:n]
        th = self.theta[streams, contexts]
        if self.exact:
            w = exact_math.exp(th - th.max(axis=1, keepdims=True))
            w /= exact_math.ordered_sum(w)[:, None]
        else:
            w = np.exp(th - th.max(axis=1, keepdims=True))
            w /= w.sum(axis=1, keepdims=True)
        np.multiply(inputs[0], w[:, :1], out=out)
        if self.exact:  # each product, before it is added: as a flush-to-zero CPU would
            exact_math.flush_subnormals(out)
        for j in range(1, self.n_inputs):
            scaled = np.multiply(inputs[j], w[:, j : j + 1], out=inputs[j])
            if self.exact:
                exact_math.flush_subnormals(scaled)
            out += scaled
        self._state = (streams, contexts, w, inputs, out)
        return out

    def update(self, tokens: np.ndarray) -> None:
        """One gradient step on the weight sets used by the last `mix`."""
        if self._state is None:
            return
        streams, contexts, w, inputs, out = self._state
        rows = np.arange(len(streams))
        # inputs[1:] were scaled by their weights in `mix`
        px = np.stack([inp[rows, tokens] for inp in inputs], axis=1)
        px[:, 1:] /= w[:, 1:]
        p = out[rows, tokens]
        grad = w * (px / np.maximum(p, 1e-300)[:, None] - 1.0)
        if self.exact:
            exact_math.flush_subnormals(grad)
        self.theta[streams, contexts] += self.lr * grad
        self._state = None
