"""The .ncz container: the one place where the bytes are specified. Writers write format
version 2 (below); readers read versions 1 (`container.v1`, frozen) and 2.

An archive is one or more *members* back to back (like gzip members); decoding an archive
decodes every member and concatenates their contents. Appending to an archive (log archives,
mode "ab") writes a new complete member, so earlier members are never rewritten. Every member
of every version starts with `MAGIC` = b"\\x89NCZ"; version 1 continues it with b"\\r\\n\\x1a\\n",
version 2 with its format byte, so members of both versions may follow each other.

Version 2. Integers marked v are unsigned LEB128 varints in their shortest form (a longer one
is an error); fixed-size integers are little-endian. CRC32 is zlib's (ISO-HDLC), BLAKE2b-128
is `hashlib.blake2b(digest_size=16)`. The *running CRC* at a point is the CRC32 of every byte
of the member from its first magic byte up to that point.

Member header::

    size  field
    4     magic          b"\\x89NCZ"
    1     format byte    high nibble: version (2); bit 0: original size known; bit 1: long-range
                         stream (below); bits 2-3 reserved, must be 0. (Version 1's byte here is
                         0x0d; a high nibble above 2 is a later version: FormatError, upgrade.)
    v     original size  bytes of this member's content (present only with bit 0)
    v     n              codecs in the header (0..254); chunk records name them 1..n
    *     n codec entries, each: v ref, then
            ref = 2b+1   the parameters are baseline b (`nacrith.formats.baselines.BASELINES`:
                         a frozen, append-only table of (codec id, parameters))
            ref = 2b+2   baseline b changed by a diff blob: the JSON array [set, removed]: an
                         object of top-level keys given new values, a list of keys removed
            ref = 0      explicit: 1 byte length (1..32), the codec id (ASCII
                         [a-z][a-z0-9_-]*), then a blob holding the parameters' JSON object
          blob: v length L (1 .. 1 MiB + 1), then L bytes: a form byte 0 and UTF-8 JSON, or a
          preset dictionary id d (`formats.settings_dict`) and raw DEFLATE (RFC 1951) against
          it. A baseline unknown to the reader is a FormatError (upgrade nacrith).

The header has no check of its own: the first running CRC (of the first chunk, or of the end
record of an empty member) covers it. Writers pick, per codec, the first baseline equal to the
parameters (equal canonical JSON: sorted keys, no spaces), else the smallest encoding.

Chunk record (one per chunk, in order; chunks are independent)::

    1     tag            1..n: a codec of the header; 0xFF: a codec the header lacks (say the
                         pipeline's stored fallback), then a codec entry as in the header whose
                         parameters must be empty (its decoder gets {}), not one of the header's
                         codecs; 0: the end record instead (below); other values are errors
    v     raw size       bytes this chunk decodes to (at most MAX_CHUNK_RAW)
    v     coded size     payload bytes (at most MAX_CHUNK_CODED)
    4     CRC32 of the raw (decoded) bytes
    *     payload        `coded size` bytes
    4     running CRC    of the member up to here (header, every earlier chunk, this record
                         and payload)

End record::

    1     tag            0
    16    BLAKE2b-128 of the member's content (all chunks in order): only when the member
                         holds two chunks or more
    4     running CRC    of the member up to here: only when the member holds no chunk or
                         two chunks or more

A one-chunk member's raw CRC32 is its whole-content check and its running CRC already covers
its header and record, so its end record is the tag alone.

Long-range stream (format byte bit 1; `MemberWriter(long_range=True)`, `Member.long_range`):
the member's content (the concatenated decoded chunks) is not the user's bytes but a stream
that `nacrith.formats.long_range` expands afterwards. The header's original size, when
present, is the size of the EXPANDED bytes (what the member finally yields; the reader does
not compare it with the chunks, and whoever expands the stream must check it); every other
size and check (raw sizes, raw CRCs, content hash, running CRCs) is of the stream, so each
decoded chunk is still verified before it is released to the expander.

A reader checks, in order: magic, format byte, header fields as it parses them, each record's
sizes against the limits and the header's original size, each payload's running CRC before
the payload is decoded, each decoded chunk's size and CRC32 before it is emitted, and at the
end the declared size, the content hash and the final running CRC. So wrong bytes are never
emitted: a chunk is released only after its own checks matched, and truncation, a dropped,
repeated or reordered chunk, or a damaged header or record is reported at the latest at the
end record.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

from nacrith.errors import FormatError, TruncatedError
from nacrith.formats.container.common import (
    CODEC_ID_PATTERN,
    MAGIC,
    MAX_CHUNK_CODED,
    MAX_CHUNK_RAW,
    ChunkDecoder,
    ChunkRecord,
    EndRecord,
    encode_settings,
    read_exact,
    verify_chunk,
)
from nacrith.formats.container.v1 import MAGIC_V1, V1Reader, V1Writer
from nacrith.formats.container.v2 import V2Reader, V2Writer

__all__ = [
    "CODEC_ID_PATTERN",
    "FORMAT_VERSION",
    "MAGIC",
    "MAGIC_V1",
    "MAX_CHUNK_CODED",
    "MAX_CHUNK_RAW",
    "ChunkRecord",
    "EndRecord",
    "Member",
    "MemberReader",
    "MemberWriter",
    "decode_chunk",
    "encode_settings",
    "iter_members",
    "verify_chunk",
    "write_member",
]

#: the version writers write
FORMAT_VERSION = 2
_V1_FORMAT_BYTE = MAGIC_V1[4]


class MemberWriter:
    """Writes one member: header, then chunks as they come, then the end record.

    `long_range`: the content is a long-range stream (see the module docstring; version 2).
    `version`: 1 writes the frozen version 1 (for tests and comparisons).
    """

    def __init__(
        self,
        fileobj: IO[bytes],
        codec_params: Mapping[str, Mapping[str, Any]],
        original_size: int | None = None,
        *,
        long_range: bool = False,
        version: int = FORMAT_VERSION,
    ) -> None:
        self._impl: V1Writer | V2Writer
        if version == 2:
            self._impl = V2Writer(fileobj, codec_params, original_size, long_range)
        elif version == 1 and not long_range:
            self._impl = V1Writer(fileobj, codec_params, original_size)
        else:
            raise ValueError(f"cannot write version {version} (long range: {long_range})")

    @property
    def bytes_written(self) -> int:
        """Bytes of this member written so far."""
        return self._impl.bytes_written

    def write_chunk(self, codec_id: str, raw: bytes, payload: bytes) -> None:
        """Append one chunk record and its payload."""
        self._impl.write_chunk(codec_id, raw, payload)

    def finish(self) -> int:
        """Write the end record; return the member's size in bytes."""
        return self._impl.finish()


def write_member(
    fileobj: IO[bytes],
    codec_params: Mapping[str, Mapping[str, Any]],
    chunks: Iterable[tuple[str, bytes, bytes]],
    original_size: int | None = None,
    *,
    long_range: bool = False,
    version: int = FORMAT_VERSION,
) -> int:
    """Write a complete member holding `chunks` = (codec_id, raw, payload); return bytes written.

    `codec_params` maps each codec id used to the parameters its decoder needs (`Codec.params`).
    """
    writer = MemberWriter(
        fileobj, codec_params, original_size, long_range=long_range, version=version
    )
    for codec_id, raw, payload in chunks:
        writer.write_chunk(codec_id, raw, payload)
    return writer.finish()


def _not_archive(first: bool) -> FormatError:
    return FormatError(
        "not a nacrith archive (bad magic)"
        if first
        else "trailing data after the end of the archive"
    )


def _open(fileobj: IO[bytes], magic: bytes, first: bool) -> V1Reader | V2Reader:
    """The reader of the member whose first four bytes, `magic`, were read."""
    if magic != MAGIC:
        raise _not_archive(first)
    fmt = read_exact(fileobj, 1, "header")[0]
    if fmt == _V1_FORMAT_BYTE:
        whole = magic + bytes([fmt]) + fileobj.read(len(MAGIC_V1) - len(magic) - 1)
        if len(whole) < len(MAGIC_V1) and MAGIC_V1.startswith(whole):
            read_exact(fileobj, len(MAGIC_V1) - len(whole), "header")  # raises TruncatedError
        if whole != MAGIC_V1:
            raise _not_archive(first)
        return V1Reader(fileobj, whole)
    version = fmt >> 4
    if version == 2:
        return V2Reader(fileobj, magic, fmt)
    if version > 2:
        raise FormatError(
            f"archive format version {version} is not supported "
            f"(this nacrith reads versions 1 and {FORMAT_VERSION}); upgrade nacrith"
        )
    raise _not_archive(first)


class MemberReader:
    """Reads one member (either version) from a stream positioned at its magic, or after it
    when `magic` (its first four bytes, or version 1's whole eight) was already read."""

    def __init__(
        self, fileobj: IO[bytes], magic: bytes | None = None, *, first: bool = True
    ) -> None:
        head = magic or b""
        if len(head) < len(MAGIC):
            head += read_exact(fileobj, len(MAGIC) - len(head), "header")
        if len(head) > len(MAGIC):  # version 1's whole magic
            if head != MAGIC_V1:
                raise FormatError("not a nacrith archive (bad magic)")
            self._impl: V1Reader | V2Reader = V1Reader(fileobj, head)
        else:
            self._impl = _open(fileobj, head, first)

    @property
    def version(self) -> int:
        """The member's format version."""
        return self._impl.version

    @property
    def long_range(self) -> bool:
        """Whether the member's content is a long-range stream (see the module docstring)."""
        return self._impl.long_range

    @property
    def settings(self) -> dict[str, Any]:
        """The header settings: {"codecs": {codec id: params}}."""
        return self._impl.settings

    @property
    def codec_params(self) -> dict[str, dict[str, Any]]:
        """Codec id -> params, as stored in the header."""
        return self._impl.codec_params

    @property
    def original_size(self) -> int | None:
        """The member's size when the header declares it (of the expanded bytes for a
        long-range member)."""
        return self._impl.original_size

    @property
    def header_size(self) -> int:
        """Bytes of the member header."""
        return self._impl.header_size

    @property
    def end(self) -> EndRecord | None:
        """The end record, once read and verified."""
        return self._impl.end

    def next_chunk(self) -> ChunkRecord | None:
        """The next chunk record, or None after the end record was read and verified."""
        return self._impl.next_chunk()

    def account(self, raw: bytes) -> None:
        """Fold a decoded chunk into the member's content check (call in chunk order)."""
        self._impl.account(raw)

    def skip_content(self, record: ChunkRecord) -> None:
        """Note that a chunk is not decoded (listing, search): the content hash is not checked."""
        self._impl.skip_content(record)

    def finish(self) -> None:
        """After the end record and every chunk's `account`: check the whole content."""
        self._impl.finish()


@dataclass
class Member:
    """A member being read: its settings and an iterator over its chunk records."""

    reader: MemberReader

    @property
    def settings(self) -> dict[str, Any]:
        """The header settings."""
        return self.reader.settings

    @property
    def codec_params(self) -> dict[str, dict[str, Any]]:
        """Codec id -> params."""
        return self.reader.codec_params

    @property
    def long_range(self) -> bool:
        """Whether the member's content is a long-range stream."""
        return self.reader.long_range

    @property
    def chunks(self) -> Iterator[ChunkRecord]:
        """The chunk records in order; the end record is verified when they are exhausted."""
        while (record := self.reader.next_chunk()) is not None:
            yield record


def iter_members(fileobj: IO[bytes]) -> Iterator[Member]:
    """Yield each member of an archive stream; the caller must consume each member's chunks.

    Raises FormatError when the stream does not start with the magic, or when bytes that are
    not a member follow a member (trailing junk).
    """
    first = True
    while True:
        magic = fileobj.read(len(MAGIC))
        if not magic:
            if first:
                raise TruncatedError("empty input is not a nacrith archive")
            return
        while len(magic) < len(MAGIC):  # pipes and sockets may return a few bytes at a time
            more = fileobj.read(len(MAGIC) - len(magic))
            if not more:
                break
            magic += more
        if len(magic) < len(MAGIC) and MAGIC.startswith(magic):
            raise TruncatedError(
                "Compressed file ended before the end-of-stream marker was reached (in header)"
            )
        if len(magic) < len(MAGIC):
            raise _not_archive(first)
        reader = MemberReader(fileobj, magic, first=first)
        yield Member(reader)
        if reader.end is None:
            for _ in Member(reader).chunks:
                pass
        first = False


def decode_chunk(record: ChunkRecord, codec: ChunkDecoder, payload: bytes | None = None) -> bytes:
    """Decode one chunk with `codec`, checking its size and CRC; never returns wrong bytes."""
    if payload is None:
        payload = record.read_payload()
    raw = codec.decode(payload, record.raw_size)
    verify_chunk(record, raw)
    return raw
