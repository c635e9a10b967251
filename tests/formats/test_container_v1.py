"""Container format version 1 (read forever, no longer written by default): exact bytes and the
hostile-input matrix."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib

import pytest

import nacrith
from nacrith.errors import CorruptDataError, FormatError, NacrithError, TruncatedError
from nacrith.formats.container import MAGIC_V1 as MAGIC
from nacrith.formats.container import MemberReader, iter_members, write_member
from nacrith.formats.container.common import deflate_with_dictionary, encode_settings
from nacrith.formats.settings_dict import PRESET_DICTIONARIES
from tests.formats.container_helpers import SAMPLE
from tests.formats.container_helpers import archive_v1 as _archive


def test_constants_pinned() -> None:
    assert MAGIC == b"\x89NCZ\r\n\x1a\n"
    assert MAGIC.startswith(nacrith.MAGIC)


def test_stored_member_exact_bytes() -> None:
    out = io.BytesIO()
    write_member(out, {"stored": {}}, [("stored", b"abc", b"abc")], original_size=3, version=1)
    data = out.getvalue()
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15, memLevel=9, zdict=PRESET_DICTIONARIES[1])
    settings = b"\x01" + deflater.compress(b'{"codecs":{"stored":{}}}') + deflater.flush()
    head = MAGIC + bytes([1, 0x05]) + struct.pack("<QI", 3, len(settings)) + settings
    assert data.startswith(head + struct.pack("<I", zlib.crc32(head)))
    record = b"C\x06stored\x00" + struct.pack("<QQII", 3, 3, zlib.crc32(b"abc"), zlib.crc32(b"abc"))
    rest = data[len(head) + 4 :]
    assert rest.startswith(record + struct.pack("<I", zlib.crc32(record)) + b"abc")
    assert rest[len(record) + 4 + 3 :][:1] == b"E"
    assert nacrith.decompress(data) == b"abc"


def test_many_chunks_round_trip() -> None:
    archive = _archive()
    members = list(_list(archive))
    assert len(members) == 1 and members[0] > 3
    assert nacrith.decompress(archive) == SAMPLE


def _list(archive: bytes):
    for member in iter_members(io.BytesIO(archive)):
        yield sum(1 for _ in member.chunks)


def test_concatenated_members_decode_as_one() -> None:
    a, b = _archive(b"first part\n"), _archive(b"second part\n", method="stored")
    assert nacrith.decompress(a + b) == b"first part\nsecond part\n"


def test_every_truncation_is_detected() -> None:
    archive = _archive(SAMPLE[:1500])
    for cut in range(len(archive)):
        with pytest.raises(NacrithError, match=r"ended before|empty input") as info:
            nacrith.decompress(archive[:cut])
        assert isinstance(info.value, (TruncatedError, FormatError, CorruptDataError)), cut
        if cut >= len(MAGIC):
            assert isinstance(info.value, (TruncatedError, CorruptDataError)), cut


def test_every_flipped_byte_is_detected() -> None:
    archive = _archive(SAMPLE[:1500])
    for pos in range(len(archive)):
        for bit in (0x01, 0x80):
            damaged = bytearray(archive)
            damaged[pos] ^= bit
            try:
                out = nacrith.decompress(bytes(damaged))
            except NacrithError:
                continue
            pytest.fail(f"flip at {pos} (bit {bit:#x}) decoded to {len(out)} bytes")


def test_trailing_junk_is_an_error() -> None:
    archive = _archive(b"hello\n")
    for junk in (b"\x00", b"junk", b"x" * 20, MAGIC[:3] + b"zzzzz", MAGIC[:5] + b"zzz"):
        with pytest.raises(FormatError, match="trailing data"):
            nacrith.decompress(archive + junk)
    with pytest.raises(TruncatedError, match="ended before the end-of-stream marker"):
        nacrith.decompress(archive + MAGIC[:5])


def test_wrong_magic_and_empty() -> None:
    with pytest.raises(FormatError, match="not a nacrith archive"):
        nacrith.decompress(b"PK\x03\x04 this is a zip" * 3)
    with pytest.raises(TruncatedError, match="empty input is not a nacrith archive"):
        nacrith.decompress(b"")


def _rewrite_header(archive: bytes, version: int | None = None, flags: int | None = None) -> bytes:
    data = bytearray(archive)
    if version is not None:
        data[8] = version
    if flags is not None:
        data[9] = flags
    (length,) = struct.unpack_from("<I", data, 18)
    end = 22 + length
    struct.pack_into("<I", data, end, zlib.crc32(bytes(data[:end])))
    return bytes(data)


def test_future_version_names_both_versions() -> None:
    archive = _rewrite_header(_archive(b"hi"), version=2)
    with pytest.raises(FormatError, match=r"version 2 is not supported.*version 1"):
        nacrith.decompress(archive)


def test_reserved_flag_bits_rejected() -> None:
    archive = _rewrite_header(_archive(b"hi"), flags=0x09)
    with pytest.raises(FormatError, match="reserved flag"):
        nacrith.decompress(archive)


def _settings_field(archive: bytes) -> tuple[int, bytes]:
    (length,) = struct.unpack_from("<I", archive, 18)
    return archive[9], archive[22 : 22 + length]


def _with_settings_field(archive: bytes, flags: int, field: bytes) -> bytes:
    (length,) = struct.unpack_from("<I", archive, 18)
    head = bytearray(archive[:22]) + field
    head[9] = flags
    struct.pack_into("<I", head, 18, len(field))
    return bytes(head) + struct.pack("<I", zlib.crc32(bytes(head))) + archive[26 + length :]


def test_preset_dictionaries_are_frozen() -> None:
    # an archive names its dictionary by id: these bytes may never change
    digests = {
        k: hashlib.blake2b(v, digest_size=16).hexdigest() for k, v in PRESET_DICTIONARIES.items()
    }
    assert digests == {
        1: "cfe8b8b3b665077c127baeacf356065b",
        2: "1b6da2bb0a6f890b252f372c298374ef",
        3: "0193ae76766601a8b0175240130ef97e",
    }


@pytest.mark.parametrize("form", ["raw", "zlib", "dict"])
def test_every_settings_form_reads_back(form: str) -> None:
    archive = _archive(b"hello, settings", method="zstd")
    flags, _ = _settings_field(archive)
    assert flags & 0x06 == 0x04  # the dictionary form is the smallest for ordinary settings
    settings = b'{"codecs":{"zstd":{"level":19}}}'
    if form == "raw":
        field, bits = settings, 0
    elif form == "zlib":
        field, bits = zlib.compress(settings, 9), 0x02
    else:
        deflater = zlib.compressobj(9, zlib.DEFLATED, -15, zdict=PRESET_DICTIONARIES[1])
        field, bits = b"\x01" + deflater.compress(settings) + deflater.flush(), 0x04
    rebuilt = _with_settings_field(archive, (flags & 0x01) | bits, field)
    assert nacrith.decompress(rebuilt) == b"hello, settings"
    assert MemberReader(io.BytesIO(rebuilt)).codec_params == {"zstd": {"level": 19}}


def test_llm_settings_cost_a_few_dozen_bytes() -> None:
    params = {
        "crlf": True,
        "head_min": 2.0**-14,
        "keep": 1024,
        "llama_cpp": "0.3.99",
        "model": "smollm2-135m",
        "n_ctx": 2048,
        "predictors": {"bias_lr": 0.5, "cache_size": 8192, "cache_theta": 35.0},
        "probe": "0123456789abcdef0123456789abcdef",
        "sha256": "7b46609d11703c058397e5cfe4cc6e4b",
        "tokenizer": "e8ec5f5bb9d770baf4582879cecd0d5b",
        "reflow": True,
        "version": 4,
    }
    settings = encode_settings({"codecs": {"llm": params, "zstd": {"level": 19}}})
    assert len(deflate_with_dictionary(settings, 2)) < 50 < len(zlib.compress(settings, 9)) - 150
    # dictionary 1 predates format 4's "reflow": dictionary 2 saves what it costs there
    assert len(deflate_with_dictionary(settings, 2)) < len(deflate_with_dictionary(settings, 1))


def test_damaged_settings_forms_are_errors() -> None:
    archive = _archive(b"hi")
    flags, field = _settings_field(archive)
    assert flags & 0x04
    with pytest.raises(FormatError, match=r"preset dictionary 7.*upgrade"):
        nacrith.decompress(_with_settings_field(archive, flags, b"\x07" + field[1:]))
    with pytest.raises(FormatError, match="both settings compression flags"):
        nacrith.decompress(_with_settings_field(archive, flags | 0x02, field))
    for bad in (b"", b"\x01", field[:-1], field + b"\x00", b"\x01\xff\xff\xff"):
        with pytest.raises(CorruptDataError, match="archive settings"):
            nacrith.decompress(_with_settings_field(archive, flags, bad))


def test_unknown_codec_in_chunk_is_format_error() -> None:
    out = io.BytesIO()
    write_member(out, {}, [("nosuch", b"abc", b"abc")], original_size=3, version=1)
    with pytest.raises(FormatError, match="unknown codec 'nosuch'"):
        nacrith.decompress(out.getvalue())


def test_max_output_size() -> None:
    archive = _archive(b"x" * 5000)
    assert nacrith.decompress(archive, max_output_size=5000) == b"x" * 5000
    with pytest.raises(nacrith.OutputLimitError, match="above max_output_size 4999"):
        nacrith.decompress(archive, max_output_size=4999)


def test_reader_reports_settings() -> None:
    archive = _archive(b"hello", method="zstd")
    reader = MemberReader(io.BytesIO(archive))
    assert reader.codec_params == {"zstd": {"level": 19}}
    assert reader.original_size == 5
