"""Archives of both container versions for the container tests."""

from __future__ import annotations

import io

import nacrith
from nacrith.formats.container import iter_members, write_member

SAMPLE = b"The quick brown fox jumps over the lazy dog.\n" * 40 + bytes(range(256))


def archive(data: bytes = SAMPLE, method: str = "zstd", chunk_size: int = 700) -> bytes:
    """A default (version 2) archive of `data`."""
    return nacrith.compress(data, method=method, chunk_size=chunk_size, workers=1)


def rewrap(archive_bytes: bytes, data: bytes, version: int) -> bytes:
    """`archive_bytes` (one member, whose content is `data`) with its chunks, payloads and
    settings written again as a member of container `version`."""
    out = io.BytesIO()
    for member in iter_members(io.BytesIO(archive_bytes)):
        chunks, pos = [], 0
        for record in member.chunks:
            chunks.append(
                (record.codec_id, data[pos : pos + record.raw_size], record.read_payload())
            )
            pos += record.raw_size
        assert pos == len(data)
        write_member(out, member.codec_params, chunks, len(data), version=version)
    return out.getvalue()


def archive_v1(data: bytes = SAMPLE, method: str = "zstd", chunk_size: int = 700) -> bytes:
    """A version 1 archive of `data`, as earlier commits wrote it."""
    return rewrap(archive(data, method, chunk_size), data, 1)
