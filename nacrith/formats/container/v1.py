"""The .ncz container, format version 1 (read forever, written only on request: `version=1`).

An archive is one or more *members* back to back (like gzip members); decoding an archive
decodes every member and concatenates their contents. Appending to an archive (log archives,
mode "ab") writes a new complete member, so earlier members are never rewritten.

Version 1 as released; every byte below keeps its meaning.
All integers are little-endian and unsigned. CRC32 is zlib's (ISO-HDLC). BLAKE2b-128 is
`hashlib.blake2b(digest_size=16)`.

Member header::

    offset  size  field
    0       8     magic          b"\\x89NCZ\\r\\n\\x1a\\n" (catches text-mode and 7-bit mangling)
    8       1     version        1
    9       1     flags          bit 0: original size known; bit 1: settings are
                                 zlib-compressed (RFC 1950); bit 2: settings are one byte
                                 naming a preset dictionary, then raw DEFLATE (RFC 1951)
                                 against it (bits 1 and 2 never both set); bits 3-7 reserved,
                                 must be 0
    10      8     original size  total raw bytes of this member (0 when bit 0 is clear)
    18      4     settings length L (at most 1 MiB, also after decompression)
    22      L     settings       canonical JSON object (UTF-8, sorted keys), see below
    22+L    4     CRC32 of bytes 0 .. 22+L

Settings JSON: ``{"codecs": {codec_id: params, ...}}`` - the parameters each codec used in
this member needs to decode (model fingerprint and probe for ``llm``). Unknown top-level keys
are a `FormatError` in version 1. The preset dictionaries (`formats.settings_dict`) are frozen:
an id, once written, always means the same bytes. Writers store the smallest of the three forms.

Chunk record (one per chunk, in order; chunks are independent)::

    0       1     tag            b"C"
    1       1     n = length of the codec id (1..32)
    2       n     codec id       ASCII [a-z][a-z0-9_-]*, a stable string (never an index)
    2+n     1     chunk flags    reserved, must be 0
    3+n     8     raw size       bytes this chunk decodes to (at most MAX_CHUNK_RAW)
    11+n    8     coded size     payload bytes that follow the record (at most MAX_CHUNK_CODED)
    19+n    4     CRC32 of the raw (decoded) bytes
    23+n    4     CRC32 of the payload
    27+n    4     CRC32 of this record's bytes 0 .. 27+n
    31+n    *     payload        `coded size` bytes

The chunk records together form the chunk table; the end record pins it with a hash.

End record::

    0       1     tag            b"E"
    1       8     chunk count
    9       8     total raw size (must equal the header's original size when that is known)
    17      16    BLAKE2b-128 of the member's raw content (all chunks, in order)
    33      16    BLAKE2b-128 of all chunk records' bytes 0 .. 31+n (the chunk table)
    49      4     CRC32 of bytes 0 .. 49

A reader checks, in order: magic, version, reserved bits, header CRC, each record CRC before
trusting its sizes, each payload CRC before decoding it, each decoded chunk's CRC and size before
emitting it, and finally the end record (counts, sizes, both hashes). So wrong bytes are never
emitted: a chunk is released only after its own checksum matched, and truncation or a damaged
table is reported at the latest at the end record.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Mapping
from typing import IO, Any

from nacrith.errors import CorruptDataError, FormatError
from nacrith.formats.container.common import (
    MAGIC,
    MAX_CHUNK_CODED,
    MAX_CHUNK_RAW,
    MAX_SETTINGS,
    ChunkRecord,
    ContentCheck,
    EndRecord,
    check_chunk_sizes,
    check_codec_id,
    crc32,
    decode_codec_id,
    deflate_with_dictionary,
    encode_settings,
    inflate_settings,
    parse_json,
    read_exact,
)
from nacrith.formats.settings_dict import PRESET_DICTIONARIES

__all__ = ["MAGIC_V1", "V1Reader", "V1Writer", "pack_chunk_record"]

MAGIC_V1 = MAGIC + b"\r\n\x1a\n"
VERSION = 1
FLAG_SIZE_KNOWN = 0x01
FLAG_SETTINGS_ZLIB = 0x02
FLAG_SETTINGS_DICT = 0x04
_KNOWN_FLAGS = FLAG_SIZE_KNOWN | FLAG_SETTINGS_ZLIB | FLAG_SETTINGS_DICT

_HEADER_FIXED = struct.Struct("<8sBBQI")
_CHUNK_SIZES = struct.Struct("<BQQII")
_END = struct.Struct("<cQQ16s16s")
_U32 = struct.Struct("<I")
TAG_CHUNK = b"C"
TAG_END = b"E"


def _decode_settings(raw: bytes) -> dict[str, Any]:
    settings = parse_json(raw)
    if not isinstance(settings, dict) or set(settings) - {"codecs"}:
        raise FormatError("archive settings hold unknown fields for format version 1")
    codecs = settings.get("codecs", {})
    if not isinstance(codecs, dict) or not all(
        isinstance(k, str) and isinstance(v, dict) for k, v in codecs.items()
    ):
        raise FormatError("archive settings: 'codecs' must map codec ids to parameter objects")
    return settings


def pack_chunk_record(codec_id: str, raw: bytes, payload: bytes) -> bytes:
    """The record bytes (without payload) for a chunk."""
    check_codec_id(codec_id)
    check_chunk_sizes(raw, payload)
    cid = codec_id.encode("ascii")
    body = (
        TAG_CHUNK
        + bytes([len(cid)])
        + cid
        + _CHUNK_SIZES.pack(0, len(raw), len(payload), crc32(raw), crc32(payload))
    )
    return body + _U32.pack(crc32(body))


class V1Writer:
    """Writes one version-1 member: header, then chunks as they come, then the end record."""

    def __init__(
        self,
        fileobj: IO[bytes],
        codec_params: Mapping[str, Mapping[str, Any]],
        original_size: int | None = None,
    ) -> None:
        self._file = fileobj
        self._content = hashlib.blake2b(digest_size=16)
        self._table = hashlib.blake2b(digest_size=16)
        self._count = 0
        self._total = 0
        self._expected = original_size
        self.bytes_written = 0
        settings = encode_settings({"codecs": {k: dict(v) for k, v in codec_params.items()}})
        if len(settings) > MAX_SETTINGS:
            raise ValueError("codec parameters exceed the 1 MiB settings limit")
        flags = FLAG_SIZE_KNOWN if original_size is not None else 0
        forms = [
            (settings, 0),
            (zlib.compress(settings, 9), FLAG_SETTINGS_ZLIB),
        ]
        forms += [
            (deflate_with_dictionary(settings, k), FLAG_SETTINGS_DICT)
            for k in sorted(PRESET_DICTIONARIES)
        ]
        # the first smallest: ties keep the older dictionary, so an archive that a newer one
        # does not shrink keeps its bytes
        settings, form = min(forms, key=lambda f: len(f[0]))
        flags |= form
        head = _HEADER_FIXED.pack(MAGIC_V1, VERSION, flags, original_size or 0, len(settings))
        head += settings
        self._write(head + _U32.pack(crc32(head)))

    def _write(self, data: bytes) -> None:
        self._file.write(data)
        self.bytes_written += len(data)

    def write_chunk(self, codec_id: str, raw: bytes, payload: bytes) -> None:
        """Append one chunk record and its payload."""
        record = pack_chunk_record(codec_id, raw, payload)
        self._write(record)
        self._write(payload)
        self._table.update(record)
        self._content.update(raw)
        self._count += 1
        self._total += len(raw)

    def finish(self) -> int:
        """Write the end record; return the member's size in bytes."""
        if self._expected is not None and self._expected != self._total:
            raise ValueError(f"member declared {self._expected} bytes but got {self._total}")
        body = _END.pack(
            TAG_END, self._count, self._total, self._content.digest(), self._table.digest()
        )
        self._write(body + _U32.pack(crc32(body)))
        return self.bytes_written


class V1Reader(ContentCheck):
    """Reads one version-1 member from a stream positioned after its first `len(head)` bytes."""

    version = VERSION
    long_range = False

    def __init__(self, fileobj: IO[bytes], head: bytes) -> None:
        self._file = fileobj
        fixed = head + read_exact(fileobj, _HEADER_FIXED.size - len(head), "header")
        got_magic, version, flags, size, settings_len = _HEADER_FIXED.unpack(fixed)
        if got_magic != MAGIC_V1:
            raise FormatError("not a nacrith archive (bad magic)")
        if version != VERSION:
            raise FormatError(
                f"archive format version {version} is not supported "
                f"(this nacrith reads version {VERSION}); upgrade nacrith"
            )
        if flags & ~_KNOWN_FLAGS:
            raise FormatError(f"archive header sets reserved flag bits (0x{flags:02x})")
        if flags & FLAG_SETTINGS_ZLIB and flags & FLAG_SETTINGS_DICT:
            raise FormatError("archive header sets both settings compression flags")
        if settings_len > MAX_SETTINGS:
            raise CorruptDataError(f"archive settings length {settings_len} exceeds the limit")
        settings_raw = read_exact(fileobj, settings_len, "header")
        (crc,) = _U32.unpack(read_exact(fileobj, 4, "header"))
        if crc != crc32(fixed + settings_raw):
            raise CorruptDataError("archive header checksum mismatch")
        if flags & (FLAG_SETTINGS_ZLIB | FLAG_SETTINGS_DICT):
            settings_raw = inflate_settings(settings_raw, bool(flags & FLAG_SETTINGS_DICT))
        self.settings = _decode_settings(settings_raw)
        known = size if flags & FLAG_SIZE_KNOWN else None
        super().__init__(known, known)
        self.header_size = len(fixed) + settings_len + 4
        self._table = hashlib.blake2b(digest_size=16)
        self._count = 0
        self._total = 0
        self._pending: ChunkRecord | None = None

    @property
    def codec_params(self) -> dict[str, dict[str, Any]]:
        """Codec id -> params, as stored in the header."""
        return self.settings.get("codecs", {})

    def next_chunk(self) -> ChunkRecord | None:
        """The next chunk record, or None after the end record was read and verified."""
        if self._pending is not None:
            self._read_payload(self._pending)
            self._content_checked = False
        tag = read_exact(self._file, 1, "chunk table")
        if tag == TAG_END:
            self._read_end(tag)
            return None
        if tag != TAG_CHUNK:
            raise CorruptDataError(f"unexpected record tag {tag!r} in the chunk table")
        n = read_exact(self._file, 1, "chunk table")
        id_len = n[0]
        if not 1 <= id_len <= 32:
            raise CorruptDataError(f"bad codec id length {id_len} in chunk record")
        rest = read_exact(self._file, id_len + _CHUNK_SIZES.size + 4, "chunk table")
        body = tag + n + rest[:-4]
        (crc,) = _U32.unpack(rest[-4:])
        if crc != crc32(body):
            raise CorruptDataError(f"chunk record {self._count} checksum mismatch")
        codec_id = decode_codec_id(rest[:id_len])
        flags, raw_size, coded_size, raw_crc, payload_crc = _CHUNK_SIZES.unpack(rest[id_len:-4])
        if flags:
            raise FormatError(f"chunk record sets reserved flags (0x{flags:02x})")
        if raw_size > MAX_CHUNK_RAW or coded_size > MAX_CHUNK_CODED:
            raise CorruptDataError(f"chunk sizes out of range ({raw_size}, {coded_size})")
        record = ChunkRecord(
            codec_id, raw_size, coded_size, raw_crc, payload_crc, body + rest[-4:], self
        )
        self._table.update(record.record_bytes)
        self._pending = record
        self._count += 1
        self._total += raw_size
        return record

    def _read_payload(self, record: ChunkRecord) -> bytes:
        if self._pending is not record:
            raise RuntimeError("chunk payloads must be read once, in order")
        payload = read_exact(self._file, record.coded_size, "chunk payload")
        if crc32(payload) != record.payload_crc32:
            raise CorruptDataError(f"chunk {self._count - 1} payload checksum mismatch")
        self._pending = None
        return payload

    def _read_end(self, tag: bytes) -> None:
        rest = read_exact(self._file, _END.size - 1 + 4, "end record")
        body = tag + rest[:-4]
        (crc,) = _U32.unpack(rest[-4:])
        if crc != crc32(body):
            raise CorruptDataError("end record checksum mismatch")
        _, count, total, content_hash, table_hash = _END.unpack(body)
        if count != self._count:
            raise CorruptDataError(f"end record counts {count} chunks, the table has {self._count}")
        if table_hash != self._table.digest():
            raise CorruptDataError("chunk table hash mismatch")
        if total != self._total:
            raise CorruptDataError(f"end record declares {total} bytes, chunks hold {self._total}")
        if self.original_size is not None and total != self.original_size:
            raise CorruptDataError("end record size disagrees with the header")
        self.end = EndRecord(count, total, content_hash, table_hash)
