"""Token n-gram model: orders 1..K over exact token contexts, interpolated absolute discounting.

``p0(v) = (c0(v) + a0) / (N + a0 V)``; for each order k whose context was seen,
``p_k(v) = (max(c_k(v) - D, 0) + D u_k p_{k-1}(v)) / n_k`` (n_k: times the context was seen, u_k:
its distinct continuations); the first unseen order stops the recursion. D = 0.75 is the default
(`ngram_discount`). Alone it is far weaker than the LLM; mixed in, it helps most on repetitive
text such as wiki markup (BENCHMARKS.md, "Ratio: the `llm` codec", row "+ n-gram").

Contexts are packed into Python ints (exact, so no collisions); each stream has its own tables.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NGram"]


class _Stream:
    __slots__ = ("c0", "hist", "n0", "tables")

    def __init__(self, n_vocab: int, order: int) -> None:
        self.c0 = np.zeros(n_vocab)
        self.n0 = 0
        self.hist: list[int] = []
        # tables[k-1]: packed context of length k -> [n, {token: count}]
        self.tables: list[dict[int, list]] = [{} for _ in range(order)]


class NGram:
    """Interpolated n-gram predictor for `n_streams` streams.

    After `predict`, `orders[i]` is the highest order (0..K) whose context the i-th stream had
    seen and `counts[i]` how often; the mixer uses them to pick its weight set.
    """

    def __init__(
        self, n_streams: int, n_vocab: int, order: int = 4, discount: float = 0.75, a0: float = 0.5
    ) -> None:
        self.n_vocab = n_vocab
        self.order = order
        self.discount = float(discount)
        self.a0 = float(a0)
        self.shift = max(1, int(n_vocab - 1).bit_length())
        self._streams = [_Stream(n_vocab, order) for _ in range(n_streams)]
        self.orders = np.zeros(n_streams, dtype=np.int64)
        self.counts = np.zeros(n_streams, dtype=np.int64)
        self._buf = np.empty((n_streams, n_vocab))

    def reset(self, stream: int) -> None:
        """Empty the tables of `stream`."""
        self._streams[stream] = _Stream(self.n_vocab, self.order)

    def _key(self, hist: list[int], k: int) -> int:
        key = 0
        for t in hist[-k:]:
            key = (key << self.shift) | t
        return key

    def predict(self, streams: np.ndarray, logits: np.ndarray | None = None) -> np.ndarray:
        """Dense n-gram distributions for the rows of `streams` (a reused buffer)."""
        n_rows = len(streams)
        if self._buf.shape[0] < n_rows:
            self._buf = np.empty((n_rows, self.n_vocab))
        out = self._buf[:n_rows]
        d = self.discount
        self.orders = np.zeros(n_rows, dtype=np.int64)
        self.counts = np.zeros(n_rows, dtype=np.int64)
        for i, s in enumerate(streams.tolist()):
            st = self._streams[s]
            found = []
            for k in range(1, min(self.order, len(st.hist)) + 1):
                entry = st.tables[k - 1].get(self._key(st.hist, k))
                if entry is None:
                    break
                found.append(entry)
            row = out[i]
            # p = A * p0 + sum_k coef_k * s_k, built from the highest order down
            coef = 1.0
            pending = []
            for n, conts in reversed(found):
                toks = np.fromiter(conts.keys(), dtype=np.int64, count=len(conts))
                cnt = np.fromiter(conts.values(), dtype=np.float64, count=len(conts))
                sparse = (coef / n) * np.maximum(cnt - d, 0.0)
                pending.append((toks, sparse))
                coef *= d * len(conts) / n
            denom = st.n0 + self.a0 * self.n_vocab
            np.multiply(st.c0, coef / denom, out=row)
            row += coef * self.a0 / denom
            for toks, sparse in pending:
                row[toks] += sparse
            if found:
                self.orders[i] = len(found)
                self.counts[i] = found[-1][0]
        return out

    def update(self, streams: np.ndarray, tokens: np.ndarray) -> None:
        """Count each stream's token in all its contexts."""
        for s, tok in zip(streams.tolist(), tokens.tolist()):
            st = self._streams[s]
            for k in range(1, min(self.order, len(st.hist)) + 1):
                table = st.tables[k - 1]
                key = self._key(st.hist, k)
                entry = table.get(key)
                if entry is None:
                    table[key] = [1, {tok: 1}]
                else:
                    entry[0] += 1
                    conts = entry[1]
                    conts[tok] = conts.get(tok, 0) + 1
            st.c0[tok] += 1.0
            st.n0 += 1
            st.hist.append(tok)
            if len(st.hist) > 4 * self.order:
                del st.hist[: -self.order]
