"""Context models for the `fib` codec's events (words and Fibonacci phrases), payload version 2.

An event is a word id or a phrase id, given in order of first appearance, so nothing is stored up
front. The first occurrence of a word is `NEW_WORD`, then whether its core is that of a known
word (coded by that word's recency rank) or spelled (the spelling goes to a side stream), then
its trailing whitespace run. The first occurrence of a phrase is `NEW_PHRASE`, its Fibonacci
level and its words; the phrase id is then counted in the contexts where the definition began.
Each event is coded by a PPM-style chain:

1. order 2: the two previous words as context (after a phrase: its last two words);
2. order 1: the previous word, used when order 2 has no context or escapes, and updated only
   then (update exclusion);
3. order 0: the recency rank of the id (`models.fib.recency`), or NEW_WORD / NEW_PHRASE. The bucket
   of the rank is adaptive, in a context that says which of the orders above existed.

An order-1/2 context holds its symbols in order of first appearance; it is coded with a constriction
`Categorical` over their counts plus an escape weight (see `ModelParams`) as they stood at the
context's last *version point*: update n of a context is one if n < FRESH, if n is a multiple of
2**(bit_length(n) - STALE_BITS) (so the model lags by at most n/16), or if it added a symbol and the
context holds at most LAZY_LIMIT. A context with at most SMALL_K symbols at its version point is
coded with a row padded to SMALL_K + 1 entries (stream A1), a larger one with an exact row (stream
A2). The schedule depends only on the update sequence, which lets the encoder (`models.fib.encoder`,
`models.fib.chain`) compute every row with numpy and code the small ones as one array; the decoder
here follows it event by event, with the context representations of `models.fib.contexts`.

Streams: A1 and A2 (the chain), B (rank buckets), C (rank offsets), D (details of new words and
phrases, then the case flags).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import islice
from typing import Any

import constriction
import numpy as np

from nacrith.models.fib.contexts import (
    FRESH,
    LAZY_LIMIT,
    SMALL_K,
    STALE_BITS,
    BigCtx,
    SmallCtx,
    small_model,
)
from nacrith.models.fib.recency import MAX_BUCKETS, Recency
from nacrith.models.fib.tables import StagedTable, encode_rows

Bernoulli = constriction.stream.model.Bernoulli
Categorical = constriction.stream.model.Categorical
Uniform = constriction.stream.model.Uniform
RangeDecoder = constriction.stream.queue.RangeDecoder

__all__ = [
    "CASE_CONTEXTS",
    "FRESH",
    "LAZY_LIMIT",
    "SMALL_K",
    "STALE_BITS",
    "CaseCoder",
    "Details",
    "EventDecoder",
    "ModelParams",
]

MAX_LEVELS = 16
NEW_WORD = -1
NEW_PHRASE = -2
# Bucket model: symbol 0 NEW_WORD, 1 NEW_PHRASE, 1 + i rank bucket i (1-based).
BUCKET_WIDTH = 2 + MAX_BUCKETS
BASE_CTX = 3  # context of the ranks of new words' cores (contexts 0..2: orders that existed)
BUCKET_PRIOR = np.full((4, BUCKET_WIDTH), 0.125)
BUCKET_PRIOR[:3, :2] = 0.5
BUCKET_PRIOR[BASE_CTX, :2] = 0.0
BUCKET_STEP = 8
OFFSET_SPLIT = 1 << 16
# context keys before the first event (real keys are >= 0, or (-1 << 32) | id after one event)
START1 = -1
START2 = -(1 << 34)
CASE_CONTEXTS = 128
_CASE_PRIOR = np.tile(np.array([0.5, 0.25, 0.125]), (CASE_CONTEXTS, 1))
_CASE_STEP = 16


class ModelParams:
    """Tunable constants that both sides must share (stored in the payload as small integers).

    The escape weight of an order-2 (order-1) context with k symbols is k * esc2 / esc_den + 0.5
    (k * esc1 / esc_den + 0.5). `o0_step`: the recency snapshot is refreshed every
    32 * o0_step uses.
    """

    __slots__ = ("esc1", "esc2", "esc_den", "o0_step")

    def __init__(self, esc2: int = 3, esc1: int = 4, esc_den: int = 2, o0_step: int = 16) -> None:
        self.esc2 = esc2
        self.esc1 = esc1
        self.esc_den = esc_den
        self.o0_step = o0_step

    def as_bytes(self) -> bytes:
        """Four bytes, in the payload header."""
        return bytes((self.esc2, self.esc1, self.esc_den, self.o0_step))

    @classmethod
    def from_bytes(cls, raw: bytes) -> ModelParams:
        """Inverse of `as_bytes`; `ValueError` on values no encoder writes."""
        if len(raw) != 4 or not (raw[2] >= 1 and raw[3] >= 1):
            raise ValueError("bad model parameters")
        return cls(raw[0], raw[1], raw[2], raw[3])

    @property
    def esc2_a(self) -> float:
        """Escape weight per distinct symbol of an order-2 context."""
        return self.esc2 / self.esc_den

    @property
    def esc1_a(self) -> float:
        """Escape weight per distinct symbol of an order-1 context."""
        return self.esc1 / self.esc_den

    @property
    def interval(self) -> int:
        """Uses between recency refreshes."""
        return 32 * self.o0_step


class Details:
    """Models of stream D, shared by both sides: whether a new word's core is known (a
    Bernoulli), its whitespace-run index (counts over the runs seen plus a new-run weight, rebuilt
    on the `models.fib.tables` schedule and whenever a run is added) and a phrase's level."""

    def __init__(self) -> None:
        self.variant = [0.5, 0.5]
        self.ws: list[float] = []
        self.ws_n = 0
        self.ws_m: Any = None
        self.levels = [1.0] * MAX_LEVELS

    def variant_model(self) -> Any:
        """Model of the variant bit (1: the core is a known word's)."""
        v = self.variant
        return Bernoulli(v[1] / (v[0] + v[1]), perfect=False)

    def count_variant(self, bit: int) -> None:
        """Count a variant bit."""
        self.variant[bit] += 1.0

    def ws_model(self) -> Any:
        """Model of the whitespace-run index (the number of runs seen: a new run); only when
        at least one run has been seen."""
        if self.ws_m is None:
            k = len(self.ws)
            self.ws_m = Categorical(
                np.fromiter((*self.ws, 0.5 + k * 0.5), np.float64, k + 1), lazy=True
            )
        return self.ws_m

    def count_ws(self, idx: int) -> None:
        """Count a whitespace-run index (len(runs seen) adds a run)."""
        n = self.ws_n = self.ws_n + 1
        if idx == len(self.ws):
            self.ws.append(1.0)
            self.ws_m = None
            return
        self.ws[idx] += 1.0
        if n < 32 or n % 8 == 0:
            self.ws_m = None

    def level_model(self) -> Any:
        """Model of a phrase's Fibonacci level."""
        return Categorical(np.array(self.levels), perfect=False)

    def count_level(self, level: int) -> None:
        """Count a level."""
        self.levels[level] += 1.0


def _count_in(tab: dict[int, Any], key: int, sym: int) -> None:
    """Count `sym` in context `key` of `tab` (a bare symbol after one update, then a context)."""
    c = tab.get(key)
    if c is None:
        tab[key] = sym
    elif c.__class__ is int:
        tab[key] = SmallCtx(c, sym)
    else:
        tab[key] = c.add(sym)


class EventDecoder:
    """Decoder of the event streams (see the module docstring and `decode_events`)."""

    def __init__(self, params: ModelParams, streams: tuple[np.ndarray, ...]) -> None:
        self.p = params
        self.dec_s, self.dec_l, self.dec_b, self.dec_c, self.dec_d = (
            RangeDecoder(s) for s in streams
        )
        self.buckets = StagedTable(BUCKET_PRIOR, BUCKET_STEP)
        self.rec = Recency(need_srank=False)
        self.cache: dict[tuple[float, ...], Any] = {}
        self.details = Details()
        self.uniform: dict[int, Any] = {}  # offset models by range size

    def _decode_rank(self, bucket: int) -> int:
        rec = self.rec
        front = rec.front
        nf = len(front)
        lo = 1 << (bucket - 1)
        size = nf + len(rec.order) + 1 - lo
        if size > lo:
            size = lo
        elif size <= 0:
            raise ValueError("rank bucket out of range")
        if size > OFFSET_SPLIT:
            dec = self.dec_c
            off = dec.decode(Uniform(OFFSET_SPLIT))
            off += OFFSET_SPLIT * dec.decode(Uniform((size - 1) // OFFSET_SPLIT + 1))
            if off >= size:
                raise ValueError("rank offset out of range")
        elif size > 1:
            m = self.uniform.get(size)
            if m is None:
                m = self.uniform[size] = Uniform(size)
            off = self.dec_c.decode(m)
        else:
            off = 0
        rank = lo + off - 1  # below nf + len(rec.order), by the bound on `size`
        if rank < nf:
            return next(islice(reversed(front), rank, None))
        sym = int(rec.order[rank - nf])
        if sym in front:
            raise ValueError("recency rank of a moved id")
        return sym

    def _decode_word_details(self) -> tuple[int, int]:
        dec = self.dec_d
        d = self.details
        bit = int(dec.decode(d.variant_model()))
        d.count_variant(bit)
        base = -1
        if bit:
            s = self.buckets.decode(self.dec_b, BASE_CTX)
            if s < 2:
                raise ValueError("base word rank expected")
            base = self._decode_rank(s - 1)
        k = len(d.ws)
        idx = int(dec.decode(d.ws_model())) if k else 0
        d.count_ws(idx)
        return base, idx if idx < k else -1

    def _decode_level(self, n_levels: int) -> int:
        d = self.details
        level = int(self.dec_d.decode(d.level_model()))
        if level >= n_levels:
            raise ValueError(f"phrase level {level} out of range")
        d.count_level(level)
        return level

    def decode_events(  # noqa: C901 - hot per-event loop, kept inline for speed
        self, n_tokens: int, lengths: tuple[int, ...], on_new_word: Callable[[int, int, int], None]
    ) -> tuple[list[int], list[list[int] | None]]:
        """Decode events until `n_tokens` tokens; returns (word id of every token, the words of
        every id (None for a word)). `on_new_word(base, ws, id)` is called for each new word:
        `base` is a word id with the same core or -1 (spelled), `ws` a whitespace run index or
        -1 (a new run). Ids are numbered in order of creation: a word at its NEW_WORD, a phrase
        after its last word."""
        dec_small, dec_large, dec_bucket = self.dec_s.decode, self.dec_l.decode, self.dec_b.decode
        btabs, bmodels, bns = self.buckets.tabs, self.buckets.models, self.buckets.n
        bstep, bwarm = self.buckets.step, self.buckets.warm
        esc2_a, esc1_a = self.p.esc2_a, self.p.esc1_a
        cache2: dict[tuple[int, ...], Any] = {}
        cache1: dict[tuple[int, ...], Any] = {}
        # a context updated once holds its symbol with count 1: one model per order
        one2 = small_model((1,), cache2, esc2_a)
        one1 = small_model((1,), cache1, esc1_a)
        # ids: at most one per event (a word or a phrase of at least two words)
        rec = self.rec = Recency(need_srank=False, max_ids=2 * n_tokens + 2)
        front = rec.front
        pop = front.pop
        decode_rank = self._decode_rank
        tab2: dict[int, Any] = {}  # key -> symbol (one update) or _Ctx
        tab1: dict[int, Any] = {}
        get2, get1 = tab2.get, tab1.get
        tok_ids: list[int] = []
        append_tok = tok_ids.append
        words_of: list[list[int] | None] = []
        n_tok = 0
        k2 = START2
        k1 = p1 = START1
        interval = self.p.interval
        left = interval
        def_left = 0
        def_k2 = def_k1 = 0
        def_words: list[int] = []
        while n_tok < n_tokens or def_left:
            c2 = get2(k2)
            sym = -3
            if c2 is not None:
                if c2.__class__ is int:
                    if not dec_small(one2):
                        sym = c2
                        tab2[k2] = SmallCtx(c2, c2)
                else:
                    m = c2.model
                    if m is None:
                        m = c2.build(cache2, esc2_a)
                    kb = c2.kb
                    j = dec_small(m) if kb <= SMALL_K else dec_large(m)
                    if j < kb:
                        sym = c2.syms[j]
                        if c2.__class__ is BigCtx:
                            c2.hit(j)
                        else:  # SmallCtx.add, inlined
                            n = c2.n + 1
                            c2.n = n
                            if n < FRESH or not n & ((1 << (n.bit_length() - STALE_BITS)) - 1):
                                c2.snap = c2.model = None
                            elif c2.snap is None:
                                c2.snap = tuple(c2.counts)
                            c2.counts[j] += 1
            if sym == -3:
                c1 = get1(k1)
                if c1 is not None:
                    if c1.__class__ is int:
                        if not dec_small(one1):
                            sym = c1
                    else:
                        m = c1.model
                        if m is None:
                            m = c1.build(cache1, esc1_a)
                        kb = c1.kb
                        j = dec_small(m) if kb <= SMALL_K else dec_large(m)
                        if j < kb:
                            sym = c1.syms[j]
                if sym == -3:
                    ctx = (c2 is not None) + (c1 is not None)
                    bm = bmodels[ctx]
                    bt = btabs[ctx]
                    if bm is None:
                        bm = bmodels[ctx] = Categorical(
                            np.fromiter(bt, np.float64, BUCKET_WIDTH), lazy=True
                        )
                    s = dec_bucket(bm)
                    bt[s] += 1.0
                    n = bns[ctx] + 1
                    bns[ctx] = n
                    if n < bwarm or n % bstep == 0:
                        bmodels[ctx] = None
                    sym = decode_rank(s - 1) if s >= 2 else -1 - s
                if sym == NEW_PHRASE:
                    if def_left:
                        raise ValueError("phrase definition inside a phrase definition")
                    def_left = lengths[self._decode_level(len(lengths))]
                    def_k2, def_k1 = k2, k1
                    def_words = []
                    continue
                if sym == NEW_WORD:
                    sym = len(words_of)
                    on_new_word(*self._decode_word_details(), sym)
                    words_of.append(None)
                # count (update exclusion: order 1 only where order 2 did not predict)
                if c2 is None:
                    tab2[k2] = sym
                elif c2.__class__ is int:
                    tab2[k2] = SmallCtx(c2, sym)
                else:
                    tab2[k2] = c2.add(sym)
                if c1 is None:
                    tab1[k1] = sym
                elif c1.__class__ is int:
                    tab1[k1] = SmallCtx(c1, sym)
                else:
                    tab1[k1] = c1.add(sym)
            words = words_of[sym]
            # record the use (recency), shift the context
            if words is None:
                append_tok(sym)
                n_tok += 1
                if def_left:
                    def_words.append(sym)
                pop(sym, None)
                front[sym] = None
                left -= 1
                k2 = (p1 << 32) | sym
                k1 = p1 = sym
            else:
                if def_left:
                    raise ValueError("phrase inside a phrase definition")
                tok_ids += words
                n_tok += len(words)
                for w in words:
                    pop(w, None)
                    front[w] = None
                pop(sym, None)
                front[sym] = None
                left -= len(words) + 1
                p1 = words[-1]
                k2 = (words[-2] << 32) | p1
                k1 = p1
            if left <= 0:
                rec.refresh()
                left = interval
            if def_left:
                def_left -= 1
                if not def_left:
                    pid = len(words_of)
                    words_of.append(def_words)
                    _count_in(tab2, def_k2, pid)
                    _count_in(tab1, def_k1, pid)
                    front[pid] = None
                    left -= 1
        return tok_ids, words_of


class CaseCoder:
    """Adaptive model of the case flags (0 as is, 1 Capitalised, 2 ALL CAPS) of cased tokens.

    Context (< CASE_CONTEXTS): the previous cased token's flag, the class of the previous token
    (letter, sentence end, digit, other; with or without a line break) and this word's flag at
    its previous occurrence. Tables follow `models.fib.tables` (rebuilt every 16 updates once warm).
    """

    def __init__(self) -> None:
        self.table = StagedTable(_CASE_PRIOR, _CASE_STEP)

    @staticmethod
    def encode(enc: Any, ctxs: np.ndarray, flags: np.ndarray) -> None:
        """Code all `flags` in contexts `ctxs` at once."""
        encode_rows(enc, ctxs, flags, _CASE_PRIOR, _CASE_STEP)

    def decode_all(self, dec: Any, tids: list[int], prev_cls: list[int]) -> list[int]:
        """Decode the flags of the cased tokens (word ids `tids`, classes of the tokens before
        them), building each context as `_case_contexts` in `nacrith.codecs.fib` does."""
        table = self.table
        tabs, models, ns = table.tabs, table.models, table.n
        step, warm = table.step, table.warm
        last: dict[int, int] = {}
        prev_flag = 3
        out: list[int] = []
        for tid, pc in zip(tids, prev_cls):
            ctx = (prev_flag * 8 + pc) * 4 + last.get(tid, 3)
            m = models[ctx]
            tab = tabs[ctx]
            if m is None:
                m = models[ctx] = Categorical(np.fromiter(tab, np.float64, 3), lazy=True)
            flag = dec.decode(m)
            tab[flag] += 1.0
            n = ns[ctx] + 1
            ns[ctx] = n
            if n < warm or n % step == 0:
                models[ctx] = None
            last[tid] = prev_flag = flag
            out.append(flag)
        return out
