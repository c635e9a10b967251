"""The long-range stream: matches found far back, exact round trips fed in any pieces, and
damaged streams that raise instead of yielding wrong bytes."""

from __future__ import annotations

import random

import pytest

from nacrith.errors import CorruptDataError, FormatError, NacrithError, OutputLimitError
from nacrith.formats.long_range import (
    MIN_MATCH,
    LongRangeDecoder,
    LongRangeEncoder,
    MatchFinder,
)
from nacrith.formats.varint import varint

MiB = 1 << 20


def _repeating(distance: int, length: int, seed: int, edits: int = 0) -> bytes:
    """Random bytes whose first `length` bytes recur `distance` bytes later, with `edits`
    single-byte changes in the copy."""
    rng = random.Random(seed)
    head = bytearray(rng.randbytes(distance))
    copy = bytearray(head[:length])
    for _ in range(edits):
        copy[rng.randrange(length)] ^= 0x5A
    return bytes(head + copy)


def _encode(data: bytes, min_distance: int, frame: int = 16 * MiB, **kw: int) -> tuple:
    encoder = LongRangeEncoder(min_distance, **kw)
    parts = [encoder.header()]
    parts += [encoder.frame(data[i : i + frame]) for i in range(0, len(data), frame)]
    parts.append(encoder.end())
    return b"".join(parts), encoder.stats


def _decode(stream: bytes, piece: int = 1 << 16, limit: int | None = None) -> bytes:
    out: list[bytes] = []
    decoder = LongRangeDecoder(out.append, limit)
    for i in range(0, len(stream), piece):
        decoder.feed(stream[i : i + piece])
    decoder.finish()
    return b"".join(out)


@pytest.mark.parametrize("distance", [1 * MiB, pytest.param(17 * MiB, marks=pytest.mark.slow)])
def test_round_trip_with_a_repeat_far_back(distance: int) -> None:
    data = _repeating(distance, 256 << 10, seed=distance, edits=3)
    stream, stats = _encode(data, min_distance=distance // 2)
    assert _decode(stream, piece=99_991) == data
    assert stats.matched >= (256 << 10) - 4 * MIN_MATCH
    assert len(stream) < len(data) - (256 << 10) + 4 * MIN_MATCH + 512


@pytest.mark.slow
def test_round_trip_with_a_repeat_40_mib_back() -> None:
    data = _repeating(40 * MiB, 1 * MiB, seed=40)
    stream, stats = _encode(data, min_distance=16 * MiB)
    assert _decode(stream, piece=7 * MiB + 1) == data
    assert stats.matched == 1 * MiB


def test_repeats_nearer_than_min_distance_stay_literal() -> None:
    data = _repeating(300 << 10, 100 << 10, seed=1)
    stream, stats = _encode(data, min_distance=512 << 10, window_log=20)
    assert stats.matches == 0
    assert _decode(stream) == data


def test_repeats_beyond_the_window_stay_literal() -> None:
    data = _repeating(3 * MiB, 200 << 10, seed=2)
    stream, stats = _encode(data, min_distance=64 << 10, window_log=21)
    assert stats.matches == 0
    assert _decode(stream) == data


def test_overlapping_copies_and_repeated_distances() -> None:
    rng = random.Random(5)
    unit = rng.randbytes(70_000)
    data = unit * 6 + rng.randbytes(1000) + unit[:9000] + b"x" + unit[9001:40_000]
    stream, stats = _encode(data, min_distance=65536, frame=123_457, window_log=20)
    assert _decode(stream, piece=4093) == data
    assert stats.matched > len(unit) * 5


def test_binary_and_text_frames_of_any_size() -> None:
    rng = random.Random(6)
    text = b" ".join(rng.choice([b"alpha", b"beta", b"gamma", b"delta"]) for _ in range(60_000))
    data = text + rng.randbytes(500_000) + text[1000:200_000] + bytes(300_000) + text[:50_000]
    for frame in (MiB, 77_777, 4096):
        stream, stats = _encode(data, min_distance=MIN_MATCH, frame=frame, window_log=21)
        assert _decode(stream, piece=frame // 3 + 1) == data
        assert stats.matched > 190_000


def test_data_without_repeats_is_one_literal_frame() -> None:
    data = random.Random(7).randbytes(300_000)
    stream, stats = _encode(data, min_distance=65536)
    assert stats.matches == 0
    assert stream.endswith(varint(0))
    assert data in stream
    assert _decode(stream) == data


def test_encoder_is_deterministic() -> None:
    data = _repeating(MiB, 100_000, seed=8, edits=5)
    assert _encode(data, min_distance=MiB // 2)[0] == _encode(data, min_distance=MiB // 2)[0]


def test_empty_stream_decodes_to_nothing() -> None:
    encoder = LongRangeEncoder(MIN_MATCH)
    assert _decode(encoder.header() + encoder.end()) == b""


def _small_stream() -> tuple[bytes, bytes]:
    data = _repeating(150_000, 60_000, seed=9, edits=2)
    stream, stats = _encode(data, min_distance=65536, frame=70_000, window_log=20)
    assert stats.matches >= 2
    return data, stream


def test_every_truncation_raises_and_what_came_out_is_a_prefix() -> None:
    data, stream = _small_stream()
    cuts = list(range(0, 80)) + list(range(80, len(stream), 997)) + [len(stream) - 1]
    for cut in cuts:
        out: list[bytes] = []
        decoder = LongRangeDecoder(out.append)
        decoder.feed(stream[:cut])
        with pytest.raises(CorruptDataError, match="ends before its end marker"):
            decoder.finish()
        assert data.startswith(b"".join(out))


def test_damaged_bytes_raise_and_never_yield_wrong_bytes() -> None:
    data, stream = _small_stream()
    rng = random.Random(10)
    positions = list(range(0, 90)) + rng.sample(range(90, len(stream)), 60)
    positions += list(range(len(stream) - 8, len(stream)))
    for pos in positions:
        for flip in (0x01, 0x80, 0xFF):
            bad = bytearray(stream)
            bad[pos] ^= flip
            out: list[bytes] = []
            decoder = LongRangeDecoder(out.append)
            try:
                decoder.feed(bytes(bad))
                decoder.finish()
            except NacrithError as exc:
                assert "long-range" in str(exc) or "varint" in str(exc), exc
                assert data.startswith(b"".join(out))
            else:  # only a larger window (byte 1) leaves the output as it was
                assert pos == 1, pos
                assert b"".join(out) == data


def test_unknown_version_is_a_format_error() -> None:
    with pytest.raises(FormatError, match="version 3 is not supported"):
        LongRangeDecoder(lambda _b: None).feed(bytes([3, 28, 0]))


def test_window_out_of_range_is_corrupt() -> None:
    with pytest.raises(CorruptDataError, match="window"):
        LongRangeDecoder(lambda _b: None).feed(bytes([1, 40, 0]))


def test_data_after_the_end_marker_is_corrupt() -> None:
    _data, stream = _small_stream()
    with pytest.raises(CorruptDataError, match="after the end marker"):
        _decode(stream + b"\x00")


def test_output_limit() -> None:
    data, stream = _small_stream()
    assert _decode(stream, limit=len(data)) == data
    with pytest.raises(OutputLimitError, match="max_output_size"):
        _decode(stream, limit=len(data) - 1)


def test_match_finder_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="min_distance"):
        MatchFinder(MIN_MATCH - 1, MiB)
    with pytest.raises(ValueError, match="window_log"):
        LongRangeEncoder(MIN_MATCH, window_log=31)


def test_pays_only_for_a_clear_saving() -> None:
    from nacrith.formats.long_range import Stats
    from nacrith.formats.long_range.reader import pays

    text = bytearray(b"the quick brown fox jumps over the lazy dog; " * 2000)
    assert not pays(Stats(scanned=10 * MiB))
    assert pays(
        Stats(scanned=10 * MiB, matched=2 * MiB, matches=500, table_bytes=3000, sample=text)
    )
    # a saving well under a percent of the input's estimated compressed size
    assert not pays(
        Stats(scanned=100 * MiB, matched=40_000, matches=10, table_bytes=60, sample=text)
    )
    # tables that cost more than the matches save
    assert not pays(
        Stats(scanned=MiB, matched=64_000, matches=1000, table_bytes=60_000, sample=text)
    )


def test_pays_costs_the_matched_bytes_not_the_input() -> None:
    from nacrith.formats.long_range.reader import pays

    # far repeats of zeros in random data: the chunk codecs code the zeros almost for free
    data = random.Random(12).randbytes(MiB) + bytes(3 * MiB)
    _stream, stats = _encode(data, min_distance=MiB)
    assert stats.matched >= 2 * MiB
    assert not pays(stats)
    data = _repeating(MiB, 400_000, seed=13)
    _stream, stats = _encode(data, min_distance=MiB // 2)
    assert pays(stats)


def test_chain_reader_and_long_range_reader() -> None:
    import io

    from nacrith.formats.long_range.reader import ChainReader, LongRangeReader

    chain = ChainReader([b"abc", b"", b"de"], io.BytesIO(b"fgh"))
    assert [chain.read(2), chain.read(5), chain.read(5), chain.read(5), chain.read()] == [
        b"ab",
        b"c",
        b"de",
        b"fgh",
        b"",
    ]
    data = _repeating(MiB, 200_000, seed=11)
    encoder = LongRangeEncoder(MiB // 2, window_log=21)
    first = data[:300_000]
    reader = LongRangeReader(
        encoder, [(len(first), encoder.frame(first))], io.BytesIO(data[300_000:]), 400_000
    )
    parts = []
    while part := reader.read(77_777):
        parts.append(part)
    assert _decode(b"".join(parts)) == data
    total = sum(map(len, parts))
    assert reader.input_done(0) == 0
    assert reader.input_done(total) == len(data)
    assert 0 < reader.input_done(total // 2) < len(data)


def test_a_long_copy_at_a_short_distance_is_expanded_at_once() -> None:
    # a crafted frame: 64 literal bytes, then one match 64 bytes back of MAX_FRAME - 64 bytes
    import struct
    import zlib

    import numpy as np

    from nacrith.formats.long_range import MAX_FRAME
    from nacrith.formats.varint import encode_varints

    literals = bytes(range(64))
    size = MAX_FRAME
    expected = literals * (size // 64)
    table = encode_varints(np.array([64, 64, size - 64 - MIN_MATCH], dtype=np.uint64))
    head = varint(size) + varint(1) + varint(len(table)) + varint(len(literals))
    crc = struct.pack("<I", zlib.crc32(expected) & 0xFFFFFFFF)
    stream = bytes([2, 20]) + head + literals + table + crc + varint(0)
    assert _decode(stream, piece=len(stream)) == expected


def _as_version_1(stream: bytes) -> bytes:
    """The same stream in version 1's layout (each frame's table before its literals)."""
    from nacrith.formats.varint import get_varint

    out = bytearray([1, stream[1]])
    pos = 2
    while True:
        size, at = get_varint(stream, pos)
        if size == 0:
            return bytes(out + stream[pos:at])
        _count, at = get_varint(stream, at)
        table_len, at = get_varint(stream, at)
        literal_len, at = get_varint(stream, at)
        literals = stream[at : at + literal_len]
        table = stream[at + literal_len : at + literal_len + table_len]
        crc = stream[at + literal_len + table_len : at + literal_len + table_len + 4]
        out += stream[pos:at] + table + literals + crc
        pos = at + literal_len + table_len + 4


def test_version_1_streams_still_decode() -> None:
    data, stream = _small_stream()
    assert stream[0] == 2
    old = _as_version_1(stream)
    assert old != stream
    assert _decode(old, piece=5003) == data
