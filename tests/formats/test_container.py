"""Container format version 2 (what writers write): exact bytes, settings forms, the long-range
flag, and the hostile-input matrix."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib

import pytest

import nacrith
from nacrith.errors import CorruptDataError, FormatError, NacrithError, TruncatedError
from nacrith.formats.baselines import BASELINES, baselines_of, thaw
from nacrith.formats.container import (
    FORMAT_VERSION,
    MAGIC,
    MemberReader,
    MemberWriter,
    iter_members,
    write_member,
)
from nacrith.formats.container.v2 import encode_entry, varint
from tests.formats.container_helpers import SAMPLE, archive, archive_v1

LLM_BASELINE = thaw(BASELINES[baselines_of("llm")[-1]][1])


def _member(params, chunks, original_size=None, **kwargs) -> bytes:
    out = io.BytesIO()
    write_member(out, params, chunks, original_size, **kwargs)
    return out.getvalue()


def _crc(data: bytes) -> bytes:
    return struct.pack("<I", zlib.crc32(data))


def test_constants_pinned() -> None:
    assert MAGIC == b"\x89NCZ"
    assert FORMAT_VERSION == 2
    assert nacrith.MAGIC == MAGIC


def test_stored_member_exact_bytes() -> None:
    data = _member({"stored": {}}, [("stored", b"abc", b"abc")], original_size=3)
    head = MAGIC + b"\x21\x03" + b"\x01" + varint(2 * baselines_of("stored")[0] + 1)
    record = b"\x01\x03\x03" + _crc(b"abc") + b"abc"
    assert data == head + record + _crc(head + record) + b"\x00"
    assert nacrith.decompress(data) == b"abc"


def test_empty_and_multi_chunk_end_records() -> None:
    empty = _member({}, [], 0)
    assert empty == MAGIC + b"\x21\x00\x00\x00" + _crc(MAGIC + b"\x21\x00\x00\x00")
    assert nacrith.decompress(empty) == b""
    two = _member({"stored": {}}, [("stored", b"ab", b"ab"), ("stored", b"c", b"c")], 3)
    digest = hashlib.blake2b(b"abc", digest_size=16).digest()
    assert two[-21:-4] == b"\x00" + digest
    assert two[-4:] == _crc(two[:-4])


def test_one_chunk_default_overhead_within_target() -> None:
    # the default llm member: the model's baseline parameters and the zstd fallback's
    raw, payload = bytes(1500), bytes(229)
    params = {"llm": LLM_BASELINE, "zstd": {"level": 19}}
    member = _member(params, [("llm", raw, payload)], len(raw))
    assert len(member) - len(payload) <= 24
    assert MemberReader(io.BytesIO(member)).codec_params == params


def test_many_chunks_and_mixed_versions_round_trip() -> None:
    a, b = archive(), archive_v1(b"second part\n", method="stored")
    assert sum(1 for _ in iter_members(io.BytesIO(a + b + a))) == 3
    assert nacrith.decompress(a + b + a) == SAMPLE + b"second part\n" + SAMPLE


@pytest.mark.parametrize("chunk_size", [100000, 700])
def test_every_truncation_is_detected(chunk_size: int) -> None:
    whole = archive(SAMPLE[:1500], chunk_size=chunk_size)
    for cut in range(len(whole)):
        with pytest.raises(NacrithError, match=r"ended before|empty input") as info:
            nacrith.decompress(whole[:cut])
        assert isinstance(info.value, (TruncatedError, FormatError, CorruptDataError)), cut


@pytest.mark.parametrize("chunks", [0, 1, 3])
def test_every_flipped_byte_is_detected(chunks: int) -> None:
    data = SAMPLE[: 500 * chunks]
    whole = archive(data, chunk_size=500)
    for pos in range(len(whole)):
        for bit in (0x01, 0x02, 0x10, 0x80):
            damaged = bytearray(whole)
            damaged[pos] ^= bit
            try:
                out = nacrith.decompress(bytes(damaged))
            except NacrithError:
                continue
            pytest.fail(f"flip at {pos} (bit {bit:#x}) decoded to {len(out)} bytes")


def _chunk_spans(member: bytes) -> list[tuple[int, int]]:
    """(start, end) of each chunk of a member of stored chunks below 128 bytes."""
    spans, pos = [], MemberReader(io.BytesIO(member)).header_size
    while member[pos] != 0:
        end = pos + 3 + 4 + member[pos + 2] + 4
        spans.append((pos, end))
        pos = end
    return spans


def test_dropped_repeated_or_swapped_chunks_are_detected() -> None:
    parts = [b"one ", b"two ", b"three"]
    member = _member({"stored": {}}, [("stored", p, p) for p in parts])
    (a0, a1), (b0, b1), (c0, c1) = _chunk_spans(member)
    head, a, b, c, end = member[:a0], member[a0:a1], member[b0:b1], member[c0:c1], member[c1:]
    for damaged in (head + a + c + end, head + a + b + b + c + end, head + b + a + c + end):
        with pytest.raises(CorruptDataError, match="checksum mismatch"):
            nacrith.decompress(damaged)


def test_trailing_junk_is_an_error() -> None:
    whole = archive(b"hello\n")
    for junk in (b"\x00", b"junk", b"x" * 20, MAGIC[:3] + b"zzzzz", MAGIC + b"\x0dzzz"):
        with pytest.raises(FormatError, match="trailing data"):
            nacrith.decompress(whole + junk)
    for torn in (MAGIC[:3], MAGIC, MAGIC + b"\x21"):
        with pytest.raises(TruncatedError, match="ended before the end-of-stream marker"):
            nacrith.decompress(whole + torn)


def test_wrong_magic_and_empty() -> None:
    with pytest.raises(FormatError, match="not a nacrith archive"):
        nacrith.decompress(b"PK\x03\x04 this is a zip" * 3)
    with pytest.raises(FormatError, match="not a nacrith archive"):
        nacrith.decompress(MAGIC + b"\x10" + bytes(20))
    with pytest.raises(TruncatedError, match="empty input is not a nacrith archive"):
        nacrith.decompress(b"")


def test_future_version_and_reserved_flags() -> None:
    whole = archive(b"hi")
    with pytest.raises(FormatError, match=r"version 3 is not supported.*versions 1 and 2"):
        nacrith.decompress(whole[:4] + bytes([0x30 | whole[4] & 0x0F]) + whole[5:])
    for bit in (0x04, 0x08):
        with pytest.raises(FormatError, match="reserved flag"):
            nacrith.decompress(whole[:4] + bytes([whole[4] | bit]) + whole[5:])


def test_long_range_flag() -> None:
    # the original size of a long-range member is of the expanded bytes, the chunks the stream's
    member = _member({"zstd": {"level": 19}}, [("stored", b"x", b"x")], 100, long_range=True)
    first = next(iter_members(io.BytesIO(member)))
    assert first.long_range and first.reader.long_range
    assert [r.codec_id for r in first.chunks] == ["stored"]
    assert first.reader.original_size == 100 and first.reader.end is not None
    first.reader.account(b"x")
    first.reader.finish()
    assert not next(iter_members(io.BytesIO(archive(b"x")))).long_range
    assert not next(iter_members(io.BytesIO(archive_v1(b"x")))).long_range
    with pytest.raises(ValueError, match="cannot write version 1"):
        MemberWriter(io.BytesIO(), {}, long_range=True, version=1)


def _params_read_back(codec_id: str, params: dict) -> dict:
    member = _member({codec_id: params}, [])
    return MemberReader(io.BytesIO(member)).codec_params[codec_id]


@pytest.mark.parametrize(
    ("codec_id", "params", "form"),
    [
        ("zstd", {"level": 19}, "baseline"),
        ("zstd", {"level": 3}, "diff"),
        ("zstd", {}, "explicit"),
        ("fib", {**thaw(BASELINES[baselines_of("fib")[0]][1]), "min_phrase": 9}, "diff"),
        ("llm", LLM_BASELINE, "baseline"),
        ("llm", {**LLM_BASELINE, "engine": "llama", "probe": "0123456789abcdef" * 2}, "small"),
        ("mine", {"alpha": [1, 2.5, "x"], "nested": {"k": None}}, "explicit"),
    ],
)
def test_settings_forms_read_back(codec_id: str, params: dict, form: str) -> None:
    entry = encode_entry(codec_id, params)
    ref = entry[0]
    kinds = {"baseline": ref % 2 == 1, "diff": ref and ref % 2 == 0, "explicit": ref == 0}
    # "small": a diff or the explicit form, whichever is smaller, within a few dozen bytes
    assert kinds[form] if form in kinds else ref % 2 == 0 and len(entry) < 48
    if form == "baseline":
        assert len(entry) == 1
    assert _params_read_back(codec_id, params) == params


def _with_entries(entries: bytes, count: int = 1, chunks: bytes = b"") -> bytes:
    body = MAGIC + b"\x20" + varint(count) + entries + chunks + b"\x00"
    return body + _crc(body)


def test_damaged_settings_are_errors() -> None:
    with pytest.raises(FormatError, match=r"baseline 100000.*upgrade"):
        nacrith.decompress(_with_entries(varint(200001)))
    explicit = encode_entry("mine", {"a": 1})
    assert explicit[0] == 0
    with pytest.raises(CorruptDataError, match="lists codec 'mine' twice"):
        nacrith.decompress(_with_entries(explicit * 2, 2))
    zstd_ref = varint(2 * baselines_of("zstd")[0] + 2)
    bad_diffs = (b'{"level":3}', b"[{}]", b'[{},["nope"]]', b"[[],[]]")
    for bad in bad_diffs:
        with pytest.raises(FormatError, match="malformed zstd parameter diff"):
            nacrith.decompress(_with_entries(zstd_ref + varint(len(bad) + 1) + b"\x00" + bad))
    blob = b"\x00[{},[]"
    with pytest.raises(CorruptDataError, match="not valid JSON"):
        nacrith.decompress(_with_entries(zstd_ref + varint(len(blob)) + blob))
    with pytest.raises(FormatError, match=r"preset dictionary 200.*upgrade"):
        nacrith.decompress(_with_entries(zstd_ref + b"\x02\xc8\x00"))
    with pytest.raises(CorruptDataError, match="overlong number"):
        nacrith.decompress(_with_entries(b"\x83\x00"))
    with pytest.raises(CorruptDataError, match="out of range"):
        nacrith.decompress(MAGIC + b"\x20\xff\x01")
    with pytest.raises(FormatError, match="not an object"):
        nacrith.decompress(_with_entries(b"\x00\x04mine\x03\x00[]"))


def test_inline_codec_chunks() -> None:
    # a chunk whose codec the header lacks (the pipeline's stored fallback) names it inline
    member = _member({"zstd": {"level": 19}}, [("stored", b"abc", b"abc")], 3)
    assert nacrith.decompress(member) == b"abc"
    (record,) = next(iter_members(io.BytesIO(member))).chunks
    assert record.codec_id == "stored"
    inline = b"\xff" + encode_entry("logs", {"effort": "fast"})
    body = MAGIC + b"\x21\x03\x00" + inline + b"\x03\x03" + _crc(b"abc") + b"abc"
    with_params = body + _crc(body) + b"\x00"
    with pytest.raises(CorruptDataError, match="inline"):
        nacrith.decompress(with_params)
    out = io.BytesIO()
    write_member(out, {}, [("nosuch", b"abc", b"abc")], original_size=3)
    with pytest.raises(FormatError, match="unknown codec 'nosuch'"):
        nacrith.decompress(out.getvalue())


def test_bad_tags_and_sizes() -> None:
    member = _member({"stored": {}}, [("stored", b"abc", b"abc")], 3)
    tag_at = MemberReader(io.BytesIO(member)).header_size
    for tag in (2, 0x80, 0xFE):
        damaged = member[:tag_at] + bytes([tag]) + member[tag_at + 1 :]
        with pytest.raises(CorruptDataError, match="unexpected record tag"):
            nacrith.decompress(damaged)
    larger = member[:tag_at] + b"\x01\x04" + member[tag_at + 2 :]
    with pytest.raises(CorruptDataError, match="more data than its header declares"):
        nacrith.decompress(larger)
    huge = _with_entries(b"\x01", chunks=b"\x01" + varint(1 << 31) + b"\x00")
    with pytest.raises(CorruptDataError, match="out of range"):
        nacrith.decompress(huge)


def test_max_output_size_and_reader_settings() -> None:
    whole = archive(b"x" * 5000)
    assert nacrith.decompress(whole, max_output_size=5000) == b"x" * 5000
    with pytest.raises(nacrith.OutputLimitError, match="above max_output_size 4999"):
        nacrith.decompress(whole, max_output_size=4999)
    reader = MemberReader(io.BytesIO(archive(b"hello", method="zstd")))
    assert reader.codec_params == {"zstd": {"level": 19}}
    assert reader.original_size == 5 and reader.version == 2


def test_settings_size_limit() -> None:
    big = {"x": "a" * ((1 << 20) - 20)}
    assert _params_read_back("mine", big) == big
    with pytest.raises(ValueError, match="1 MiB settings limit"):
        _member({"mine": {"x": "a" * (1 << 20)}}, [])


def test_forms_golden_holds_every_form() -> None:
    from tests.paths import GOLDEN

    golden = (GOLDEN / "v2-forms.ncz").read_bytes()
    f = io.BytesIO(golden)
    starts, inline = [], []
    for member in iter_members(f):
        starts.append(f.tell() - member.reader.header_size)
        inline += [r.codec_id for r in member.chunks if r.codec_id not in member.codec_params]
    assert inline == ["stored"]
    first, second = starts
    assert golden[first + 4] == 0x21 and golden[first + 7] == 1  # size known (2 bytes), 1 codec
    assert golden[first + 8] % 2 == 0 < golden[first + 8]  # a diff against a baseline
    assert golden[second + 4 : second + 7] == b"\x20\x02\x00"  # no size, 2 codecs, explicit
