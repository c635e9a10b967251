"""The step loop shared by the encoder and the decoder of the `llm` codec.

Each stream starts from BOS. To predict token i of a stream, the loop feeds token i-1 to the
model at the next position; when the stream's context already holds `n_ctx` tokens, it instead
clears the stream and prefills BOS plus the last `keep` tokens as one batch (positions fixed by
the format: a function of n_ctx, keep and i only). All streams that step in the same iteration
share one `llama_decode`. The caller's `code` function codes (or decodes) each active stream's
token from its final distribution, so encoder and decoder issue the identical sequence of calls.

All active streams step together, so at iteration k every active stream holds exactly k tokens
and the streams still active are those longer than k. The model's input at iteration k is thus a
function of k and the tokens before it; an encoder, which has every token in advance, lets the
model compute iteration k+1 while the predictors and the coder work on iteration k.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from nacrith.models.llm.backend import LlamaBackend
from nacrith.models.online.ensemble import Ensemble

__all__ = ["run_streams"]

#: code(stream index, distribution row) -> the token at this position of that stream
CodeFn = Callable[[int, np.ndarray], int]


def run_streams(
    backend: LlamaBackend,
    ensemble: Ensemble,
    lengths: Sequence[int],
    code: CodeFn,
    *,
    keep: int,
    on_step: Callable[[np.ndarray, np.ndarray, np.ndarray], None] | None = None,
    overlap: bool = True,
    known: Sequence[Sequence[int]] | None = None,
) -> list[list[int]]:
    """Run the lockstep loop over streams of the given token counts; return their tokens.

    `on_step(streams, probs, tokens)` (optional) sees every step's final distributions, e.g. to
    add up ideal code lengths. With `overlap`, each step's model call runs in a second thread
    (llama.cpp releases the GIL) while the ensemble learns the previous step's tokens and makes
    its model-free predictions. `known` (the encoder's case) gives every stream's tokens in
    advance: with `overlap`, the model then runs one step ahead, computing the next step while
    this one is predicted and coded, and `code` must return exactly these tokens. The model
    and the ensemble see the same calls in the same order in every mode, so the distributions
    are identical.
    """
    n_ctx = backend.n_ctx
    if not 0 < keep < n_ctx - 1:
        raise ValueError(f"keep must be in 1..{n_ctx - 2}, got {keep}")
    n = len(lengths)
    if n > backend.n_seq:
        raise ValueError(f"{n} streams but the context holds {backend.n_seq}")
    if known is not None and [len(t) for t in known] != list(lengths):
        raise ValueError("known token lists must have the given lengths")
    hidden = ensemble.wants_hidden
    if hidden and not backend.hidden:
        raise ValueError("the ensemble needs hidden states: make the backend with hidden=True")
    tokens: list[list[int]] = [[] for _ in range(n)]
    source = tokens if known is None else known  # where the model reads its input tokens
    kv_len = [0] * n
    bos = backend.bos
    for s in range(n):
        backend.clear(s)

    def active_at(i: int) -> list[int]:
        return [s for s in range(n) if lengths[s] > i]

    def model_step(i: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Logits (and hidden states) for token i of each stream active at iteration i."""
        active = active_at(i)
        rows = np.empty((len(active), backend.n_vocab), dtype=np.float32)
        states = np.empty((len(active), backend.n_embd), dtype=np.float32) if hidden else None
        stepping: list[int] = []
        for j, s in enumerate(active):
            if i == 0 or kv_len[s] >= n_ctx:
                history = [bos, *source[s][i - keep : i]] if i else [bos]
                rows[j] = backend.prefill(s, history)
                kv_len[s] = len(history)
                if states is not None:
                    states[j] = backend.hidden_states()[0]
            else:
                stepping.append(j)
        if stepping:
            seqs = [active[j] for j in stepping]
            out = backend.step(seqs, [source[s][i - 1] for s in seqs], [kv_len[s] for s in seqs])
            rows[stepping] = out
            if states is not None:
                states[stepping] = backend.hidden_states()
            for s in seqs:
                kv_len[s] += 1
        return rows, states

    steps = max(lengths, default=0)
    ahead = overlap and known is not None
    pool = ThreadPoolExecutor(1, thread_name_prefix="llama") if overlap else None
    pending: Future[tuple[np.ndarray, np.ndarray | None]] | None = None
    learn: tuple[np.ndarray, np.ndarray] | None = None  # last step's tokens, not yet learnt
    try:
        if ahead and steps:
            pending = pool.submit(model_step, 0)
        for i in range(steps):
            active = active_at(i)
            streams = np.asarray(active, dtype=np.int64)
            if pool is not None:
                if not ahead:
                    pending = pool.submit(model_step, i)
                if learn is not None:
                    ensemble.update(*learn)
                ensemble.prefetch(streams)
                rows, states = pending.result()
                if ahead and i + 1 < steps:
                    pending = pool.submit(model_step, i + 1)
            else:
                if learn is not None:
                    ensemble.update(*learn)
                rows, states = model_step(i)
            probs = ensemble.predict(streams, rows, states)
            new = np.fromiter(
                (code(s, probs[j]) for j, s in enumerate(active)), dtype=np.int64, count=len(active)
            )
            if on_step is not None:
                on_step(streams, probs, new)
            learn = (streams, new)
            for s, t in zip(active, new.tolist()):
                if known is not None and t != known[s][i]:
                    raise ValueError(f"stream {s} coded token {t}, not the known {known[s][i]}")
                tokens[s].append(t)
        if learn is not None:
            ensemble.update(*learn)
        return tokens
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
