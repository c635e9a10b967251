"""Python API: round trips, file objects, contexts, argument errors, import hygiene."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

import nacrith

FAST_METHODS = ["zstd", "stored"]
CASES = {
    "empty": b"",
    "one byte": b"x",
    "text": "Grüße, 世界! The rain in Spain.\r\n".encode() * 300,
    "random": os.urandom(70_000),
    "mixed": b"plain text line\n" * 500 + os.urandom(5000) + b"more text\n" * 500,
}


@pytest.mark.parametrize("method", FAST_METHODS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_round_trip(method: str, name: str) -> None:
    data = CASES[name]
    assert nacrith.decompress(nacrith.compress(data, method=method)) == data


@pytest.mark.parametrize("method", FAST_METHODS)
def test_larger_than_one_chunk(method: str) -> None:
    data = b"".join(b"line %d of a file bigger than a chunk\n" % i for i in range(20_000))
    archive = nacrith.compress(data, method=method, chunk_size=64 * 1024)
    assert nacrith.decompress(archive) == data


def test_canterbury_round_trips_zstd(canterbury: dict[str, bytes]) -> None:
    assert len(canterbury) == 11
    for name, data in canterbury.items():
        assert nacrith.decompress(nacrith.compress(data, method="zstd")) == data, name


def test_binary_regions_never_expand_much() -> None:
    data = os.urandom(50_000)
    assert len(nacrith.compress(data, method="zstd")) < len(data) + 200


def test_workers_do_not_change_bytes() -> None:
    data = b"".join(b"record %d\n" % i for i in range(60_000))
    outputs = {
        k: nacrith.compress(data, method="zstd", chunk_size=100_000, workers=k) for k in (1, 2)
    }
    assert outputs[1] == outputs[2]
    assert nacrith.decompress(outputs[1], workers=2) == data


def test_compressor_and_decompressor_are_reusable() -> None:
    with nacrith.Compressor("zstd") as comp, nacrith.Decompressor() as dec:
        for data in (b"one", b"two" * 1000, b""):
            assert dec.decompress(comp.compress(data)) == data


def test_open_binary_round_trip(tmp_path) -> None:
    path = tmp_path / "a.ncz"
    with nacrith.open(path, "wb", method="zstd") as f:
        f.write(b"hello ")
        f.write(memoryview(b"world"))
    with nacrith.open(path, "rb") as f:
        assert f.read(5) == b"hello"
        assert f.read() == b" world"
        f.seek(0)
        assert f.read() == b"hello world"


def test_open_text_and_fileobj() -> None:
    buffer = io.BytesIO()
    with nacrith.open(buffer, "wt", method="zstd", encoding="utf-8") as f:
        f.write("línea uno\nline two\n")
        buffer_view = buffer
    assert nacrith.decompress(buffer_view.getvalue()) == "línea uno\nline two\n".encode()
    with nacrith.open(io.BytesIO(buffer_view.getvalue()), "rt", encoding="utf-8") as f:
        assert f.readlines() == ["línea uno\n", "line two\n"]


def test_open_append_adds_a_member(tmp_path) -> None:
    path = tmp_path / "log.ncz"
    with nacrith.open(path, "ab", method="zstd") as f:
        f.write(b"first\n")
    with nacrith.open(path, "ab", method="zstd") as f:
        f.write(b"second\n")
    with nacrith.open(path, "rb") as f:
        assert f.read() == b"first\nsecond\n"


def test_open_rejects_bad_modes() -> None:
    for mode in ("r+", "rw", "", "bt", "rtb", "z"):
        with pytest.raises(ValueError, match="Invalid mode"):
            nacrith.open(io.BytesIO(), mode)
    with pytest.raises(ValueError, match="encoding"):
        nacrith.open(io.BytesIO(), "rb", encoding="utf-8")
    with pytest.raises(TypeError, match="filename must be a str, bytes, PathLike or file object"):
        nacrith.open(12.5, "rb")  # type: ignore[arg-type]


def test_open_wrong_direction() -> None:
    with (
        nacrith.open(io.BytesIO(), "wb", method="stored") as f,
        pytest.raises(io.UnsupportedOperation, match="not open for reading"),
    ):
        f.read()


def test_bad_arguments_are_value_errors() -> None:
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        nacrith.compress(b"x", method="nope")
    with pytest.raises(ValueError, match="chunk_size"):
        nacrith.compress(b"x", chunk_size=0)
    with pytest.raises(ValueError, match="zstd level"):
        nacrith.compress(b"x", method="zstd", level=99)
    with pytest.raises(ValueError, match="max_output_size must be non-negative"):
        nacrith.decompress(b"x", max_output_size=-1)


def test_import_loads_no_model_and_no_codec_module() -> None:
    code = (
        "import sys, nacrith\n"
        "bad = [m for m in sys.modules if m.startswith(('llama_cpp', 'nacrith.models.llm',"
        " 'zstandard', 'nacrith.codecs.fib', 'nacrith.codecs.logs'))]\n"
        "import threading\n"
        "assert not bad, bad\n"
        "assert threading.active_count() == 1\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_error_hierarchy() -> None:
    assert issubclass(nacrith.TruncatedError, EOFError)
    for cls in (
        nacrith.FormatError,
        nacrith.CorruptDataError,
        nacrith.TruncatedError,
        nacrith.ModelMismatchError,
        nacrith.ModelNotFoundError,
        nacrith.OutputLimitError,
    ):
        assert issubclass(cls, nacrith.NacrithError)


@given(st.binary(max_size=3000), st.sampled_from(FAST_METHODS), st.integers(1, 4096))
def test_property_round_trip(data: bytes, method: str, chunk_size: int) -> None:
    archive = nacrith.compress(data, method=method, chunk_size=chunk_size, workers=1)
    assert nacrith.decompress(archive) == data


@given(st.text(max_size=2000), st.integers(1, 2048))
def test_property_text_round_trip(text: str, chunk_size: int) -> None:
    data = text.encode("utf-8", "surrogatepass")
    archive = nacrith.compress(data, method="zstd", chunk_size=chunk_size, workers=1)
    assert nacrith.decompress(archive) == data


@given(st.binary(min_size=1, max_size=400), st.data())
def test_property_damaged_archives_never_decode_wrong(data: bytes, draw: st.DataObject) -> None:
    archive = bytearray(nacrith.compress(data, method="zstd", chunk_size=97, workers=1))
    pos = draw.draw(st.integers(0, len(archive) - 1))
    archive[pos] ^= draw.draw(st.integers(1, 255))
    try:
        out = nacrith.decompress(bytes(archive))
    except nacrith.NacrithError:
        return
    assert out == data
