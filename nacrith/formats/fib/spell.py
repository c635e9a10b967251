"""A byte-level PPM model for the `fib` spelling stream (small streams only; see
`formats.fib.tokens`).

Orders 3, 2, 1 and 0 with escapes (weight: the number of distinct symbols left after exclusion,
PPM method C) and full exclusion, then a uniform choice among the bytes not yet excluded; counts
are updated in the order that coded the byte and those above (update exclusion). Coding is one
byte at a time in Python, so `pack_spelling` uses it only for streams of at most `PPM_LIMIT`
bytes, where it beats LZMA2 and bzip2 clearly.
"""

from __future__ import annotations

from typing import Any

import constriction
import numpy as np

__all__ = ["PPM_LIMIT", "ppm_decode", "ppm_encode"]

PPM_LIMIT = 1 << 16
ORDER = 3
Categorical = constriction.stream.model.Categorical
Uniform = constriction.stream.model.Uniform
_MASKS = (0, 0xFF, 0xFFFF, 0xFFFFFF)


class _Ppm:
    """Shared model state; `step` codes or decodes one byte."""

    def __init__(self) -> None:
        # per order: context key -> {byte: count} in first-appearance order
        self.tabs: list[dict[int, dict[int, float]]] = [{} for _ in range(ORDER + 1)]
        # bytes not seen yet, ascending: what the final uniform choice picks from
        self.unseen = list(range(256))

    def step(self, coder: Any, hist: int, byte: int, encode: bool) -> int:
        tabs = self.tabs
        ctxs = (
            tabs[3].get(hist),
            tabs[2].get(hist & 0xFFFF),
            tabs[1].get(hist & 0xFF),
            tabs[0].get(0),
        )
        above: dict[int, float] | None = None  # the last context tried: holds every one above
        found = -1
        for order in (3, 2, 1, 0):
            ctx = ctxs[3 - order]
            if ctx is None:
                continue
            if above is None:
                syms = list(ctx)
                probs = [*ctx.values(), float(len(syms))]
            else:
                if len(ctx) == len(above):
                    continue
                syms = [s for s in ctx if s not in above]
                probs = [ctx[s] for s in syms]
                probs.append(float(len(syms)))
            model = Categorical(np.array(probs), lazy=True)
            k = len(syms)
            if encode:
                j = syms.index(byte) if byte in ctx and (above is None or byte not in above) else k
                coder.encode(j, model)
            else:
                j = int(coder.decode(model))
            if j < k:
                byte = syms[j]
                found = order
                break
            above = ctx
        if found < 0:
            rest = self.unseen
            if len(rest) > 1:
                model = Uniform(len(rest))
                if encode:
                    coder.encode(rest.index(byte), model)
                else:
                    byte = rest[int(coder.decode(model))]
            else:
                byte = rest[0]
            rest.remove(byte)
        for order in range(max(found, 0), ORDER + 1):
            ctx = ctxs[3 - order]
            if ctx is None:
                tabs[order][hist & _MASKS[order]] = {byte: 1.0}
            else:
                ctx[byte] = ctx.get(byte, 0.0) + 1.0
        return byte


def ppm_encode(body: bytes) -> np.ndarray:
    """Range coder words (uint32) of `body`."""
    enc = constriction.stream.queue.RangeEncoder()
    model = _Ppm()
    hist = 0
    for byte in body:
        model.step(enc, hist, byte, True)
        hist = ((hist << 8) | byte) & 0xFFFFFF
    return enc.get_compressed()


def ppm_decode(words: np.ndarray, size: int) -> bytes:
    """Inverse of `ppm_encode` for a body of `size` bytes."""
    dec = constriction.stream.queue.RangeDecoder(words)
    model = _Ppm()
    out = bytearray()
    hist = 0
    for _ in range(size):
        byte = model.step(dec, hist, 0, False)
        out.append(byte)
        hist = ((hist << 8) | byte) & 0xFFFFFF
    return bytes(out)
