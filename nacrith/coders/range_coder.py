"""24-bit range coding of tokens over constriction's queue coder.

`RangeEncoder.encode_freqs` / `RangeDecoder.decode_freqs` code one symbol with integer
frequencies that sum to 2**24 (from `coders.quantize`). constriction's `Categorical(perfect=False)`
builds its CDF as ``floor(S_i * scale) + i`` from float weights; fed the weights ``f_i - 1`` (exact
integers in float64, summing to ``2**24 - n`` so that ``scale == 1.0``), it reproduces our integer
CDF exactly, so the coded bits are a function of our frequencies alone.

`encode_probs` / `decode_probs` code a token under a full float distribution over a large
vocabulary in two levels, which keeps the cost of the mandatory floor small: the *head* (symbols
with p >= ``HEAD_MIN``) plus one escape symbol are quantized to 2**24; only when the token is in the
tail is it coded again among the tail symbols. A flat 2**24 table over 49,152 symbols would spend
V / 2**24 = 0.29% of the range on the floor (about 0.0042 bit per token, 0.12% of the code);
here the head floor costs about (n_head + 1) / 2**24.

With ``exact=True`` the head's mass and both levels' frequencies come from exact integer sums
(`quantize.integer_weights`), so the coded bits do not depend on floating-point summation order.

Compressed streams are bytes: constriction's little-endian 32-bit words with the zero high bytes of
the last word dropped (the decoder pads them back).
"""

from __future__ import annotations

import constriction
import numpy as np

from nacrith.coders.quantize import TOTAL, integer_weights, quantize
from nacrith.errors import CorruptDataError

__all__ = ["HEAD_MIN", "RangeDecoder", "RangeEncoder", "code_length", "is_panic", "split_head"]

#: symbols at least this probable are coded directly, the rest behind one escape symbol
HEAD_MIN = 2.0**-14

_Categorical = constriction.stream.model.Categorical


def _model(freqs: np.ndarray):
    return _Categorical((freqs - 1).astype(np.float64), lazy=True)


def split_head(probs: np.ndarray, exact: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(head symbol ids, level-1 frequencies over head + escape) for one float row."""
    head = np.flatnonzero(probs >= HEAD_MIN)
    if exact:
        weights = integer_weights(probs)
        level1 = weights[head]
        if head.size < probs.size:
            level1 = np.append(level1, weights.sum() - level1.sum())
        return head, quantize(level1, exact=True)
    p_head = probs[head]
    tail_mass = max(0.0, 1.0 - float(p_head.sum())) if head.size < probs.size else 0.0
    level1 = np.append(p_head, tail_mass) if head.size < probs.size else p_head
    if level1.sum() <= 0:  # no head at all: escape is certain
        level1 = np.append(np.zeros(head.size), 1.0)
    return head, quantize(level1)


def code_length(probs: np.ndarray, symbol: int, exact: bool = False) -> float:
    """Bits `encode_probs` spends on `symbol` under `probs` (without the final flush)."""
    head, f1 = split_head(probs, exact)
    pos = np.searchsorted(head, symbol)
    if pos < head.size and head[pos] == symbol:
        return -float(np.log2(f1[pos] / TOTAL)) if f1.size > 1 else 0.0
    bits = -float(np.log2(f1[-1] / TOTAL)) if f1.size > 1 else 0.0
    tail = np.setdiff1d(np.arange(probs.size), head, assume_unique=True)
    if tail.size > 1:
        f2 = quantize(probs[tail], exact=exact)
        bits -= float(np.log2(f2[np.searchsorted(tail, symbol)] / TOTAL))
    return bits


class RangeEncoder:
    """Appends symbols to one compressed stream."""

    def __init__(self) -> None:
        self._enc = constriction.stream.queue.RangeEncoder()

    def encode_freqs(self, symbol: int, freqs: np.ndarray) -> None:
        """Code `symbol` under integer frequencies summing to 2**24 (all >= 1)."""
        if freqs.size > 1:
            self._enc.encode(int(symbol), _model(freqs))

    def encode_probs(self, symbol: int, probs: np.ndarray, exact: bool = False) -> None:
        """Code `symbol` under a float distribution (two-level: head, then tail if needed)."""
        head, f1 = split_head(probs, exact)
        pos = int(np.searchsorted(head, symbol))
        if pos < head.size and head[pos] == symbol:
            self.encode_freqs(pos, f1)
            return
        if f1.size == head.size:
            raise ValueError(f"symbol {symbol} has no probability in the model")
        self.encode_freqs(head.size, f1)
        tail = _tail(probs.size, head)
        self.encode_freqs(int(np.searchsorted(tail, symbol)), quantize(probs[tail], exact=exact))

    def num_bits(self) -> int:
        """Bits written so far (whole 32-bit words)."""
        return int(self._enc.num_bits())

    def finish(self) -> bytes:
        """The compressed stream (the encoder stays usable; later symbols extend it)."""
        words = self._enc.get_compressed()
        data = words.astype("<u4").tobytes()
        strip = 0
        while strip < 3 and data and data[len(data) - 1 - strip] == 0:
            strip += 1
        return data[: len(data) - strip]


def is_panic(exc: BaseException) -> bool:
    """Whether `exc` is pyo3's PanicException, which constriction raises on impossible states.

    It derives from BaseException, not Exception, so decoders must catch it by name.
    """
    return type(exc).__name__ == "PanicException"


class RangeDecoder:
    """Reads symbols back from a stream made by `RangeEncoder`."""

    def __init__(self, data: bytes) -> None:
        pad = (-len(data)) % 4
        words = np.frombuffer(bytes(data) + b"\0" * pad, dtype="<u4").astype(np.uint32)
        self._dec = constriction.stream.queue.RangeDecoder(words)

    def decode_freqs(self, freqs: np.ndarray) -> int:
        """Decode one symbol coded with `encode_freqs` under the same frequencies."""
        if freqs.size <= 1:
            return 0
        try:
            return int(self._dec.decode(_model(freqs)))
        except (ValueError, RuntimeError, OverflowError, AssertionError) as exc:
            # constriction asserts when the stream is invalid for the model (found by fuzzing)
            raise CorruptDataError(f"range decoder failed: {exc}") from exc
        except BaseException as exc:
            if is_panic(exc):
                raise CorruptDataError(f"range decoder failed: {exc}") from exc
            raise

    def decode_probs(self, probs: np.ndarray, exact: bool = False) -> int:
        """Decode one symbol coded with `encode_probs` under the same distribution and mode."""
        head, f1 = split_head(probs, exact)
        idx = self.decode_freqs(f1)
        if idx < head.size:
            return int(head[idx])
        tail = _tail(probs.size, head)
        return int(tail[self.decode_freqs(quantize(probs[tail], exact=exact))])


def _tail(n: int, head: np.ndarray) -> np.ndarray:
    mask = np.ones(n, dtype=bool)
    mask[head] = False
    return np.flatnonzero(mask)
