"""Encoder of the `fib` event streams (payload version 2), mostly vectorised.

The decoder (`models.fib.events.EventDecoder`) works event by event. The encoder knows every event
up front, so it lays them out as arrays (keys, symbols, update times: `models.fib.layout`), lets
`models.fib.chain` compute what each order-1/2 context holds at each use and `models.fib.ranks` the
recency ranks, codes the small-context rows as one array, and walks the events in Python only for
the large contexts and for the rare details of new words and phrases.
"""

from __future__ import annotations

from typing import Any

import constriction
import numpy as np

from nacrith.models.fib.chain import ChainCodes, context_codes
from nacrith.models.fib.events import (
    BASE_CTX,
    BUCKET_PRIOR,
    BUCKET_STEP,
    NEW_PHRASE,
    NEW_WORD,
    OFFSET_SPLIT,
    Details,
    ModelParams,
)
from nacrith.models.fib.layout import event_layout
from nacrith.models.fib.ranks import recency_ranks
from nacrith.models.fib.tables import encode_rows

Categorical = constriction.stream.model.Categorical
Uniform = constriction.stream.model.Uniform
RangeEncoder = constriction.stream.queue.RangeEncoder

__all__ = ["encode_events"]


def _chain(
    ops_a: np.ndarray,
    k2s: np.ndarray,
    k1s: np.ndarray,
    upd: np.ndarray,
    end: np.ndarray,
    params: ModelParams,
    n_keys2: int,
) -> tuple[ChainCodes, ChainCodes, np.ndarray, np.ndarray, np.ndarray]:
    """Both context orders; returns their statistics (order 1 over the events `q1` where
    order 2 did not hit) and, per event, o0 (needs order 0) and the order-0 context (how many
    of the two contexts existed)."""
    u = upd >= 0
    t_use = 4 * np.arange(len(ops_a), dtype=np.int64) + 1  # updates come at t_use + 1
    t_end = 4 * end[:, 0] + 3
    s2 = context_codes(
        np.concatenate((k2s[u], end[:, 2])),
        np.concatenate((upd[u], end[:, 1])),
        np.concatenate((t_use[u] + 1, t_end)),
        k2s,
        ops_a,
        t_use,
        params.esc2_a,
        n_keys2,
    )
    u &= ~s2.hit
    q1 = np.flatnonzero(~s2.hit)
    s1 = context_codes(
        np.concatenate((k1s[u], end[:, 3])),
        np.concatenate((upd[u], end[:, 1])),
        np.concatenate((t_use[u] + 1, t_end)),
        k1s[q1],
        ops_a[q1],
        t_use[q1],
        params.esc1_a,
        len(ops_a) + 1,
    )
    del u, t_use
    o0 = ~s2.hit
    o0[q1] = ~s1.hit
    path = s2.exists.astype(np.int8)  # 0..2
    path[q1] += s1.exists
    return s2, s1, q1, o0, path


def _code_small(
    enc_s: Any,
    small: np.ndarray,
    code: np.ndarray,
    kb: np.ndarray,
    row_of: np.ndarray,
    tables: tuple[ChainCodes, ChainCodes],
) -> None:
    """Stream A1: the uses of small contexts, in slices, each with its row (escape weight in
    column `kb`); `row_of` numbers the rows of both tables, order 2 first."""
    sel = np.flatnonzero(small)
    if len(sel) == 0:
        return
    s2, s1 = tables
    n2 = len(s2.rows)
    family = Categorical(perfect=False)
    for lo in range(0, len(sel), 1 << 15):
        part = sel[lo : lo + (1 << 15)]
        at = row_of[part]
        in2 = at < n2
        at1 = at[~in2] - n2
        probs = np.empty((len(part), s2.rows.shape[1]))
        probs[in2] = s2.rows[at[in2]]
        probs[~in2] = s1.rows[at1]
        esc = np.empty(len(part))
        esc[in2] = s2.esc[at[in2]]
        esc[~in2] = s1.esc[at1]
        probs[np.arange(len(part)), kb[part]] = esc
        enc_s.encode(code[part].astype(np.int32), family, probs)


def _code_chain(enc_s: Any, enc_l: Any, s2: ChainCodes, s1: ChainCodes, q1: np.ndarray) -> None:
    """Streams A1 (small rows, one array) and A2 (large rows, one by one), in event order with
    order 2 before order 1."""
    ev2 = np.flatnonzero(s2.exists)
    ex1 = s1.exists
    order = np.argsort(np.concatenate((2 * ev2, 2 * q1[ex1] + 1)), kind="stable")
    small2, small1 = s2.small[ev2], s1.small[ex1]
    small = np.concatenate((small2, small1))[order]
    code = np.concatenate((s2.code[ev2], s1.code[ex1]))[order]
    kb = np.concatenate((s2.kb[ev2], s1.kb[ex1]))[order]
    # each small use's row among the rows of both tables
    row_of = np.zeros(len(order), dtype=np.int32)
    row_of[: len(ev2)][small2] = s2.row_of
    row_of[len(ev2) :][small1] = s1.row_of + len(s2.rows)
    row_of = row_of[order]
    _code_small(enc_s, small, code, kb, row_of, (s2, s1))
    del row_of, kb
    ver = np.concatenate((s2.version[ev2], s1.version[ex1]))[order]
    table = np.concatenate((np.zeros(len(ev2), np.int8), np.ones(int(ex1.sum()), np.int8)))
    table = table[order]
    large = np.flatnonzero(~small)
    # one key per (table, version): versions are global update indices of their table
    keys = (ver[large].astype(np.int64) << 1) | table[large]
    models: dict[int, Any] = {}
    encode = enc_l.encode
    for key, c in zip(keys.tolist(), code[large].tolist()):
        m = models.get(key)
        if m is None:
            m = models[key] = Categorical(
                (s1 if key & 1 else s2).large_rows[key >> 1], perfect=False
            )
        encode(c, m)


def _code_order0(
    ops_a: np.ndarray,
    o0: np.ndarray,
    path: np.ndarray,
    new_words: list[tuple[int, int]],
    tpos: np.ndarray,
    touches: np.ndarray,
    merges: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Streams B (rank buckets and NEW_WORD / NEW_PHRASE, then the base word of a new word)
    and C (rank offsets), in event order."""
    ev = np.flatnonzero(o0)
    sym = ops_a[ev]
    nw_ev = np.flatnonzero(ops_a == NEW_WORD)
    base = np.array([b for b, _ in new_words], dtype=np.int64).reshape(-1)
    has_base = base >= 0
    key = np.concatenate((2 * ev, 2 * nw_ev[has_base] + 1))
    ctx = np.concatenate((path[ev], np.full(int(has_base.sum()), BASE_CTX)))
    qsym = np.concatenate((sym, base[has_base]))
    qpos = np.concatenate((tpos[ev], tpos[nw_ev[has_base]]))
    order = np.argsort(key, kind="stable")
    ctx, qsym, qpos = ctx[order], qsym[order], qpos[order]
    is_rank = qsym >= 0
    b_sym = -1 - qsym  # NEW_WORD -> 0, NEW_PHRASE -> 1
    rank, space = recency_ranks(touches, merges, qsym[is_rank], qpos[is_rank])
    v = rank + 1
    bucket = np.frexp(v.astype(np.float64))[1]  # bit_length
    lo = np.int64(1) << (bucket - 1)
    off = v - lo
    size = np.minimum(lo << 1, space + 1) - lo
    b_sym[is_rank] = 1 + bucket
    enc_b = RangeEncoder()
    encode_rows(enc_b, ctx, b_sym, BUCKET_PRIOR, BUCKET_STEP)
    big = size > OFFSET_SPLIT
    keep = size > 1
    reps = np.where(big, 2, keep.astype(np.int64))
    c_off = np.repeat(off, reps)
    c_size = np.repeat(size, reps)
    at = np.cumsum(reps) - reps  # first slot of each rank
    bi = at[big]
    c_off[bi] = off[big] % OFFSET_SPLIT
    c_size[bi] = OFFSET_SPLIT
    c_off[bi + 1] = off[big] // OFFSET_SPLIT
    c_size[bi + 1] = (size[big] - 1) // OFFSET_SPLIT + 1
    enc_c = RangeEncoder()
    if len(c_off):
        enc_c.encode(c_off.astype(np.int32), Uniform(), c_size.astype(np.int32))
    return enc_b.get_compressed(), enc_c.get_compressed()


def encode_events(
    params: ModelParams,
    ops: list[int],
    new_words: list[tuple[int, int]],
    levels: list[int],
    words_of: list[list[int] | None],
    lengths: tuple[int, ...],
) -> tuple[Any, list[np.ndarray]]:
    """Code the events `ops` (ids introduced before, NEW_WORD with details from `new_words`,
    NEW_PHRASE with its level from `levels`, followed by its words; see
    `EventDecoder.decode_events`). Returns (encoder of stream D, still open for the case
    flags; words of streams A1, A2, B, C)."""
    ops_a = np.array(ops, dtype=np.int64)
    k2s, k1s, upd, tpos, end, touches, merges, n_keys2 = event_layout(
        ops, words_of, lengths, levels, params.interval
    )
    s2, s1, q1, o0, path = _chain(ops_a, k2s, k1s, upd, end, params, n_keys2)
    del k2s, k1s, upd, end  # each stage frees what the next ones do not read
    enc_s, enc_l = RangeEncoder(), RangeEncoder()
    _code_chain(enc_s, enc_l, s2, s1, q1)
    del s2, s1, q1
    coded_b, coded_c = _code_order0(ops_a, o0, path, new_words, tpos, touches, merges)
    del ops_a, o0, path, tpos, touches, merges
    enc_d = _code_details(ops, new_words, levels)
    return enc_d, [enc_s.get_compressed(), enc_l.get_compressed(), coded_b, coded_c]


def _code_details(ops: list[int], new_words: list[tuple[int, int]], levels: list[int]) -> Any:
    """Stream D: the details of new words and phrases, in event order; the encoder is left
    open for the case flags."""
    enc_d = RangeEncoder()
    d = Details()
    nw = nl = 0
    marks = np.array(ops, dtype=np.int64)
    for sym in marks[marks < 0].tolist():  # NEW_WORD and NEW_PHRASE, in event order
        if sym == NEW_WORD:
            base, ws = new_words[nw]
            nw += 1
            bit = 1 if base >= 0 else 0
            enc_d.encode(bit, d.variant_model())
            d.count_variant(bit)
            k = len(d.ws)
            idx = ws if ws >= 0 else k
            if k:
                enc_d.encode(idx, d.ws_model())
            d.count_ws(idx)
        elif sym == NEW_PHRASE:
            level = levels[nl]
            nl += 1
            enc_d.encode(level, d.level_model())
            d.count_level(level)
    return enc_d
