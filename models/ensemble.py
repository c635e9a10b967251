"""The predictor ensemble of the `llm` codec: bias head, n-gram, match, linear mixer.

`Ensemble.predict` turns the LLM's logits of the active streams into the final distributions;
`Ensemble.update` teaches every component the actual tokens. Encoder, decoder and the benchmark's
replay all go through this one class, so what the benchmark measures is what the codec codes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from nacrith.models.bias import BiasHead
from nacrith.models.column import ColumnAPM
from nacrith.models.match import N_BUCKETS, Match
from nacrith.models.mixer import LinearMixer
from nacrith.models.ngram import NGram

__all__ = ["Ensemble", "EnsembleSettings"]


@dataclass(frozen=True)
class EnsembleSettings:
    """Predictor settings (all stored in the archive header)."""

    bias_lr: float = 0.5
    ngram_order: int = 4
    ngram_discount: float = 0.75
    match: bool = True
    mixer_lr: float = 0.5
    column: bool = False

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
        if not isinstance(self.column, bool):
            raise ValueError(f"column must be true or false, got {self.column!r}")
        if not isinstance(self.match, bool):
            raise ValueError(f"match must be true or false, got {self.match!r}")


class Ensemble:
    """All predictors for `n_streams` lockstep streams over a vocabulary of `n_vocab`."""

    def __init__(
        self,
        settings: EnsembleSettings,
        n_streams: int,
        n_vocab: int,
        pieces: list[bytes] | None = None,
    ) -> None:
        self.settings = settings
        if settings.column and pieces is None:
            raise ValueError("the column model needs the vocabulary's pieces")
        self.column = ColumnAPM(n_streams, pieces) if settings.column and pieces else None
        self.bias = BiasHead(n_streams, n_vocab, settings.bias_lr)
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
            n_streams, n_inputs, n_orders * N_BUCKETS, settings.mixer_lr, init=init
        )

    def predict(self, streams: np.ndarray, logits: np.ndarray) -> np.ndarray:
        """Final next-token distributions (len(streams), V) for the active `streams`."""
        inputs = [self.bias.predict(streams, logits)]
        ctx = np.zeros(len(streams), dtype=np.int64)
        if self.ngram is not None:
            inputs.append(self.ngram.predict(streams))
            ctx += self.ngram.orders * N_BUCKETS
        if self.match is not None:
            inputs.append(self.match.predict(streams))
            ctx += self.match.buckets
        probs = self.mixer.mix(streams, inputs, ctx)
        if self.column is not None:
            if probs is inputs[0] and self.bias.lr:
                probs = probs.copy()  # the bias head still needs its own q
            probs = self.column.apply(streams, probs)
        return probs

    def update(self, streams: np.ndarray, tokens: np.ndarray) -> None:
        """Teach every predictor the actual `tokens` of `streams` (after `predict`)."""
        self.mixer.update(tokens)
        if self.column is not None:
            self.column.update(streams, tokens)
        self.bias.update(streams, tokens)
        if self.ngram is not None:
            self.ngram.update(streams, tokens)
        if self.match is not None:
            self.match.update(streams, tokens)
