"""Neural cache: the tokens that followed past hidden states like the present one.

Grave et al., "Improving neural language models with a continuous cache" (2017), per stream:
every position's final hidden state h_i (the LLM's output-layer input) is kept with the token
x_i that came there, for the last `size` positions. The prediction for the next token is

    p(w) ∝ sum over kept i with x_i = w of exp(theta * cos(h, h_i))

so a state that recurs, with any wording around it, recalls what came after it before, also
beyond the LLM's context window. States are centred on the mean of the stream's earlier states
first: final hidden states share a large common direction, and centring sharpens the
similarities (the cache's gain: BENCHMARKS.md, "Ratio: the `llm` codec", row "+ neural
cache"). The cache is a mixer input beside the ensemble,
with weight sets chosen by the best similarity, so it only speaks where a past state is close.

Determinism: the hidden states are rounded to integers in -L..L (scaled by their largest
component; L = 127 up to 1040 dimensions, smaller above). Dot products and squared norms of
such vectors are integers below 2^24, which float32 holds exactly whatever the summation order,
so the similarities are the same bit for bit on every machine and BLAS; the rest is elementwise
IEEE arithmetic and sums in a fixed order.

Exact mode (`exact=True`) removes what is left to trust: the states are kept as int8 and the dot
products taken in int32 (no BLAS), the weights ``exp(theta * ...)`` use `nacrith.exact.exp` and
are rounded to fixed point so that their per-token sums are exact integers, and subnormal
values are flushed to 0.
"""

from __future__ import annotations

import math

import numpy as np

from nacrith import exact as exact_math

__all__ = ["N_SIM_BUCKETS", "NeuralCache"]

#: mixer weight sets by the best similarity: cos 0.5 or less, then steps of 1/32 up to 0.97
N_SIM_BUCKETS = 16
_FLOOR = 1e-3  # share of the uniform distribution, so no token gets probability 0


def levels(n_embd: int) -> int:
    """Largest L <= 127 with n_embd * L^2 < 2^24: dot products of such vectors are exact."""
    return max(1, min(127, math.isqrt(((1 << 24) - 1) // n_embd)))


def quantize_states(hidden: np.ndarray, top: int) -> np.ndarray:
    """Rows of `hidden` as float32 integers in -top..top, each row scaled by its largest entry."""
    h = np.asarray(hidden, dtype=np.float64)
    peak = np.abs(h).max(axis=1, keepdims=True)
    peak[peak == 0] = 1.0
    return np.rint(h / peak * np.float32(top)).astype(np.float32)


class NeuralCache:
    """A continuous cache of the last `size` (hidden state, token) pairs of each stream."""

    def __init__(
        self,
        n_streams: int,
        n_vocab: int,
        n_embd: int,
        size: int,
        theta: float,
        exact: bool = False,
    ) -> None:
        self.exact = exact
        self.levels = levels(n_embd)
        self.size = size
        self.theta = float(theta)
        self.n_vocab = n_vocab
        if exact:  # a row per position: int32 dot products over contiguous int8 rows
            self.states = np.zeros((n_streams, size, n_embd), dtype=np.int8)
        else:
            # one column per position: q @ states is a BLAS sgemv that streams the rows, about
            # 2.5x faster here than a row per position (states @ q) for the same exact result
            self.states = np.zeros((n_streams, n_embd, size), dtype=np.float32)
        self.norms = np.ones((n_streams, size))
        self.tokens = np.zeros((n_streams, size), dtype=np.int64)
        self.count = np.zeros(n_streams, dtype=np.int64)
        self.sums = np.zeros((n_streams, n_embd))
        self._out = np.empty((n_streams, n_vocab))
        self._pending: tuple[np.ndarray, ...] | None = None

    def predict(self, streams: np.ndarray, hidden: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(distributions (len(streams), V), mixer context per stream) for the active streams.

        The distributions are a buffer reused by the next call.
        """
        # a non-finite state (never seen from llama.cpp) must not turn into a NaN context
        hidden = np.nan_to_num(
            np.asarray(hidden, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0
        )
        seen = np.maximum(self.count[streams], 1)[:, None]
        centred = hidden - self.sums[streams] / seen
        if self.exact:
            exact_math.flush_subnormals(centred)
        q = quantize_states(centred, self.levels)
        if self.exact:
            q = q.astype(np.int32)
            norms = (q * q).sum(axis=1).astype(np.float64)
        else:
            norms = (q * q).sum(axis=1, dtype=np.float32).astype(np.float64)
        out = self._out[: len(streams)]
        ctx = np.zeros(len(streams), dtype=np.int64)
        for j, s in enumerate(streams.tolist()):
            m = int(min(self.count[s], self.size))
            if m == 0 or norms[j] == 0:
                out[j] = 1.0 / self.n_vocab
                continue
            sims = self._similarities(s, m, q[j], norms[j])
            best = float(sims.max())
            weights = self._weights(sims - best)
            row = np.bincount(self.tokens[s, :m], weights=weights, minlength=self.n_vocab)
            row *= (1.0 - _FLOOR) / row.sum()
            row += _FLOOR / self.n_vocab
            out[j] = row
            ctx[j] = min(N_SIM_BUCKETS - 1, max(0, int((best - 0.5) * 32)))
        self._pending = (streams.copy(), q, norms, hidden)
        return out, ctx

    def _similarities(self, s: int, m: int, q: np.ndarray, norm: float) -> np.ndarray:
        """cos(h, h_i) for the `m` kept states of stream `s` (q: the quantized h, norm: |q|^2)."""
        if self.exact:
            dots = np.einsum("ij,j->i", self.states[s, :m], q, dtype=np.int32)
            return dots.astype(np.float64) / np.sqrt(self.norms[s, :m] * norm)
        dots = (q @ self.states[s, :, :m]).astype(np.float64)
        return dots / np.sqrt(self.norms[s, :m] * norm)

    def _weights(self, gaps: np.ndarray) -> np.ndarray:
        """exp(theta * gaps); in exact mode as integers (float64) whose sums are exact."""
        if not self.exact:
            return np.exp(self.theta * gaps)
        weights, _ = exact_math.fixed_point(
            exact_math.exp(self.theta * gaps), 52 - gaps.size.bit_length()
        )
        return weights

    def update(self, streams: np.ndarray, tokens: np.ndarray) -> None:
        """Keep the states of the last `predict` with the tokens that came there."""
        if self._pending is None or len(self._pending[0]) != len(streams):
            raise RuntimeError("NeuralCache.update must follow predict on the same streams")
        _, q, norms, hidden = self._pending
        for j, s in enumerate(streams.tolist()):
            self.sums[s] += hidden[j]
            slot = int(self.count[s] % self.size)
            if self.exact:
                self.states[s, slot] = q[j]
            else:
                self.states[s, :, slot] = q[j]
            self.norms[s, slot] = norms[j] if norms[j] else 1.0
            self.tokens[s, slot] = tokens[j]
            self.count[s] += 1
        self._pending = None
