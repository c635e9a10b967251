"""``python -m nacrith.cli grep --since/--until``: exact, inclusive bounds with fractions of a
second, and year-less (syslog) logs searched with year-less bounds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nacrith.logs import LogArchive
from tests.paths import REPO

PYTHON_LOG = [
    "2024-03-01 01:31:02,100 INFO app: a",
    "2024-03-01 01:31:03,747 INFO app: b",
    "2024-03-01 01:31:04,000 INFO app: c",
    "2024-03-01 01:31:04,601 INFO app: d",
    "2024-03-01 01:31:05,250 INFO app: e",
]


def grep(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nacrith.cli", "grep", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )


@pytest.fixture()
def python_log(tmp_path: Path) -> str:
    path = tmp_path / "app.log.ncz"
    with LogArchive(path, "w") as archive:
        archive.write_lines(PYTHON_LOG)
    return str(path)


def test_fractions_of_a_second_count_on_both_sides(python_log: str) -> None:
    r = grep(
        "--since", "2024-03-01 01:31:03.5", "--until", "2024-03-01 01:31:04", "app", python_log
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == PYTHON_LOG[1:3]


def test_bounds_equal_to_a_line_time_include_it(python_log: str) -> None:
    at = "2024-03-01 01:31:04,601"
    r = grep("--since", at, "--until", at, "app", python_log)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [PYTHON_LOG[3]]
    r = grep("-c", "--until", "2024-03-01T01:31:04.600999", "app", python_log)
    assert r.stdout == "3\n"


def test_year_less_syslog_with_year_less_bounds(tmp_path: Path) -> None:
    path = tmp_path / "syslog.ncz"
    lines = [f"Mar  1 01:31:{s:02d} host sshd[{s}]: session {s}" for s in range(0, 60, 5)]
    with LogArchive(path, "w") as archive:
        archive.write_lines(lines)
    r = grep("--since", "Mar  1 01:31:10", "--until", "Mar  1 01:31:20", "sshd", str(path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == lines[2:5]
    r = grep("-c", "--since", "2000-03-01 01:31:50", "sshd", str(path))
    assert r.stdout == "2\n"
    r = grep("-c", "--since", "2024-03-01 01:31:00", "sshd", str(path))
    assert r.returncode == 1 and r.stdout == "0\n"


def test_help_says_how_year_less_stamps_are_read() -> None:
    r = grep("--help")
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    assert "read as year 2000" in text
    assert "inclusive" in text
