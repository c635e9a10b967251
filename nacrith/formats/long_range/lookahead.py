"""Deciding whether an input gets the long-range pass, from the blocks read ahead of it.

A sampled search (`LongRangeEncoder` with ``sampled=True``) probes the blocks first, at a
fraction of the full search's cost. Where its matches fall short of what `may_pay` asks, the
full search could not have found a pass that `pays`, except where the repeats it would find
avoid the sampled positions far more than chance allows; the input is then coded without
the pass and the full search never runs. Otherwise the full search runs over the same blocks,
exactly as without the probe. Both depend only on the bytes and the settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO

from nacrith.formats.long_range.reader import may_pay, pays
from nacrith.formats.long_range.stream import LongRangeEncoder, Stats
from nacrith.formats.reading import read_exactly

__all__ = ["Lookahead", "look_ahead"]


@dataclass
class Lookahead:
    """The blocks read (`first` included), the probe's stats, and where the pass pays, the
    encoder and the frames of the first ``len(frames)`` blocks (the rest are still to be
    framed, one frame per block)."""

    blocks: list[bytes]
    probe: Stats
    encoder: LongRangeEncoder | None = None
    frames: list[bytes] | None = None


def look_ahead(
    first: bytes,
    reader: IO[bytes],
    min_distance: int,
    window_log: int,
    block_size: int,
    limit: int,
) -> Lookahead:
    """Read blocks of `block_size` after `first` from `reader` while the input lasts, until
    the probe (then the full search) finds the pass worth writing or `limit` bytes are read.
    `first` is the input's first block, of `block_size` bytes unless the input ends there."""
    blocks = [first]

    def more() -> bytes:
        if len(blocks[-1]) != block_size or len(blocks) * block_size >= limit:
            return b""
        block = read_exactly(reader, block_size)
        if block:
            blocks.append(block)
        return block

    probe = LongRangeEncoder(min_distance, window_log, sampled=True)
    probe.scan(first)
    while not may_pay(probe.stats) and (block := more()):
        probe.scan(block)
    result = Lookahead(blocks, probe.stats)
    del probe  # its table and history
    if not may_pay(result.probe):
        return result
    encoder = LongRangeEncoder(min_distance, window_log)
    frames = [encoder.frame(first)]
    while not pays(encoder.stats):
        if len(frames) == len(blocks) and not more():
            break
        frames.append(encoder.frame(blocks[len(frames)]))
    if pays(encoder.stats):
        result.encoder, result.frames = encoder, frames
    return result
