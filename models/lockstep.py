"""The step loop shared by the encoder and the decoder of the `llm` codec.

Each stream starts from BOS. To predict token i of a stream, the loop feeds token i-1 to the
model at the next position; when the stream's context already holds `n_ctx` tokens, it instead
clears the stream and prefills BOS plus the last `keep` tokens as one batch (positions fixed by
the format: a function of n_ctx, keep and i only). All streams that step in the same iteration
share one `llama_decode`. The caller's `code` function codes (or decodes) each active stream's
token from its final distribution, so encoder and decoder issue the identical sequence of calls.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from nacrith.models.ensemble import Ensemble
from nacrith.models.llama_backend import LlamaBackend

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
) -> list[list[int]]:
    """Run the lockstep loop over streams of the given token counts; return their tokens.

    `on_step(streams, probs, tokens)` (optional) sees every step's final distributions, e.g. to
    add up ideal code lengths. With `overlap`, each step's model call runs in a second thread
    (llama.cpp releases the GIL) while the ensemble learns the previous step's tokens and makes
    its model-free predictions; the ensemble sees the same calls in the same order either way,
    so the distributions are identical.
    """
    n_ctx = backend.n_ctx
    if not 0 < keep < n_ctx - 1:
        raise ValueError(f"keep must be in 1..{n_ctx - 2}, got {keep}")
    n = len(lengths)
    if n > backend.n_seq:
        raise ValueError(f"{n} streams but the context holds {backend.n_seq}")
    hidden = ensemble.wants_hidden
    if hidden and not backend.hidden:
        raise ValueError("the ensemble needs hidden states: make the backend with hidden=True")
    tokens: list[list[int]] = [[] for _ in range(n)]
    kv_len = [0] * n
    bos = backend.bos
    for s in range(n):
        backend.clear(s)

    def model_step(active: list[int]) -> tuple[np.ndarray, np.ndarray | None]:
        """Logits (and hidden states) for the next token of each active stream."""
        rows = np.empty((len(active), backend.n_vocab), dtype=np.float32)
        states = np.empty((len(active), backend.n_embd), dtype=np.float32) if hidden else None
        stepping: list[int] = []
        for j, s in enumerate(active):
            i = len(tokens[s])
            if i == 0 or kv_len[s] >= n_ctx:
                history = [bos, *tokens[s][i - keep :]] if i else [bos]
                rows[j] = backend.prefill(s, history)
                kv_len[s] = len(history)
                if states is not None:
                    states[j] = backend.hidden_states()[0]
            else:
                stepping.append(j)
        if stepping:
            seqs = [active[j] for j in stepping]
            out = backend.step(seqs, [tokens[s][-1] for s in seqs], [kv_len[s] for s in seqs])
            rows[stepping] = out
            if states is not None:
                states[stepping] = backend.hidden_states()
            for s in seqs:
                kv_len[s] += 1
        return rows, states

    pool = ThreadPoolExecutor(1, thread_name_prefix="llama") if overlap else None
    learn: tuple[np.ndarray, np.ndarray] | None = None  # last step's tokens, not yet learnt
    try:
        while True:
            active = [s for s in range(n) if len(tokens[s]) < lengths[s]]
            if not active:
                if learn is not None:
                    ensemble.update(*learn)
                return tokens
            streams = np.asarray(active, dtype=np.int64)
            if pool is not None:
                pending = pool.submit(model_step, active)
                if learn is not None:
                    ensemble.update(*learn)
                ensemble.prefetch(streams)
                rows, states = pending.result()
            else:
                if learn is not None:
                    ensemble.update(*learn)
                rows, states = model_step(active)
            probs = ensemble.predict(streams, rows, states)
            new = np.fromiter(
                (code(s, probs[j]) for j, s in enumerate(active)), dtype=np.int64, count=len(active)
            )
            if on_step is not None:
                on_step(streams, probs, new)
            learn = (streams, new)
            for s, t in zip(active, new.tolist()):
                tokens[s].append(t)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
