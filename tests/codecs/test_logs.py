"""The `logs` codec: lossless on any bytes, hostile payloads, goldens, ratio on Loghub samples."""

from __future__ import annotations

import lzma
import os
import random
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nacrith.codecs.logs import (
    MODE_MODEL,
    MODE_STORED,
    MODE_WHOLE,
    LogsCodec,
)
from nacrith.codecs.registry import codec_class
from nacrith.errors import CorruptDataError, FormatError, NacrithError
from nacrith.formats.logs import streams as ls
from nacrith.formats.logs.detect import looks_like_logs
from nacrith.formats.logs.template import DEC, HEX, TIME, escape, tokenize, unescape
from nacrith.formats.logs.timestamps import (
    FORMATS,
    detect_format,
    line_time,
    mark_times,
    parse_time,
)
from tests.paths import GOLDEN, LOGHUB
from tests.samples import synthetic_log

SAMPLES = sorted(LOGHUB.glob("*/*_2k.log"))


EDGE_CASES = [
    b"",
    b"\n",
    b"a",
    b"0",
    b"00",
    b"\n\n\n",
    b"abc\r\n",
    b"no newline at the end 12",
    b"x 0x1F 0xab 0xAb 0X12 0x 0x0\n" * 3,
    b"99999999999999999999999999 18446744073709551615 9999999999999999999\n" * 5,
    b"\x00\x01\x02\x03\x04 12 \x03 1 \x0312\n" * 4,
    bytes(range(256)) * 8,
    b"2015-13-45 25:61:61 2015-02-29 10:00:00 2016-02-29 10:00:00,123\n" * 10,
    b"Jun  4 07:00:01 a\nJun 04 07:00:01 b\nFeb 30 10:00:00 c\n" * 5,
    b"Mon Dec 04 04:47:44 2005\nSun Dec 04 04:47:44 2005\n" * 5,
    b"%d %s %% 100%\n" * 5,
    b"007 07 7 0007 -5 --5 -0 -00\n" * 10,
    b"1.05 1.5 1.50 0.001\n" * 20,
    b"1117838570 1117838570.5 0.1117838570 11178385701\n" * 5,
    ("\u00e9t\u00e9 \u4e2d\u6587 12\n" * 10).encode(),
    b"\xff\xfe 12 \xff\n" * 10,
    b"17/06/09 20:10:40 x\n99/12/31 23:59:59 y\n00/01/01 00:00:00 z\n",
    b"081109 203615 a\n081109 246099 b\n",
    b"trailing spaces   \n\ttabs\t\t\n   \n",
    b"1" * 1000 + b"\n" + b"a1" * 500,
]


@pytest.fixture(scope="module")
def codec() -> LogsCodec:
    return LogsCodec()


def test_registered() -> None:
    assert codec_class("logs") is LogsCodec
    assert LogsCodec().params() == {"effort": "fast"}
    assert isinstance(LogsCodec.from_params({"effort": "max"}), LogsCodec)
    with pytest.raises(FormatError, match="bad logs codec parameters"):
        LogsCodec.from_params({"effort": "huge"})
    with pytest.raises(ValueError, match="effort"):
        LogsCodec("slow")


@pytest.mark.parametrize("data", EDGE_CASES, ids=range(len(EDGE_CASES)))
def test_edge_cases_round_trip(codec: LogsCodec, data: bytes) -> None:
    assert codec.decode(codec.encode(data), len(data)) == data


def test_synthetic_round_trip_both_efforts() -> None:
    data = synthetic_log()
    for effort in ("fast", "max"):
        c = LogsCodec(effort)
        payload = c.encode(data)
        assert c.info(payload).mode == MODE_MODEL
        assert c.decode(payload, len(data)) == data
        assert len(payload) * 4 < len(data)


def test_random_bytes_do_not_expand(codec: LogsCodec) -> None:
    data = os.urandom(20000)
    payload = codec.encode(data)
    assert len(payload) <= len(data) + 2
    assert codec.info(payload).mode in (MODE_STORED, MODE_WHOLE)
    assert codec.decode(payload, len(data)) == data


@given(st.binary(max_size=3000))
def test_any_bytes_round_trip(data: bytes) -> None:
    c = LogsCodec()
    assert c.decode(c.encode(data), len(data)) == data


_LOGGY = st.lists(
    st.tuples(
        st.sampled_from(["2015-10-18 18:01:%02d", "Jun %2d 15:16:01", "[%d]", "0x%x", "%05d"]),
        st.integers(0, 70),
        st.sampled_from([" ", "  ", "\t", "\r", "", ":", "-", "."]),
        st.text(alphabet="abcXYZ019 -_.:/\u00e9", max_size=12),
    ),
    max_size=80,
)


@given(_LOGGY, st.sampled_from(["\n", "\r\n"]))
def test_log_like_round_trip(items: list[tuple[str, int, str, str]], eol: str) -> None:
    data = eol.join(f % v + sep + w for f, v, sep, w in items).encode()
    c = LogsCodec()
    assert c.decode(c.encode(data), len(data)) == data


def test_loghub_samples_round_trip_and_beat_xz(codec: LogsCodec) -> None:
    if not SAMPLES:
        pytest.skip("corpora/loghub not present")
    for path in SAMPLES:
        data = path.read_bytes()
        payload = codec.encode(data)
        assert codec.decode(payload, len(data)) == data, path.name
        assert len(payload) < len(lzma.compress(data, preset=9)), path.name


def test_truncated_payloads_raise_nacrith_errors(codec: LogsCodec) -> None:
    data = synthetic_log(120)
    payload = codec.encode(data)
    for cut in range(len(payload)):
        with pytest.raises(NacrithError, match=r"^logs payload "):
            codec.decode(payload[:cut], len(data))


def test_corrupt_payloads_raise_only_nacrith_errors(codec: LogsCodec) -> None:
    data = synthetic_log(200) + b"x 0x1F 0XAB 0xAb\n" * 20
    payload = codec.encode(data)
    rnd = random.Random(3)
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


def test_wrong_raw_size_is_corrupt(codec: LogsCodec) -> None:
    data = synthetic_log(50)
    payload = codec.encode(data)
    with pytest.raises(CorruptDataError, match="would decode to"):
        codec.decode(payload, len(data) + 1)
    with pytest.raises(CorruptDataError, match="exceeds its bound"):
        codec.decode(payload, 0)


def test_unknown_version_is_format_error(codec: LogsCodec) -> None:
    payload = bytearray(codec.encode(b"abc 12\n" * 10))
    payload[0] = 9
    with pytest.raises(FormatError, match="version 9"):
        codec.decode(bytes(payload), 70)


def test_templates_and_partial_decode(codec: LogsCodec) -> None:
    data = synthetic_log(300)
    payload = codec.encode(data)
    templates = codec.templates(payload)
    assert templates is not None
    lines = data.split(b"\n")
    for t, (pieces, kinds) in enumerate(templates):
        assert len(pieces) == len(kinds) + 1
        assert set(kinds) <= {DEC, HEX, TIME}
        got = list(codec.decode_lines(payload, len(data), [t]))
        assert got
        for i, line in got:
            assert line == lines[i]
            assert line.startswith(pieces[0])
            assert line.endswith(pieces[-1])
    assert [ln for _, ln in codec.decode_lines(payload, len(data))] == lines
    info = codec.info(payload)
    assert info.n_lines == len(lines) and info.ends_with_newline
    assert info.time_format == 0 and info.time_range is not None


def test_stored_payload_has_no_templates(codec: LogsCodec) -> None:
    payload = codec.encode(os.urandom(3000))
    assert codec.templates(payload) is None


def test_tokenizer_finds_typed_variables() -> None:
    tok = tokenize(b"2015-10-18 18:01:47,978 id=0x1f n=007 ip 10.2.3.4\n")
    assert tok.time_format == 0
    assert tok.templates[0] == b"\x03\x00,\x00 id=\x01 n=\x00 ip \x00.\x00.\x00.\x00"
    assert tok.values == [b"1445191307", b"978", b"1f", b"007", b"10", b"2", b"3", b"4"]


def test_escape_round_trip() -> None:
    data = bytes(range(8)) * 3
    text, escaped = escape(data)
    assert escaped and b"\x00" not in text and b"\x01" not in text and b"\x03" not in text
    assert unescape(text) == data
    assert escape(b"plain") == (b"plain", False)


# --- timestamps ---


@pytest.mark.parametrize(
    ("text", "name", "seconds"),
    [
        (b"2015-10-18 18:01:47", "iso", 1445191307),
        (b"2015-10-18T18:01:47", "isoT", 1445191307),
        (b"2005-06-03-15.42.50", "dashdot", 1117813370),
        (b"2015/10/18 18:01:47", "slash4", 1445191307),
        (b"15/10/18 18:01:47", "slash2", 1445191307),
        (b"151018 180147", "compact", 1445191307),
        (b"Sun Oct 18 18:01:47 2015", "ctime", 1445191307),
        (b"18/Oct/2015:18:01:47", "access", 1445191307),
        (b"Oct 18 18:01:47", "syslog", 971892107),
        (b"Feb  9 18:01:47", "syslog", 950119307),
        (b"10.18 18:01:47", "monthday", 971892107),
        (b"1445191307", "epoch", 1445191307),
    ],
)
def test_time_formats_round_trip(text: bytes, name: str, seconds: int) -> None:
    fmt = [f.name for f in FORMATS].index(name)
    assert detect_format([b"x " + text + b" y"] * 3) == fmt
    assert line_time(b"x " + text + b" y", fmt) == seconds
    assert FORMATS[fmt].render(seconds) == text
    marked, span = mark_times(b"a " + text + b" b", fmt)
    assert marked == b"a \x03%d b" % seconds and span == (seconds, seconds)


def test_inexact_times_stay_digits() -> None:
    fmt = [f.name for f in FORMATS].index("syslog")
    marked, span = mark_times(b"Jun 04 07:00:01 x\nFeb 30 10:00:00 y\n", fmt)
    assert b"\x03" not in marked
    assert span is not None  # plausible matches still bound the range


def test_parse_time() -> None:
    assert parse_time("2015-10-18 18:01:47") == 1445191307
    assert parse_time("2015-10-18T18:01:47+00:00") == 1445191307
    assert parse_time("Oct 18 18:01:47") == 971892107
    assert parse_time(12.5) == 12.5
    with pytest.raises(ValueError, match="cannot read"):
        parse_time("soon")
    with pytest.raises(TypeError, match="a time bound must be a number"):
        parse_time([1])


def test_looks_like_logs() -> None:
    assert looks_like_logs(synthetic_log())
    assert not looks_like_logs(os.urandom(5000))
    assert not looks_like_logs(b"Just one short line of prose.\n")
    prose = b" ".join(b"word%s" % bytes([97 + i % 26]) for i in range(3000))
    assert not looks_like_logs(prose)
    for path in SAMPLES:
        assert looks_like_logs(path.read_bytes()[:65536]), path.name


# --- sub-stream back ends ---


@pytest.mark.parametrize("backend", ls.available_backends())
def test_backends_round_trip(backend: int) -> None:
    data = synthetic_log(100)
    coded = ls.compress_stream(data, backend)
    assert ls.decompress_stream(coded, backend, len(data)) == data
    try:  # a wrong length is an error or exactly that many bytes (PPMd has no end mark)
        assert len(ls.decompress_stream(coded, backend, len(data) + 1)) == len(data) + 1
    except CorruptDataError:
        pass


@pytest.mark.skipif(ls.pyppmd is None, reason="pyppmd not installed")
def test_starved_ppmd_decoder_does_not_crash_the_process() -> None:
    """Regression: a damaged PPMd stream used to leave pyppmd's decoder thread waiting for
    input, and the process died with SIGSEGV at exit."""
    code = (
        "from nacrith.formats.logs import streams as ls\n"
        "from nacrith.errors import CorruptDataError\n"
        "try:\n"
        "    ls.decompress_stream(bytes.fromhex('0044e83ab5840000'), 5, 51)\n"
        "except CorruptDataError:\n"
        "    print('corrupt')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout == "corrupt\n", r.stderr


# --- goldens: payloads of earlier builds must decode forever ---


def _golden_inputs() -> dict[str, bytes]:
    """One input per payload mode: model (plain and escaped), whole-chunk back end, stored."""
    rnd = random.Random(3)
    letters = b"etaoinshrdlu      "
    prose = b"\n".join(
        bytes(rnd.choice(letters) for _ in range(rnd.randrange(20, 70))) for _ in range(200)
    )
    return {
        "logs_synthetic": synthetic_log(300),
        "logs_edge": b"".join(EDGE_CASES[:20]),
        "logs_whole": prose,
        "logs_stored": random.Random(1).randbytes(600),
    }


@pytest.mark.parametrize("name", sorted(_golden_inputs()))
def test_golden_payloads_decode(name: str) -> None:
    data = _golden_inputs()[name]
    path = GOLDEN / f"{name}.bin"
    if os.environ.get("NACRITH_REGEN_GOLDEN") == "1":
        path.write_bytes(LogsCodec().encode(data))
    payload = path.read_bytes()
    if ls.pyppmd is None:
        pytest.skip("the golden payloads use PPMd sub-streams (pip install pyppmd)")
    assert LogsCodec().decode(payload, len(data)) == data
    expected_mode = {"logs_whole": MODE_WHOLE, "logs_stored": MODE_STORED}.get(name, MODE_MODEL)
    assert LogsCodec().info(payload).mode == expected_mode


# --- column numbering, settings, partial decoding ---


def _trie_layout(templates: list[bytes]) -> tuple[list[list[int]], list[int]]:
    """Reference column numbering: a trie over (piece + marker) paths, families over the same
    paths with letter runs folded, columns renumbered family by family (the first build)."""
    import re

    marks = re.compile(rb"(\x03?\x00|\x01)")
    trie: dict = {}
    shapes: dict = {}
    families: list[int] = []
    n_fam = 0
    cols_of: list[list[int]] = []
    for skeleton in templates:
        parts = marks.split(skeleton)
        node, fnode, cols = trie, shapes, []
        for i in range(1, len(parts), 2):
            fkey = re.sub(rb"[A-Za-z]+", b"a", parts[i - 1]) + parts[i]
            if fkey not in fnode:
                fnode[fkey] = (n_fam, {})
                n_fam += 1
            key = parts[i - 1] + parts[i]
            if key not in node:
                node[key] = (len(families), {})
                families.append(-1)
            cols.append(node[key][0])
            families[node[key][0]] = fnode[fkey][0]
            node, fnode = node[key][1], fnode[fkey][1]
        cols_of.append(cols)
    order = sorted(range(len(families)), key=lambda c: (families[c], c))
    rank = {c: r for r, c in enumerate(order)}
    return [[rank[c] for c in cols] for cols in cols_of], [families[c] for c in order]


@pytest.mark.parametrize("which", ["edge", "synthetic", "samples"])
def test_template_paths_match_the_trie(which: str) -> None:
    from nacrith.formats.logs.paths import template_paths

    if which == "edge":
        inputs = list(EDGE_CASES)
    elif which == "synthetic":
        inputs = [synthetic_log(), synthetic_log(50, seed=1)]
    else:
        inputs = [p.read_bytes() for p in SAMPLES[:4]] or [synthetic_log()]
    for data in inputs:
        templates = tokenize(data).templates
        paths = template_paths(templates)
        cols, families = _trie_layout(templates)
        assert paths.template_cols() == cols
        assert paths.col_family.tolist() == families


def test_vectorised_column_settings_agree_with_the_reader() -> None:
    from nacrith.codecs.logs import S_META, _Parsed
    from nacrith.formats.logs.column_settings import _read_meta_fast, _read_meta_slow
    from nacrith.formats.logs.columns import build_layout

    rnd = random.Random(5)
    for data in [synthetic_log(), *(p.read_bytes() for p in SAMPLES[:3])]:
        payload = LogsCodec().encode(data)
        p = _Parsed(payload, len(data))
        layout = build_layout(p.templates(), p.line_templates(), len(data))
        meta = p.stream(S_META)
        variants = [meta, meta[:-1], meta + b"\x00", bytes(b & 0x3F for b in meta)]
        variants += [
            bytes(rnd.randrange(256) if rnd.random() < 0.03 else b for b in meta) for _ in range(20)
        ]
        for m in variants:
            try:
                slow = _read_meta_slow(m, layout)
            except CorruptDataError:
                slow = None
            fast = _read_meta_fast(m, layout.n_columns, layout.col_kind, layout.col_depth)
            if m == meta:
                assert fast is not None
            if fast is not None:
                assert slow is not None
                for name in slow.__dataclass_fields__:
                    a, b = getattr(slow, name), getattr(fast, name)
                    assert a.dtype == b.dtype and (a == b).all(), name


def test_partial_decoding_equals_the_full_decoder() -> None:
    from nacrith.codecs.logs import _RESIDUAL_KINDS, _ROLES, _Parsed
    from nacrith.formats.logs.select import select_lines

    rnd = random.Random(9)
    inputs = [synthetic_log(), b"".join(EDGE_CASES), *(p.read_bytes() for p in SAMPLES[:5])]
    for data in inputs:
        codec = LogsCodec()
        payload = codec.encode(data)
        p = _Parsed(payload, len(data))
        if p.mode != MODE_MODEL:
            continue
        full = list(codec.decode_lines(payload, len(data)))
        tids = p.line_templates().tolist()

        def streams(role: int | str, p: _Parsed = p) -> bytes:
            return p.stream(_RESIDUAL_KINDS[role] if isinstance(role, int) else _ROLES[role])

        for _ in range(4):
            wanted = {t for t in range(p.n_templates) if rnd.random() < 0.3}
            got = select_lines(
                p.templates(),
                p.escaped,
                p.line_templates(),
                streams,
                p.time_format,
                len(data),
                wanted,
            )
            assert got == [(i, line) for i, line in full if tids[i] in wanted]
