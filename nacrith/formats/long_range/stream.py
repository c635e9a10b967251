"""The long-range stream, version 1: writing frames (`LongRangeEncoder`) and expanding them
(`LongRangeDecoder`). The layout is specified in the package docstring."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from nacrith.errors import CorruptDataError, FormatError, NacrithError, OutputLimitError
from nacrith.formats.long_range.finder import MIN_MATCH, STRIDE, Match, MatchFinder
from nacrith.formats.varint import decode_varints, encode_varints, get_varint, varint

__all__ = [
    "DEFAULT_WINDOW_LOG",
    "MAX_FRAME",
    "MAX_WINDOW_LOG",
    "MIN_WINDOW_LOG",
    "STREAM_VERSION",
    "LongRangeDecoder",
    "LongRangeEncoder",
    "Stats",
]

STREAM_VERSION = 2
#: versions read: 1 (the table before the literals), 2
READ_VERSIONS = (1, 2)
MIN_WINDOW_LOG = 20
MAX_WINDOW_LOG = 30
DEFAULT_WINDOW_LOG = 28
#: the most bytes one frame may expand to (bounds the decoder's memory beside the window)
MAX_FRAME = 64 << 20
_U32 = struct.Struct("<I")
#: the longest varint of a table field (a 64-bit number)
_VARINT_MAX = 10


#: matched bytes kept in `Stats.sample` (at most this many from each match)
SAMPLE_BYTES = 1 << 20
SAMPLE_PER_MATCH = 64 << 10


@dataclass
class Stats:
    """What the encoder has done so far: input bytes, bytes covered by matches, matches, the
    bytes of the frames' headers and tables, and a sample of the matched bytes (the first
    `SAMPLE_PER_MATCH` of each match, `SAMPLE_BYTES` in all)."""

    scanned: int = 0
    matched: int = 0
    matches: int = 0
    table_bytes: int = 0
    sample: bytearray = field(default_factory=bytearray, repr=False)

    def estimated_saving(self, ratio: float) -> float:
        """Bytes saved in the archive if the chunk codecs code a byte at `ratio` (their
        compressed size over raw size) and code the tables at half their size."""
        return self.matched * ratio - self.table_bytes * 0.5


class LongRangeEncoder:
    """Turns input frames into the stream: `header()`, `frame(data)` per frame, `end()`.

    Matches lie between `min_distance` and ``1 << window_log`` bytes back. `scan(data)` takes
    the next input like `frame` but only counts its matches in `stats`; with ``sampled=True``
    (a sampled `MatchFinder`) that is a cheap probe of how much the full search would find.
    """

    def __init__(
        self,
        min_distance: int,
        window_log: int = DEFAULT_WINDOW_LOG,
        table_bits: int = 23,
        sampled: bool = False,
    ) -> None:
        if not MIN_WINDOW_LOG <= window_log <= MAX_WINDOW_LOG:
            raise ValueError(f"window_log must be in {MIN_WINDOW_LOG}..{MAX_WINDOW_LOG}")
        self.window_log = window_log
        self.window = 1 << window_log
        self.finder = MatchFinder(min_distance, self.window, table_bits, sampled)
        self.stats = Stats()
        self._history = bytearray()
        self._base = 0  # absolute position of _history[0]

    def header(self) -> bytes:
        """The stream's first bytes."""
        return bytes([STREAM_VERSION, self.window_log])

    @staticmethod
    def end() -> bytes:
        """The stream's last bytes."""
        return varint(0)

    def frame(self, data: bytes) -> bytes:
        """One frame holding `data` (1 .. MAX_FRAME bytes), the input that follows the frames
        written so far."""
        start, matches = self._find(data)
        out = _pack_frame(data, start, matches)
        matched = sum(m.length for m in matches)
        for m in matches:
            if len(self.stats.sample) >= SAMPLE_BYTES:
                break
            offset = m.start - start
            self.stats.sample += data[offset : offset + min(m.length, SAMPLE_PER_MATCH)]
        self.stats.table_bytes += len(out) - (len(data) - matched)
        return out

    def scan(self, data: bytes) -> None:
        """Take `data` (1 .. MAX_FRAME bytes) as `frame` does, counting its input and matches
        in `stats` (`scanned`, `matched`, `matches`) without writing a frame."""
        self._find(data)

    def _find(self, data: bytes) -> tuple[int, list[Match]]:
        """Append `data` to the history; its absolute start and its matches (counted)."""
        if not 0 < len(data) <= MAX_FRAME:
            raise ValueError(f"a frame holds 1..{MAX_FRAME} bytes")
        start = self._base + len(self._history)
        keep_from = max(0, start - self.window)
        keep_from -= keep_from % STRIDE
        if keep_from > self._base:
            del self._history[: keep_from - self._base]
            self._base = keep_from
        self._history += data
        matches = self.finder.find(self._history, self._base, start, start + len(data))
        self.stats.scanned += len(data)
        self.stats.matched += sum(m.length for m in matches)
        self.stats.matches += len(matches)
        return start, matches


def _pack_frame(data: bytes, start: int, matches: list[Match]) -> bytes:
    literals = bytearray()
    runs, distances, extras = [], [], []
    prev_end, prev_distance = start, 0
    for m in matches:
        literals += data[prev_end - start : m.start - start]
        runs.append(m.start - prev_end)
        distances.append(0 if m.distance == prev_distance else m.distance)
        extras.append(m.length - MIN_MATCH)
        prev_end, prev_distance = m.start + m.length, m.distance
    literals += data[prev_end - start :]
    table = encode_varints(np.array(runs + distances + extras, dtype=np.uint64))
    head = varint(len(data)) + varint(len(matches)) + varint(len(table)) + varint(len(literals))
    return head + literals + table + _U32.pack(zlib.crc32(data) & 0xFFFFFFFF)


class _Short(NacrithError):
    """More stream bytes are needed before the next frame can be parsed."""


class LongRangeDecoder:
    """Expands a long-range stream fed in pieces of any size; `write` gets the original bytes,
    each frame only after its CRC32 matched. `finish()` checks that the stream ended.

    Memory: the window (the last ``1 << window_log`` output bytes) and one frame.
    """

    def __init__(self, write: Callable[[bytes], object], limit: int | None = None) -> None:
        self._write = write
        self._limit = limit
        self._pending = bytearray()
        self._history = bytearray()
        self._window = 0
        self._version = 0
        self._ended = False
        self.produced = 0

    def feed(self, data: bytes) -> None:
        """Take the next stream bytes; write every frame they complete."""
        if self._ended and data:
            raise CorruptDataError("long-range stream: data after the end marker")
        self._pending += data
        if not self._window:
            if len(self._pending) < 2:
                return
            self._read_header()
        while not self._ended and self._next_frame():
            pass
        if self._ended and self._pending:
            raise CorruptDataError("long-range stream: data after the end marker")

    def finish(self) -> None:
        """Raise CorruptDataError unless the whole stream, end marker included, was fed."""
        if not self._ended:
            raise CorruptDataError("long-range stream ends before its end marker")

    def _read_header(self) -> None:
        version, window_log = self._pending[0], self._pending[1]
        if version not in READ_VERSIONS:
            raise FormatError(
                f"long-range stream version {version} is not supported "
                f"(this nacrith reads versions {READ_VERSIONS}); upgrade nacrith"
            )
        self._version = version
        if not MIN_WINDOW_LOG <= window_log <= MAX_WINDOW_LOG:
            raise CorruptDataError(f"long-range stream window 2^{window_log} is out of range")
        self._window = 1 << window_log
        del self._pending[:2]

    def _next_frame(self) -> bool:
        """Expand the frame at the start of the pending bytes; False if it is incomplete."""
        buf = self._pending
        try:
            size, pos = get_varint(buf, 0, "long-range frame", _Short)
            if size == 0:
                self._ended = True
                del buf[:pos]
                return False
            count, pos = get_varint(buf, pos, "long-range frame", _Short)
            table_len, pos = get_varint(buf, pos, "long-range frame", _Short)
            literal_len, pos = get_varint(buf, pos, "long-range frame", _Short)
        except _Short:
            return False
        if (
            size > MAX_FRAME
            or count > size // MIN_MATCH
            or table_len > 3 * count * _VARINT_MAX
            or literal_len > size
        ):
            raise CorruptDataError("long-range frame header is out of range")
        end = pos + table_len + literal_len + 4
        if len(buf) < end:
            return False
        if self._limit is not None and self.produced + size > self._limit:
            raise OutputLimitError(f"archive holds more than max_output_size ({self._limit}) bytes")
        if self._version == 1:
            table_at, literals_at = pos, pos + table_len
        else:
            table_at, literals_at = pos + literal_len, pos
        table_bytes = bytes(buf[table_at : table_at + table_len])
        table = decode_varints(table_bytes, 3 * count, "long-range table")
        literals = bytes(buf[literals_at : literals_at + literal_len])
        (crc,) = _U32.unpack(buf[end - 4 : end])
        frame = self._expand(size, table, count, literals)
        if zlib.crc32(frame) & 0xFFFFFFFF != crc:
            raise CorruptDataError("long-range frame checksum mismatch")
        del buf[:end]
        self.produced += size
        self._write(frame)
        return True

    def _expand(self, size: int, table: np.ndarray, count: int, literals: bytes) -> bytes:
        runs, distances, extras = table[:count], table[count : 2 * count], table[2 * count :]
        if count and (
            int(extras.max()) > size
            or int(runs.max()) > size
            or int(distances.max()) > self._window
        ):
            raise CorruptDataError("long-range table field out of range")
        lengths = extras.astype(np.int64) + MIN_MATCH
        if int(runs.sum()) > len(literals) or len(literals) + int(lengths.sum()) != size:
            raise CorruptDataError("long-range frame sizes disagree")
        hist = self._history
        start = len(hist)
        origin = self.produced - start  # absolute position of hist[0]
        lit = 0
        distance = 0
        for run, coded, length in zip(runs.tolist(), distances.tolist(), lengths.tolist()):
            hist += literals[lit : lit + run]
            lit += run
            distance = coded or distance
            here = len(hist)
            if not 0 < distance <= min(self._window, origin + here):
                raise CorruptDataError("long-range match reaches outside the window")
            src = here - distance
            if src < 0:
                raise CorruptDataError("long-range match reaches outside the window")
            if distance >= length:
                hist += hist[src : src + length]
            else:  # the copy repeats the last `distance` bytes
                pattern = bytes(hist[src:])
                hist += (pattern * (length // distance + 1))[:length]
        hist += literals[lit:]
        frame = bytes(hist[start:])
        excess = len(hist) - self._window
        if excess > 0:
            del hist[:excess]
        return frame
