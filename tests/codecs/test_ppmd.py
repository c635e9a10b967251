"""The `ppmd` codec: round trips, the order fallback, parameters and damaged payloads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nacrith.codecs import ppmd as codec_module
from nacrith.codecs.ppmd import ORDERS, PpmdCodec, model_memory
from nacrith.codecs.registry import METHODS, codec_class
from nacrith.coders import ppmd
from nacrith.errors import CorruptDataError, FormatError, TruncatedError
from tests.paths import CANTERBURY, CORPORA

#: a slice of enwik8 on which pyppmd's order-16 stream with this codec's model memory for its
#: size does not decode (found by scanning corpora/enwik/enwik6)
ENWIK_FAILS_AT_16 = slice(131_072, 262_144)


@pytest.mark.parametrize("name", ["fields.c", "grammar.lsp", "xargs.1", "sum"])
def test_round_trip(name: str) -> None:
    data = (CANTERBURY / name).read_bytes()
    codec = PpmdCodec()
    payload = codec.encode(data)
    assert payload[0] in ORDERS
    assert codec.decode(payload, len(data)) == data


def test_empty_and_incompressible() -> None:
    codec = PpmdCodec()
    assert codec.decode(codec.encode(b""), 0) == b""
    noise = os.urandom(5000)
    assert codec.decode(codec.encode(noise), len(noise)) == noise


def test_falls_back_to_a_lower_order_when_the_stream_does_not_decode() -> None:
    data = (CORPORA / "enwik" / "enwik6").read_bytes()[ENWIK_FAILS_AT_16]
    codec = PpmdCodec()
    assert ppmd.encode(data, 16, model_memory(len(data))) is None  # pyppmd's bug is here
    payload = codec.encode_at(data, 16)
    assert payload[0] == 12
    assert codec.decode(payload, len(data)) == data


def test_falls_back_to_a_higher_order_when_no_lower_one_decodes() -> None:
    import zstandard

    packed = (Path(__file__).parent / "ppmd_cases" / "order4_fails.bin.zst").read_bytes()
    data = zstandard.ZstdDecompressor().decompress(packed)
    codec = PpmdCodec()
    assert ppmd.encode(data, 4, model_memory(len(data))) is None  # pyppmd's bug is here
    payload = codec.encode_at(data, 4)
    assert payload[0] == 6  # the nearest order whose stream decodes, not stored
    assert codec.decode(payload, len(data)) == data


def test_memory_grows_with_the_chunk_and_stops_at_the_cap() -> None:
    assert model_memory(0) == codec_module.MIN_MEM
    assert model_memory(3_000_000) == 64 << 20
    assert model_memory(18 << 20) == codec_module.DEFAULT_MAX_MEM
    assert model_memory(18 << 20, 64 << 20) == 64 << 20


def test_params_round_trip_and_bad_params() -> None:
    codec = PpmdCodec(64 << 20)
    again = codec_class("ppmd").from_params(codec.params())
    assert isinstance(again, PpmdCodec) and again.max_mem == 64 << 20
    for bad in ({}, {"max_mem": 3 << 20}, {"max_mem": 1 << 31}, {"max_mem": 1 << 20, "x": 1}):
        with pytest.raises(FormatError, match="bad ppmd parameters"):
            PpmdCodec.from_params(bad)
    assert "ppmd" in METHODS


def test_damaged_payloads() -> None:
    codec = PpmdCodec()
    with pytest.raises(TruncatedError, match="order byte"):
        codec.decode(b"", 10)
    with pytest.raises(CorruptDataError, match="unknown model order"):
        codec.decode(bytes([65, 1, 2]), 10)
    with pytest.raises(CorruptDataError, match="stored ppmd chunk holds 2 bytes"):
        codec.decode(bytes([0, 1, 2]), 10)


def test_ncz_compress_with_ppmd_and_info(tmp_path: Path) -> None:
    from tests.cli.ncz import ncz

    data = (CANTERBURY / "fields.c").read_bytes()
    (tmp_path / "a.c").write_bytes(data)
    assert ncz("compress", "-m", "ppmd", "a.c", "-o", "a.ncz", cwd=tmp_path).returncode == 0
    info = ncz("info", "a.ncz", cwd=tmp_path)
    assert info.returncode == 0 and b"ppmd" in info.stdout
    assert ncz("decompress", "a.ncz", "-o", "b.c", cwd=tmp_path).returncode == 0
    assert (tmp_path / "b.c").read_bytes() == data
