"""Inputs the coder actors read themselves: a file at the same path on every node, or at a
URL every node can open with fsspec (``s3://``, ``gs://``, ``file://``...).

The driver reads the whole input anyway (chunk boundaries depend on the bytes), so what this
saves is the transfer: for a batch of consecutive chunks the driver ships the file path, the
batch's offset, each chunk's length and a digest of the batch's bytes; the actor reads that
range and checks the digest. An actor that cannot read the range, or reads other bytes, says
so and gets the bytes instead, so a path that is not shared costs one round trip per actor.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any

__all__ = ["RangeBatch", "SharedSource", "is_url", "open_url", "read_range", "shared_source"]

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")

EncodeItem = tuple[tuple[str, ...], bytes]


@dataclass(frozen=True)
class SharedSource:
    """The input file `path` (absolute, or an fsspec URL), whose bytes from `offset` on are the
    input."""

    path: str
    offset: int


@dataclass(frozen=True)
class RangeBatch:
    """A batch of consecutive chunks given by where they lie in a shared file."""

    path: str
    offset: int
    lengths: tuple[int, ...]
    candidates: tuple[tuple[str, ...], ...]
    digest: bytes


def is_url(name: str) -> bool:
    """Whether `name` is a URL (``scheme://...``) rather than a local path."""
    return _URL.match(name) is not None


def open_url(url: str) -> IO[bytes]:
    """`url` opened for binary reading with fsspec (a `FileNotFoundError` when it names no file,
    a `ModuleNotFoundError` naming the extra when fsspec is missing)."""
    try:
        import fsspec
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            f"reading {url} needs fsspec: pip install 'nacrith[cluster]'", name="fsspec"
        ) from exc
    fs, path = fsspec.core.url_to_fs(url)
    if not fs.isfile(path):
        raise FileNotFoundError(f"{url} is not a file")
    return fs.open(path, "rb")


def shared_source(reader: IO[bytes] | Any) -> SharedSource | None:
    """Where `reader`'s bytes lie, when it reads a regular file it names (``open(path, "rb")``
    or anything with a path or URL `name` and `tell`); None otherwise (pipes, memory)."""
    name = getattr(reader, "name", None)
    tell = getattr(reader, "tell", None)
    if not isinstance(name, (str, os.PathLike)) or tell is None:
        return None
    if isinstance(name, str) and is_url(name):
        try:
            return SharedSource(name, int(tell()))
        except (OSError, ValueError):
            return None
    path = os.path.abspath(os.fspath(name))
    try:
        if not os.path.isfile(path):
            return None
        return SharedSource(path, int(tell()))
    except (OSError, ValueError):
        return None


def digest_of(parts: Iterable[bytes]) -> bytes:
    """The digest that proves an actor read the driver's bytes."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part)
    return h.digest()


def range_batch(path: str, offset: int, items: list[EncodeItem]) -> RangeBatch:
    """The `RangeBatch` for `items`, consecutive chunks starting at `offset` of `path`."""
    return RangeBatch(
        path,
        offset,
        tuple(len(raw) for _ids, raw in items),
        tuple(ids for ids, _raw in items),
        digest_of(raw for _ids, raw in items),
    )


def read_range(batch: RangeBatch) -> list[EncodeItem] | None:
    """The batch's items read from its file; None when the file is missing here, is shorter,
    or holds other bytes than the driver's."""
    size = sum(batch.lengths)
    try:
        with open_url(batch.path) if is_url(batch.path) else open(batch.path, "rb") as handle:
            handle.seek(batch.offset)
            data = handle.read(size)
    except (OSError, ModuleNotFoundError, ValueError):
        return None
    if len(data) != size or digest_of([data]) != batch.digest:
        return None
    items: list[EncodeItem] = []
    start = 0
    for ids, length in zip(batch.candidates, batch.lengths):
        items.append((ids, data[start : start + length]))
        start += length
    return items
