"""The `xz` codec: round trips, settings, truncated and corrupt payloads, bounded output, goldens.

Golden payloads `tests/golden/xz_*.bin` are payloads only; their inputs are built below and
their raw sizes are in the `.json` beside them (which scripts/fuzz.py also reads for its
seeds). They must decode byte-exactly forever; NACRITH_REGEN_GOLDEN=1 writes missing ones.
"""

from __future__ import annotations

import json
import lzma
import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nacrith.codecs.registry import METHODS, codec_class
from nacrith.codecs.xz import (
    FILTERS,
    PROPERTIES,
    SAMPLE,
    XzCodec,
    branch_filter,
    choose,
    dictionary_size,
)
from nacrith.errors import CorruptDataError, FormatError, NacrithError, TruncatedError
from tests.paths import CANTERBURY, GOLDEN

PRESET = 9 | lzma.PRESET_EXTREME


def _text() -> bytes:
    return (CANTERBURY / "grammar.lsp").read_bytes() + "naïve café 東京\r\n".encode()


def _elf_header(machine: int, little: bool) -> bytes:
    order = "little" if little else "big"
    head = b"\x7fELF" + bytes([1, 1 if little else 2, 1]) + bytes(9)  # e_ident: 16 bytes
    return head + (2).to_bytes(2, order) + machine.to_bytes(2, order) + bytes(44)


INPUTS = {
    "empty": b"",
    "one": b"a",
    "zeros": bytes(100_000),
    "random": random.Random(5).randbytes(5000),
    "text": _text(),
    "sparc": (CANTERBURY / "sum").read_bytes(),
    "table": (CANTERBURY / "kennedy.xls").read_bytes()[:150_000],
}


@pytest.fixture(scope="module")
def codec() -> XzCodec:
    return XzCodec()


@pytest.fixture(scope="module")
def payloads(codec: XzCodec) -> dict[str, bytes]:
    return {name: codec.encode(data) for name, data in INPUTS.items()}


def test_registered_between_zstd_and_stored() -> None:
    assert codec_class("xz") is XzCodec
    assert METHODS.index("zstd") < METHODS.index("xz") < METHODS.index("stored")


def test_params_name_only_what_differs_from_the_defaults() -> None:
    assert XzCodec().params() == {}
    assert XzCodec(6, extreme=False).params() == {"preset": 6, "extreme": False}
    rebuilt = XzCodec.from_params({"preset": 6, "extreme": False})
    assert (rebuilt.preset, rebuilt.extreme) == (6, False)
    assert XzCodec.from_params({}).preset == XzCodec.DEFAULT_PRESET


@pytest.mark.parametrize(
    "params", [{"preset": 10}, {"preset": True}, {"extreme": 1}, {"level": 9}, {"preset": "9"}]
)
def test_bad_params_are_format_errors(params: dict[str, object]) -> None:
    with pytest.raises(FormatError, match="bad xz parameters"):
        XzCodec.from_params(params)


def test_bad_settings_are_value_errors() -> None:
    with pytest.raises(ValueError, match="preset must be an integer"):
        XzCodec(-1)
    with pytest.raises(ValueError, match="extreme must be true or false"):
        XzCodec(9, extreme="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_round_trip(codec: XzCodec, payloads: dict[str, bytes], name: str) -> None:
    data = INPUTS[name]
    assert codec.decode(payloads[name], len(data)) == data
    assert XzCodec.from_params(codec.params()).decode(payloads[name], len(data)) == data


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=3000))
def test_round_trip_any_bytes(data: bytes) -> None:
    codec = XzCodec(1)
    assert codec.decode(codec.encode(data), len(data)) == data


def test_smaller_than_xz_9e_where_the_settings_help(payloads: dict[str, bytes]) -> None:
    # the payload carries no .xz container, and the SPARC filter and pb=0 settings pay off
    for name in ("text", "sparc", "table"):
        assert len(payloads[name]) < len(lzma.compress(INPUTS[name], preset=PRESET)), name


def test_branch_filter_reads_executable_headers() -> None:
    assert branch_filter(_elf_header(62, little=True)) == 1  # x86-64
    assert branch_filter(_elf_header(2, little=False)) == 2  # SPARC
    assert branch_filter(_elf_header(40, little=True)) == 4  # ARM
    assert branch_filter(_elf_header(183, little=True)) == 0  # AArch64: no stdlib filter
    assert branch_filter(b"MZ\x90\x00") == 1
    assert branch_filter(b"\x7fELF") == 0
    assert branch_filter(b"plain text") == 0


def test_choose_keeps_a_filter_only_where_it_wins() -> None:
    key, props = choose(INPUTS["sparc"], PRESET)
    assert FILTERS[key] == lzma.FILTER_SPARC and props in PROPERTIES
    assert choose(INPUTS["text"], PRESET)[0] == 0


def test_dictionary_follows_the_chunk() -> None:
    assert dictionary_size(0) == 4096
    assert dictionary_size(SAMPLE) == SAMPLE
    assert dictionary_size(1 << 30) == 64 << 20


@pytest.mark.parametrize("name", ["text", "sparc", "zeros"])
def test_truncated_payloads_raise(codec: XzCodec, payloads: dict[str, bytes], name: str) -> None:
    data, payload = INPUTS[name], payloads[name]
    with pytest.raises(TruncatedError, match="end marker"):
        codec.decode(payload[:-1], len(data))
    for cut in range(0, len(payload), max(1, len(payload) // 40)):
        with pytest.raises((TruncatedError, CorruptDataError), match="xz"):
            codec.decode(payload[:cut], len(data))


def test_short_payloads_raise(codec: XzCodec) -> None:
    for payload in (b"", b"\x00"):
        with pytest.raises(TruncatedError, match="ends inside its settings"):
            codec.decode(payload, 10)


def test_corrupt_headers_raise(codec: XzCodec, payloads: dict[str, bytes]) -> None:
    data, payload = INPUTS["text"], payloads["text"]
    with pytest.raises(CorruptDataError, match="unknown filter 7"):
        codec.decode(b"\x07" + payload[1:], len(data))
    for bad in (225, 4 + 9 * 1, 255):  # pb 5; lc 4 + lp 1; out of range
        with pytest.raises(CorruptDataError, match="invalid LZMA2 settings byte"):
            codec.decode(payload[:1] + bytes([bad]) + payload[2:], len(data))
    with pytest.raises(CorruptDataError, match="bytes after its end"):
        codec.decode(payload + b"junk", len(data))


def test_bit_flips_raise_or_keep_the_size(codec: XzCodec, payloads: dict[str, bytes]) -> None:
    data, payload = INPUTS["text"], payloads["text"]
    rng = random.Random(11)
    for _ in range(300):
        bad = bytearray(payload)
        bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
        try:
            out = codec.decode(bytes(bad), len(data))
        except NacrithError:
            continue
        assert len(out) == len(data)


def test_output_is_bounded_by_raw_size(codec: XzCodec, payloads: dict[str, bytes]) -> None:
    zeros = payloads["zeros"]  # 100,000 bytes in a few dozen
    for size in (0, 10, 99_999):
        with pytest.raises(CorruptDataError, match=f"decodes to more than {size} bytes"):
            codec.decode(zeros, size)
    with pytest.raises(CorruptDataError, match="decoded to 100000 bytes, expected 100001"):
        codec.decode(zeros, 100_001)


# -- golden payloads -----------------------------------------------------------------------------

GOLDEN_NAMES = ("text", "sparc", "table")


def _write_missing_goldens() -> None:
    for name in GOLDEN_NAMES:
        path = GOLDEN / f"xz_{name}.bin"
        if not path.exists():
            data = INPUTS[name]
            path.write_bytes(XzCodec().encode(data))
            meta = {"raw_size": len(data), "input": f"tests/codecs/test_xz.py INPUTS[{name!r}]"}
            path.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")


if os.environ.get("NACRITH_REGEN_GOLDEN") == "1":
    _write_missing_goldens()


@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_golden_payload_decodes(codec: XzCodec, name: str) -> None:
    payload = (GOLDEN / f"xz_{name}.bin").read_bytes()
    meta = json.loads((GOLDEN / f"xz_{name}.json").read_text())
    data = INPUTS[name]
    assert meta["raw_size"] == len(data)
    assert codec.decode(payload, len(data)) == data
