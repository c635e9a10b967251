"""Segmentation and chunk cutting: spans partition the input, respect the size, stay balanced."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from nacrith.formats.segment import balanced_chunks, cut_chunks


def _check_partition(spans: list[tuple[int, int]], start: int, end: int, size: int) -> None:
    assert spans[0][0] == start and spans[-1][1] == end
    for (_, a_end), (b_start, _) in itertools.pairwise(spans):
        assert a_end == b_start
    assert all(0 < hi - lo <= size for lo, hi in spans)


@given(st.binary(min_size=1, max_size=3000), st.integers(1, 1200), st.data())
def test_balanced_chunks_partition_and_size(data: bytes, size: int, draw: st.DataObject) -> None:
    start = draw.draw(st.integers(0, len(data) - 1))
    spans = list(balanced_chunks(data, start, len(data), size))
    _check_partition(spans, start, len(data), size)
    lengths = [hi - lo for lo, hi in spans]
    spacing = (len(data) - start) / len(spans)
    # fewest spans that leave room for the newline slack, and none much shorter than the rest
    assert len(spans) == min(len(data) - start, -(-9 * (len(data) - start) // (8 * size)))
    assert min(lengths) >= spacing * 7 / 8 - 2


def test_balanced_chunks_prefer_newlines_and_avoid_a_short_tail() -> None:
    text = b"".join(b"line %05d of some prose\n" % i for i in range(6000))  # 150,000 bytes
    spans = list(balanced_chunks(text, 0, len(text), 128 << 10))
    assert len(spans) == 2
    assert all(text[hi - 1 : hi] == b"\n" for _lo, hi in spans)
    assert abs((spans[0][1] - spans[0][0]) - (spans[1][1] - spans[1][0])) < 100
    # the greedy cutter leaves the remainder as one short chunk
    greedy = list(cut_chunks(text, 0, len(text), 128 << 10))
    assert greedy[-1][1] - greedy[-1][0] < 25_000


@given(st.binary(min_size=1, max_size=3000), st.integers(1, 1200))
def test_cut_chunks_partition_and_size(data: bytes, size: int) -> None:
    _check_partition(list(cut_chunks(data, 0, len(data), size)), 0, len(data), size)
