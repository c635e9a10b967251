"""The step loop shared by the encoder and the decoder of the `llm` codec.

Each stream starts from BOS. To predict token i of a stream, the loop feeds token i-1 to the
model at the next position. When the stream's context already holds `n_ctx` tokens, the
`Window` policy frees room first: either (`Window.reprefill`) it clears the stream and prefills
BOS plus the last `keep` tokens as one batch, or (`Window.sink_shift`) it keeps the first `sink`
positions (BOS and the attention-sink tokens), drops the next `drop` and shifts the rest down
(the backend re-rotates their keys), with no re-prefill. Either way the positions are fixed by
the format: a function of n_ctx, the policy and i only. All streams that step in the same iteration
share one `llama_decode`. The caller's `code` function codes (or decodes) each active stream's
token from its final distribution, so encoder and decoder issue the identical sequence of calls.

All active streams step together, so at iteration k every active stream holds exactly k tokens
and the streams still active are those longer than k. The model's input at iteration k is thus a
function of k and the tokens before it; an encoder, which has every token in advance, lets the
model compute iteration k+1 while the predictors and the coder work on iteration k.

On an exact engine (`batch_exact`: a batch of k tokens has the bits of k single steps) the call
pattern is free and only the bits are fixed: the encoder then computes each stream's rows for
a run of iterations in one `append` of their known input tokens, cut where the window slides
(`_BatchedFeed`), while the decoder steps token by token, or, where the engine can cut a
stream's cache (`cuts_cache`), feeds each decoded token with guesses of the next ones
(`drafting.Drafter`) and uses the rows whose inputs the decoded tokens confirm
(`_DraftingFeed`); the archive bytes are the same.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

import numpy as np

from nacrith.models.llm.backend import LlamaBackend
from nacrith.models.llm.drafting import MAX_DRAFT, Drafter
from nacrith.models.online.ensemble import Ensemble

if TYPE_CHECKING:
    from nacrith.models.portable.backend import PortableBackend

__all__ = [
    "ENCODE_BATCH",
    "MAX_DRAFT",
    "Window",
    "batch_exact",
    "reporting_steps",
    "run_streams",
]

#: code(stream index, distribution row) -> the token at this position of that stream
CodeFn = Callable[[int, np.ndarray], int]

#: what computes the logits: llama.cpp, or the portable engine (float64 logits and states)
Backend: TypeAlias = "LlamaBackend | PortableBackend"

#: iterations of one stream whose rows an encoder on a `batch_exact` engine computes in one call
ENCODE_BATCH = 64

#: this context's progress listener: called after each step with that step's share of the work
_listener: ContextVar[Callable[[float], None] | None] = ContextVar(
    "nacrith_lockstep_listener", default=None
)


@contextlib.contextmanager
def reporting_steps(listener: Callable[[float], None]) -> Iterator[None]:
    """Within the block, every `run_streams` of this thread calls `listener(amount)` after each
    step: the sum of the `weights` of the streams that coded a token in it (one per token
    when no weights are given). A progress hook; it never changes what is coded."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


@dataclass(frozen=True)
class Window:
    """How a stream whose context is full makes room (part of the format: both sides use it).

    `sink == 0`: clear the stream and re-prefill BOS plus the last `keep` tokens. Otherwise keep
    the first `sink` positions, drop the next `drop` and shift the rest down by `drop`.
    """

    keep: int = 0
    sink: int = 0
    drop: int = 0

    @classmethod
    def reprefill(cls, keep: int) -> Window:
        """Clear and re-prefill BOS plus the last `keep` tokens (llm formats 1-5)."""
        return cls(keep=keep)

    @classmethod
    def sink_shift(cls, sink: int, drop: int) -> Window:
        """Keep `sink` positions, drop the next `drop`, shift the rest down."""
        return cls(sink=sink, drop=drop)

    @property
    def shifts(self) -> bool:
        """Whether this policy shifts the cache instead of re-prefilling."""
        return self.sink > 0

    def check(self, n_ctx: int) -> None:
        """`ValueError` when the policy does not fit a context of `n_ctx` tokens."""
        if self.shifts:
            if self.drop < 1 or self.sink + self.drop > n_ctx - 1:
                raise ValueError(
                    f"window sink {self.sink} and drop {self.drop} must be positive with "
                    f"sink + drop <= {n_ctx - 1}"
                )
        elif not 0 < self.keep < n_ctx - 1:
            raise ValueError(f"keep must be in 1..{n_ctx - 2}, got {self.keep}")


class _ModelFeed:
    """The model's side of the loop: the logits (and hidden states) of each step's active
    streams, making room by each stream's `Window` policy when its context is full."""

    def __init__(
        self,
        backend: Backend,
        lengths: Sequence[int],
        source: Sequence[Sequence[int]],
        windows: Sequence[Window],
        hidden: bool,
    ) -> None:
        self.backend = backend
        self.lengths = lengths
        self.source = source  # where the model reads its input tokens
        self.windows = windows  # one per stream
        self.hidden = hidden
        self.kv_len = [0] * len(lengths)
        for s in range(len(lengths)):
            backend.clear(s)

    def active_at(self, i: int) -> list[int]:
        """The streams that code a token at iteration `i`."""
        return [s for s, length in enumerate(self.lengths) if length > i]

    def step(self, i: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Logits (and hidden states) for token i of each stream active at iteration i."""
        backend, source, kv_len = self.backend, self.source, self.kv_len
        active = self.active_at(i)
        dtype = getattr(backend, "dtype", np.float32)
        rows = np.empty((len(active), backend.n_vocab), dtype=dtype)
        states = np.empty((len(active), backend.n_embd), dtype=dtype) if self.hidden else None
        stepping: list[int] = []
        for j, s in enumerate(active):
            if self._ready_row(s, i, j, rows, states):
                continue
            history = self._make_room(s, i)
            if history is not None:
                rows[j] = backend.prefill(s, history)
                kv_len[s] = len(history)
                if states is not None:
                    states[j] = backend.hidden_states()[0]
            elif not self._alone(s, i, j, rows, states):
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

    def _ready_row(
        self, s: int, i: int, j: int, rows: np.ndarray, states: np.ndarray | None
    ) -> bool:
        """Put stream `s`'s row for iteration `i` at `rows[j]` (and its state) when it is
        already computed; this feed computes none ahead (`_DraftingFeed` does)."""
        return False

    def _alone(self, s: int, i: int, j: int, rows: np.ndarray, states: np.ndarray | None) -> bool:
        """Compute stream `s`'s row for iteration `i` in a call of its own (True), or leave it
        to the step all such streams share (False, this feed's way)."""
        return False

    def _make_room(self, s: int, i: int) -> list[int] | None:
        """Before stream `s`'s iteration `i`: shift its full context where its window shifts;
        then the tokens to (re-)prefill it with where it starts or is still full, else None."""
        backend, window = self.backend, self.windows[s]
        if i and self.kv_len[s] >= backend.n_ctx and window.shifts:
            backend.shift(s, window.sink, window.drop)
            self.kv_len[s] -= window.drop
        if i == 0 or self.kv_len[s] >= backend.n_ctx:
            return [backend.bos, *self.source[s][i - window.keep : i]] if i else [backend.bos]
        return None

    def close(self) -> None:
        """Nothing to release (`_BatchedFeed` overrides it)."""


def batch_exact(backend: Backend) -> bool:
    """Whether `backend` computes a batch of tokens with the bits of feeding them one at a
    time (the portable engine), so that an encoder may compute its rows in batches. The one
    place this is decided: the backend's `batch_exact` attribute (absent: not exact)."""
    return bool(getattr(backend, "batch_exact", False))


#: (first iteration, rows, hidden states or None) of one batch of a stream
_Rows: TypeAlias = "tuple[int, np.ndarray, np.ndarray | None]"


class _BatchedFeed(_ModelFeed):
    """The encoder's model side on an exact engine: each stream's rows for a run of up to
    `batch` iterations come from one `append` of their known input tokens, cut where the
    window slides, with the same shifts and re-prefills at the same iterations as `_ModelFeed`;
    `step` hands them out one iteration at a time. The backend is `batch_exact`, so the rows
    have the bits of `_ModelFeed`'s. `threaded`: a second thread computes each stream's next
    batch while this one's rows are being predicted and coded."""

    def __init__(
        self,
        backend: Backend,
        lengths: Sequence[int],
        source: Sequence[Sequence[int]],
        windows: Sequence[Window],
        hidden: bool,
        batch: int,
        threaded: bool,
    ) -> None:
        super().__init__(backend, lengths, source, windows, hidden)
        self.batch = batch
        #: per stream: (first iteration, rows, hidden states or None) of the batch in use
        self.ready: list[_Rows | None] = [None] * len(lengths)
        #: per stream: the iteration at which the rows computed so far end
        self.end = [0] * len(lengths)
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="rows") if threaded else None
        self.next: list[Future[_Rows] | None] = [None] * len(lengths)
        for s in range(len(lengths)):
            self._submit(s)

    def _submit(self, s: int) -> None:
        if self.pool is not None and self.end[s] < self.lengths[s]:
            self.next[s] = self.pool.submit(self._fill, s, self.end[s])

    def step(self, i: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Logits (and hidden states) for token i of each stream active at iteration i."""
        active = self.active_at(i)
        dtype = getattr(self.backend, "dtype", np.float32)
        rows = np.empty((len(active), self.backend.n_vocab), dtype=dtype)
        states = np.empty((len(active), self.backend.n_embd), dtype=dtype) if self.hidden else None
        for j, s in enumerate(active):
            ready = self.ready[s]
            if ready is None or i >= ready[0] + len(ready[1]):
                if self.pool is None:
                    ready = self._fill(s, i)
                else:
                    pending = self.next[s]
                    assert pending is not None
                    ready = pending.result()
                    self._submit(s)
                self.ready[s] = ready
            rows[j] = ready[1][i - ready[0]]
            if states is not None:
                assert ready[2] is not None
                states[j] = ready[2][i - ready[0]]
        return rows, states

    def _fill(self, s: int, i: int) -> _Rows:
        """Stream `s`'s rows from iteration `i` on, in one model call."""
        be, source, n_ctx = self.backend, self.source[s], self.backend.n_ctx
        end = min(self.lengths[s], i + self.batch)
        history = self._make_room(s, i)
        kv_len = self.kv_len[s]
        if history is not None:
            # iteration i reads the last row of a (re-)prefill; later ones step on from there
            end = min(end, i + n_ctx - len(history) + 1)
            be.clear(s)
            tokens = [*history, *source[i : end - 1]]
            skip, kv_len = len(history) - 1, 0
        else:
            end = min(end, i + n_ctx - kv_len)
            tokens = list(source[i - 1 : end - 1])
            skip = 0
        out = be.append(s, tokens, all_logits=True)[skip:]
        self.kv_len[s] = kv_len + len(tokens)
        states = be.hidden_states()[skip:] if self.hidden else None
        self.end[s] = i + len(out)
        return i, out, states

    def close(self) -> None:
        """Wait for the second thread (a batch it computes is dropped)."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


#: (first iteration, the stream's cache length before the batch, rows, hidden states or None,
#: the guessed tokens) of one drafted batch
_Drafted: TypeAlias = "tuple[int, int, np.ndarray, np.ndarray | None, list[int]]"


def _cuts_cache(backend: Backend) -> bool:
    """Whether `backend` is exact and can cut a stream's cache back (`truncate`), so that a
    decoder may check guessed tokens in a batch (`_DraftingFeed`)."""
    return batch_exact(backend) and bool(getattr(backend, "cuts_cache", False))


class _DraftingFeed(_ModelFeed):
    """The decoder's model side on an exact engine that can cut a stream's cache: each call
    feeds a stream's decoded token followed by its `Drafter`'s guesses of the next tokens, as
    one `append`. Row m of that batch is the row of iteration i0 + m as long as the first m - 1
    guesses were the decoded tokens; at the first wrong guess the cache is cut back to the
    entries of confirmed inputs. Guesses never cross a window slide (they fit the context), so
    the shifts and re-prefills happen at `_ModelFeed`'s iterations, and the rows have its bits."""

    def __init__(
        self,
        backend: Backend,
        lengths: Sequence[int],
        source: Sequence[Sequence[int]],
        windows: Sequence[Window],
        hidden: bool,
        max_draft: int,
    ) -> None:
        super().__init__(backend, lengths, source, windows, hidden)
        self.drafters = [Drafter(max_draft) for _ in lengths]
        self.ready: list[_Drafted | None] = [None] * len(lengths)

    def _alone(self, s: int, i: int, j: int, rows: np.ndarray, states: np.ndarray | None) -> bool:
        """Feed stream `s`'s decoded token with its drafter's guesses in one `append` when it
        guesses; else leave the stream to the shared step."""
        backend, source = self.backend, self.source
        drafter = self.drafters[s]
        drafter.learn(source[s])
        guesses = drafter.draft(source[s], room=backend.n_ctx - self.kv_len[s] - 1)
        if not guesses:
            return False
        out = backend.append(s, [source[s][i - 1], *guesses], all_logits=True)
        drafted = backend.hidden_states() if states is not None else None
        self.ready[s] = (i, self.kv_len[s], out, drafted, guesses)
        rows[j] = out[0]
        if states is not None and drafted is not None:
            states[j] = drafted[0]
        self.kv_len[s] += 1
        return True

    def _ready_row(
        self, s: int, i: int, j: int, rows: np.ndarray, states: np.ndarray | None
    ) -> bool:
        """Put stream `s`'s drafted row for iteration `i` at `rows[j]` when the decoded tokens
        confirmed its inputs; else cut the cache back to the confirmed entries (False)."""
        ready = self.ready[s]
        if ready is None:
            return False
        first, base, out, drafted, guesses = ready
        m = i - first
        if m <= len(guesses) and guesses[m - 1] == self.source[s][i - 1]:
            rows[j] = out[m]
            if states is not None and drafted is not None:
                states[j] = drafted[m]
            self.kv_len[s] = base + m + 1
            if m == len(guesses):
                self.ready[s] = None
            return True
        self.ready[s] = None
        self.kv_len[s] = base + m  # the inputs up to the wrong guess
        self.backend.truncate(s, base + m)  # type: ignore[union-attr]
        return False


class _ModelCalls:
    """When each step's model call runs: inline, in a second thread beside the ensemble's work
    on the same step (`overlap`), or one step ahead (`ahead`: the tokens are known)."""

    def __init__(self, feed: _ModelFeed, steps: int, overlap: bool, ahead: bool) -> None:
        self.feed = feed
        self.steps = steps
        self.ahead = ahead
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="llama") if overlap else None
        self.pending: Future[tuple[np.ndarray, np.ndarray | None]] | None = None
        if self.pool is not None and ahead and steps:
            self.pending = self.pool.submit(feed.step, 0)

    @property
    def threaded(self) -> bool:
        """Whether the model runs in the second thread."""
        return self.pool is not None

    def begin(self, i: int) -> None:
        """Start step `i`'s call in the second thread (before the ensemble's work on it)."""
        if self.pool is not None and not self.ahead:
            self.pending = self.pool.submit(self.feed.step, i)

    def result(self, i: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Step `i`'s logits and hidden states (then, ahead, start step i+1)."""
        if self.pool is None:
            return self.feed.step(i)
        assert self.pending is not None
        out = self.pending.result()
        if self.ahead and i + 1 < self.steps:
            self.pending = self.pool.submit(self.feed.step, i + 1)
        return out

    def close(self) -> None:
        """Wait for the second thread."""
        if self.pool is not None:
            self.pool.shutdown(wait=True)


def _check_arguments(
    backend: Backend,
    ensemble: Ensemble,
    lengths: Sequence[int],
    window: Window,
    known: Sequence[Sequence[int]] | None,
) -> None:
    window.check(backend.n_ctx)
    if window.shifts and not hasattr(backend, "shift"):
        raise ValueError(f"{type(backend).__name__} cannot shift its cache")
    if len(lengths) > backend.n_seq:
        raise ValueError(f"{len(lengths)} streams but the context holds {backend.n_seq}")
    if known is not None and [len(t) for t in known] != list(lengths):
        raise ValueError("known token lists must have the given lengths")
    if ensemble.wants_hidden and not backend.hidden:
        raise ValueError("the ensemble needs hidden states: make the backend with hidden=True")


def run_streams(
    backend: Backend,
    ensemble: Ensemble,
    lengths: Sequence[int],
    code: CodeFn,
    *,
    window: Window | None = None,
    keep: int = 0,
    on_step: Callable[[np.ndarray, np.ndarray, np.ndarray], None] | None = None,
    overlap: bool = True,
    known: Sequence[Sequence[int]] | None = None,
    weights: Sequence[float] | None = None,
    batch: int = 0,
    drafts: int = 0,
) -> list[list[int]]:
    """Run the lockstep loop over streams of the given token counts; return their tokens.

    `on_step(streams, probs, tokens)` (optional) sees every step's final distributions, e.g. to
    add up ideal code lengths. With `overlap`, each step's model call runs in a second thread
    (llama.cpp releases the GIL) while the ensemble learns the previous step's tokens and makes
    its model-free predictions. `known` (the encoder's case) gives every stream's tokens in
    advance: with `overlap`, the model then runs one step ahead, computing the next step while
    this one is predicted and coded, and `code` must return exactly these tokens. The model
    and the ensemble see the same calls in the same order in every mode, so the distributions
    are identical. `weights` (one per stream) is what each stream's token counts for in the
    progress reported to a `reporting_steps` listener, e.g. input bytes per token. `window`
    says how a full context makes room (`keep` alone: `Window.reprefill(keep)`). `batch` > 0,
    with `known` tokens and a `batch_exact` backend: the model computes each stream's rows for
    up to `batch` iterations in one call (`_BatchedFeed`), with the same bits. `drafts` > 0,
    decoding (no `known` tokens) on an exact backend that can cut its cache: each call checks
    up to `drafts` guessed tokens too (`_DraftingFeed`), with the same bits.
    """
    if window is None:
        window = Window.reprefill(keep)
    _check_arguments(backend, ensemble, lengths, window, known)
    listener = _listener.get()
    tokens: list[list[int]] = [[] for _ in lengths]
    source, windows = tokens if known is None else known, [window] * len(lengths)
    batched = batch > 0 and known is not None and batch_exact(backend)
    hidden = ensemble.wants_hidden
    feed: _ModelFeed
    if batched:
        feed = _BatchedFeed(backend, lengths, source, windows, hidden, batch, overlap)
    elif drafts > 0 and known is None and _cuts_cache(backend):
        feed = _DraftingFeed(backend, lengths, source, windows, hidden, drafts)
    else:
        feed = _ModelFeed(backend, lengths, source, windows, hidden)
    steps = max(lengths, default=0)
    # a batched feed runs its own second thread, a batch ahead
    calls = _ModelCalls(feed, steps, overlap and not batched, ahead=overlap and known is not None)
    learn: tuple[np.ndarray, np.ndarray] | None = None  # last step's tokens, not yet learnt
    try:
        for i in range(steps):
            active = feed.active_at(i)
            streams = np.asarray(active, dtype=np.int64)
            calls.begin(i)
            if learn is not None:
                ensemble.update(*learn)
            if calls.threaded:
                ensemble.prefetch(streams)
            rows, states = calls.result(i)
            probs = ensemble.predict(streams, rows, states)
            new = np.fromiter(
                (code(s, probs[j]) for j, s in enumerate(active)), dtype=np.int64, count=len(active)
            )
            if on_step is not None:
                on_step(streams, probs, new)
            if listener is not None:
                listener(len(active) if weights is None else sum(weights[s] for s in active))
            learn = (streams, new)
            for s, t in zip(active, new.tolist()):
                if known is not None and t != known[s][i]:
                    raise ValueError(f"stream {s} coded token {t}, not the known {known[s][i]}")
                tokens[s].append(t)
        if learn is not None:
            ensemble.update(*learn)
        return tokens
    finally:
        calls.close()
        feed.close()
