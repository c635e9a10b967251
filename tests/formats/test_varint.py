"""The shared LEB128 helpers and payload reader (formats/varint.py) and their two users."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nacrith.errors import CorruptDataError, TruncatedError
from nacrith.formats import text as text_front
from nacrith.formats.logs import streams as logs_streams
from nacrith.formats.varint import PayloadReader, get_varint, put_varint, varint


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
    with pytest.raises(ValueError):
        put_varint(bytearray(), -1)


def test_bound_and_overlong_numbers_are_corrupt() -> None:
    with pytest.raises(CorruptDataError, match="exceeds its bound 9"):
        PayloadReader(varint(10)).varint(limit=9)
    with pytest.raises(CorruptDataError, match="over-long"):
        PayloadReader(b"\xff" * 10 + b"\x01").varint()


@pytest.mark.parametrize(
    ("reader", "short", "name"),
    [
        (text_front.Reader, TruncatedError, "llm payload"),
        (logs_streams.Reader, CorruptDataError, "logs payload"),
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
