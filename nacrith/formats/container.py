"""The .ncz container, format version 1: the one place where the bytes are specified.

An archive is one or more *members* back to back (like gzip members); decoding an archive
decodes every member and concatenates their contents. Appending to an archive (log archives,
mode "ab") writes a new complete member, so earlier members are never rewritten.

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
import json
import re
import struct
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from nacrith.errors import CorruptDataError, FormatError, TruncatedError
from nacrith.formats.settings_dict import PRESET_DICTIONARIES

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "MAX_CHUNK_CODED",
    "MAX_CHUNK_RAW",
    "ChunkRecord",
    "EndRecord",
    "Member",
    "MemberReader",
    "MemberWriter",
    "decode_chunk",
    "iter_members",
    "write_member",
]

#: a codec id: ASCII, 1-32 chars of [a-z0-9_-], starting with a letter
CODEC_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class ChunkDecoder(Protocol):
    """What `decode_chunk` needs of a codec."""

    def decode(self, payload: bytes, raw_size: int) -> bytes:
        """Decode one payload into exactly `raw_size` bytes."""
        ...


MAGIC = b"\x89NCZ\r\n\x1a\n"
FORMAT_VERSION = 1
FLAG_SIZE_KNOWN = 0x01
FLAG_SETTINGS_ZLIB = 0x02
FLAG_SETTINGS_DICT = 0x04
_KNOWN_FLAGS = FLAG_SIZE_KNOWN | FLAG_SETTINGS_ZLIB | FLAG_SETTINGS_DICT
MAX_SETTINGS = 1 << 20
MAX_CHUNK_RAW = 1 << 30
MAX_CHUNK_CODED = (1 << 30) + (1 << 20)

_HEADER_FIXED = struct.Struct("<8sBBQI")
_CHUNK_SIZES = struct.Struct("<BQQII")
_END = struct.Struct("<cQQ16s16s")
_U32 = struct.Struct("<I")
TAG_CHUNK = b"C"
TAG_END = b"E"


def _crc(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def _read_exact(fileobj: IO[bytes], size: int, what: str) -> bytes:
    """Read exactly `size` bytes or raise TruncatedError naming `what`."""
    parts = []
    remaining = size
    while remaining > 0:
        part = fileobj.read(remaining)
        if not part:
            raise TruncatedError(
                f"Compressed file ended before the end-of-stream marker was reached (in {what})"
            )
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts) if len(parts) != 1 else parts[0]


def encode_settings(settings: Mapping[str, Any]) -> bytes:
    """Canonical JSON bytes of the header settings."""
    return json.dumps(settings, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _deflate_with_dictionary(settings: bytes, dict_id: int) -> bytes:
    """The FLAG_SETTINGS_DICT form: dictionary id byte, then raw DEFLATE against it."""
    deflater = zlib.compressobj(
        9, zlib.DEFLATED, -15, memLevel=9, zdict=PRESET_DICTIONARIES[dict_id]
    )
    return bytes([dict_id]) + deflater.compress(settings) + deflater.flush()


def _inflate_settings(packed: bytes, with_dictionary: bool = False) -> bytes:
    if with_dictionary:
        if not packed:
            raise CorruptDataError("archive settings are empty")
        zdict = PRESET_DICTIONARIES.get(packed[0])
        if zdict is None:
            raise FormatError(
                f"archive settings use preset dictionary {packed[0]}, unknown to this nacrith; "
                "upgrade nacrith"
            )
        inflater = zlib.decompressobj(-15, zdict=zdict)
        packed = packed[1:]
    else:
        inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(packed, MAX_SETTINGS + 1)
    except zlib.error as exc:
        raise CorruptDataError(f"archive settings do not decompress: {exc}") from exc
    if len(raw) > MAX_SETTINGS or not inflater.eof or inflater.unused_data:
        raise CorruptDataError("archive settings are malformed or too large")
    return raw


def _decode_settings(raw: bytes) -> dict[str, Any]:
    try:
        settings = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptDataError(f"archive settings are not valid JSON: {exc}") from exc
    if not isinstance(settings, dict) or set(settings) - {"codecs"}:
        raise FormatError("archive settings hold unknown fields for format version 1")
    codecs = settings.get("codecs", {})
    if not isinstance(codecs, dict) or not all(
        isinstance(k, str) and isinstance(v, dict) for k, v in codecs.items()
    ):
        raise FormatError("archive settings: 'codecs' must map codec ids to parameter objects")
    return settings


@dataclass(frozen=True)
class ChunkRecord:
    """One entry of the chunk table, with access to its payload."""

    codec_id: str
    raw_size: int
    coded_size: int
    raw_crc32: int
    payload_crc32: int
    record_bytes: bytes = field(repr=False)
    _reader: MemberReader | None = field(default=None, repr=False, compare=False)

    def read_payload(self) -> bytes:
        """Read this chunk's payload (must be called in order) and check its CRC."""
        if self._reader is None:
            raise RuntimeError("this chunk record is not attached to a reader")
        return self._reader._read_payload(self)


@dataclass(frozen=True)
class EndRecord:
    """The member's end record."""

    chunk_count: int
    total_size: int
    content_hash: bytes
    table_hash: bytes


def pack_chunk_record(codec_id: str, raw: bytes, payload: bytes) -> bytes:
    """The record bytes (without payload) for a chunk."""
    if not CODEC_ID_PATTERN.match(codec_id):
        raise ValueError(f"invalid codec id {codec_id!r}")
    if len(raw) > MAX_CHUNK_RAW or len(payload) > MAX_CHUNK_CODED:
        raise ValueError(f"chunk too large ({len(raw)} raw, {len(payload)} coded bytes)")
    cid = codec_id.encode("ascii")
    body = (
        TAG_CHUNK
        + bytes([len(cid)])
        + cid
        + _CHUNK_SIZES.pack(0, len(raw), len(payload), _crc(raw), _crc(payload))
    )
    return body + _U32.pack(_crc(body))


class MemberWriter:
    """Writes one member: header, then chunks as they come, then the end record."""

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
            (_deflate_with_dictionary(settings, k), FLAG_SETTINGS_DICT)
            for k in sorted(PRESET_DICTIONARIES)
        ]
        # the first smallest: ties keep the older dictionary, so an archive that a newer one
        # does not shrink keeps its bytes
        settings, form = min(forms, key=lambda f: len(f[0]))
        flags |= form
        head = _HEADER_FIXED.pack(MAGIC, FORMAT_VERSION, flags, original_size or 0, len(settings))
        head += settings
        self._write(head + _U32.pack(_crc(head)))

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
        self._write(body + _U32.pack(_crc(body)))
        return self.bytes_written


def write_member(
    fileobj: IO[bytes],
    codec_params: Mapping[str, Mapping[str, Any]],
    chunks: Iterable[tuple[str, bytes, bytes]],
    original_size: int | None = None,
) -> int:
    """Write a complete member holding `chunks` = (codec_id, raw, payload); return bytes written.

    `codec_params` maps each codec id used to the parameters its decoder needs (`Codec.params`).
    """
    writer = MemberWriter(fileobj, codec_params, original_size)
    for codec_id, raw, payload in chunks:
        writer.write_chunk(codec_id, raw, payload)
    return writer.finish()


class MemberReader:
    """Reads one member from a stream positioned at its magic (already consumed or not)."""

    def __init__(self, fileobj: IO[bytes], magic: bytes | None = None) -> None:
        self._file = fileobj
        fixed = (magic or b"") + _read_exact(
            fileobj, _HEADER_FIXED.size - len(magic or b""), "header"
        )
        got_magic, version, flags, size, settings_len = _HEADER_FIXED.unpack(fixed)
        if got_magic != MAGIC:
            raise FormatError("not a nacrith archive (bad magic)")
        if version != FORMAT_VERSION:
            raise FormatError(
                f"archive format version {version} is not supported "
                f"(this nacrith reads version {FORMAT_VERSION}); upgrade nacrith"
            )
        if flags & ~_KNOWN_FLAGS:
            raise FormatError(f"archive header sets reserved flag bits (0x{flags:02x})")
        if flags & FLAG_SETTINGS_ZLIB and flags & FLAG_SETTINGS_DICT:
            raise FormatError("archive header sets both settings compression flags")
        if settings_len > MAX_SETTINGS:
            raise CorruptDataError(f"archive settings length {settings_len} exceeds the limit")
        settings_raw = _read_exact(fileobj, settings_len, "header")
        (crc,) = _U32.unpack(_read_exact(fileobj, 4, "header"))
        if crc != _crc(fixed + settings_raw):
            raise CorruptDataError("archive header checksum mismatch")
        if flags & (FLAG_SETTINGS_ZLIB | FLAG_SETTINGS_DICT):
            settings_raw = _inflate_settings(settings_raw, bool(flags & FLAG_SETTINGS_DICT))
        self.settings = _decode_settings(settings_raw)
        self.original_size: int | None = size if flags & FLAG_SIZE_KNOWN else None
        self.header_size = len(fixed) + settings_len + 4
        self._content = hashlib.blake2b(digest_size=16)
        self._table = hashlib.blake2b(digest_size=16)
        self._count = 0
        self._total = 0
        self._accounted = 0
        self._pending: ChunkRecord | None = None
        self._content_checked = True
        self.end: EndRecord | None = None

    @property
    def codec_params(self) -> dict[str, dict[str, Any]]:
        """Codec id -> params, as stored in the header."""
        return self.settings.get("codecs", {})

    def next_chunk(self) -> ChunkRecord | None:
        """The next chunk record, or None after the end record was read and verified."""
        if self._pending is not None:
            self._skip_payload(self._pending)
        tag = _read_exact(self._file, 1, "chunk table")
        if tag == TAG_END:
            self._read_end(tag)
            return None
        if tag != TAG_CHUNK:
            raise CorruptDataError(f"unexpected record tag {tag!r} in the chunk table")
        n = _read_exact(self._file, 1, "chunk table")
        id_len = n[0]
        if not 1 <= id_len <= 32:
            raise CorruptDataError(f"bad codec id length {id_len} in chunk record")
        rest = _read_exact(self._file, id_len + _CHUNK_SIZES.size + 4, "chunk table")
        body = tag + n + rest[:-4]
        (crc,) = _U32.unpack(rest[-4:])
        if crc != _crc(body):
            raise CorruptDataError(f"chunk record {self._count} checksum mismatch")
        try:
            codec_id = rest[:id_len].decode("ascii")
        except UnicodeDecodeError as exc:
            raise CorruptDataError("codec id is not ASCII") from exc
        if not CODEC_ID_PATTERN.match(codec_id):
            raise CorruptDataError(f"invalid codec id {codec_id!r} in chunk record")
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

    def _skip_payload(self, record: ChunkRecord) -> None:
        """Read and CRC-check a payload the caller did not decode; the content hash is then
        no longer checkable for this member (listing, partial search)."""
        self._read_payload(record)
        self.skip_content(record)

    def _read_payload(self, record: ChunkRecord) -> bytes:
        if self._pending is not record:
            raise RuntimeError("chunk payloads must be read once, in order")
        payload = _read_exact(self._file, record.coded_size, "chunk payload")
        if _crc(payload) != record.payload_crc32:
            raise CorruptDataError(f"chunk {self._count - 1} payload checksum mismatch")
        self._pending = None
        return payload

    def account(self, raw: bytes) -> None:
        """Fold a decoded chunk into the member's content hash (call in chunk order)."""
        self._content.update(raw)
        self._accounted += len(raw)
        if self.original_size is not None and self._accounted > self.original_size:
            raise CorruptDataError("archive holds more data than its header declares")

    def skip_content(self, record: ChunkRecord) -> None:
        """Note that a chunk is not decoded (listing, search): the content hash is not checked."""
        self._content_checked = False

    def finish(self) -> None:
        """After the end record and every chunk's `account`: check the whole-content hash."""
        if self.end is None:
            raise RuntimeError("finish() before the end record was read")
        if not self._content_checked:
            return
        if self._accounted != self.end.total_size:
            raise CorruptDataError(
                f"decoded {self._accounted} bytes, the end record declares {self.end.total_size}"
            )
        if self._content.digest() != self.end.content_hash:
            raise CorruptDataError("content checksum mismatch")

    def _read_end(self, tag: bytes) -> None:
        rest = _read_exact(self._file, _END.size - 1 + 4, "end record")
        body = tag + rest[:-4]
        (crc,) = _U32.unpack(rest[-4:])
        if crc != _crc(body):
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
        if magic != MAGIC:
            if first:
                raise FormatError("not a nacrith archive (bad magic)")
            raise FormatError("trailing data after the end of the archive")
        reader = MemberReader(fileobj, magic)
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


def verify_chunk(record: ChunkRecord, raw: bytes) -> None:
    """Raise CorruptDataError unless `raw` has the record's size and CRC."""
    if len(raw) != record.raw_size:
        raise CorruptDataError(
            f"chunk decoded to {len(raw)} bytes, the table says {record.raw_size}"
        )
    if _crc(raw) != record.raw_crc32:
        raise CorruptDataError("chunk content checksum mismatch")
