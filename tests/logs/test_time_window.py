"""Time windows of `LogArchive.search`: exact instants, inclusive bounds, mixed formats.

The expected lines come from the documented rule, computed here from the lines' text: a line's
time is its ISO timestamp with the fraction written after it; a line without one (a stack
trace, or a syslog-stamped line among ISO ones) takes the time of the line before it in its
chunk, else of the first one after it; a line matches when since <= time <= until.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from fractions import Fraction
from pathlib import Path

import pytest

from nacrith.logs import LogArchive

START = calendar.timegm((2024, 3, 1, 1, 30, 0))
ISO = re.compile(rb"(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:[.,](\d+))?")
CHUNK = 7


def stamp(t: Fraction, digits: int) -> str:
    """`t` as ``2024-03-01 01:31:03,747`` with `digits` digits of fraction (0: none)."""
    whole = int(t)
    text = dt.datetime.fromtimestamp(whole, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    if digits:
        text += "," + str(int((t - whole) * 10**digits)).zfill(digits)
    return text


def mixed_lines(n: int = 160) -> list[str]:
    """ISO lines 0.37 s apart (fractions of 0, 3 or 6 digits), a syslog-stamped line after
    every fifth and a stack trace line after every eleventh."""
    out = []
    for i in range(n):
        t = START + Fraction(37 * i, 100)
        out.append(f"{stamp(t, (0, 3, 6)[i % 3])} INFO worker: job {i} done")
        if i % 5 == 4:
            out.append(f"Mar  1 01:{i % 60:02d}:07 host sshd[{i}]: other format {i}")
        if i % 11 == 10:
            out.append(f"    at Worker.run(Worker.java:{i})")
    return out


def instant(line: bytes) -> Fraction | None:
    m = ISO.search(line)
    if m is None:
        return None
    whole = calendar.timegm(tuple(int(g) for g in m.groups()[:6]))
    frac = m.group(7) or b""
    return whole + (Fraction(int(frac), 10 ** len(frac)) if frac else 0)


def expected(chunks: list[list[str]], since: Fraction | None, until: Fraction | None) -> list:
    out = []
    for chunk in chunks:
        times = [instant(ln.encode()) for ln in chunk]
        last = None
        for i, t in enumerate(times):
            times[i] = last = t if t is not None else last
        first = next(t for t in times if t is not None)
        for line, t in zip(chunk, times):
            t = first if t is None else t
            if (since is None or t >= since) and (until is None or t <= until):
                out.append(line)
    return out


def chunks_of(lines: list[str], size: int) -> list[list[str]]:
    return [lines[i : i + size] for i in range(0, len(lines), size)]


BOUNDS = [
    (START + Fraction(5, 10), START + 4),  # the case: .5 to a whole second
    (START + Fraction(37 * 9, 100), START + Fraction(37 * 9, 100)),  # one line's exact time
    (START + 3, START + Fraction(40001, 10000)),
    (None, START + Fraction(185, 100)),
    (START + Fraction(5513, 100), None),
    (START + 10, START + 30),  # wide: whole chunks inside, skipped and across the edges
    (START + Fraction(1, 3), START + Fraction(2, 3)),  # between two lines: none
]


@pytest.mark.parametrize(("since", "until"), BOUNDS)
def test_window_is_exact_and_inclusive(
    tmp_path: Path, since: Fraction | None, until: Fraction | None
) -> None:
    lines = mixed_lines()
    path = tmp_path / "a.ncz"
    with LogArchive(path, "w", chunk_lines=CHUNK) as archive:
        archive.write_lines(lines)
    want = expected(chunks_of(lines, CHUNK), since, until)
    got = list(LogArchive(path, "r").search("", since=since, until=until))
    assert got == want
    if since is not None and until is not None:  # as strings with their fractions
        s, u = stamp(since, 9).replace(",", "."), stamp(until, 9)
        assert list(LogArchive(path, "r").search("", since=s, until=u)) == want
    other = [ln for ln in want if "other format" in ln]
    got_other = list(LogArchive(path, "r").search("other format", since=since, until=until))
    assert got_other == other


def test_unflushed_lines_follow_the_same_rule(tmp_path: Path) -> None:
    lines = mixed_lines(60)
    path = tmp_path / "a.ncz"
    archive = LogArchive(path, "a", chunk_lines=40)
    archive.write_lines(lines)  # 40 lines written, the rest buffered
    since, until = START + Fraction(5, 10), START + Fraction(2201, 100)
    want = expected([lines[:40], lines[40:]], since, until)
    assert list(archive.search("", since=since, until=until)) == want
    archive.close()


def test_bound_equal_to_a_line_time_matches_it(tmp_path: Path) -> None:
    path = tmp_path / "a.ncz"
    lines = ["2024-03-01 01:31:03,747 INFO b", "2024-03-01 01:31:04 INFO c"]
    with LogArchive(path, "w") as archive:
        archive.write_lines(lines)
    archive = LogArchive(path, "r")
    at = "2024-03-01 01:31:03,747"
    assert list(archive.search("INFO", since=at, until=at)) == lines[:1]
    at = dt.datetime(2024, 3, 1, 1, 31, 3, 747000)
    assert list(archive.search("INFO", since=at, until=at)) == lines[:1]
    assert list(archive.search("INFO", since="2024-03-01 01:31:04")) == lines[1:]
    assert list(archive.search("INFO", until="2024-03-01 01:31:03.7469999")) == []
