"""The predictor ensemble of the `llm` codec: bias head, n-gram, match, mixer, neural cache.

`Ensemble.predict` turns the LLM's logits (and, for the neural cache, its final hidden states)
of the active streams into the final distributions;
`Ensemble.update` teaches every component the actual tokens. Encoder, decoder and the benchmark's
replay all go through this one class, so what the benchmark measures is what the codec codes.

`Ensemble(..., exact=True)` runs every component in its exact mode: the same algorithms with
`nacrith.exact`'s exp and log, order-independent sums and no subnormals, so the distributions
have the same bits on every machine (given the same logits and hidden states). The n-gram and
match models need no such mode: they use elementwise IEEE arithmetic and integer counts only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from nacrith.models.online.bias import BiasHead
from nacrith.models.online.line_column import ColumnAPM
from nacrith.models.online.match import N_BUCKETS, Match
from nacrith.models.online.mixer import LinearMixer
from nacrith.models.online.neural_cache import N_SIM_BUCKETS, NeuralCache
from nacrith.models.online.ngram import NGram

__all__ = ["Ensemble", "EnsembleSettings"]

#: the neural cache's starting weight in its mixer: small, so short texts lose little before the
#: mixer has learnt where the cache helps (replayed on alice29.txt, 8,192 positions: 0.03 gives
#: -0.34% bits on the whole file and +0.2% on its first 1,005 tokens; 0.1 gives -0.33%, +0.6%)
CACHE_INIT_WEIGHT = 0.03


@dataclass(frozen=True)
class EnsembleSettings:
    """Predictor settings (all stored in the archive header)."""

    bias_lr: float = 0.5
    ngram_order: int = 4
    ngram_discount: float = 0.75
    match: bool = True
    mixer_lr: float = 0.5
    column: bool = False
    #: neural cache: how many past positions it keeps per stream (0: off, as in archives of
    #: llm format 1 and 2, which do not store the field) and the sharpness of its similarity
    cache_size: int = 0
    cache_theta: float = 35.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EnsembleSettings:
        """Inverse of `to_dict`; `ValueError` on unknown or ill-typed fields."""
        known = set(cls.__dataclass_fields__)
        if set(d) - known:
            raise ValueError(f"unknown predictor settings {sorted(set(d) - known)}")
        s = cls(**d)
        s.validate()
        return s

    def validate(self) -> None:
        """Raise `ValueError` if a setting is out of range."""
        for name in ("bias_lr", "ngram_discount", "mixer_lr"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= 100:
                raise ValueError(f"{name} must be a number in [0, 100], got {v!r}")
        if not 0 < self.ngram_discount < 1:
            raise ValueError(f"ngram_discount must be in (0, 1), got {self.ngram_discount!r}")
        if not isinstance(self.ngram_order, int) or not 0 <= self.ngram_order <= 8:
            raise ValueError(f"ngram_order must be an integer in 0..8, got {self.ngram_order!r}")
        size = self.cache_size
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= 1 << 20:
            raise ValueError(f"cache_size must be an integer in 0..1048576, got {size!r}")
        v = self.cache_theta
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 < v <= 1000:
            raise ValueError(f"cache_theta must be a number in (0, 1000], got {v!r}")
        if not isinstance(self.column, bool):
            raise ValueError(f"column must be true or false, got {self.column!r}")
        if not isinstance(self.match, bool):
            raise ValueError(f"match must be true or false, got {self.match!r}")


class Ensemble:
    """All predictors for `n_streams` lockstep streams over a vocabulary of `n_vocab`.

    `n_embd` (the model's hidden size) is needed when the settings turn the neural cache on;
    `predict` then takes the hidden states beside the logits (see `wants_hidden`).
    """

    def __init__(
        self,
        settings: EnsembleSettings,
        n_streams: int,
        n_vocab: int,
        pieces: list[bytes] | None = None,
        n_embd: int | None = None,
        exact: bool = False,
        skipping: bool = False,
    ) -> None:
        self.settings = settings
        self.exact = exact
        if settings.column and pieces is None:
            raise ValueError("the column model needs the vocabulary's pieces")
        self.column = (
            ColumnAPM(n_streams, pieces, exact=exact) if settings.column and pieces else None
        )
        self.bias = BiasHead(n_streams, n_vocab, settings.bias_lr, exact=exact)
        self.ngram = (
            NGram(n_streams, n_vocab, settings.ngram_order, settings.ngram_discount)
            if settings.ngram_order
            else None
        )
        self.match = Match(n_streams, n_vocab) if settings.match else None
        n_inputs = 1 + (self.ngram is not None) + (self.match is not None)
        init = {1: [1.0], 2: [0.9, 0.1], 3: [0.85, 0.1, 0.05]}[n_inputs]
        n_orders = settings.ngram_order + 1
        self.mixer = LinearMixer(
            n_streams, n_inputs, n_orders * N_BUCKETS, settings.mixer_lr, init=init, exact=exact
        )
        self._prefetched: tuple[np.ndarray, list[np.ndarray], np.ndarray] | None = None
        #: `skipping`: a mixer of the model-free predictors alone (`predict_free`), which learns
        #: at every position and codes the positions the model skips
        self.free_mixer = None
        self._free: np.ndarray | None = None
        self._free_rows: tuple[np.ndarray, list[np.ndarray], np.ndarray] | None = None
        if skipping:
            if n_inputs < 2:
                raise ValueError("skipping needs the n-gram or the match model")
            self.free_mixer = LinearMixer(
                n_streams,
                n_inputs - 1,
                n_orders * N_BUCKETS,
                settings.mixer_lr,
                init=[w / sum(init[1:]) for w in init[1:]],
                exact=exact,
            )
        self.cache = self.cache_mixer = None
        if settings.cache_size:
            if not n_embd:
                raise ValueError("the neural cache needs the model's hidden size")
            self.cache = NeuralCache(
                n_streams, n_vocab, n_embd, settings.cache_size, settings.cache_theta, exact=exact
            )
            self.cache_mixer = LinearMixer(
                n_streams,
                2,
                N_SIM_BUCKETS,
                settings.mixer_lr,
                init=[1.0 - CACHE_INIT_WEIGHT, CACHE_INIT_WEIGHT],
                exact=exact,
            )

    @property
    def wants_hidden(self) -> bool:
        """Whether `predict` needs the LLM's final hidden states."""
        return self.cache is not None

    def predict(
        self, streams: np.ndarray, logits: np.ndarray, hidden: np.ndarray | None = None
    ) -> np.ndarray:
        """Final next-token distributions (len(streams), V) for the active `streams`.

        `hidden` (len(streams), n_embd) are the LLM's final hidden states, needed when
        `wants_hidden`.
        """
        free = self._prefetched
        self._prefetched = None
        if free is None or free[0] is not streams:
            free = self._model_free(streams)
        _, others, ctx = free
        inputs = [self.bias.predict(streams, logits), *others]
        probs = self.mixer.mix(streams, inputs, ctx)
        if self.column is not None:
            if probs is inputs[0] and self.bias.lr:
                probs = probs.copy()  # the bias head still needs its own q
            probs = self.column.apply(streams, probs)
        if self.cache is not None and self.cache_mixer is not None:
            if hidden is None:
                raise ValueError("the neural cache needs the hidden states")
            recalled, ctx = self.cache.predict(streams, hidden)
            probs = self.cache_mixer.mix(streams, [probs, recalled], ctx)
        return probs

    def prefetch(self, streams: np.ndarray) -> None:
        """Make the predictions that do not need the model (n-gram, match) for the next
        `predict` of these `streams` (the same array object), e.g. while the model runs."""
        self._prefetched = self._model_free(streams)

    def _model_free(self, streams: np.ndarray) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
        others = []
        ctx = np.zeros(len(streams), dtype=np.int64)
        if self.ngram is not None:
            others.append(self.ngram.predict(streams))
            ctx += self.ngram.orders * N_BUCKETS
        if self.match is not None:
            others.append(self.match.predict(streams))
            ctx += self.match.buckets
        return streams, others, ctx

    def predict_free(self, streams: np.ndarray) -> np.ndarray:
        """The model-free mixture (len(streams), V) of the active `streams` (needs `skipping`).

        Each step of a skipping loop calls it first, for every active stream: it decides which
        streams skip the model, and the next `predict` of a sub-array `part` of these streams
        reuses its n-gram and match rows (call `prefetch_part` with the part's mask). After the
        step's tokens are known, `update_free` teaches the free mixer.
        """
        if self.free_mixer is None:
            raise RuntimeError("this ensemble was made without skipping=True")
        free = self._model_free(streams)
        self._free_rows = free
        inputs = [o.copy() for o in free[1]]  # the mixer scales them in place
        self._free = self.free_mixer.mix(streams, inputs, free[2])
        return self._free

    def prefetch_part(self, part: np.ndarray, mask: np.ndarray) -> None:
        """Let the next `predict(part, ...)` reuse the rows of the last `predict_free` where
        `mask` (over its streams) is true."""
        assert self._free_rows is not None
        _, others, ctx = self._free_rows
        self._prefetched = (part, [o[mask] for o in others], ctx[mask])

    def finish_free(self, part: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The distributions of the skipped streams `part` (`mask` over the last
        `predict_free`'s streams): the free mixture, through the column model."""
        assert self._free is not None
        probs = self._free[mask]
        if self.column is not None:
            probs = self.column.apply(part, probs)
        return probs

    def update_skipped(self, part: np.ndarray, tokens: np.ndarray) -> None:
        """Teach the model-free predictors the tokens of the skipped streams `part` (after
        `finish_free`); the bias head, the neural cache and the main mixer saw nothing."""
        if self.column is not None:
            self.column.update(part, tokens)
        if self.ngram is not None:
            self.ngram.update(part, tokens)
        if self.match is not None:
            self.match.update(part, tokens)

    def update_free(self, tokens: np.ndarray) -> None:
        """Teach the free mixer every active stream's token of the last `predict_free`."""
        if self.free_mixer is not None:
            self.free_mixer.update(tokens)
        self._free = None

    def update(self, streams: np.ndarray, tokens: np.ndarray) -> None:
        """Teach every predictor the actual `tokens` of `streams` (after `predict`)."""
        self._prefetched = None
        if self.cache is not None and self.cache_mixer is not None:
            self.cache_mixer.update(tokens)
            self.cache.update(streams, tokens)
        self.mixer.update(tokens)
        if self.column is not None:
            self.column.update(streams, tokens)
        self.bias.update(streams, tokens)
        if self.ngram is not None:
            self.ngram.update(streams, tokens)
        if self.match is not None:
            self.match.update(streams, tokens)
