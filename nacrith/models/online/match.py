"""Match model: finds the longest earlier occurrence of the recent tokens and predicts the token
that followed it.

Hash tables (exact keys) map the last 16, 8 and 5 tokens to the position after them. When no match
is active, the longest hit is taken and its true length verified backwards (capped at 64); a match
is followed while it predicts correctly and dropped on the first miss. The probability of a hit is
learned per length bucket as (hits + 1) / (n + 2), halved past 1024 observations. As a
distribution: p_hit on the predicted token, the rest spread evenly; uniform when there is no match.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Match"]

_LENGTHS = (16, 8, 5)
_MAX_LEN = 64
# length -> bucket: 0 = no match, then 5..8 one each, 9-11, 12-15, 16-23, 24-31, 32-63, 64+
_BUCKET_EDGES = (5, 6, 7, 8, 9, 12, 16, 24, 32, 64)
N_BUCKETS = len(_BUCKET_EDGES) + 1


def bucket(length: int) -> int:
    """Length bucket 0..N_BUCKETS-1 of a match of `length` tokens (0: none)."""
    b = 0
    for edge in _BUCKET_EDGES:
        if length >= edge:
            b += 1
    return b


class _Stream:
    __slots__ = ("hist", "length", "ptr", "tables")

    def __init__(self) -> None:
        self.hist: list[int] = []
        self.tables: list[dict[tuple[int, ...], int]] = [{} for _ in _LENGTHS]
        self.ptr = 0
        self.length = 0


class Match:
    """Match predictor for `n_streams` streams; `buckets[i]` is the i-th row's length bucket."""

    def __init__(self, n_streams: int, n_vocab: int) -> None:
        self.n_vocab = n_vocab
        self._streams = [_Stream() for _ in range(n_streams)]
        self.hits = np.zeros((n_streams, N_BUCKETS))
        self.seen = np.zeros((n_streams, N_BUCKETS))
        self.buckets = np.zeros(n_streams, dtype=np.int64)
        self.predicted = np.full(n_streams, -1, dtype=np.int64)
        self._buf = np.empty((n_streams, n_vocab))

    def reset(self, stream: int) -> None:
        """Forget the history of `stream`."""
        self._streams[stream] = _Stream()
        self.hits[stream] = 0.0
        self.seen[stream] = 0.0

    def predict(self, streams: np.ndarray, logits: np.ndarray | None = None) -> np.ndarray:
        """Dense match distributions for the rows of `streams` (a reused buffer)."""
        n_rows = len(streams)
        v = self.n_vocab
        if self._buf.shape[0] < n_rows:
            self._buf = np.empty((n_rows, self.n_vocab))
        out = self._buf[:n_rows]
        self.buckets = np.zeros(n_rows, dtype=np.int64)
        self.predicted = np.full(n_rows, -1, dtype=np.int64)
        for i, s in enumerate(streams.tolist()):
            st = self._streams[s]
            if st.length == 0:
                out[i] = 1.0 / v
                continue
            b = bucket(st.length)
            p_hit = (self.hits[s, b] + 1.0) / (self.seen[s, b] + 2.0)
            out[i] = (1.0 - p_hit) / (v - 1)
            tok = st.hist[st.ptr]
            out[i, tok] = p_hit
            self.buckets[i] = b
            self.predicted[i] = tok
        return out

    def update(self, streams: np.ndarray, tokens: np.ndarray) -> None:
        """Score the active matches, extend or drop them, index the new contexts."""
        for s, tok in zip(streams.tolist(), tokens.tolist()):
            st = self._streams[s]
            if st.length:
                b = bucket(st.length)
                hit = st.hist[st.ptr] == tok
                self.seen[s, b] += 1.0
                self.hits[s, b] += hit
                if self.seen[s, b] > 1023:
                    self.seen[s, b] *= 0.5
                    self.hits[s, b] *= 0.5
                if hit:
                    st.ptr += 1
                    st.length = min(st.length + 1, _MAX_LEN)
                else:
                    st.length = 0
            hist = st.hist
            hist.append(tok)
            n = len(hist)
            for j, k in enumerate(_LENGTHS):
                if n < k:
                    continue
                key = tuple(hist[n - k :])
                table = st.tables[j]
                if st.length == 0:
                    found = table.get(key)
                    if found is not None:
                        length = k
                        while (
                            length < _MAX_LEN
                            and found - length - 1 >= 0
                            and (hist[found - length - 1] == hist[n - length - 1])
                        ):
                            length += 1
                        st.ptr, st.length = found, length
                table[key] = n
