"""Search over chunks with identifier columns (logs payload version 2, `nacrith.logs.idsearch`)
equals a full decode + line filter, for queries inside, across and outside identifiers."""

from __future__ import annotations

import random
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nacrith.codecs.logs import LogsCodec
from nacrith.logs import LogArchive
from nacrith.logs.idsearch import ident_chunk, may_overlap
from tests.paths import LOGHUB

OPENSTACK = LOGHUB / "OpenStack" / "OpenStack_2k.log"
HEX = "0123456789abcdef"
WORDS = ["req-", "GET", "instance:", "[", "]", "status", "0x", "-", "/v2/", "ok", "Dec", "a1"]


def brute(lines: list[bytes], pattern: bytes, regex: bool, ignore_case: bool) -> list[bytes]:
    """The lines a plain line filter finds."""
    if regex:
        rx = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
        return [ln for ln in lines if rx.search(ln)]
    if ignore_case:
        return [ln for ln in lines if pattern.lower() in ln.lower()]
    return [ln for ln in lines if pattern in ln]


def archive_of(tmp_path: Path, lines: list[bytes], chunk_lines: int) -> LogArchive:
    """A log archive of `lines` in chunks of `chunk_lines`, opened for reading."""
    path = tmp_path / "ids.ncz"
    path.unlink(missing_ok=True)
    with LogArchive(path, "w", chunk_lines=chunk_lines) as writer:
        writer.write_lines(lines)
    return LogArchive(path, "r")


def ident_chunks(archive: LogArchive) -> int:
    """How many chunks of `archive` a search takes through their identifier templates."""
    n = 0
    for codec, record, payload, reader in archive._chunks():
        reader.skip_content(record)
        n += (
            isinstance(codec, LogsCodec)
            and ident_chunk(codec, payload, record.raw_size) is not None
        )
    return n


@st.composite
def id_logs(draw: st.DrawFn) -> list[bytes]:
    """Lines of a few templates whose identifiers (UUIDs, hex ids, hashes, in lower, upper or
    mixed case, some repeating) sit at the start, middle and end of lines."""
    rnd = random.Random(draw(st.integers(0, 2**32)))

    def ident() -> str:
        groups = rnd.choice([(8, 4, 4, 4, 12), (32,), (16,), (8,), (40,), (4, 4)])
        s = "-".join("".join(rnd.choice(HEX) for _ in range(g)) for g in groups)
        case = rnd.randrange(3)
        return (
            s.upper()
            if case == 1
            else "".join(c.upper() if rnd.random() < 0.3 else c for c in s)
            if case == 2
            else s
        )

    pool = [ident() for _ in range(draw(st.integers(1, 8)))]
    words = st.lists(st.sampled_from([*WORDS, "ID", "N"]), max_size=4)
    shapes = [
        [*a, "ID", *b] for a, b in draw(st.lists(st.tuples(words, words), min_size=1, max_size=4))
    ]
    lines = []
    for _ in range(draw(st.integers(60, 240))):
        parts = []
        for w in rnd.choice(shapes):
            if w == "ID":
                parts.append(rnd.choice(pool) if rnd.random() < 0.3 else ident())
            elif w == "N":
                parts.append(str(rnd.randrange(10**6)))
            else:
                parts.append(w)
        lines.append(" ".join(parts).encode())
    return lines


@settings(max_examples=40, deadline=None)
@given(lines=id_logs(), data=st.data())
def test_search_equals_a_line_filter(lines: list[bytes], data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        archive = archive_of(Path(tmp), lines, data.draw(st.integers(40, 150)))
        check_queries(archive, lines, data)


def check_queries(archive: LogArchive, lines: list[bytes], data: st.DataObject) -> None:
    """Random slices of the log (and regexes made of them) find what a line filter finds."""
    text = b"\n".join(lines)
    for _ in range(6):
        start = data.draw(st.integers(0, len(text) - 1))
        query = text[start : start + data.draw(st.integers(1, 24))]
        ignore_case = data.draw(st.booleans())
        assert list(archive.search(query, ignore_case=ignore_case)) == brute(
            lines, query, False, ignore_case
        )
        rx = re.escape(query).replace(b"\\-", b"[-]").replace(b"0", b"[0-9]")
        assert list(archive.search(rx, regex=True, ignore_case=ignore_case)) == brute(
            lines, rx, True, ignore_case
        )


def test_openstack_sample_searches_like_a_line_filter(tmp_path: Path) -> None:
    lines = OPENSTACK.read_bytes().split(b"\n")[:-1]
    archive = archive_of(tmp_path, lines, 500)
    assert ident_chunks(archive) == 4
    uuids = re.findall(rb"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}", b"\n".join(lines))
    queries = [
        b"Terminating instance",
        b"req-",
        uuids[7],
        uuids[900][5:21],
        b"req-" + uuids[300][:6],
        uuids[40][-9:] + b"]",
        b"e-4",
        b"status: 404",
        b"a",
    ]
    for q in queries:
        for ignore_case in (False, True):
            want = brute(lines, q, False, ignore_case)
            assert list(archive.search(q, ignore_case=ignore_case)) == want, q
    for rx in [rb"req-[0-9a-f]{4}1", rb"instance: [0-9a-f]+-00", rb"GET .*f3d2"]:
        assert list(archive.search(rx, regex=True)) == brute(lines, rx, True, False), rx


@pytest.mark.parametrize("tail", [b"", b"partial line with 3d2a1f6e-0a0b-4c4d-8e8f-1234567890ab"])
def test_identifier_at_line_edges_and_unwritten_tail(tmp_path: Path, tail: bytes) -> None:
    ids = [f"{i:08x}-aaaa-4bbb-8ccc-{i * 7919:012x}".encode() for i in range(300)]
    lines = [ids[i] + b" start" if i % 2 else b"end " + ids[i] for i in range(300)]
    path = tmp_path / "edges.ncz"
    everything = lines + ([tail] if tail else [])
    queries = [ids[17], ids[18][-5:] + b" st", b"d " + ids[20][:3], b"aaaa-4", b"partial"]
    with LogArchive(path, "w", chunk_lines=100) as writer:
        writer.write_lines(lines)
        writer.write(tail)
        for q in queries:  # the tail is not yet written to a chunk
            assert list(writer.search(q)) == brute(everything, q, False, False), q
    reader = LogArchive(path, "r")
    assert ident_chunks(reader) == 3
    for q in queries:
        assert list(reader.search(q)) == brute(everything, q, False, False), q


@pytest.mark.parametrize(
    ("literal", "overlaps"),
    [
        (b"Terminating instance", False),
        (b"req-", False),
        (b"[instance: ", False),
        (b"ax3f", False),
        (b"status: 200", True),
        (b"req-3ef", True),
        (b"e-4", True),
        (b"0x3f", True),
        (b"x3f", True),
        (b"Dec", True),
    ],
)
def test_which_literals_may_share_bytes_with_an_identifier(literal: bytes, overlaps: bool) -> None:
    assert may_overlap(literal) is overlaps
