"""Reading and writing container format version 2 (specified in `nacrith.formats.container`)."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from typing import IO, Any

from nacrith.errors import CorruptDataError, FormatError
from nacrith.formats.baselines import BASELINES, baselines_of, thaw
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

__all__ = ["FORMAT_BYTE_V2", "V2Reader", "V2Writer"]

VERSION = 2
#: the byte after the magic: the version in the high nibble, flags in the low one
FORMAT_BYTE_V2 = VERSION << 4
FLAG_SIZE_KNOWN = 0x01
FLAG_LONG_RANGE = 0x02
_KNOWN_FLAGS = FLAG_SIZE_KNOWN | FLAG_LONG_RANGE
TAG_END = 0
TAG_INLINE = 0xFF
MAX_HEADER_CODECS = 254
_MAX_SIZE = (1 << 63) - 1
_U32 = struct.Struct("<I")


def varint(value: int) -> bytes:
    """`value` (>= 0) as unsigned LEB128."""
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _blob(data: bytes) -> bytes:
    """`data` (JSON) in its smallest form: raw (form byte 0) or deflated against a preset
    dictionary (its id as the form byte); prefixed by the varint length."""
    forms = [b"\x00" + data]
    forms += [deflate_with_dictionary(data, k) for k in sorted(PRESET_DICTIONARIES)]
    best = min(forms, key=len)
    return varint(len(best)) + best


def _diff(base: Mapping[str, Any], params: Mapping[str, Any]) -> list[Any]:
    """[keys set to new values, keys removed] turning `base` into `params` (top level)."""
    changed = {
        k: v
        for k, v in params.items()
        if k not in base or encode_settings([v]) != encode_settings([base[k]])
    }
    return [changed, sorted(k for k in base if k not in params)]


def encode_entry(codec_id: str, params: Mapping[str, Any]) -> bytes:
    """A codec's entry in the member header: the smallest of a baseline reference, a diff
    against a baseline of the same codec, and the explicit form."""
    check_codec_id(codec_id)
    plain = thaw(params)
    canon = encode_settings(plain)
    if len(canon) > MAX_SETTINGS:
        raise ValueError("codec parameters exceed the 1 MiB settings limit")
    own = baselines_of(codec_id)
    for b in own:
        if encode_settings(thaw(BASELINES[b][1])) == canon:
            return varint(2 * b + 1)
    forms = []
    for b in own:
        diff = encode_settings(_diff(thaw(BASELINES[b][1]), plain))
        if len(diff) <= MAX_SETTINGS:
            forms.append(varint(2 * b + 2) + _blob(diff))
    cid = codec_id.encode("ascii")
    forms.append(varint(0) + bytes([len(cid)]) + cid + _blob(canon))
    return min(forms, key=len)


class V2Writer:
    """Writes one version-2 member: header, then chunks as they come, then the end record."""

    def __init__(
        self,
        fileobj: IO[bytes],
        codec_params: Mapping[str, Mapping[str, Any]],
        original_size: int | None = None,
        long_range: bool = False,
    ) -> None:
        if len(codec_params) > MAX_HEADER_CODECS:
            raise ValueError(f"a member header holds at most {MAX_HEADER_CODECS} codecs")
        if original_size is not None and not 0 <= original_size <= _MAX_SIZE:
            raise ValueError(f"original size {original_size} out of range")
        self._file = fileobj
        self._content = hashlib.blake2b(digest_size=16)
        self._count = 0
        self._total = 0
        self._expected = None if long_range else original_size
        self.bytes_written = 0
        self._index = {codec_id: i + 1 for i, codec_id in enumerate(codec_params)}
        fmt = FORMAT_BYTE_V2 | (FLAG_LONG_RANGE if long_range else 0)
        head = bytearray(MAGIC)
        if original_size is not None:
            head.append(fmt | FLAG_SIZE_KNOWN)
            head += varint(original_size)
        else:
            head.append(fmt)
        head += varint(len(codec_params))
        for codec_id, params in codec_params.items():
            head += encode_entry(codec_id, params)
        self._crc = 0
        self._write(bytes(head))

    def _write(self, data: bytes) -> None:
        self._file.write(data)
        self._crc = crc32(data, self._crc)
        self.bytes_written += len(data)

    def write_chunk(self, codec_id: str, raw: bytes, payload: bytes) -> None:
        """Append one chunk: its record, its payload and the running check."""
        check_chunk_sizes(raw, payload)
        tag = self._index.get(codec_id)
        record = (
            bytes([tag]) if tag is not None else bytes([TAG_INLINE]) + encode_entry(codec_id, {})
        )
        record += varint(len(raw)) + varint(len(payload)) + _U32.pack(crc32(raw))
        self._write(record)
        self._write(payload)
        self._write(_U32.pack(self._crc))
        self._content.update(raw)
        self._count += 1
        self._total += len(raw)

    def finish(self) -> int:
        """Write the end record; return the member's size in bytes."""
        if self._expected is not None and self._expected != self._total:
            raise ValueError(f"member declared {self._expected} bytes but got {self._total}")
        self._write(bytes([TAG_END]))
        if self._count >= 2:
            self._write(self._content.digest())
        if self._count != 1:
            self._write(_U32.pack(self._crc))
        return self.bytes_written


class V2Reader(ContentCheck):
    """Reads one version-2 member from a stream positioned after its magic."""

    version = VERSION

    def __init__(self, fileobj: IO[bytes], magic: bytes, fmt: int) -> None:
        self._file = fileobj
        self._crc = crc32(magic + bytes([fmt]))
        self._offset = len(magic) + 1
        self._capture: bytearray | None = None
        if fmt & 0x0F & ~_KNOWN_FLAGS:
            raise FormatError(f"archive header sets reserved flag bits (0x{fmt & 0x0F:02x})")
        self.long_range = bool(fmt & FLAG_LONG_RANGE)
        size = self._varint("header", _MAX_SIZE) if fmt & FLAG_SIZE_KNOWN else None
        count = self._varint("header", MAX_HEADER_CODECS)
        codecs: dict[str, dict[str, Any]] = {}
        for _ in range(count):
            codec_id, params = self._entry()
            if codec_id in codecs:
                raise CorruptDataError(f"archive header lists codec {codec_id!r} twice")
            codecs[codec_id] = params
        self.settings: dict[str, Any] = {"codecs": codecs}
        self._order = list(codecs)
        self.header_size = self._offset
        super().__init__(size, None if self.long_range else size)
        self._count = 0
        self._total = 0
        self._pending: ChunkRecord | None = None

    @property
    def codec_params(self) -> dict[str, dict[str, Any]]:
        """Codec id -> params, as stored in the header."""
        return self.settings["codecs"]

    # -- bytes, each folded into the running check --

    def _read(self, size: int, what: str) -> bytes:
        data = read_exact(self._file, size, what)
        self._crc = crc32(data, self._crc)
        self._offset += len(data)
        if self._capture is not None:
            self._capture += data
        return data

    def _varint(self, what: str, limit: int) -> int:
        value = shift = 0
        for i in range(10):
            byte = self._read(1, what)[0]
            if i and byte == 0:
                raise CorruptDataError(f"overlong number in the {what}")
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                if value > limit:
                    raise CorruptDataError(f"number {value} out of range in the {what}")
                return value
            shift += 7
        raise CorruptDataError(f"overlong number in the {what}")

    def _check(self, what: str) -> None:
        expected = self._crc
        (got,) = _U32.unpack(self._read(4, what))
        if got != expected:
            raise CorruptDataError(f"{what} checksum mismatch")

    # -- header --

    def _json_blob(self) -> Any:
        size = self._varint("header", MAX_SETTINGS + 1)
        if size == 0:
            raise CorruptDataError("archive settings are empty")
        data = self._read(size, "header")
        raw = data[1:] if data[0] == 0 else inflate_settings(data, with_dictionary=True)
        return parse_json(raw)

    def _entry(self) -> tuple[str, dict[str, Any]]:
        ref = self._varint("header", _MAX_SIZE)
        if ref == 0:
            size = self._read(1, "header")[0]
            if not 1 <= size <= 32:
                raise CorruptDataError(f"bad codec id length {size} in the header")
            codec_id = decode_codec_id(self._read(size, "header"))
            params = self._json_blob()
            if not isinstance(params, dict):
                raise FormatError(f"archive settings: {codec_id} parameters are not an object")
            return codec_id, params
        index = (ref - 1) // 2
        if index >= len(BASELINES):
            raise FormatError(
                f"archive settings name baseline {index}, unknown to this nacrith; upgrade nacrith"
            )
        codec_id, base = BASELINES[index]
        params = thaw(base)
        if ref % 2 == 0:
            diff = self._json_blob()
            if (
                not isinstance(diff, list)
                or len(diff) != 2
                or not isinstance(diff[0], dict)
                or not isinstance(diff[1], list)
                or not all(isinstance(k, str) and k in params for k in diff[1])
            ):
                raise FormatError(f"archive settings: malformed {codec_id} parameter diff")
            for key in diff[1]:
                del params[key]
            params.update(diff[0])
        return codec_id, params

    # -- chunks --

    def next_chunk(self) -> ChunkRecord | None:
        """The next chunk record, or None after the end record was read and verified."""
        if self._pending is not None:
            self._read_payload(self._pending)
            self._content_checked = False
        tag = self._read(1, "chunk table")
        if tag[0] == TAG_END:
            self._read_end()
            return None
        record = bytearray(tag)
        if tag[0] == TAG_INLINE:
            self._capture = bytearray()
            codec_id, params = self._entry()
            entry, self._capture = bytes(self._capture), None
            if params or codec_id in self.codec_params:
                raise CorruptDataError(f"chunk names codec {codec_id!r} inline with parameters")
            record += entry
        elif tag[0] <= len(self._order):
            codec_id = self._order[tag[0] - 1]
        else:
            raise CorruptDataError(f"unexpected record tag {tag!r} in the chunk table")
        raw_size = self._varint("chunk table", MAX_CHUNK_RAW)
        coded_size = self._varint("chunk table", MAX_CHUNK_CODED)
        raw_crc = self._read(4, "chunk table")
        record += varint(raw_size) + varint(coded_size) + raw_crc
        if self._content_size is not None and self._total + raw_size > self._content_size:
            raise CorruptDataError("archive holds more data than its header declares")
        chunk = ChunkRecord(
            codec_id, raw_size, coded_size, _U32.unpack(raw_crc)[0], 0, bytes(record), self
        )
        self._pending = chunk
        self._count += 1
        self._total += raw_size
        return chunk

    def _read_payload(self, record: ChunkRecord) -> bytes:
        if self._pending is not record:
            raise RuntimeError("chunk payloads must be read once, in order")
        payload = self._read(record.coded_size, "chunk payload")
        self._check(f"chunk {self._count - 1}")
        self._pending = None
        return payload

    def _read_end(self) -> None:
        content_hash = self._read(16, "end record") if self._count >= 2 else b""
        if self._count != 1:
            self._check("end record")
        if self._content_size is not None and self._total != self._content_size:
            raise CorruptDataError(
                f"the header declares {self._content_size} bytes, chunks hold {self._total}"
            )
        self.end = EndRecord(self._count, self._total, content_hash, b"")
