"""The lockstep loop with confidence skip: confident positions are coded without the model.

At each step the ensemble's model-free mixture (n-gram and match models, `predict_free`) is
computed for every active stream first. A stream whose mixture gives some token at least
`Skip.threshold`, and that has skipped fewer than `Skip.run` positions in a row, skips the model:
its token is coded from that mixture (through the column model). Both depend only on coded
history, so the decoder decides the same. The other streams get the model's logits: a stream
that skipped catches up in one batched `append` of every token the model has not seen (at the
stream's next positions, after as many sink+shift slides as they need), the rest step together
in one call. So the model's input, and the positions, are a function of the tokens alone.

Only the sink+shift window (`Window.sink_shift`) is supported: a re-prefill at a slide would
make the skipped positions' cost depend on where the slides fall.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from nacrith.models.llm.lockstep import Backend, CodeFn, Window, _listener
from nacrith.models.online.ensemble import Ensemble

__all__ = ["Skip", "run_skipping"]


@dataclass(frozen=True)
class Skip:
    """When a stream skips the model (part of the format: both sides use it)."""

    #: the model-free mixture's top probability at or above which a position skips
    threshold: float
    #: most positions in a row a stream may skip
    run: int

    def check(self, window: Window, n_ctx: int) -> None:
        """`ValueError` when the rule does not fit the window."""
        if not 0 < self.threshold <= 1:
            raise ValueError(f"skip threshold must be in (0, 1], got {self.threshold!r}")
        if not window.shifts:
            raise ValueError("confidence skip needs the sink+shift window")
        most = n_ctx - window.sink - window.drop - 1
        if not isinstance(self.run, int) or not 1 <= self.run <= most:
            raise ValueError(f"skip run must be an integer in 1..{most}, got {self.run!r}")


class _CatchUpFeed:
    """The model's side: logits of the streams that use the model at a step, feeding each the
    tokens it has not seen yet."""

    def __init__(
        self,
        backend: Backend,
        n: int,
        source: Sequence[Sequence[int]],
        window: Window,
        hidden: bool,
    ) -> None:
        self.backend = backend
        self.source = source
        self.window = window
        self.hidden = hidden
        self.kv_len = [0] * n
        self.fed = [0] * n  # tokens of each stream the model has seen (after BOS)
        for s in range(n):
            backend.clear(s)

    def step(self, i: int, seqs: list[int]) -> tuple[np.ndarray, np.ndarray | None]:
        """Logits (and hidden states) for token `i` of each stream in `seqs`."""
        be, kv_len, window = self.backend, self.kv_len, self.window
        dtype = getattr(be, "dtype", np.float32)
        rows = np.empty((len(seqs), be.n_vocab), dtype=dtype)
        states = np.empty((len(seqs), be.n_embd), dtype=dtype) if self.hidden else None
        stepping: list[int] = []
        positions: list[int] = []
        for j, s in enumerate(seqs):
            if i == 0:
                rows[j] = be.prefill(s, [be.bos])
                kv_len[s] = 1
            else:
                pending = self.source[s][self.fed[s] : i]
                n = len(pending)
                while kv_len[s] + n > be.n_ctx:
                    be.shift(s, window.sink, window.drop)
                    kv_len[s] -= window.drop
                if n == 1:
                    stepping.append(j)
                    positions.append(kv_len[s])
                    kv_len[s] += 1
                    self.fed[s] = i
                    continue
                rows[j] = be.append(s, pending)
                kv_len[s] += n
                self.fed[s] = i
            if states is not None:
                states[j] = be.hidden_states()[-1]
        if stepping:
            step_seqs = [seqs[j] for j in stepping]
            rows[stepping] = be.step(
                step_seqs, [self.source[s][i - 1] for s in step_seqs], positions
            )
            if states is not None:
                states[stepping] = be.hidden_states()
        return rows, states


def _code_part(
    feed: _CatchUpFeed,
    ensemble: Ensemble,
    code: CodeFn,
    i: int,
    streams: np.ndarray,
    part_mask: np.ndarray,
    skipping: bool,
    on_step: Callable[[np.ndarray, np.ndarray, np.ndarray], None] | None,
) -> np.ndarray:
    """Code step `i`'s tokens of the streams under `part_mask`: the skipping ones from the
    model-free mixture, the others with the model; teach the ensemble; return the tokens."""
    part = streams[part_mask]
    if skipping:
        probs = ensemble.finish_free(part, part_mask)
    else:
        rows, states = feed.step(i, part.tolist())
        ensemble.prefetch_part(part, part_mask)
        probs = ensemble.predict(part, rows, states)
    got = np.fromiter(
        (code(s, probs[j]) for j, s in enumerate(part.tolist())), dtype=np.int64, count=len(part)
    )
    if on_step is not None:
        on_step(part, probs, got)
    if skipping:
        ensemble.update_skipped(part, got)
    else:
        ensemble.update(part, got)
    return got


def run_skipping(
    backend: Backend,
    ensemble: Ensemble,
    lengths: Sequence[int],
    code: CodeFn,
    *,
    window: Window,
    skip: Skip,
    on_step: Callable[[np.ndarray, np.ndarray, np.ndarray], None] | None = None,
    known: Sequence[Sequence[int]] | None = None,
    weights: Sequence[float] | None = None,
    skipped: list[int] | None = None,
) -> list[list[int]]:
    """`run_streams` with confidence skip (see the module's docstring); the model calls run
    inline. `skipped` (optional, one count per stream) adds up each stream's skipped positions.
    The ensemble must be made with ``skipping=True``."""
    window.check(backend.n_ctx)
    skip.check(window, backend.n_ctx)
    if not hasattr(backend, "append") or not hasattr(backend, "shift"):
        raise ValueError(f"{type(backend).__name__} cannot append to or shift its cache")
    if ensemble.free_mixer is None:
        raise ValueError("the ensemble was made without skipping=True")
    if known is not None and [len(t) for t in known] != list(lengths):
        raise ValueError("known token lists must have the given lengths")
    if len(lengths) > backend.n_seq:
        raise ValueError(f"{len(lengths)} streams but the context holds {backend.n_seq}")
    listener = _listener.get()
    tokens: list[list[int]] = [[] for _ in lengths]
    feed = _CatchUpFeed(
        backend, len(lengths), tokens if known is None else known, window, ensemble.wants_hidden
    )
    run = np.zeros(len(lengths), dtype=np.int64)
    for i in range(max(lengths, default=0)):
        streams = np.asarray([s for s, n in enumerate(lengths) if n > i], dtype=np.int64)
        free = ensemble.predict_free(streams)
        mask = (free.max(axis=1) >= skip.threshold) & (run[streams] < skip.run) & (i > 0)
        new = np.empty(len(streams), dtype=np.int64)
        for part_mask in (~mask, mask):
            if part_mask.any():
                new[part_mask] = _code_part(
                    feed, ensemble, code, i, streams, part_mask, part_mask is mask, on_step
                )
        ensemble.update_free(new)
        run[streams] = np.where(mask, run[streams] + 1, 0)
        if skipped is not None:
            for s in streams[mask].tolist():
                skipped[s] += 1
        if listener is not None:
            listener(len(streams) if weights is None else sum(weights[s] for s in streams))
        for s, t in zip(streams.tolist(), new.tolist()):
            if known is not None and t != known[s][i]:
                raise ValueError(f"stream {s} coded token {t}, not the known {known[s][i]}")
            tokens[s].append(t)
    return tokens
