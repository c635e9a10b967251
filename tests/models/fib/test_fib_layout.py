"""`models.fib.layout.event_layout` against the decoder's event-by-event definition.

`reference_layout` is the loop the encoder used before the layout was vectorised: it follows
`EventDecoder.decode_events` step by step (ids, contexts, touches, merges), so the vectorised
layout must give exactly its arrays on every event sequence the encoder makes.
"""

from __future__ import annotations

import random
from array import array

import numpy as np
import pytest

from nacrith.codecs.fib import FibCodec
from nacrith.formats.fib.phrases import FIB_LENGTHS
from nacrith.models.fib import encoder as fib_encoder
from nacrith.models.fib.events import NEW_PHRASE, NEW_WORD, START1, START2
from nacrith.models.fib.layout import event_layout
from tests.paths import CANTERBURY


def reference_layout(
    ops: list[int],
    words_of: list[list[int] | None],
    lengths: tuple[int, ...],
    levels: list[int],
    interval: int,
) -> tuple[np.ndarray, ...]:
    """Per event: dense context keys (order 2: numbered in order of appearance; order 1: the
    previous word + 1), update symbol (-1: none) and touch position (uses recorded before the
    event); per phrase definition: (event of its last word, phrase id, dense keys where it
    began); the touches (recency uses) and the touch positions of the recency merges, all as
    the decoder makes them; the number of order-2 keys."""
    n = len(ops)
    # flat C arrays, not lists: a list of a million ints costs 36 bytes an entry, not 8
    k2s = array("q", bytes(8 * n))
    k1s = array("q", bytes(8 * n))
    upd = array("q", [-1]) * n
    tpos = array("q", bytes(8 * n))
    ends: list[tuple[int, int, int, int]] = []
    touches = array("q")
    merges = array("q")
    k2, k1 = START2, START1
    p1 = START1
    key2 = {k2: 0}
    d2 = 0
    n_ids = 0
    nl = 0
    def_left = 0
    def_k2 = def_k1 = 0
    left = interval
    for e, sym in enumerate(ops):
        k2s[e] = d2
        k1s[e] = k1 + 1
        tpos[e] = len(touches)
        if sym == NEW_PHRASE:
            def_left = lengths[levels[nl]]
            nl += 1
            def_k2, def_k1 = d2, k1 + 1
            continue
        if sym == NEW_WORD:
            sym = n_ids
            n_ids += 1
            words = None
        else:
            words = words_of[sym]
        upd[e] = sym
        if words is None:
            touches.append(sym)
            left -= 1
            k2 = (p1 << 32) | sym
            k1 = p1 = sym
        else:
            touches.extend(words)
            touches.append(sym)
            left -= len(words) + 1
            p1 = words[-1]
            k2 = (words[-2] << 32) | p1
            k1 = p1
        d2 = key2.setdefault(k2, len(key2))
        if left <= 0:
            merges.append(len(touches))
            left = interval
        if def_left:
            def_left -= 1
            if not def_left:
                ends.append((e, n_ids, def_k2, def_k1))
                touches.append(n_ids)
                left -= 1
                n_ids += 1
    return (
        np.frombuffer(k2s, dtype=np.int64),
        np.frombuffer(k1s, dtype=np.int64),
        np.frombuffer(upd, dtype=np.int64),
        np.frombuffer(tpos, dtype=np.int64),
        np.array(ends, dtype=np.int64).reshape(-1, 4),
        np.array(touches, dtype=np.int64),
        np.array(merges, dtype=np.int64),
        len(key2),
    )


def _captured_events(data: bytes, monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """The (ops, words_of, levels, interval) the encoder lays out for `data`."""
    seen: list[tuple] = []
    real = fib_encoder.event_layout

    def spy(ops, words_of, lengths, levels, interval):  # type: ignore[no-untyped-def]
        seen.append(
            (list(ops), [None if w is None else list(w) for w in words_of], list(levels), interval)
        )
        return real(ops, words_of, lengths, levels, interval)

    monkeypatch.setattr(fib_encoder, "event_layout", spy)
    FibCodec(o0_step=1).encode(data)
    return seen


def _phrasey_text(seed: int) -> bytes:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(40)]
    lines = [" ".join(rng.choices(words, k=rng.randint(3, 30))) for _ in range(60)]
    return "\n".join(rng.choice(lines) for _ in range(400)).encode()


@pytest.mark.parametrize(
    "source", ["alice29.txt", "cp.html", "fields.c", "grammar.lsp", "phrasey-1", "phrasey-2"]
)
def test_layout_matches_the_event_loop(source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if source.startswith("phrasey"):
        data = _phrasey_text(int(source[-1]))
    else:
        data = (CANTERBURY / source).read_bytes()[:60000]
    (events,) = _captured_events(data, monkeypatch)
    ops, words_of, levels, interval = events
    assert NEW_PHRASE in ops  # the inputs exercise phrase definitions and uses
    got = event_layout(ops, words_of, FIB_LENGTHS, levels, interval)
    want = reference_layout(ops, words_of, FIB_LENGTHS, levels, interval)
    assert len(got) == len(want)
    for a, b in zip(got[:-1], want[:-1]):
        assert np.array_equal(np.asarray(a).reshape(-1), np.asarray(b).reshape(-1))
    assert got.n_keys2 == want[-1]
    assert len(got.merges) > 0


def test_layout_of_words_only() -> None:
    ops = [NEW_WORD, NEW_WORD, 0, 1, 0, NEW_WORD, 2, 1]
    words_of: list[list[int] | None] = [None, None, None]
    got = event_layout(ops, words_of, FIB_LENGTHS, [], 3)
    want = reference_layout(ops, words_of, FIB_LENGTHS, [], 3)
    for a, b in zip(got[:-1], want[:-1]):
        assert np.array_equal(np.asarray(a).reshape(-1), np.asarray(b).reshape(-1))
    assert got.touches.tolist() == [0, 1, 0, 1, 0, 2, 2, 1]
    assert got.merges.tolist() == [3, 6]
