"""Before appending to a log archive: check what is there, and cut only a torn tail.

A crash while a member is being written leaves it *torn*: its declared structure (header,
chunk records, payload sizes) runs past the end of the file. That tail holds no acknowledged
data, so it is cut, with a `RuntimeWarning`. Anything else is left byte for byte as it is and
refused with an error naming the file:

- a file that is not an ncz archive (a program's plain log): `FormatError`;
- a complete member whose checksums fail, or damage followed by more members:
  `CorruptDataError` (reading reports the same damage). Appending after it would hide the new
  lines behind the damage, so nothing is appended until the file is repaired or moved away.

An empty file is an empty archive.
"""

from __future__ import annotations

import os
import warnings
from typing import IO

from nacrith.errors import CorruptDataError, FormatError, NacrithError, TruncatedError
from nacrith.formats.container import MAGIC, iter_members

__all__ = ["check_not_foreign", "repair_tail"]


def check_not_foreign(path: str) -> None:
    """Raise FormatError, changing nothing, when `path` exists, is not empty and does not
    start like an ncz archive."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(MAGIC))
    except FileNotFoundError:
        return
    if head != MAGIC[: len(head)]:
        raise FormatError(
            f"{path}: not an ncz archive (it does not start with the archive magic); "
            "refusing to append to it, the file is left unchanged"
        )


def repair_tail(path: str, start: int = 0) -> int:
    """Check the members of `path` from byte `start` (where one begins) to the end, cut a torn
    last member, and return the size of the file then. Call it holding the appenders' lock,
    so that a member another process is writing is not taken for a torn one."""
    check_not_foreign(path)
    if not os.path.exists(path) or os.path.getsize(path) <= start:
        return os.path.getsize(path) if os.path.exists(path) else 0
    with open(path, "r+b") as f:
        good = _last_good_end(f, start, path)
        end = f.seek(0, os.SEEK_END)
        if good == end:
            return end
        warnings.warn(
            f"{path}: dropping {end - good} bytes of an incomplete last chunk "
            "(a member cut short by a crash)",
            RuntimeWarning,
            stacklevel=3,
        )
        f.truncate(good)
        f.flush()
        os.fsync(f.fileno())
        return good


def _last_good_end(f: IO[bytes], start: int, path: str) -> int:
    """The end of the last complete, intact member; raises unless only a torn member
    follows it."""
    f.seek(start)
    good = start
    try:
        for member in iter_members(f):
            for _ in member.chunks:
                pass
            good = f.tell()
    except TruncatedError:
        f.seek(good)
        if MAGIC in f.read()[1:]:
            raise CorruptDataError(
                f"{path}: the archive member at byte {good} is damaged (its sizes run past the "
                "next member); refusing to append to it, the file is left unchanged"
            ) from None
    except NacrithError as exc:
        raise type(exc)(
            f"{path}: the archive is damaged after byte {good} ({exc}); refusing to append "
            "to it, the file is left unchanged (reading stops at the damage)"
        ) from exc
    return good
