"""The `logs` codec on high-entropy identifiers: payload version 2 (`formats.logs.idents`)."""

from __future__ import annotations

import json
import lzma
import os
import random
import re
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nacrith
from nacrith.codecs.logs import MODE_IDENTS, MODE_MODEL, VERSION_IDENTS, LogsCodec
from nacrith.errors import CorruptDataError, FormatError, NacrithError
from nacrith.formats.logs import idents
from nacrith.formats.logs import streams as ls
from nacrith.formats.logs.detect import looks_like_logs
from nacrith.formats.logs.template import tokenize
from nacrith.logs import LogArchive
from tests.paths import GOLDEN, LOGHUB

OPENSTACK = LOGHUB / "OpenStack" / "OpenStack_2k.log"


def id_log(n: int = 600, seed: int = 5, case: str = "lower") -> bytes:
    """A service log whose lines carry request ids (repeating within a request), instance
    UUIDs, 32-hex tenant ids, 40- and 64-digit hashes and 16-digit trace ids."""
    rnd = random.Random(seed)

    def hexid(digits: int) -> str:
        return f"{rnd.getrandbits(4 * digits):0{digits}x}"

    spelt: dict[str, str] = {}

    def spell(s: str) -> str:  # one spelling per id
        if case == "upper":
            return s.upper()
        if case == "mixed" and s not in spelt:
            spelt[s] = "".join(c.upper() if rnd.random() < 0.5 else c for c in s)
        return spelt.get(s, s)

    tenants = [hexid(32) for _ in range(4)]
    instances = [str(uuid.UUID(int=rnd.getrandbits(128), version=4)) for _ in range(30)]
    lines, t, req = [], 1_494_892_800, ""
    for i in range(n):
        if i % 4 == 0:
            req = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
        t += rnd.randrange(3)
        stamp = f"2017-05-16 {t // 3600 % 24:02d}:{t // 60 % 60:02d}:{t % 60:02d}.{i % 1000:03d}"
        kind = rnd.randrange(4)
        if kind == 0:
            msg = f'"GET /v2/{rnd.choice(tenants)}/servers/detail HTTP/1.1" status: 200'
        elif kind == 1:
            msg = f"[instance: {spell(rnd.choice(instances))}] VM Started (Lifecycle Event)"
        elif kind == 2:
            msg = f"image {spell(hexid(40))} sha256 {spell(hexid(64))} cached"
        else:
            msg = f"trace {hexid(16)} span {rnd.randrange(1 << 20)}"
        lines.append(
            f"{stamp} {25746 + i % 3} INFO nova.api [req-{spell(req)} "
            f"{spell(rnd.choice(tenants))} - - -] {msg}\n"
        )
    return "".join(lines).encode()


@pytest.fixture(scope="module")
def codec() -> LogsCodec:
    return LogsCodec()


@pytest.mark.parametrize("case", ["lower", "upper", "mixed"])
def test_id_logs_use_version_2_and_round_trip(codec: LogsCodec, case: str) -> None:
    data = id_log(case=case)
    payload = codec.encode(data)
    assert payload[0] == VERSION_IDENTS
    assert codec.info(payload).mode == MODE_IDENTS
    assert codec.decode(payload, len(data)) == data
    assert len(payload) < len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))


def test_identifier_digits_cost_about_four_bits(codec: LogsCodec) -> None:
    """Random ids that never repeat: the payload holds little more than their 4-bit digits."""
    rnd = random.Random(9)
    ids = [f"{rnd.getrandbits(128):032x}" for _ in range(2000)]
    data = b"".join(f"GET /obj/{x} ok\n".encode() for x in ids)
    payload = codec.encode(data)
    assert codec.decode(payload, len(data)) == data
    assert len(payload) < 2000 * 16 * 1.05


def test_repeats_cost_a_reference(codec: LogsCodec) -> None:
    rnd = random.Random(4)
    ids = [f"{rnd.getrandbits(160):040x}" for _ in range(100)]
    data = b"".join(f"commit {rnd.choice(ids)} pushed\n".encode() for _ in range(3000))
    payload = codec.encode(data)
    assert codec.decode(payload, len(data)) == data
    assert len(payload) < 100 * 20 + 3000


def test_far_repeats_beyond_the_recency_window(codec: LogsCodec) -> None:
    rnd = random.Random(2)
    ids = [f"{rnd.getrandbits(64):016x}" for _ in range(idents.WINDOW + 300)]
    order = ids + ids[:200] + ids[::-7]
    data = b"".join(f"k={x}\n".encode() for x in order)
    found = idents.extract(data)
    assert found is not None
    refs = found[1].refs
    assert max(_varints(refs)) > idents.WINDOW
    assert codec.decode(codec.encode(data), len(data)) == data


def _varints(data: bytes) -> list[int]:
    out, value, shift = [], 0, 0
    for b in data:
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            out.append(value)
            value = shift = 0
    return out


NOT_IDS = [
    b"3d2a1f6g2096447d96eaa692162415ae",  # a non-hex letter
    b"x3d2a1f6e9b",  # a letter before it
    b"3d2a1f6e9bq",  # a letter after it
    b"0x3d2a1f6e9b",  # 0x: a hex variable
    b"20170516",  # digits only: a number
    b"deadbeefcafe",  # letters only
    b"3d2a1f6",  # too short
    b"a1" * 33,  # too long
    b"1a-2b-3c-4d-5e-6f-7a-8b-9c",  # too many groups
]


@pytest.mark.parametrize("token", NOT_IDS, ids=range(len(NOT_IDS)))
def test_non_identifiers_stay_text(codec: LogsCodec, token: bytes) -> None:
    data = b"".join(b"line %d %s end\n" % (i, token) for i in range(40))
    assert idents.extract(data) is None
    assert codec.decode(codec.encode(data), len(data)) == data


def test_long_hex_after_0x_is_an_identifier(codec: LogsCodec) -> None:
    rnd = random.Random(13)
    txs = [f"0x{rnd.getrandbits(256):064x}" for _ in range(300)]
    data = "".join(f"block {i} tx {tx} gas 0x{i * 977:x}\n" for i, tx in enumerate(txs)).encode()
    found = idents.extract(data)
    assert found is not None
    assert found[1].shapes == [idents.Shape(idents.LOWER, (64,))]
    assert found[0].startswith(b"block 0 tx 0x\x04a gas 0x0\n")
    payload = codec.encode(data)
    assert payload[0] == VERSION_IDENTS and codec.decode(payload, len(data)) == data
    assert len(payload) < 300 * 32 * 1.1
    short = b"p 0x12345678abcdef00 q\n" * 20  # 16 digits: a hex variable, not an identifier
    assert idents.extract(short) is None


def test_a_non_hex_letter_breaks_a_uuid(codec: LogsCodec) -> None:
    data = b"".join(b"r %d 3d2a1f6g-2096-447d-96ea-a692162415ae\n" % i for i in range(40))
    found = idents.extract(data)
    assert found is not None
    assert found[0].startswith(b"r 0 3d2a1f6g-\x04a\n")
    assert found[1].shapes == [idents.Shape(idents.LOWER, (4, 4, 4, 12))]
    assert codec.decode(codec.encode(data), len(data)) == data


@pytest.mark.parametrize(
    ("token", "groups", "case"),
    [
        (b"38101a0b-2096-447d-96ea-a692162415ae", (8, 4, 4, 4, 12), idents.LOWER),
        (b"38101A0B-2096-447D-96EA-A692162415AE", (8, 4, 4, 4, 12), idents.UPPER),
        (b"38101a0B-2096-447d-96Ea-a692162415ae", (8, 4, 4, 4, 12), idents.MIXED),
        (b"38101a0b2096447d96eaa692162415ae00", (34,), idents.LOWER),  # odd width
        (b"1a2b3c4d", (8,), idents.LOWER),
        (b"a1" * 32, (64,), idents.LOWER),
        (b"ab-12345678", (2, 8), idents.LOWER),
    ],
)
def test_identifier_shapes(token: bytes, groups: tuple[int, ...], case: int) -> None:
    data = b"id=" + token + b";\n"
    found = idents.extract(data)
    assert found is not None
    text, ids = found
    assert text == b"id=\x04a;\n"
    assert ids.shapes == [idents.Shape(case, groups)]
    assert LogsCodec().decode(LogsCodec().encode(data * 30), len(data) * 30) == data * 30


def test_more_shapes_than_placeholder_letters(codec: LogsCodec) -> None:
    rnd = random.Random(8)
    widths = range(8, 8 + idents.MAX_SHAPES + 6)
    lines = [f"v {rnd.getrandbits(4 * w) | 1 << (4 * w - 1):x}5 a\n" for w in widths] * 3
    data = "".join(lines).encode()
    found = idents.extract(data)
    assert found is not None and len(found[1].shapes) == idents.MAX_SHAPES
    assert codec.decode(codec.encode(data), len(data)) == data


def test_placeholder_byte_in_the_chunk_disables_identifiers(codec: LogsCodec) -> None:
    data = id_log(80) + b"\x04a \x04 3d2a1f6e9b\n"
    assert idents.extract(data) is None
    payload = codec.encode(data)
    assert payload[0] == 1
    assert codec.decode(payload, len(data)) == data


def test_escaped_chunk_with_identifiers(codec: LogsCodec) -> None:
    data = id_log(200) + b"\x00\x01\x02\x03 3d2a1f6e9b12\n" * 3
    payload = codec.encode(data)
    assert payload[0] == VERSION_IDENTS
    assert codec.decode(payload, len(data)) == data


_HEXY = st.lists(
    st.tuples(
        st.text(alphabet="0123456789abcdefABCDEF-", min_size=0, max_size=40),
        st.sampled_from([" ", "-", "[", "] ", "=", "/", "x", "g", "\n", "\t", ""]),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(_HEXY, st.integers(1, 4))
def test_hex_heavy_text_round_trips(items: list[tuple[str, str]], repeat: int) -> None:
    data = ("".join(a + b for a, b in items) * repeat).encode()
    found = idents.extract(data)
    if found is not None:
        text, ids = found
        assert idents.restore(text, ids.shapes, ids.n_ids, ids.refs, ids.digits, ids.cases) == (
            data
        )
    c = LogsCodec()
    assert c.decode(c.encode(data), len(data)) == data


def test_openstack_sample(codec: LogsCodec) -> None:
    data = OPENSTACK.read_bytes()
    payload = codec.encode(data)
    assert payload[0] == VERSION_IDENTS
    assert codec.decode(payload, len(data)) == data
    assert len(payload) < len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
    info = codec.info(payload)
    assert (info.mode, info.n_lines, info.ends_with_newline) == (
        MODE_IDENTS,
        data.count(b"\n") + 1,
        None,
    )
    assert codec.templates(payload) is None and codec.template_table(payload) is None
    lines = data.split(b"\n")
    assert list(codec.decode_lines(payload, len(data), {0})) == list(enumerate(lines))


def test_truncated_version_2_payloads_raise(codec: LogsCodec) -> None:
    data = id_log(60)
    payload = codec.encode(data)
    assert payload[0] == VERSION_IDENTS
    for cut in range(len(payload)):
        with pytest.raises(NacrithError, match=r"^logs "):
            codec.decode(payload[:cut], len(data))


def test_corrupt_version_2_payloads_never_give_wrong_sizes(codec: LogsCodec) -> None:
    data = id_log(150, case="mixed")
    payload = codec.encode(data)
    rnd = random.Random(6)
    for _ in range(400):
        b = bytearray(payload)
        for _ in range(rnd.randrange(1, 4)):
            b[rnd.randrange(len(b))] ^= 1 << rnd.randrange(8)
        size = len(data) + rnd.choice([0, 0, 1, -1, 100])
        try:
            out = codec.decode(bytes(b), size)
        except NacrithError:
            continue
        assert len(out) == size


def test_corrupt_identifier_fields(codec: LogsCodec) -> None:
    data = b"".join(b"req %032x ok\n" % (i % 5 * 0x1F3A5 + 0xA0000000000000) for i in range(60))
    text, ids = idents.extract(data) or (b"", None)
    assert ids is not None

    def restore(**kw: object) -> bytes:
        args = {"refs": ids.refs, "digits": ids.digits, "cases": ids.cases} | kw
        return idents.restore(text, ids.shapes, ids.n_ids, **args)  # type: ignore[arg-type]

    assert restore() == data
    with pytest.raises(CorruptDataError, match="placeholders"):
        idents.restore(text, ids.shapes, ids.n_ids + 1, ids.refs, ids.digits, ids.cases)
    with pytest.raises(CorruptDataError, match="trailing bytes"):
        restore(digits=ids.digits + b"\x00")
    with pytest.raises(CorruptDataError, match="end early"):
        restore(digits=ids.digits[:-1])
    with pytest.raises(CorruptDataError, match="recency list"):
        restore(refs=b"\x00" + b"\x05" * 59)
    with pytest.raises(CorruptDataError, match="unknown identifier"):
        restore(refs=b"\x00" + b"\x90\x10" * 59)
    with pytest.raises(CorruptDataError, match="names no identifier shape"):
        idents.restore(
            text.replace(b"\x04a", b"\x04b", 1),
            ids.shapes,
            ids.n_ids,
            ids.refs,
            ids.digits,
            ids.cases,
        )


def test_unknown_versions_modes_and_nesting_are_rejected(codec: LogsCodec) -> None:
    data = id_log(40)
    payload = codec.encode(data)
    assert payload[0] == VERSION_IDENTS
    with pytest.raises(FormatError, match="version 3 is not supported"):
        codec.decode(b"\x03" + payload[1:], len(data))
    with pytest.raises(CorruptDataError, match="unknown mode"):
        codec.decode(payload[:1] + bytes([MODE_MODEL]) + payload[2:], len(data))
    found = idents.extract(data)
    assert found is not None
    inner_at = len(payload) - len(codec._encode_plain(found[0]))
    nested = payload[:inner_at] + payload
    with pytest.raises(CorruptDataError, match="wraps another version-2 payload"):
        codec.decode(nested, len(data))


def test_golden_version_2_payload_decodes() -> None:
    """A version-2 payload written once (never overwritten) must decode forever."""
    data = id_log(120, seed=11, case="mixed")
    path = GOLDEN / "logs_ids_v2.bin"
    if not path.exists() and os.environ.get("NACRITH_REGEN_GOLDEN") == "1":
        path.write_bytes(LogsCodec().encode(data))
    if ls.pyppmd is None:
        pytest.skip("the golden payload uses PPMd sub-streams (pip install pyppmd)")
    payload = path.read_bytes()
    assert payload[0] == VERSION_IDENTS
    assert LogsCodec().decode(payload, len(data)) == data
    assert json.loads(path.with_suffix(".json").read_text())["raw_size"] == len(data)


def test_identifier_logs_look_like_logs() -> None:
    rnd = random.Random(1)
    data = b"".join(
        b"GET /obj/%032x ok user %032x\n" % (rnd.getrandbits(128), rnd.getrandbits(128))
        for _ in range(400)
    )
    assert len(tokenize(data).templates) > 300  # without identifiers: a template per line
    assert looks_like_logs(data)


def test_identifiers_off_writes_version_1() -> None:
    data = id_log(100)
    payload = LogsCodec(identifiers=False).encode(data)
    assert payload[0] == 1
    assert LogsCodec().decode(payload, len(data)) == data
    assert len(LogsCodec().encode(data)) < len(payload)


def test_log_archive_search_over_version_2_chunks(tmp_path: Path) -> None:
    """A searchable log archive whose chunks carry identifiers finds what a line filter finds
    (version-2 chunks are searched through their inner templates, see `nacrith.logs.idsearch`)."""
    data = id_log(1500, seed=12)
    lines = data.split(b"\n")[:-1]
    first = data[: data.rfind(b"\n", 0, 64 << 10) + 1]
    assert LogsCodec().encode(first)[0] == VERSION_IDENTS
    path = tmp_path / "ids.log.ncz"
    with LogArchive(path, "w", chunk_bytes=64 << 10, fsync=False) as archive:
        archive.write(data)
    archive = LogArchive(path, "r")
    req = lines[700].split(b"[req-")[1][:36]
    tenant = lines[3].split(b" ")[6]
    for pattern, regex in ((req, False), (tenant, False), (rb"span 1[0-9]{3}\b", True)):
        rx = re.compile(pattern if regex else re.escape(pattern))
        want = [ln for ln in lines if rx.search(ln)]
        assert want
        assert list(archive.search(pattern, regex=regex)) == want
    times = list(archive.search(b"INFO", since="2017-05-16 00:10", until="2017-05-16 00:20"))
    assert times and all(b" 00:1" in ln for ln in times)


@pytest.mark.parametrize("method", ["logs", "fast", "auto"])
def test_openstack_archive_is_smaller_than_xz_9e(method: str) -> None:
    """The issue's file: `-m logs`, `--fast` and `auto` archives beat xz -9e and decode."""
    data = OPENSTACK.read_bytes()
    archive = nacrith.compress(data, method=method, workers=1)
    assert nacrith.decompress(archive) == data
    assert len(archive) < len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
