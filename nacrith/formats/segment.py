"""Text/binary segmentation and deterministic chunking.

Text codecs (llm, fib, logs) get text regions; binary regions go to zstd or are stored. A byte is
*binary* when it is an ASCII control character other than TAB, LF, VT, FF, CR and ESC, or part of
an invalid UTF-8 sequence. Text runs shorter than `min_text` bytes are folded into the binary
region around them, so a binary file with a few printable strings stays one binary region, and
binary runs shorter than `min_binary` bytes stay inside the text around them.

Every boundary is a function of the bytes and the settings only.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

__all__ = ["Region", "binary_mask", "cut_chunks", "segment"]

_CONTROL = np.zeros(256, dtype=bool)
_CONTROL[[*range(0x00, 0x09), *range(0x0E, 0x1B), *range(0x1C, 0x20)]] = True
# When more than this share of a block is control bytes, skip UTF-8 validation: it is binary.
_DENSE_BINARY = 0.10
MIN_TEXT = 256
MIN_BINARY = 64


@dataclass(frozen=True)
class Region:
    """A span [start, end) of the input and whether it is text."""

    start: int
    end: int
    is_text: bool


def _mark_invalid_utf8(data: bytes, mask: np.ndarray) -> None:
    view = memoryview(data)
    pos = 0
    n = len(data)
    while pos < n:
        try:
            codecs.utf_8_decode(view[pos:], "strict", True)
            return
        except UnicodeDecodeError as exc:
            mask[pos + exc.start : pos + exc.end] = True
            pos += exc.end


def binary_mask(data: bytes) -> np.ndarray:
    """Boolean array, True where a byte is binary (control character or invalid UTF-8)."""
    arr = np.frombuffer(data, dtype=np.uint8)
    mask = _CONTROL[arr]
    if len(arr) and mask.mean() <= _DENSE_BINARY:
        _mark_invalid_utf8(data, mask)
    else:
        mask |= arr >= 0x80  # dense binary: treat every high byte as binary too
    return mask


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    change = np.flatnonzero(np.diff(mask.view(np.int8))) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [len(mask)]))
    return starts, ends


def _fold(mask: np.ndarray, value: bool, min_len: int) -> np.ndarray:
    """Flip runs equal to `value` that are shorter than `min_len` (and not the whole input)."""
    starts, ends = _runs(mask)
    lengths = ends - starts
    values = mask[starts]
    flip = (values == value) & (lengths < min_len) & (lengths < len(mask))
    if not flip.any():
        return mask
    return np.repeat(np.where(flip, ~values, values), lengths)


def segment(data: bytes, min_text: int = MIN_TEXT, min_binary: int = MIN_BINARY) -> list[Region]:
    """Split `data` into alternating text and binary regions covering it exactly.

    Text runs shorter than `min_text` join the binary around them; then binary runs shorter
    than `min_binary` join the text around them (text codecs are lossless on any bytes, so a
    stray control byte in a text file costs less inside the text chunk than as its own chunk).
    """
    if not data:
        return []
    mask = _fold(_fold(binary_mask(data), False, min_text), True, min_binary)
    starts, ends = _runs(mask)
    return [Region(s, e, not bool(mask[s])) for s, e in zip(starts.tolist(), ends.tolist())]


def cut_chunks(data: bytes, start: int, end: int, chunk_size: int) -> Iterator[tuple[int, int]]:
    """Cut [start, end) into spans of at most `chunk_size`, preferring to end after a newline
    found in the last eighth of a span."""
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    pos = start
    while pos < end:
        stop = min(pos + chunk_size, end)
        if stop < end:
            newline = data.rfind(b"\n", stop - max(chunk_size // 8, 1), stop)
            if newline >= pos:
                stop = newline + 1
        yield pos, stop
        pos = stop


def balanced_chunks(
    data: bytes, start: int, end: int, chunk_size: int
) -> Iterator[tuple[int, int]]:
    """Cut [start, end) into the fewest spans of about equal length, each at most `chunk_size`.

    The number of spans leaves room for moving each cut back by up to an eighth of the
    spacing, to just after a newline when one is there, so no span exceeds `chunk_size` and no
    short remainder is left over (equal streams finish together when coded in parallel).
    """
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    length = end - start
    if length <= 0:
        return
    pieces = min(length, -(-9 * length // (8 * chunk_size)))
    slack = max(1, length // pieces // 8)
    pos = start
    for k in range(1, pieces):
        target = start + k * length // pieces
        newline = data.rfind(b"\n", max(target - slack, pos + 1) - 1, target)
        stop = newline + 1 if newline >= pos else target
        yield pos, stop
        pos = stop
    yield pos, end
