"""The pipeline's long-range pass: members that hold repeats farther apart than a chunk sees
are long-range coded, decode to the input (streamed, any worker count), and every other input
keeps the bytes it had without the pass."""

from __future__ import annotations

import io
import random

import pytest

import nacrith
from nacrith import pipeline
from nacrith.errors import CorruptDataError, OutputLimitError
from nacrith.formats.container import MemberWriter, iter_members
from nacrith.formats.long_range import LongRangeEncoder
from nacrith.pipeline import Settings, compress_stream, decompress_stream
from tests.samples import synthetic_log

MiB = 1 << 20


def _long_range(archive: bytes) -> list[bool]:
    flags = []
    for member in iter_members(io.BytesIO(archive)):
        flags.append(member.long_range)
        for _record in member.chunks:
            pass
    return flags


def _text(size: int, seed: int) -> bytes:
    rng = random.Random(seed)
    words = [bytes(rng.choices(b"etaoinshrdlcum", k=rng.randint(2, 8))) for _ in range(3000)]
    out = bytearray()
    while len(out) < size:
        out += b" ".join(rng.choices(words, k=rng.randint(5, 15))) + b".\n"
    return bytes(out[:size])


def _far_repeat(distance: int, length: int, seed: int) -> bytes:
    """Text whose first `length` bytes recur `distance` bytes later, one byte changed."""
    head = _text(distance, seed)
    copy = bytearray(head[:length])
    copy[length // 2] ^= 0x20
    return head + bytes(copy)


class _Trickle(io.RawIOBase):
    """A pipe-like reader: short reads of at most `step` bytes."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._pos, self._step = data, 0, step

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self._step if size < 0 else min(size, self._step)
        out = self._data[self._pos : self._pos + size]
        self._pos += len(out)
        return out


def test_repeat_1_mib_back_is_long_range_coded_and_workers_do_not_change_bytes() -> None:
    data = _far_repeat(1_200_000, 400_000, seed=1)
    one = nacrith.compress(data, method="zstd", chunk_size=MiB, workers=1)
    two = nacrith.compress(data, method="zstd", chunk_size=MiB, workers=2)
    assert one == two
    assert _long_range(one) == [True]
    assert nacrith.decompress(one) == data
    assert nacrith.decompress(one, workers=2) == data
    monkey = pytest.MonkeyPatch()
    with monkey.context() as m:
        m.setattr(pipeline, "NO_LONG_RANGE", frozenset({"zstd"}))
        plain = nacrith.compress(data, method="zstd", chunk_size=MiB)
    assert _long_range(plain) == [False]
    assert len(one) < len(plain) - 50_000


def test_input_without_far_repeats_keeps_its_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _text(1_500_000, seed=2) + random.Random(3).randbytes(700_000)
    archive = nacrith.compress(data, method="zstd", chunk_size=MiB)
    assert _long_range(archive) == [False]
    monkeypatch.setattr(pipeline, "NO_LONG_RANGE", frozenset({"zstd"}))
    assert nacrith.compress(data, method="zstd", chunk_size=MiB) == archive


def test_binary_round_trip_streamed() -> None:
    rng = random.Random(4)
    binary = rng.randbytes(1_300_000)
    data = binary + _text(300_000, seed=5) + binary[100_000:600_000]
    out = io.BytesIO()
    settings = Settings(method="zstd", chunk_size=MiB)
    compress_stream(_Trickle(data, 65_537), out, settings, original_size=len(data))
    archive = out.getvalue()
    assert _long_range(archive) == [True]
    assert len(archive) < len(data) - 400_000
    restored = io.BytesIO()
    assert decompress_stream(_Trickle(archive, 4099), restored) == len(data)
    assert restored.getvalue() == data


def test_logs_keep_their_lines_whole() -> None:
    log = synthetic_log(16_000, seed=9)
    data = log + log[:200_000]
    assert len(log) > MiB
    archive = nacrith.compress(data, method="fast")
    assert _long_range(archive) == [False]
    assert nacrith.decompress(archive) == data


def test_output_limit_counts_expanded_bytes() -> None:
    data = _far_repeat(1_100_000, 300_000, seed=6)
    archive = nacrith.compress(data, method="zstd", chunk_size=MiB)
    assert _long_range(archive) == [True]
    with pytest.raises(OutputLimitError, match="max_output_size"):
        decompress_stream(io.BytesIO(archive), io.BytesIO(), max_output_size=len(data) - 1)


def _member_of(stream: bytes, original_size: int | None) -> bytes:
    out = io.BytesIO()
    writer = MemberWriter(out, {}, original_size, long_range=True)
    writer.write_chunk("stored", stream, stream)
    writer.finish()
    return out.getvalue()


def _stream(data: bytes) -> bytes:
    encoder = LongRangeEncoder(1024, window_log=20)
    return encoder.header() + encoder.frame(data) + encoder.end()


def test_member_with_a_damaged_stream_raises_before_wrong_bytes() -> None:
    data = _text(200_000, seed=7)
    stream = bytearray(_stream(data))
    assert nacrith.decompress(_member_of(bytes(stream), len(data))) == data
    stream[-10] ^= 0x01  # a literal byte: the frame's CRC32 no longer matches
    out = io.BytesIO()
    with pytest.raises(CorruptDataError, match="long-range frame checksum"):
        decompress_stream(io.BytesIO(_member_of(bytes(stream), len(data))), out)
    assert out.getvalue() == b""


def test_member_whose_stream_ends_early_or_disagrees_with_its_size() -> None:
    data = _text(100_000, seed=8)
    stream = _stream(data)
    with pytest.raises(CorruptDataError, match="ends before its end marker"):
        nacrith.decompress(_member_of(stream[:-1], len(data)))
    with pytest.raises(CorruptDataError, match="header declares"):
        nacrith.decompress(_member_of(stream, len(data) + 1))


@pytest.mark.slow
@pytest.mark.parametrize("distance", [17 * MiB, 40 * MiB])
def test_repeats_17_and_40_mib_back(distance: int) -> None:
    # 16 MiB chunks: the pass takes repeats at least a block back, decided after the first
    data = _far_repeat(distance, 2 * MiB, seed=distance)
    kw: dict = {"method": "zstd", "chunk_size": 16 * MiB, "options": {"zstd": {"level": 3}}}
    archive = nacrith.compress(data, workers=2, **kw)
    assert _long_range(archive) == [True]
    assert nacrith.decompress(archive, workers=2) == data
    assert nacrith.compress(data, workers=1, **kw) == archive


def test_info_counts_expanded_bytes_and_log_archives_refuse_the_member(tmp_path) -> None:
    from nacrith.errors import FormatError
    from nacrith.logs.archive import LogArchive
    from tests.cli.ncz import ncz

    data = _far_repeat(1_100_000, 300_000, seed=8)
    path = tmp_path / "far.bin.ncz"
    path.write_bytes(nacrith.compress(data, method="zstd", chunk_size=MiB))
    assert _long_range(path.read_bytes()) == [True]
    done = ncz("info", "-v", path.name, cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    assert f"1 member(s), {len(data)} bytes ->".encode() in done.stdout
    assert b"long-range stream of" in done.stdout
    with pytest.raises(FormatError, match="holds a long-range member"):
        list(LogArchive(path, "r"))
