"""The event layout of the `fib` encoder, vectorised (see `models.fib.encoder`).

The decoder (`models.fib.events.EventDecoder.decode_events`) walks the events one by one: it
numbers new ids (a word at its NEW_WORD, a phrase after the last word of its definition), shifts
the order-1/2 contexts, records recency touches and merges the recency front every `interval`
touches. The encoder knows every event up front, so `event_layout` computes the same with numpy:
ids by sorting their creation points, contexts from each event's last two words, touches by
repeating each event's span, and the merge points by a search over the running touch count.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nacrith.models.fib.events import NEW_PHRASE, NEW_WORD, START1, START2

__all__ = ["Layout", "event_layout"]


class Layout(NamedTuple):
    """Per event: dense order-2 key (numbered in order of appearance), order-1 key (previous
    word + 1), update symbol (-1: none) and touch position (touches recorded before it); per
    phrase definition: (event of its last word, phrase id, its dense keys where it began); the
    touches and the touch positions of the recency merges; the number of order-2 keys."""

    k2s: np.ndarray
    k1s: np.ndarray
    upd: np.ndarray
    tpos: np.ndarray
    ends: np.ndarray
    touches: np.ndarray
    merges: np.ndarray
    n_keys2: int


def _ids(ops_a: np.ndarray, def_at: np.ndarray, end_ev: np.ndarray) -> tuple[np.ndarray, ...]:
    """(id of each new word, id of each defined phrase): ids in order of creation, a phrase's
    after a new word at the same event."""
    nw_ev = np.flatnonzero(ops_a == NEW_WORD)
    created = np.concatenate((2 * nw_ev, 2 * end_ev + 1))
    ids = np.empty(len(created), dtype=np.int64)
    ids[np.argsort(created, kind="stable")] = np.arange(len(created))
    return nw_ev, ids[: len(nw_ev)], ids[len(nw_ev) :]


def _phrase_table(words_of: list[list[int] | None]) -> tuple[np.ndarray, ...]:
    """Per id: its length in words (0 for a word), offset of its words in the flat array, and
    the flat array of every phrase's words."""
    lens = np.fromiter((0 if w is None else len(w) for w in words_of), np.int64, len(words_of))
    flat = [x for w in words_of if w is not None for x in w]
    starts = np.cumsum(lens) - lens
    return lens, starts, np.array(flat, dtype=np.int64)


def event_layout(
    ops: list[int],
    words_of: list[list[int] | None],
    lengths: tuple[int, ...],
    levels: list[int],
    interval: int,
) -> Layout:
    """What the decoder does with the events `ops`, as arrays (see `Layout`)."""
    ops_a = np.array(ops, dtype=np.int64)
    n = len(ops_a)
    is_def = ops_a == NEW_PHRASE
    real = np.flatnonzero(~is_def)  # events that carry a symbol
    def_at = np.flatnonzero(is_def)
    # a definition ends at the L-th symbol event after its NEW_PHRASE
    first_after = np.searchsorted(real, def_at)
    def_len = np.array(lengths, dtype=np.int64)[np.asarray(levels[: len(def_at)], dtype=np.int64)]
    end_ev = real[first_after + def_len - 1]
    nw_ev, nw_id, ph_id = _ids(ops_a, def_at, end_ev)
    upd = ops_a.copy()
    upd[nw_ev] = nw_id
    upd[def_at] = -1
    lens, starts, flat = _phrase_table(words_of)
    sym = upd[real]
    plen = lens[sym]  # words of a phrase use, 0 for a word
    # touches: each symbol event touches its words then itself; a definition's end then its id
    extra = np.zeros(n, dtype=np.int64)
    extra[end_ev] = 1
    t_own = np.zeros(n, dtype=np.int64)
    t_own[real] = plen + 1
    per_event = t_own + extra
    tpos = np.cumsum(per_event) - per_event
    touches = np.empty(int(per_event.sum()), dtype=np.int64)
    at = tpos[real]
    touches[at + plen] = sym
    use = np.flatnonzero(plen)
    if len(use):
        reps = plen[use]
        offs = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
        touches[np.repeat(at[use], reps) + offs] = flat[np.repeat(starts[sym[use]], reps) + offs]
    touches[tpos[end_ev] + t_own[end_ev]] = ph_id
    # merges: after a symbol event, once `interval` touches have passed since the last merge
    after = at + plen + 1
    merges = []
    last = 0
    while True:
        i = int(np.searchsorted(after, last + interval))
        if i >= len(after):
            break
        last = int(after[i])
        merges.append(last)
    # contexts: each symbol event's last two words
    last_w = sym.copy()
    last_w[use] = flat[starts[sym[use]] + plen[use] - 1]
    second = np.full(len(real), START1, dtype=np.int64)
    second[1:] = last_w[:-1]
    second[use] = flat[starts[sym[use]] + plen[use] - 2]
    keys = np.concatenate(([START2], (second << 32) | last_w))
    uniq, first, inv = np.unique(keys, return_index=True, return_inverse=True)
    dense = np.empty(len(uniq), dtype=np.int64)
    dense[np.argsort(first, kind="stable")] = np.arange(len(uniq))
    dense_seq = dense[inv.reshape(-1)]
    before = np.searchsorted(real, np.arange(n))  # symbol events before each event
    k2s = dense_seq[before]
    k1s = np.concatenate(([START1], last_w))[before] + 1
    ends = np.stack((end_ev, ph_id, k2s[def_at], k1s[def_at]), axis=1).reshape(-1, 4)
    return Layout(
        k2s,
        k1s,
        upd,
        tpos,
        ends,
        touches,
        np.array(merges, dtype=np.int64),
        len(uniq),
    )
