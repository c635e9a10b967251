"""A fixed sample for the exact-mode tests, the portability probe and the benchmark.

alice29.txt's first 2,000 bytes split into words, single characters and line breaks (a simple
deterministic tokenization; the vocabulary is padded with unused pieces), and a synthetic "LLM"
in place of SmolLM2: logits of a smoothed unigram over the sample's own tokens, and hidden states
made from fixed per-token embeddings of the previous two tokens. Everything here is built from
integer arithmetic and `nacrith.exact`, so the inputs are the same bits in every process
whatever its numpy settings.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from nacrith import exact
from nacrith.coders.quantize import quantize
from nacrith.coders.range_coder import split_head
from nacrith.models.online.ensemble import Ensemble, EnsembleSettings
from tests.paths import CANTERBURY

SAMPLE_BYTES = 2_000
#: the vocabulary is padded with unused pieces to this size, so that most tokens are rare ones
N_VOCAB = 8_192
N_EMBD = 64
#: every predictor on, the neural cache small enough for a fast test
SETTINGS = EnsembleSettings(column=True, cache_size=512)

_PIECE = re.compile(rb"\n|\r| ?[A-Za-z]+|[^A-Za-z\n\r]")


@dataclass(frozen=True)
class Sample:
    """Token ids, the vocabulary's pieces, and the synthetic model's inputs per position."""

    tokens: np.ndarray
    pieces: list[bytes]
    logits: np.ndarray
    embeddings: np.ndarray

    @property
    def n_vocab(self) -> int:
        """Vocabulary size."""
        return len(self.pieces)

    def hidden(self, t: int) -> np.ndarray:
        """The synthetic final hidden state (1, N_EMBD) before position `t`."""
        prev = self.tokens[t - 1] if t >= 1 else 0
        prev2 = self.tokens[t - 2] if t >= 2 else 0
        return (self.embeddings[prev] + 0.5 * self.embeddings[prev2])[None, :]


def load_sample(n_bytes: int = SAMPLE_BYTES, n_vocab: int = N_VOCAB) -> Sample:
    """The sample of alice29.txt's first `n_bytes` bytes, the vocabulary padded to `n_vocab`."""
    text = (CANTERBURY / "alice29.txt").read_bytes()[:n_bytes]
    found = _PIECE.findall(text)
    assert b"".join(found) == text
    pieces = sorted(set(found))
    pieces += [b"<unused %d>" % i for i in range(n_vocab - len(pieces))]
    ids = {p: i for i, p in enumerate(pieces)}
    tokens = np.array([ids[p] for p in found], dtype=np.int64)
    counts = np.bincount(tokens, minlength=len(pieces)).astype(np.float64)
    logits = exact.log((counts + 0.5) / (len(tokens) + 0.5 * len(pieces)))
    rng = np.random.default_rng(20261206)
    embeddings = rng.integers(-1000, 1001, size=(len(pieces), N_EMBD)) / 64.0
    return Sample(tokens, pieces, np.ascontiguousarray(logits), embeddings)


def replay(sample: Sample, exact_mode: bool) -> Iterator[np.ndarray]:
    """The ensemble's distribution before each token of the sample (one stream)."""
    ens = Ensemble(SETTINGS, 1, sample.n_vocab, sample.pieces, N_EMBD, exact=exact_mode)
    streams = np.array([0])
    logits = sample.logits[None, :]
    for t, tok in enumerate(sample.tokens.tolist()):
        yield ens.predict(streams, logits, sample.hidden(t))
        ens.update(streams, np.array([tok]))


def ideal_bits(sample: Sample, exact_mode: bool) -> float:
    """Total -log2 p(token) of the sample under the ensemble (a statistic, not coded bits)."""
    bits = 0.0
    for probs, tok in zip(replay(sample, exact_mode), sample.tokens.tolist()):
        bits -= float(np.log2(probs[0, tok]))
    return bits


def table_hashes(sample: Sample, exact_mode: bool) -> dict[str, str]:
    """sha256 of every distribution and of every frequency table (head and tail level) that
    `RangeEncoder.encode_probs` would build from them."""
    dists = hashlib.sha256()
    tables = hashlib.sha256()
    for probs in replay(sample, exact_mode):
        row = probs[0]
        dists.update(row.tobytes())
        head, level1 = split_head(row, exact_mode)
        tables.update(head.tobytes())
        tables.update(level1.tobytes())
        tail = np.setdiff1d(np.arange(row.size), head, assume_unique=True)
        if tail.size:
            tables.update(quantize(row[tail], exact=exact_mode).tobytes())
    return {"distributions": dists.hexdigest(), "tables": tables.hexdigest()}
