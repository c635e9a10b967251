"""The one LEB128 module (`nacrith.formats.varint`): scalar and numpy forms, payload readers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nacrith.errors import CorruptDataError, TruncatedError
from nacrith.formats import text
from nacrith.formats.logs import streams
from nacrith.formats.varint import (
    PayloadReader,
    decode_varints,
    encode_varints,
    get_varint,
    put_varint,
    unzigzag,
    varint,
    varint_ends,
    zigzag,
)


@given(st.lists(st.integers(min_value=0, max_value=(1 << 64) - 1), max_size=20))
def test_varints_round_trip(values: list[int]) -> None:
    buf = b"".join(varint(v) for v in values)
    reader = PayloadReader(buf)
    assert [reader.varint(limit=1 << 64) for _ in values] == values
    assert reader.rest() == b""


def test_known_encodings() -> None:
    assert varint(0) == b"\x00"
    assert varint(127) == b"\x7f"
    assert varint(128) == b"\x80\x01"
    assert varint(300) == b"\xac\x02"
    out = bytearray(b"x")
    put_varint(out, 300)
    assert out == b"x\xac\x02"
    assert get_varint(b"x\xac\x02", 1) == (300, 3)
    with pytest.raises(ValueError, match="must be >= 0"):
        put_varint(bytearray(), -1)


def test_bound_and_overlong_numbers_are_corrupt() -> None:
    with pytest.raises(CorruptDataError, match="exceeds its bound 9"):
        PayloadReader(varint(10)).varint(limit=9)
    with pytest.raises(CorruptDataError, match="over-long"):
        PayloadReader(b"\xff" * 10 + b"\x01").varint()


@pytest.mark.parametrize(
    ("reader", "short", "name"),
    [
        (text.Reader, TruncatedError, "llm payload"),
        (streams.Reader, CorruptDataError, "logs payload"),
        (PayloadReader, CorruptDataError, "payload"),
    ],
)
def test_short_payloads_raise_the_readers_error(reader, short, name) -> None:
    with pytest.raises(short, match=f"{name} ends early"):
        reader(b"").byte()
    with pytest.raises(short, match=f"{name} ends early"):
        reader(b"ab").take(3)
    with pytest.raises(short, match=f"{name} ends inside a number"):
        reader(b"").varint()
    with pytest.raises(short, match=f"{name} ends inside a number"):
        reader(b"\x80").varint()


def test_take_and_rest_move_the_position() -> None:
    r = PayloadReader(b"\x05hello world", 0)
    n = r.varint()
    assert r.take(n) == b"hello"
    assert r.byte() == ord(" ")
    assert r.rest() == b"world"
    assert r.pos == 12


@given(st.lists(st.integers(min_value=0, max_value=(1 << 64) - 1), max_size=40))
def test_array_form_writes_the_scalar_bytes(values: list[int]) -> None:
    data = encode_varints(np.array(values, dtype=np.uint64))
    assert data == b"".join(varint(v) for v in values)
    assert decode_varints(data, len(values)).tolist() == values


def test_array_form_edge_values() -> None:
    values = np.array([0, 1, 127, 128, 300, 2**63, 2**64 - 1], dtype=np.uint64)
    data = encode_varints(values)
    assert (decode_varints(data, len(values)) == values).all()
    assert encode_varints(np.zeros(0, dtype=np.uint64)) == b""
    assert decode_varints(b"", 0).dtype == np.uint64
    assert varint_ends(b"\x05\xac\x02", 2).tolist() == [0, 2]


def test_array_form_rejects_bad_streams() -> None:
    data = encode_varints(np.array([1, 300], dtype=np.uint64))
    with pytest.raises(CorruptDataError, match="logs varint stream holds 2 values, expected 3"):
        decode_varints(data, 3, "logs varint stream")
    with pytest.raises(CorruptDataError, match="holds 1 values, expected 1"):
        decode_varints(data[:-1] + b"\x80", 1)  # ends inside a number
    with pytest.raises(CorruptDataError, match="longer than 10 bytes"):
        decode_varints(b"\x80" * 10 + b"\x01", 1)


def test_zigzag_maps_small_magnitudes_to_small_codes() -> None:
    signed = np.array([0, -1, 1, -2, 2, -(2**63), 2**63 - 1], dtype=np.int64)
    codes = zigzag(signed)
    assert codes.tolist() == [0, 1, 2, 3, 4, 2**64 - 1, 2**64 - 2]
    assert (unzigzag(codes).view(np.int64) == signed).all()
    assert (zigzag(signed.view(np.uint64)) == codes).all()
