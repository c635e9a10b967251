"""Context models of `fib` payload version 1, decoder side only (frozen; see `fib_v1`).

The current models are in `nacrith.models.fib.events`. An event is a word id or a phrase id. Ids
are given in order of first appearance, so nothing is stored up front: the first occurrence of a
word is the `NEW_WORD` symbol, then whether its core is that of a known word (coded as that
word's id with the order-0 model) or spelled (the spelling is in a separate stream), then its
trailing whitespace run (adaptive over the runs seen). The first occurrence of a phrase is
`NEW_PHRASE`, its Fibonacci level and its words. Each event is coded by a PPM-style chain of
adaptive models:

1. order 2, the two previous events as context;
2. order 1, the previous event;
3. order 0 over every id seen so far, plus the escapes `NEW_WORD`, `NEW_PHRASE` and one for a
   recent id (introduced after the order-0 table was last rebuilt, then coded uniformly).

An order-1/2 context holds its symbols in order of first appearance; its distribution over them
plus one escape symbol is a constriction `Categorical` built lazily whenever the context is used
after a change; contexts with more than `LAZY_LIMIT` symbols, and the order-0 table, are rebuilt
on a geometric schedule instead (a symbol added since the last build escapes). The decoder must
build bit-identical float tables to the (retired) encoder's, so none of this may change.
"""

from __future__ import annotations

import constriction
import numpy as np

Categorical = constriction.stream.model.Categorical
Uniform = constriction.stream.model.Uniform
RangeDecoder = constriction.stream.queue.RangeDecoder

__all__ = ["V1CaseCoder", "V1EventDecoder", "V1ModelParams"]

MAX_LEVELS = 16
# Contexts with more symbols than this are rebuilt on a geometric schedule, not at every use.
LAZY_LIMIT = 48
# Context orders 2 and 1 (order 3 measured worse on alice29, asyoulik and enwik8)
ORDER = 2


class V1ModelParams:
    """Tunable constants that both sides must share (stored in the payload as small integers).

    `esc_num/esc_den` scales the escape weight of an order-1/2 context: weight =
    distinct * esc_num / esc_den + 0.5. `o0_step` is the order-0 rebuild interval as a fraction
    of the events seen (1/o0_step).
    """

    __slots__ = ("esc_den", "esc_num", "o0_step")

    def __init__(self, esc_num: int = 3, esc_den: int = 2, o0_step: int = 16) -> None:
        self.esc_num = esc_num
        self.esc_den = esc_den
        self.o0_step = o0_step

    @classmethod
    def from_bytes(cls, raw: bytes) -> V1ModelParams:
        """The three header bytes (esc_num, esc_den, o0_step); `ValueError` on values no encoder
        wrote."""
        if len(raw) != 3 or not (raw[1] >= 1 and raw[2] >= 1):
            raise ValueError("bad model parameters")
        return cls(raw[0], raw[1], raw[2])


class _Ctx:
    """One order-1/2 context: symbols in first-appearance order, their counts, a lazy model."""

    __slots__ = ("counts", "kb", "model", "next", "slot", "syms")

    def __init__(self) -> None:
        self.slot: dict[int, int] = {}
        self.syms: list[int] = []
        self.counts: list[float] = []
        self.model: Categorical | None = None
        self.kb = 0  # symbols in the built model; slot kb is the escape
        self.next = 0.0  # total count at which a large context is rebuilt


class V1EventDecoder:
    """The adaptive event model, driving a constriction range decoder.

    `decode()` returns an id or a negative marker: after NEW_WORD call `decode_spelling` and
    `commit_new_word`; after NEW_PHRASE `decode_level`, the phrase's words and `end_phrase`.
    """

    NEW_WORD = -1
    NEW_PHRASE = -2

    def __init__(self, params: V1ModelParams, compressed: np.ndarray) -> None:
        self.p = params
        self.esc_a = params.esc_num / params.esc_den
        self.dec = RangeDecoder(compressed)
        # context tables and their current keys, highest order first
        self.tabs: list[dict[int, _Ctx]] = [{} for _ in range(ORDER)]
        self.keys: list[int | None] = [None] * ORDER
        self.escs = [self.esc_a] * ORDER
        self.p1 = -1
        self.n_ids = 0
        self.o0_counts: list[float] = []
        self.o0_model: Categorical | None = None
        self.o0_built = 0
        self.o0_next = 0
        self.n_events = 0
        self.n_new_words = 0
        self.n_new_phrases = 0
        self.level_counts = [1.0] * MAX_LEVELS
        self.variant_counts = [0.5, 0.5]
        self.ws_counts: list[float] = []

    def _model(self, c: _Ctx, a: float) -> Categorical:
        m = c.model
        if m is None:
            counts = c.counts
            k = len(counts)
            if k <= LAZY_LIMIT:
                m = Categorical(np.array([*counts, k * a + 0.5]), lazy=True)
            else:
                probs = np.empty(k + 1)
                probs[:k] = counts
                probs[k] = k * a + 0.5
                total = probs.sum()
                m = Categorical(probs, perfect=False)
                c.next = total / 8.0
            c.model = m
            c.kb = k
        return m

    def _o0(self) -> Categorical:
        if self.o0_model is None or self.n_events >= self.o0_next:
            b = self.n_ids
            probs = np.empty(b + 3)
            probs[:b] = self.o0_counts
            probs[b] = self.n_new_words + 0.5
            probs[b + 1] = self.n_new_phrases + 0.5
            probs[b + 2] = 1.0
            self.o0_model = Categorical(probs, perfect=False)
            self.o0_built = b
            self.o0_next = self.n_events + max(8, self.n_events // self.p.o0_step)
        return self.o0_model

    def _update(self, sym: int) -> None:
        """Count `sym` in the current contexts and shift it into the history."""
        for tab, key in zip(self.tabs, self.keys):
            if key is None:
                continue
            c = tab.get(key)
            if c is None:
                c = tab[key] = _Ctx()
            j = c.slot.get(sym)
            if j is None:
                c.slot[sym] = len(c.counts)
                c.syms.append(sym)
                c.counts.append(1.0)
            else:
                c.counts[j] += 1.0
            if c.kb <= LAZY_LIMIT:
                c.model = None
            else:
                c.next -= 1.0
                if c.next <= 0.0:
                    c.model = None
        self.o0_counts[sym] += 1.0
        p1 = self.p1
        self.keys = [None if p1 < 0 else (p1 << 32) | sym, sym]
        self.p1 = sym
        self.n_events += 1

    def _new_id(self) -> int:
        self.o0_counts.append(0.0)
        self.n_ids += 1
        return self.n_ids - 1

    def _decode_o0_id(self) -> int:
        dec = self.dec
        m = self._o0()
        b = self.o0_built
        j = int(dec.decode(m))
        if j < b:
            return j
        if j != b + 2 or self.n_ids <= b:
            raise ValueError("order-0 escape where an id was expected")
        if self.n_ids - b > 1:
            j += int(dec.decode(Uniform(self.n_ids - b)))
        return j - 2

    def decode_spelling(self) -> tuple[int, int]:
        """After `decode()` returned NEW_WORD: (base word id or -1, whitespace run index or -1).
        Then call `commit_new_word()`."""
        dec = self.dec
        vc = self.variant_counts
        base = -1
        if int(dec.decode(Categorical(np.array(vc), lazy=True))):
            vc[1] += 1.0
            base = self._decode_o0_id()
        else:
            vc[0] += 1.0
        wc = self.ws_counts
        k = len(wc)
        ws = int(dec.decode(Categorical(np.array([*wc, 0.5 + k * 0.5]), lazy=True))) if k else 0
        if ws < k:
            wc[ws] += 1.0
        else:
            wc.append(1.0)
            ws = -1
        return base, ws

    def commit_new_word(self) -> int:
        """Allocate the new word's id and count it."""
        sym = self._new_id()
        self.n_new_words += 1
        self._update(sym)
        return sym

    def end_phrase(self) -> int:
        """After a definition's words: register the phrase id."""
        sym = self._new_id()
        self.o0_counts[sym] = 1.0
        self.n_new_phrases += 1
        return sym

    def decode(self) -> int:
        """Decode one event: an existing id (already counted), NEW_WORD (then call
        `decode_spelling` and `commit_new_word`) or NEW_PHRASE (then `decode_level`, the words,
        and `end_phrase`)."""
        dec = self.dec
        for tab, key, a in zip(self.tabs, self.keys, self.escs):
            if key is None:
                continue
            c = tab.get(key)
            if c is None:
                continue
            j = dec.decode(self._model(c, a))
            if j < c.kb:
                sym = c.syms[j]
                self._update(sym)
                return sym
        m = self._o0()
        b = self.o0_built
        j = dec.decode(m)
        if j < b:
            sym = j
        elif j == b:
            return self.NEW_WORD
        elif j == b + 1:
            return self.NEW_PHRASE
        else:
            if self.n_ids <= b:
                raise ValueError("recent id with no recent ids")
            sym = b
            if self.n_ids - b > 1:
                sym += dec.decode(Uniform(self.n_ids - b))
        self._update(sym)
        return sym

    def decode_level(self) -> int:
        """The Fibonacci level of a phrase definition."""
        level = int(self.dec.decode(Categorical(np.array(self.level_counts), perfect=False)))
        self.level_counts[level] += 1.0
        return level


class V1CaseCoder:
    """Adaptive model of the case flags (0 as is, 1 Capitalised, 2 ALL CAPS) of cased tokens.

    Context: the previous cased token's flag, the class of the previous token (letter, sentence
    end, digit, other; with or without a line break) and this word's flag at its previous
    occurrence. Counts start at zero plus a small prior and the model is rebuilt (lazily) as
    counts change, on a schedule that thins out as a context fills.
    """

    def __init__(self) -> None:
        self.counts: dict[int, list[float]] = {}
        self.models: dict[int, Categorical] = {}

    def _model(self, ctx: int) -> tuple[list[float], Categorical]:
        c = self.counts.get(ctx)
        if c is None:
            c = self.counts[ctx] = [0.4, 0.2, 0.1, 0.0]
        m = self.models.get(ctx)
        if m is None:
            m = self.models[ctx] = Categorical(np.array(c[:3]), lazy=True)
        return c, m

    def _update(self, ctx: int, c: list[float], flag: int) -> None:
        c[flag] += 1.0
        c[3] += 1.0
        n = int(c[3])
        if n < 32 or n & 15 == 0:
            del self.models[ctx]

    def decode_one(self, dec: RangeDecoder, ctx: int) -> int:
        """Decode one flag in context `ctx`."""
        c, m = self._model(ctx)
        flag = int(dec.decode(m))
        self._update(ctx, c, flag)
        return flag
