"""Finding long repeats far back in the input: the encoder side of the long-range pass.

Every `STRIDE`-aligned window of `WINDOW` bytes that lies at least `min_distance` behind the
position being looked up is indexed in a direct-mapped hash table (the most recent one wins a
slot); every position of the new data is hashed (numpy, a few vectorised multiplies per
position) and looked up. A hit is checked byte for byte and extended both ways, so the matches
found are always exact; a hash collision or a slot lost to a newer window only costs a missed
match. Any repeat of at least `MIN_MATCH` bytes holds an aligned window, so repeats that long
are found unless their slot was taken.

A *sampled* finder (``sampled=True``) indexes the same windows but looks up only the
positions p with ``p % SAMPLE_PERIOD < SAMPLE_RUN``: a cheap probe of how much of the input
repeats far back. A repeat is found whole when one of its positions is looked up (it is
extended both ways), so every repeat at least `SAMPLE_PERIOD` long is found, and a shorter one
with a chance of about its length plus `SAMPLE_RUN` over `SAMPLE_PERIOD`.

Memory: the table (`4 << table_bits` bytes), the history the caller keeps (the window), and a
few arrays of 8 bytes per position of one `SUB_BLOCK`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MIN_MATCH", "SAMPLE_PERIOD", "SAMPLE_RUN", "STRIDE", "WINDOW", "Match", "MatchFinder"]

#: bytes hashed per window (four 64-bit words)
WINDOW = 32
#: distance between indexed windows
STRIDE = 32
#: the shortest match reported: long enough to always hold an aligned window
MIN_MATCH = WINDOW + STRIDE
#: positions looked up per vectorised step
SUB_BLOCK = 1 << 20
#: a sampled finder looks up the first SAMPLE_RUN positions of every SAMPLE_PERIOD
SAMPLE_RUN = 256
SAMPLE_PERIOD = 2048

_MULT = (
    np.uint64(0x9E3779B97F4A7C15),
    np.uint64(0xC2B2AE3D27D4EB4F),
    np.uint64(0x165667B19E3779F9),
    np.uint64(0xD6E8FEB86659FD93),
)
_MIX = np.uint64(0xFF51AFD7ED558CCD)
_ENTRY_MASK = 0xFFFFFFFF


@dataclass(frozen=True)
class Match:
    """`length` bytes at absolute position `start` repeat those `distance` bytes earlier."""

    start: int
    distance: int
    length: int


def _words_at_every_position(data: bytes, start: int, count: int) -> np.ndarray:
    """Little-endian uint64 of data[start + k : start + k + 8] for k < count."""
    out = np.empty(count, dtype=np.uint64)
    for offset in range(min(8, count)):
        n = len(range(offset, count, 8))
        out[offset::8] = np.frombuffer(data, dtype="<u8", count=n, offset=start + offset)
    return out


def _mix(h: np.ndarray, table_bits: int) -> np.ndarray:
    """Table slots of the hashes `h` (mixed in place: `h` is spent)."""
    h ^= h >> np.uint64(29)
    h *= _MIX
    h >>= np.uint64(64 - table_bits)
    return h.view(np.int64)


def _hash_every_position(
    data: bytes, start: int, count: int, table_bits: int
) -> tuple[np.ndarray, np.ndarray]:
    """Table slot of the WINDOW bytes at each of positions start .. start + count - 1, and
    the words they were hashed from (`_words_at_every_position`)."""
    words = _words_at_every_position(data, start, count + WINDOW - 8)
    h = np.multiply(words[:count], _MULT[0])
    term = np.empty_like(h)
    for j in range(1, WINDOW // 8):
        np.multiply(words[8 * j : 8 * j + count], _MULT[j], out=term)
        h += term
    return _mix(h, table_bits), words


def _words_at(data: bytes, index: np.ndarray) -> np.ndarray:
    """Little-endian uint64 of data[k : k + 8] for each k in `index`."""
    raw = np.frombuffer(data, dtype=np.uint8)
    return raw[index[:, None] + np.arange(8)].view("<u8").ravel()


def _hash_sampled(
    data: bytes, start: int, count: int, table_bits: int, first: int
) -> tuple[np.ndarray, np.ndarray]:
    """Table slots of the WINDOW bytes at the offsets k < count with (first + k) %
    SAMPLE_PERIOD < SAMPLE_RUN (data[start + k] is absolute position first + k; `start -
    first` is a multiple of 8), and those offsets, ascending.

    Whole runs are hashed from eight word views of `data` (one per byte offset), runs cut by
    the span or the data's end from single words."""
    per = SAMPLE_RUN // 8
    runs = np.arange(-(first % SAMPLE_PERIOD), count, SAMPLE_PERIOD, dtype=np.int64)
    whole = (runs >= 0) & (runs + SAMPLE_RUN <= count)
    whole &= start + runs + SAMPLE_RUN + WINDOW <= len(data)
    inner = runs[whole]
    cut = runs[~whole]
    parts_h, parts_k = [], []
    if cut.size and cut[0] < 0:  # the run the span starts in: before the whole ones
        parts_h.append(_hash_offsets(data, start, count, cut[:1]))
        parts_k.append(_run_offsets(cut[:1], count))
        cut = cut[1:]
    if inner.size:
        at = (start + inner) // 8  # whole runs start at multiples of 8 in `data`
        take = at[:, None] + np.arange(per + WINDOW // 8 - 1)
        h = np.empty((inner.size, per, 8), dtype=np.uint64)
        for r in range(8):
            view = np.frombuffer(data, dtype="<u8", count=(len(data) - r) // 8, offset=r)
            w = view[np.minimum(take, view.size - 1)]
            acc = w[:, :per] * _MULT[0]
            for j in range(1, WINDOW // 8):
                acc = acc + w[:, j : j + per] * _MULT[j]
            h[:, :, r] = acc
        parts_h.append(h.ravel())
        parts_k.append((inner[:, None] + np.arange(SAMPLE_RUN)).ravel())
    if cut.size:  # runs cut by the span's or the data's end: after the whole ones
        parts_h.append(_hash_offsets(data, start, count, cut))
        parts_k.append(_run_offsets(cut, count))
    if not parts_k:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return _mix(np.concatenate(parts_h), table_bits), np.concatenate(parts_k)


def _run_offsets(runs: np.ndarray, count: int) -> np.ndarray:
    """The offsets in [0, count) of the runs starting at `runs`."""
    k = (runs[:, None] + np.arange(SAMPLE_RUN)).ravel()
    return k[(k >= 0) & (k < count)]


def _hash_offsets(data: bytes, start: int, count: int, runs: np.ndarray) -> np.ndarray:
    """Unmixed hashes at `_run_offsets(runs, count)`, from single words."""
    k = start + _run_offsets(runs, count)
    h = _words_at(data, k) * _MULT[0]
    for j in range(1, WINDOW // 8):
        h = h + _words_at(data, k + 8 * j) * _MULT[j]
    return h


def _hash_aligned(data: bytes, start: int, count: int, table_bits: int) -> np.ndarray:
    """Table slot of the WINDOW bytes at positions start + k * STRIDE for k < count."""
    per = STRIDE // 8
    words = np.frombuffer(data, dtype="<u8", count=count * per - per + WINDOW // 8, offset=start)
    h = words[0 : count * per : per] * _MULT[0]
    for j in range(1, WINDOW // 8):
        h = h + words[j : j + count * per : per] * _MULT[j]
    return _mix(h, table_bits)


def _forward(data: bytes, a: int, b: int, limit: int) -> int:
    """How many bytes data[a:] and data[b:] share, at most `limit`."""
    n, step = 0, 64
    while step:
        while n + step <= limit and data[a + n : a + n + step] == data[b + n : b + n + step]:
            n += step
            step = min(step * 2, 1 << 22)
        step //= 2
    return n


def _backward(data: bytes, a: int, b: int, limit: int) -> int:
    """How many bytes before `a` and before `b` agree, at most `limit`."""
    n, step = 0, 64
    while step:
        while n + step <= limit and data[a - n - step : a - n] == data[b - n - step : b - n]:
            n += step
            step = min(step * 2, 1 << 22)
        step //= 2
    return n


class MatchFinder:
    """Finds repeats of at least `MIN_MATCH` bytes between `min_distance` and `max_distance`
    bytes back, frame by frame, over a history buffer that the caller owns.

    The caller passes the buffer (bytes holding absolute positions `base` .. `base + len`),
    the frame's span in absolute positions, and gets the frame's matches in order, none
    overlapping another or reaching outside the frame. The result depends only on the bytes
    and the settings (`sampled`: look up only a sample of the positions, see the module).
    """

    def __init__(
        self, min_distance: int, max_distance: int, table_bits: int = 23, sampled: bool = False
    ) -> None:
        if not MIN_MATCH <= min_distance <= max_distance:
            raise ValueError("need MIN_MATCH <= min_distance <= max_distance")
        self.min_distance = min_distance
        self.max_distance = max_distance
        self.table_bits = table_bits
        self.sampled = sampled
        self._table = np.zeros(1 << table_bits, dtype=np.uint32)
        #: windows starting before this absolute position are in the table
        self._indexed = 0

    def _index(self, data: bytes, base: int, upto: int) -> None:
        """Index the aligned windows that start in [indexed, upto) (and lie in `data`)."""
        first = max(self._indexed, base)
        first += -first % STRIDE
        last = min(upto, base + len(data) - WINDOW + 1)
        if last <= first:
            self._indexed = max(self._indexed, upto)
            return
        count = (last - first + STRIDE - 1) // STRIDE
        slots = _hash_aligned(data, first - base, count, self.table_bits)
        entries = ((np.arange(count, dtype=np.int64) + first // STRIDE + 1) & _ENTRY_MASK).astype(
            np.uint32
        )
        # one write per slot, the last (most recent) window of the step: deterministic. Until
        # the entries wrap, every entry is above those written before it, so the largest is
        # the last one
        if first // STRIDE + count <= _ENTRY_MASK:
            np.maximum.at(self._table, slots, entries)
        else:
            rev_unique, rev_first = np.unique(slots[::-1], return_index=True)
            self._table[rev_unique] = entries[::-1][rev_first]
        self._indexed = max(self._indexed, first + count * STRIDE)

    def find(self, data: bytes, base: int, frame_start: int, frame_end: int) -> list[Match]:
        """Matches inside [frame_start, frame_end); data[k] is absolute position base + k and
        reaches back at least `max_distance` before frame_start (or to position 0)."""
        if base % STRIDE:
            raise ValueError("the history must start at a multiple of STRIDE")
        matches: list[Match] = []
        covered = frame_start
        pos = frame_start
        last_lookup = frame_end - WINDOW + 1  # windows must lie inside the frame
        while pos < last_lookup:
            stop = min(pos + SUB_BLOCK, last_lookup)
            self._index(data, base, stop - self.min_distance)
            covered = self._find_in(data, base, pos, stop, frame_start, frame_end, covered, matches)
            pos = stop
        return matches

    def _find_in(
        self,
        data: bytes,
        base: int,
        lo: int,
        hi: int,
        frame_start: int,
        frame_end: int,
        covered: int,
        matches: list[Match],
    ) -> int:
        if self.sampled:
            slots, offsets = _hash_sampled(data, lo - base, hi - lo, self.table_bits, lo)
        else:
            slots, words = _hash_every_position(data, lo - base, hi - lo, self.table_bits)
        entries = self._table[slots]
        hit = np.flatnonzero(entries)
        if not hit.size:
            return covered
        found = entries[hit].astype(np.int64)
        if self.sampled:
            hit = offsets[hit]
        positions = hit + lo
        current = (positions // STRIDE + 1) & _ENTRY_MASK
        back = (current - found) & _ENTRY_MASK
        sources = (positions // STRIDE - back) * STRIDE
        distances = positions - sources
        ok = (
            (distances >= self.min_distance)
            & (distances <= self.max_distance)
            & (sources >= base)
            & (sources >= 0)
        )
        hit, positions, distances = hit[ok], positions[ok], distances[ok]
        # keep the hits whose WINDOW bytes really agree (aligned sources: 8-byte words)
        aligned = np.frombuffer(data, dtype="<u8", count=len(data) // 8)
        first_word = (positions - distances - base) // 8
        same = np.ones(hit.size, dtype=bool)
        for j in range(WINDOW // 8):
            mine = _words_at(data, lo - base + hit + 8 * j) if self.sampled else words[hit + 8 * j]
            same &= aligned[first_word + j] == mine
        positions, distances = positions[same], distances[same]
        k = 0
        while k < positions.size:
            at = int(positions[k])
            if at < covered:
                k = int(np.searchsorted(positions, covered))
                continue
            distance = int(distances[k])
            k += 1
            src = at - distance
            ahead = _forward(data, src - base, at - base, frame_end - at)
            if ahead < WINDOW:
                continue  # the window reaches past the frame
            behind = _backward(data, src - base, at - base, min(at - covered, src - base))
            length = ahead + behind
            if length < MIN_MATCH:
                continue
            matches.append(Match(at - behind, distance, length))
            covered = at + ahead
        return covered
