"""Opening a file for append never destroys data: a plain log is refused, a damaged member is
reported and kept, and only a genuinely torn tail is cut."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest
from filelock import FileLock

import nacrith
from nacrith.errors import CorruptDataError, FormatError
from nacrith.logs import LogArchive, LogArchiveHandler, lock_path
from tests.samples import synthetic_log

END_RECORD = 53  # bytes of a member's end record and its checksum


def plain_log(path: Path) -> bytes:
    """An application's ordinary text log of 30,000 bytes."""
    data = synthetic_log(2000)[:30_000]
    path.write_bytes(data)
    return data


def test_append_refuses_a_plain_log(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    data = plain_log(path)
    with pytest.raises(FormatError, match="not an ncz archive") as caught:
        LogArchive(path, "a")
    assert str(path) in str(caught.value)
    assert path.read_bytes() == data
    assert not Path(lock_path(path)).exists()


def test_handler_refuses_a_plain_log(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    data = plain_log(path)
    with pytest.raises(FormatError, match=r"app\.log: not an ncz archive"):
        LogArchiveHandler(path)
    assert path.read_bytes() == data


def test_an_empty_file_becomes_an_archive(tmp_path: Path) -> None:
    path = tmp_path / "app.log.ncz"
    path.write_bytes(b"")
    with LogArchive(path, "a") as archive:
        archive.append("2024-05-01 10:00:00 first line")
    assert list(LogArchive(path, "r")) == ["2024-05-01 10:00:00 first line"]


def two_members(path: Path) -> tuple[bytes, bytes]:
    """An archive of two members, 100 lines each: (bytes of the first, bytes of both)."""
    with LogArchive(path, "w") as archive:
        archive.write_lines(f"2024-05-01 10:00:{i % 60:02d} first {i}" for i in range(100))
    first = path.read_bytes()
    with LogArchive(path, "a") as archive:
        archive.write_lines(f"2024-05-01 11:00:{i % 60:02d} second {i}" for i in range(100))
    return first, path.read_bytes()


def test_a_complete_member_with_a_flipped_bit_is_reported_not_cut(tmp_path: Path) -> None:
    path = tmp_path / "a.ncz"
    _, whole = two_members(path)
    damaged = bytearray(whole)
    damaged[len(whole) - END_RECORD - 5] ^= 0x10  # in the last member's payload
    path.write_bytes(bytes(damaged))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(CorruptDataError, match=r"damaged.*refusing to append") as caught:
            LogArchive(path, "a")
        with pytest.raises(CorruptDataError, match="refusing to append"):
            LogArchiveHandler(path)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == bytes(damaged)
    lines = []
    with pytest.raises(CorruptDataError, match="checksum"):
        for line in LogArchive(path, "r"):
            lines.append(line)
    assert lines == [f"2024-05-01 10:00:{i % 60:02d} first {i}" for i in range(100)]
    with pytest.raises(CorruptDataError, match="checksum"):
        nacrith.decompress(bytes(damaged))


def test_a_truncated_member_is_still_cut(tmp_path: Path) -> None:
    path = tmp_path / "a.ncz"
    first, whole = two_members(path)
    path.write_bytes(whole[: len(whole) - 1])
    with pytest.warns(RuntimeWarning, match="incomplete last chunk"):
        LogArchive(path, "a").close()
    assert path.read_bytes() == first


def test_trailing_text_after_an_archive_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "a.ncz"
    _, whole = two_members(path)
    path.write_bytes(whole + b"a plain line someone appended\n")
    with pytest.raises(FormatError, match="trailing data"):
        LogArchive(path, "a")
    assert path.read_bytes() == whole + b"a plain line someone appended\n"


def test_a_member_torn_by_another_appender_is_cut_before_the_next_write(tmp_path: Path) -> None:
    """Another process dies while writing a member after this archive was opened: the next
    chunk written here must not land after its torn bytes, where no reader could reach it."""
    path = tmp_path / "a.ncz"
    archive = LogArchive(path, "a")
    archive.append("2024-05-01 10:00:00 mine 1")
    archive.flush()
    with LogArchive(tmp_path / "other.ncz", "w") as other:
        other.append("2024-05-01 10:00:01 theirs")
    member = (tmp_path / "other.ncz").read_bytes()
    with FileLock(lock_path(path)), open(path, "ab") as f:
        f.write(member[:40])  # the other appender's member, cut by its crash
    archive.append("2024-05-01 10:00:02 mine 2")
    with pytest.warns(RuntimeWarning, match="incomplete last chunk"):
        archive.flush()
    archive.close()
    assert list(LogArchive(path, "r")) == [
        "2024-05-01 10:00:00 mine 1",
        "2024-05-01 10:00:02 mine 2",
    ]


def test_handler_appends_to_its_own_archive(tmp_path: Path) -> None:
    path = tmp_path / "app.log.ncz"
    for run in range(2):
        handler = LogArchiveHandler(path)
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "run %d", (run,), None)
        handler.handle(record)
        handler.close()
    assert [line.split(" INFO ")[1] for line in LogArchive(path, "r")] == ["x: run 0", "x: run 1"]
