"""The PPM model of the fib spelling stream (`formats.fib.spell`) against its plain definition.

`ReferencePpm` is the model written out directly (exclusion by a set of every symbol tried, the
final choice among all bytes not excluded); the coder's faster form must give the same words.
"""

from __future__ import annotations

from typing import Any

import constriction
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nacrith.formats.fib.spell import ORDER, ppm_decode, ppm_encode
from tests.paths import CANTERBURY

Categorical = constriction.stream.model.Categorical


class ReferencePpm:
    """Shared model state; `step` codes or decodes one byte."""

    def __init__(self) -> None:
        # per order: context key -> {byte: count} in first-appearance order
        self.tabs: list[dict[int, dict[int, float]]] = [{} for _ in range(ORDER + 1)]

    def step(self, coder: Any, hist: int, byte: int, encode: bool) -> int:
        excluded: set[int] = set()
        found = -1
        for order in range(ORDER, -1, -1):
            ctx = self.tabs[order].get(hist & ((1 << (8 * order)) - 1))
            if ctx is None:
                continue
            syms = [s for s in ctx if s not in excluded]
            if not syms:
                continue
            probs = np.array([*(ctx[s] for s in syms), float(len(syms))])
            model = Categorical(probs, lazy=True)
            if encode:
                j = syms.index(byte) if byte in ctx and byte not in excluded else len(syms)
                coder.encode(j, model)
            else:
                j = int(coder.decode(model))
            if j < len(syms):
                byte = syms[j]
                found = order
                break
            excluded.update(syms)
        if found < 0:
            rest = [b for b in range(256) if b not in excluded]
            if len(rest) > 1:
                model = constriction.stream.model.Uniform(len(rest))
                if encode:
                    coder.encode(rest.index(byte), model)
                else:
                    byte = rest[int(coder.decode(model))]
            else:
                byte = rest[0]
        for order in range(max(found, 0), ORDER + 1):
            tab = self.tabs[order]
            key = hist & ((1 << (8 * order)) - 1)
            ctx = tab.get(key)
            if ctx is None:
                tab[key] = {byte: 1.0}
            else:
                ctx[byte] = ctx.get(byte, 0.0) + 1.0
        return byte


def reference_encode(body: bytes) -> np.ndarray:
    """Range coder words (uint32) of `body`."""
    enc = constriction.stream.queue.RangeEncoder()
    model = ReferencePpm()
    hist = 0
    for byte in body:
        model.step(enc, hist, byte, True)
        hist = ((hist << 8) | byte) & 0xFFFFFF
    return enc.get_compressed()


def _check(body: bytes) -> None:
    words = ppm_encode(body)
    assert np.array_equal(words, reference_encode(body))
    assert ppm_decode(words, len(body)) == body


def test_ppm_matches_the_reference_on_corpora() -> None:
    for name in ("cp.html", "fields.c", "grammar.lsp", "sum"):
        _check((CANTERBURY / name).read_bytes()[:6000])


@settings(max_examples=60)
@given(st.binary(max_size=400))
def test_ppm_matches_the_reference_on_any_bytes(body: bytes) -> None:
    _check(body)
