"""`nacrith.logs`: append, read back, search with chunk skipping, crash safety, logging, grep."""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

import nacrith
from nacrith.cli.logs import grep_command
from nacrith.codecs.logs import LogsCodec
from nacrith.errors import TruncatedError
from nacrith.formats.container import iter_members
from nacrith.formats.logs.streams import pyppmd
from nacrith.logs import LogArchive, LogArchiveHandler
from tests.paths import GOLDEN, LOGHUB


def sample_lines(name: str = "OpenSSH") -> list[bytes]:
    path = LOGHUB / name / f"{name}_2k.log"
    if not path.exists():
        pytest.skip("corpora/loghub not present")
    return path.read_bytes().split(b"\n")[:-1]


def timed_lines(n: int = 600) -> list[str]:
    """One line per 10 s from 2024-05-01 00:00:00, a stack trace line every 50."""
    out = []
    for i in range(n):
        t = i * 10
        out.append(f"2024-05-01 {t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d} job {i} done")
        if i % 50 == 49:
            out.append(f"    at Worker.run(Worker.java:{i})")
    return out


def members(path: Path) -> int:
    with open(path, "rb") as f:
        n = 0
        for m in iter_members(f):
            for _ in m.chunks:
                pass
            n += 1
        return n


def test_append_iterate_and_decompress(tmp_path: Path) -> None:
    lines = sample_lines()
    path = tmp_path / "a.ncz"
    with LogArchive(path, "w", chunk_lines=500) as archive:
        archive.write_lines(lines)
    assert members(path) == 4
    archive = LogArchive(path, "r")
    assert list(archive.lines(binary=True)) == lines
    assert [s.encode("utf-8", "surrogateescape") for s in archive] == lines
    assert nacrith.decompress(path.read_bytes()) == b"".join(ln + b"\n" for ln in lines)
    assert path.stat().st_size * 15 < sum(map(len, lines))


def test_reopen_appends_and_buffer_is_visible(tmp_path: Path) -> None:
    path = tmp_path / "a.ncz"
    with LogArchive(path) as archive:
        archive.append("first 1")
    archive = LogArchive(path, "a")
    archive.append(b"second 2\n")
    archive.write(b"third 3\nfourth")
    assert list(archive) == ["first 1", "second 2", "third 3", "fourth"]
    assert list(archive.search("o")) == ["second 2", "fourth"]
    archive.close()
    archive.close()
    assert LogArchive(path, "r").read() == b"first 1\nsecond 2\nthird 3\nfourth"
    with pytest.raises(ValueError, match="closed"):
        archive.append("x")


def test_threads_and_multiline_records(tmp_path: Path) -> None:
    import threading

    path = tmp_path / "a.ncz"
    archive = LogArchive(path, "w", chunk_lines=97)

    def work(k: int) -> None:
        for i in range(300):
            archive.append(f"thread {k} record {i}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    archive.append("Traceback (most recent call last):\n  File x, line 1\nValueError: boom")
    archive.close()
    lines = list(LogArchive(path, "r"))
    assert sorted(lines[:-3]) == sorted(
        f"thread {k} record {i}" for k in range(4) for i in range(300)
    )
    assert lines[-3:] == [
        "Traceback (most recent call last):",
        "  File x, line 1",
        "ValueError: boom",
    ]


def test_read_only_and_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"missing\.ncz"):
        LogArchive(tmp_path / "missing.ncz", "r")
    path = tmp_path / "a.ncz"
    LogArchive(path, "w").close()
    with pytest.raises(OSError, match="reading only"):
        LogArchive(path, "r").append("x")
    with pytest.raises(ValueError, match="mode"):
        LogArchive(path, "x")
    with pytest.raises(ValueError, match="chunk_bytes"):
        LogArchive(path, "a", chunk_bytes=0)


@pytest.mark.parametrize(
    ("pattern", "regex", "ignore_case"),
    [
        ("Failed password for root", False, False),
        ("failed PASSWORD", False, True),
        (r"invalid user \w+ from 1\d\d\.", True, False),
        (r"(?i)RECEIVED DISCONNECT", True, False),
        ("port 22", False, False),
        ("173.234.31.186", False, False),
        ("", False, False),
        ("no such text anywhere", False, False),
        (r"^Dec 10 0[67]:", True, False),
        (r"(Accepted|Failed) password for (root|admin) from", True, False),
        (r"port (22|80)\b|preauth", True, False),
    ],
)
def test_search_equals_brute_force(
    tmp_path: Path, pattern: str, regex: bool, ignore_case: bool
) -> None:
    lines = [ln.decode() for ln in sample_lines()]
    path = tmp_path / "a.ncz"
    with LogArchive(path, "w", chunk_lines=400) as archive:
        archive.write_lines(lines)
    flags = re.IGNORECASE if ignore_case else 0
    rx = re.compile(pattern if regex else re.escape(pattern), flags)
    expected = [ln for ln in lines if rx.search(ln)]
    got = list(LogArchive(path, "r").search(pattern, regex=regex, ignore_case=ignore_case))
    assert got == expected
    raw = list(LogArchive(path, "r").search(pattern.encode(), regex=regex, ignore_case=ignore_case))
    assert raw == [ln.encode() for ln in expected]


def test_search_skips_chunks_and_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.ncz"
    with LogArchive(path, "w", chunk_lines=100) as archive:
        for i in range(999):  # 10 chunks of 100 lines
            archive.append(f"2024-05-01 10:00:00 worker {i} heartbeat ok")
            if i == 555:
                archive.append("2024-05-01 10:00:00 worker crashed: out of memory")
    calls = {"decode": 0, "lines": 0, "rendered": 0}
    decode, decode_lines = LogsCodec.decode, LogsCodec.decode_lines

    def count_decode(self, payload, raw_size):
        calls["decode"] += 1
        return decode(self, payload, raw_size)

    def count_lines(self, payload, raw_size, templates=None, numbers=(), time_range=None, **kw):
        calls["lines"] += 1
        for item in decode_lines(self, payload, raw_size, templates, numbers, time_range, **kw):
            calls["rendered"] += 1
            yield item

    monkeypatch.setattr(LogsCodec, "decode", count_decode)
    monkeypatch.setattr(LogsCodec, "decode_lines", count_lines)
    got = list(LogArchive(path, "r").search("out of memory"))
    assert got == ["2024-05-01 10:00:00 worker crashed: out of memory"]
    assert calls == {"decode": 0, "lines": 1, "rendered": 1}


def test_numbers_render_only_lines_that_hold_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.ncz"
    with LogArchive(path, "w") as archive:
        for i in range(2000):
            archive.append(f"2024-05-01 10:00:00 client 10.0.{i % 250}.{i % 7} sent {i * 37} bytes")
    rendered = []
    decode_lines = LogsCodec.decode_lines

    def spy(self, payload, raw_size, templates=None, numbers=(), time_range=None, **kw):
        for item in decode_lines(self, payload, raw_size, templates, numbers, time_range, **kw):
            rendered.append(item)
            yield item

    monkeypatch.setattr(LogsCodec, "decode_lines", spy)
    got = list(LogArchive(path, "r").search("10.0.17.3 sent"))
    assert got == [f"2024-05-01 10:00:00 client 10.0.17.3 sent {i * 37} bytes" for i in (17, 1767)]
    assert len(rendered) <= 20


def _random_needles(lines: list[bytes], n: int, seed: int) -> list[bytes]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        line = rnd.choice(lines)
        a = rnd.randrange(len(line) + 1)
        out.append(line[a : a + rnd.randrange(1, 30)])
    return out


@pytest.mark.parametrize(
    "name",
    [
        "synthetic",
        *(pytest.param(n, marks=pytest.mark.slow) for n in ("BGL", "Zookeeper", "Linux")),
    ],
)
def test_random_substrings_are_always_found(tmp_path: Path, name: str) -> None:
    if name == "synthetic":
        from tests.samples import synthetic_log

        lines = synthetic_log(800).split(b"\n")[:-1]
    else:
        lines = sample_lines(name)
    path = tmp_path / "a.ncz"
    with LogArchive(path, "w", chunk_lines=700) as archive:
        archive.write_lines(lines)
    archive = LogArchive(path, "r")
    for needle in _random_needles(lines, 40 if name == "synthetic" else 60, seed=len(lines)):
        expected = [ln for ln in lines if needle in ln]
        assert list(archive.search(needle)) == expected, needle
        low = needle.lower()
        assert list(archive.search(needle.upper(), ignore_case=True)) == [
            ln for ln in lines if low in ln.lower()
        ], needle


def test_time_range(tmp_path: Path) -> None:
    lines = timed_lines()
    path = tmp_path / "a.ncz"
    with LogArchive(path, "w", chunk_lines=97) as archive:
        archive.write_lines(lines)
    archive = LogArchive(path, "r")
    got = list(archive.search("", since="2024-05-01 00:10:00", until="2024-05-01 00:20:00"))
    assert got[0] == "2024-05-01 00:10:00 job 60 done"
    assert got[-1] == "2024-05-01 00:20:00 job 120 done"
    assert len(got) == 62  # 61 jobs and the stack trace line after job 99
    assert "    at Worker.run(Worker.java:99)" in got
    assert list(archive.search("job 5 ", until="2024-05-01 00:00:49")) == []
    assert list(archive.search("job 5 ", until="2024-05-01 00:00:50")) == [lines[5]]
    assert list(archive.search("job", since="2030-01-01")) == []
    since = dt.datetime(2024, 5, 1, 1, 39, 50)
    assert list(archive.search("done", since=since)) == ["2024-05-01 01:39:50 job 599 done"]


def test_time_filter_without_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "a.ncz"
    with LogArchive(path, "w") as archive:
        archive.write_lines(["alpha", "beta"])
    assert list(LogArchive(path, "r").search("a", since=0)) == []
    assert list(LogArchive(path, "r").search("a")) == ["alpha", "beta"]


def test_torn_tail_is_reported_then_repaired(tmp_path: Path) -> None:
    path = tmp_path / "a.ncz"
    with LogArchive(path, "w", chunk_lines=2) as archive:
        archive.write_lines(["one 1", "two 2", "three 3", "four 4"])
    good = path.read_bytes()
    with LogArchive(path, "a") as archive:
        archive.write_lines(["five 5", "six 6"])
    full = path.read_bytes()
    path.write_bytes(full[: (len(good) + len(full)) // 2])  # crash while writing the last member
    seen = []
    with pytest.raises(TruncatedError, match="ended before"):
        for line in LogArchive(path, "r"):
            seen.append(line)
    assert seen == ["one 1", "two 2", "three 3", "four 4"]
    with pytest.warns(RuntimeWarning, match="incomplete last chunk"):
        archive = LogArchive(path, "a")
    archive.append("seven 7")
    archive.close()
    assert list(LogArchive(path, "r")) == ["one 1", "two 2", "three 3", "four 4", "seven 7"]


def test_damage_before_the_tail_is_not_repaired(tmp_path: Path) -> None:
    path = tmp_path / "a.ncz"
    with LogArchive(path, "w", chunk_lines=2) as archive:
        archive.write_lines(["one 1", "two 2", "three 3", "four 4"])
    data = bytearray(path.read_bytes())
    data[60] ^= 0xFF
    path.write_bytes(bytes(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(nacrith.NacrithError, match="refusing to append"):
            LogArchive(path, "a")
    assert path.read_bytes() == bytes(data)


def test_mixed_codecs_archive_is_searchable(tmp_path: Path) -> None:
    path = tmp_path / "a.ncz"
    text = b"".join(b"line %d of a plain archive\n" % i for i in range(300))
    path.write_bytes(nacrith.compress(text, method="zstd"))
    with LogArchive(path, "a") as archive:
        archive.append("line 300 of a log chunk")
    got = list(LogArchive(path, "r").search(b"line 29"))
    assert got[:2] == [b"line 29 of a plain archive", b"line 290 of a plain archive"]
    assert len(got) == 11


def test_handler_two_lines(tmp_path: Path) -> None:
    path = tmp_path / "app.log.ncz"
    logger = logging.getLogger("nacrith-test-handler")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = LogArchiveHandler(path, chunk_lines=3)
    logger.addHandler(handler)
    try:
        for i in range(7):
            logger.info("request %d served in %d ms", i, 10 + i)
        assert members(path) == 2  # 6 records written, 1 buffered
        handler.flush()
        assert members(path) == 3
        logger.warning("disk almost full")
    finally:
        logger.removeHandler(handler)
        handler.close()
    lines = list(LogArchive(path, "r"))
    assert len(lines) == 8
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
    assert re.fullmatch(stamp + " INFO nacrith-test-handler: request 0 served in 10 ms", lines[0])
    assert lines[-1].endswith("WARNING nacrith-test-handler: disk almost full")


def test_handler_max_delay(tmp_path: Path) -> None:
    path = tmp_path / "app.log.ncz"
    handler = LogArchiveHandler(path, max_delay=0.0)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    handler.handle(record)
    assert members(path) == 1
    handler.close()


def test_golden_archive_reads(tmp_path: Path) -> None:
    lines = timed_lines(120)
    golden = GOLDEN / "logs_archive.bin"
    if os.environ.get("NACRITH_REGEN_GOLDEN") == "1":
        path = tmp_path / "g.ncz"
        with LogArchive(path, "w", chunk_lines=50) as archive:
            archive.write_lines(lines)
        golden.write_bytes(path.read_bytes())
    if pyppmd is None:
        pytest.skip("the golden archive uses PPMd sub-streams (pip install pyppmd)")
    assert list(LogArchive(golden, "r")) == lines
    got = list(LogArchive(golden, "r").search("job 7", until="2024-05-01 00:01:10"))
    assert got == ["2024-05-01 00:01:10 job 7 done"]


# --- ncz grep ---


@pytest.fixture()
def archive_path(tmp_path: Path) -> Path:
    path = tmp_path / "a.ncz"
    with LogArchive(path, "w", chunk_lines=200) as archive:
        archive.write_lines(timed_lines(300))
    return path


def test_grep_prints_lines_and_counts(archive_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(grep_command, ["job 12 ", str(archive_path)])
    assert r.exit_code == 0 and r.output == "2024-05-01 00:02:00 job 12 done\n"
    r = runner.invoke(grep_command, ["-c", "done", str(archive_path)])
    assert r.exit_code == 0 and r.output == "300\n"
    r = runner.invoke(grep_command, ["-E", "-i", "JOB 1[0-2] ", str(archive_path)])
    assert r.output.count("\n") == 3
    r = runner.invoke(
        grep_command,
        [
            "-c",
            "--since",
            "2024-05-01 00:10:00",
            "--until",
            "2024-05-01 00:10:30",
            "job",
            str(archive_path),
        ],
    )
    assert r.output == "4\n"
    r = runner.invoke(grep_command, ["-c", "job 1 ", str(archive_path), str(archive_path)])
    assert r.output == f"{archive_path}:1\n{archive_path}:1\n"


def test_grep_subprocess_writes_exact_bytes(tmp_path: Path) -> None:
    path = tmp_path / "a.ncz"
    line = b"2024-05-01 10:00:00 caf\xe9 \xff\xfe bytes 12\r"
    with LogArchive(path, "w") as archive:
        archive.write_lines([line, b"other 1"])
    code = "from nacrith.cli.logs import grep_command; grep_command()"
    r = subprocess.run(
        [sys.executable, "-c", code, "caf\udce9", str(path)], capture_output=True, timeout=60
    )
    assert r.returncode == 0 and r.stdout == line + b"\n", r.stderr
    r = subprocess.run([sys.executable, "-c", code, "absent", str(path)], capture_output=True)
    assert r.returncode == 1 and r.stdout == b""


def test_grep_exit_codes(archive_path: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(grep_command, ["nothing like this", str(archive_path)]).exit_code == 1
    r = runner.invoke(grep_command, ["-E", "(", str(archive_path)])
    assert r.exit_code == 2 and "regular expression" in r.output
    r = runner.invoke(grep_command, ["--since", "tomorrowish", "x", str(archive_path)])
    assert r.exit_code == 2 and "--since" in r.output
    bad = tmp_path / "bad.ncz"
    bad.write_bytes(b"not an archive")
    r = runner.invoke(grep_command, ["x", str(bad)])
    assert isinstance(r.exception, nacrith.NacrithError)


# --- search through template alignments ---


def mixed_lines(block: int = 50, rounds: int = 3) -> list[bytes]:
    """Lines of several samples in turn, `block` lines at a time (an aggregated log)."""
    names = ["OpenSSH", "BGL", "Zookeeper", "HDFS", "Apache", "Proxifier"]
    samples = [sample_lines(n) for n in names]
    out: list[bytes] = []
    for r in range(rounds):
        for lines in samples:
            out += lines[r * block : (r + 1) * block]
    return out


def _digit_needles(lines: list[bytes], n: int, seed: int) -> list[bytes]:
    """Random substrings around digits: parts of IPs, ports, times, ids, hex."""
    rnd = random.Random(seed)
    out = []
    while len(out) < n:
        line = rnd.choice(lines)
        digits = [m.start() for m in re.finditer(rb"\d", line)]
        if not digits:
            continue
        at = rnd.choice(digits)
        out.append(line[max(0, at - rnd.randrange(0, 10)) : at + rnd.randrange(1, 12)])
    return out


def test_numeric_and_regex_search_equal_brute_force(tmp_path: Path) -> None:
    lines = mixed_lines()
    path = tmp_path / "a.ncz"
    with LogArchive(path, "w", chunk_lines=500) as archive:
        archive.write_lines(lines)
    archive = LogArchive(path, "r")
    needles = [b"173.234.31.186", b"port 22", b"0x", b"10.251.", b":50010", b"2015-07-29 1"]
    for needle in needles + _digit_needles(lines, 36, seed=4):
        assert list(archive.search(needle)) == [ln for ln in lines if needle in ln], needle
    for needle in _digit_needles(lines, 10, seed=5):
        low = needle.lower()
        got = list(archive.search(needle.upper(), ignore_case=True))
        assert got == [ln for ln in lines if low in ln.lower()], needle
    for rx in [rb"\d+\.\d+\.\d+\.\d+:\d+", rb"(port|user) 2\d", rb"blk_-?\d+ ", rb"0x[0-9a-f]{4}"]:
        want = [ln for ln in lines if re.search(rx, ln)]
        assert list(archive.search(rx, regex=True)) == want, rx


def test_numbers_pin_down_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = mixed_lines()
    path = tmp_path / "a.ncz"
    with LogArchive(path, "w") as archive:
        archive.write_lines(lines)
    rendered = []
    decode_lines = LogsCodec.decode_lines

    def spy(self, payload, raw_size, templates=None, numbers=(), time_range=None, **kw):
        for item in decode_lines(self, payload, raw_size, templates, numbers, time_range, **kw):
            rendered.append(item)
            yield item

    monkeypatch.setattr(LogsCodec, "decode_lines", spy)
    got = list(LogArchive(path, "r").search(b"173.234.31.186"))
    assert got == [ln for ln in lines if b"173.234.31.186" in ln] and got
    assert len(rendered) == len(got)


def test_golden_archive_searches_without_time(tmp_path: Path) -> None:
    if pyppmd is None:
        pytest.skip("the golden archive uses PPMd sub-streams (pip install pyppmd)")
    lines = timed_lines(120)
    archive = LogArchive(GOLDEN / "logs_archive.bin", "r")
    for needle in ["job 7 ", "00:01:1", "Worker.java:99", "done"]:
        assert list(archive.search(needle)) == [ln for ln in lines if needle in ln]
