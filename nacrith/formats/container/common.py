"""What both container versions share: limits, chunk records, settings JSON and its forms,
and the accounting of a member's decoded content."""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from nacrith.errors import CorruptDataError, FormatError, TruncatedError
from nacrith.formats.settings_dict import PRESET_DICTIONARIES

#: a codec id: ASCII, 1-32 chars of [a-z0-9_-], starting with a letter
CODEC_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")

#: how every member of every version starts
MAGIC = b"\x89NCZ"
MAX_SETTINGS = 1 << 20
MAX_CHUNK_RAW = 1 << 30
MAX_CHUNK_CODED = (1 << 30) + (1 << 20)
#: the most bytes asked of a file in one read (sizes not yet verified never allocate more)
_READ_PIECE = 1 << 24


class ChunkDecoder(Protocol):
    """What `decode_chunk` needs of a codec."""

    def decode(self, payload: bytes, raw_size: int) -> bytes:
        """Decode one payload into exactly `raw_size` bytes."""
        ...


class PayloadSource(Protocol):
    """The reader a chunk record reads its payload through."""

    def _read_payload(self, record: ChunkRecord) -> bytes: ...


def crc32(data: bytes, start: int = 0) -> int:
    """zlib's CRC32 of `data`, continued from `start`."""
    return zlib.crc32(data, start) & 0xFFFFFFFF


def read_exact(fileobj: IO[bytes], size: int, what: str) -> bytes:
    """Read exactly `size` bytes or raise TruncatedError naming `what`."""
    parts = []
    remaining = size
    while remaining > 0:
        part = fileobj.read(min(remaining, _READ_PIECE))
        if not part:
            raise TruncatedError(
                f"Compressed file ended before the end-of-stream marker was reached (in {what})"
            )
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts) if len(parts) != 1 else parts[0]


def encode_settings(settings: Mapping[str, Any] | list[Any]) -> bytes:
    """Canonical JSON bytes (sorted keys, no spaces, UTF-8) of header settings."""
    return json.dumps(settings, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def deflate_with_dictionary(settings: bytes, dict_id: int) -> bytes:
    """Dictionary id byte, then raw DEFLATE of `settings` against that preset dictionary."""
    deflater = zlib.compressobj(
        9, zlib.DEFLATED, -15, memLevel=9, zdict=PRESET_DICTIONARIES[dict_id]
    )
    return bytes([dict_id]) + deflater.compress(settings) + deflater.flush()


def inflate_settings(packed: bytes, with_dictionary: bool = False) -> bytes:
    """Undo `deflate_with_dictionary` (or zlib's RFC 1950 form); `CorruptDataError` when the
    bytes are not exactly one stream of at most MAX_SETTINGS bytes."""
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


def parse_json(raw: bytes) -> Any:
    """JSON bytes of the header; `CorruptDataError` when they are not JSON."""
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CorruptDataError(f"archive settings are not valid JSON: {exc}") from exc


def check_codec_id(codec_id: str) -> None:
    """ValueError unless `codec_id` is a valid codec id (writers)."""
    if not CODEC_ID_PATTERN.match(codec_id):
        raise ValueError(f"invalid codec id {codec_id!r}")


def check_chunk_sizes(raw: bytes, payload: bytes) -> None:
    """ValueError when a chunk is over the format's limits (writers)."""
    if len(raw) > MAX_CHUNK_RAW or len(payload) > MAX_CHUNK_CODED:
        raise ValueError(f"chunk too large ({len(raw)} raw, {len(payload)} coded bytes)")


def decode_codec_id(data: bytes) -> str:
    """A codec id read from an archive; `CorruptDataError` when it is not one."""
    try:
        codec_id = data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise CorruptDataError("codec id is not ASCII") from exc
    if not CODEC_ID_PATTERN.match(codec_id):
        raise CorruptDataError(f"invalid codec id {codec_id!r} in chunk record")
    return codec_id


@dataclass(frozen=True)
class ChunkRecord:
    """One entry of the chunk table, with access to its payload.

    `payload_crc32` is the check read before the payload is decoded: in version 1 the CRC32
    of the payload, in version 2 the running CRC32 of the member up to the payload's end.
    """

    codec_id: str
    raw_size: int
    coded_size: int
    raw_crc32: int
    payload_crc32: int
    record_bytes: bytes = field(repr=False)
    _reader: PayloadSource | None = field(default=None, repr=False, compare=False)

    def read_payload(self) -> bytes:
        """Read this chunk's payload (must be called in order) and check it."""
        if self._reader is None:
            raise RuntimeError("this chunk record is not attached to a reader")
        return self._reader._read_payload(self)


@dataclass(frozen=True)
class EndRecord:
    """The member's end record (`content_hash`, `table_hash`: empty where the version or the
    member holds none)."""

    chunk_count: int
    total_size: int
    content_hash: bytes
    table_hash: bytes


def verify_chunk(record: ChunkRecord, raw: bytes) -> None:
    """Raise CorruptDataError unless `raw` has the record's size and CRC."""
    if len(raw) != record.raw_size:
        raise CorruptDataError(
            f"chunk decoded to {len(raw)} bytes, the table says {record.raw_size}"
        )
    if crc32(raw) != record.raw_crc32:
        raise CorruptDataError("chunk content checksum mismatch")


class ContentCheck:
    """The decoded content of a member as the caller accounts it, checked at `finish`."""

    def __init__(self, original_size: int | None, content_size: int | None) -> None:
        self.original_size = original_size
        #: the declared size of the content the chunks decode to (None: not declared)
        self._content_size = content_size
        self.end: EndRecord | None = None
        self._content = hashlib.blake2b(digest_size=16)
        self._accounted = 0
        self._content_checked = True

    def account(self, raw: bytes) -> None:
        """Fold a decoded chunk into the member's content hash (call in chunk order)."""
        self._content.update(raw)
        self._accounted += len(raw)
        if self._content_size is not None and self._accounted > self._content_size:
            raise CorruptDataError("archive holds more data than its header declares")

    def skip_content(self, record: ChunkRecord) -> None:
        """Note that a chunk is not decoded (listing, search): the content hash is not checked."""
        self._content_checked = False

    def finish(self) -> None:
        """After the end record and every chunk's `account`: check the whole content."""
        if self.end is None:
            raise RuntimeError("finish() before the end record was read")
        if not self._content_checked:
            return
        if self._accounted != self.end.total_size:
            raise CorruptDataError(
                f"decoded {self._accounted} bytes, the end record declares {self.end.total_size}"
            )
        if self.end.content_hash and self._content.digest() != self.end.content_hash:
            raise CorruptDataError("content checksum mismatch")
