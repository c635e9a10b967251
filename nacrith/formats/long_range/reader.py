"""Readers for the pipeline: blocks read ahead then the rest of a stream (`ChainReader`), and
the long-range stream of an input produced frame by frame as it is read (`LongRangeReader`)."""

from __future__ import annotations

import zlib
from bisect import bisect_right
from collections import deque
from collections.abc import Iterable
from typing import IO

from nacrith.formats.long_range.finder import SAMPLE_PERIOD, SAMPLE_RUN
from nacrith.formats.long_range.stream import LongRangeEncoder, Stats
from nacrith.formats.reading import read_exactly

__all__ = ["ChainReader", "LongRangeReader", "may_pay", "pays"]

#: the pass is written only where it saves at least this many bytes (estimated) ...
MIN_SAVING = 4096
#: ... and at least this share of the input's estimated compressed size
MIN_SHARE = 0.01
#: a sampled search (`finder.SAMPLE_RUN` of every `finder.SAMPLE_PERIOD` positions looked up)
#: is taken to find at least this share of what the full search finds: a quarter of the
#: share of positions it looks up, since a repeat found is counted whole
PROBE_SHARE = SAMPLE_RUN / SAMPLE_PERIOD / 4


def pays(stats: Stats) -> bool:
    """Whether a long-range stream with these `stats` is worth writing: the bytes its matches
    cover, costed at zlib's ratio (level 6) on the sample of them (cheap, and above what the
    chunk codecs reach, so the estimate errs towards the pass), must outweigh the tables by a
    margin."""
    if not stats.matched or not stats.sample:
        return False
    ratio = len(zlib.compress(bytes(stats.sample), 6)) / len(stats.sample)
    saving = stats.estimated_saving(ratio)
    return saving >= max(MIN_SAVING, MIN_SHARE * stats.scanned * ratio)


def may_pay(probe: Stats) -> bool:
    """Whether the full search may find a pass that `pays`, judged by the `stats` of a sampled
    search over the same input: `pays` needs matched bytes of at least `MIN_SHARE` of the input
    (and `MIN_SAVING`) whatever the ratio, and the sample is taken to find at least
    `PROBE_SHARE` of them."""
    return probe.matched >= PROBE_SHARE * max(MIN_SAVING, MIN_SHARE * probe.scanned)


class ChainReader:
    """Reads `blocks` (read ahead from `reader`), then whatever `reader` still holds."""

    def __init__(self, blocks: Iterable[bytes], reader: IO[bytes]) -> None:
        self._blocks = deque(b for b in blocks if b)
        self._reader = reader

    def read(self, size: int = -1) -> bytes:
        """At most `size` bytes (all that is left for a negative size)."""
        if not self._blocks:
            return self._reader.read(size)
        block = self._blocks.popleft()
        if 0 <= size < len(block):
            self._blocks.appendleft(block[size:])
            block = block[:size]
        return block


class LongRangeReader:
    """The long-range stream of an input: the stream header, the `frames` already encoded
    from it, then one frame per `frame_size` bytes of what `reader` still holds, then the end.

    `input_done(stream_bytes)` tells how many input bytes the first `stream_bytes` bytes of the
    stream stand for (interpolated inside a frame), for progress reports.
    """

    def __init__(
        self,
        encoder: LongRangeEncoder,
        frames: Iterable[tuple[int, bytes]],
        reader: IO[bytes],
        frame_size: int,
    ) -> None:
        self._encoder = encoder
        self._reader = reader
        self._frame_size = frame_size
        self._queue: deque[bytes] = deque([encoder.header()])
        self._stream_ends = [len(encoder.header())]
        self._input_ends = [0]
        for input_size, frame in frames:
            self._push(input_size, frame)
        self._more = True
        self._buffer = b""

    def _push(self, input_size: int, frame: bytes) -> None:
        self._queue.append(frame)
        self._stream_ends.append(self._stream_ends[-1] + len(frame))
        self._input_ends.append(self._input_ends[-1] + input_size)

    def _refill(self) -> None:
        if self._queue or not self._more:
            return
        data = read_exactly(self._reader, self._frame_size)
        if data:
            self._push(len(data), self._encoder.frame(data))
        if len(data) < self._frame_size:
            self._more = False
            self._queue.append(self._encoder.end())

    def read(self, size: int = -1) -> bytes:
        """At most `size` bytes of the stream (all that is left for a negative size)."""
        parts = []
        want = size if size >= 0 else -1
        while want != 0:
            if not self._buffer:
                self._refill()
                if not self._queue:
                    break
                self._buffer = self._queue.popleft()
            take = len(self._buffer) if want < 0 else min(want, len(self._buffer))
            parts.append(self._buffer[:take])
            self._buffer = self._buffer[take:]
            if want > 0:
                want -= take
        return b"".join(parts)

    def input_done(self, stream_bytes: int) -> int:
        """Input bytes the first `stream_bytes` stream bytes stand for."""
        k = bisect_right(self._stream_ends, stream_bytes)
        if k == 0:
            return 0
        if k >= len(self._stream_ends):
            return self._input_ends[-1]
        lo_s, hi_s = self._stream_ends[k - 1], self._stream_ends[k]
        lo_i, hi_i = self._input_ends[k - 1], self._input_ends[k]
        return lo_i + (hi_i - lo_i) * (stream_bytes - lo_s) // max(1, hi_s - lo_s)
