"""Reversible text front end of the `llm` codec: line ends and bytes the tokenizer cannot hold.

Two lossless steps, each undone exactly by the decoder:

1. `LineEnds`: when most line ends are CRLF, every CRLF becomes LF and the ordinals of the LFs that
   were bare are recorded (a book with CRLF line ends costs SmolLM2 3.8% more bits otherwise).
2. `Escapes`: code points the tokenizer cannot represent (bytes missing from its byte alphabet,
   invalid UTF-8) are cut out of the text and kept verbatim beside it, with their offsets.

Side data is written with `put_varint` / read with `Reader`; a `Reader` never reads past its
buffer and raises `CorruptDataError` / `TruncatedError` on bad input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
from nacrith.formats.varint import PayloadReader, put_varint

from nacrith.errors import CorruptDataError, TruncatedError

__all__ = ["Escapes", "LineEnds", "Reader", "bad_codepoint_pattern", "put_varint"]


class Reader(PayloadReader):
    """Reader of `llm` side data: a payload that ends early is a `TruncatedError`."""

    name = "llm payload"
    short_error = TruncatedError


class LineEnds:
    """CRLF -> LF, recording which LFs were bare so the decoder can restore them."""

    @staticmethod
    def encode(data: bytes, out: bytearray) -> bytes:
        """Append the side data to `out` and return the normalised text."""
        crlf = data.count(b"\r\n")
        bare = data.count(b"\n") - crlf
        if crlf == 0 or crlf < bare:
            put_varint(out, 0)
            return data
        text = data.replace(b"\r\n", b"\n")
        put_varint(out, 1)
        put_varint(out, bare)
        if bare:
            # ordinal (among the LFs of `text`) of each LF that was bare in `data`
            arr = np.frombuffer(data, dtype=np.uint8)
            nl = np.flatnonzero(arr == 10)
            prev_cr = np.zeros(nl.size, dtype=bool)
            inner = nl > 0
            prev_cr[inner] = arr[nl[inner] - 1] == 13
            prev = 0
            for k in np.flatnonzero(~prev_cr).tolist():
                put_varint(out, k - prev)
                prev = k
        return text

    @staticmethod
    def decode(text: bytes, reader: Reader) -> bytes:
        """Undo `encode` given the side data at `reader`."""
        mode = reader.varint(1)
        if mode == 0:
            return text
        n_lf = text.count(b"\n")
        bare = reader.varint(n_lf)
        if not bare:
            return text.replace(b"\n", b"\r\n")
        ordinals = []
        k = 0
        for i in range(bare):
            k += reader.varint(n_lf)
            if k >= n_lf or (i and k == ordinals[-1]):
                raise CorruptDataError("llm payload: bad line-end exception list")
            ordinals.append(k)
        lines = text.split(b"\n")
        seps = [b"\r\n"] * (len(lines) - 1)
        for k in ordinals:
            seps[k] = b"\n"
        out = bytearray(lines[0])
        for sep, line in zip(seps, lines[1:]):
            out += sep
            out += line
        return bytes(out)


def bad_codepoint_pattern(representable: Iterable[int]) -> re.Pattern[str]:
    """Regex (over surrogateescape-decoded text) matching runs of code points the tokenizer
    cannot represent: any whose UTF-8 bytes include a byte outside `representable`, and every
    byte of invalid UTF-8 (a lone surrogate U+DC80-U+DCFF after surrogateescape)."""
    ok = np.zeros(256, dtype=bool)
    ok[list(representable)] = True
    cp = np.arange(0x110000, dtype=np.int64)
    bad = np.zeros(cp.size, dtype=bool)
    one = cp < 0x80
    bad[one] = ~ok[cp[one]]
    two = (cp >= 0x80) & (cp < 0x800)
    bad[two] = ~ok[0xC0 | (cp[two] >> 6)] | ~ok[0x80 | (cp[two] & 0x3F)]
    three = (cp >= 0x800) & (cp < 0x10000)
    c3 = cp[three]
    bad[three] = ~ok[0xE0 | (c3 >> 12)] | ~ok[0x80 | ((c3 >> 6) & 0x3F)] | ~ok[0x80 | (c3 & 0x3F)]
    four = cp >= 0x10000
    c4 = cp[four]
    bad[four] = (
        ~ok[0xF0 | (c4 >> 18)]
        | ~ok[0x80 | ((c4 >> 12) & 0x3F)]
        | ~ok[0x80 | ((c4 >> 6) & 0x3F)]
        | ~ok[0x80 | (c4 & 0x3F)]
    )
    bad[0xD800:0xE000] = True  # surrogates: only ever the escapes of invalid bytes
    edges = np.flatnonzero(np.diff(np.concatenate(([0], bad.astype(np.int8), [0]))))
    ranges = edges.reshape(-1, 2)
    parts = []
    for lo, hi in ranges.tolist():
        hi -= 1
        parts.append(_esc(lo) if lo == hi else f"{_esc(lo)}-{_esc(hi)}")
    return re.compile("[" + "".join(parts) + "]+" if parts else "(?!)")


def _esc(cp: int) -> str:
    return f"\\U{cp:08x}"


class Escapes:
    """Cut out what the tokenizer cannot represent; keep it verbatim beside the text."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern

    def encode(self, data: bytes, out: bytearray) -> bytes:
        """Append the escape list to `out` and return the text without the escaped bytes."""
        text = data.decode("utf-8", "surrogateescape")
        kept: list[bytes] = []
        spans: list[tuple[int, bytes]] = []
        pos = 0
        kept_len = 0
        for m in self.pattern.finditer(text):
            piece = text[pos : m.start()].encode("utf-8", "surrogateescape")
            kept.append(piece)
            kept_len += len(piece)
            spans.append((kept_len, m.group().encode("utf-8", "surrogateescape")))
            pos = m.end()
        kept.append(text[pos:].encode("utf-8", "surrogateescape"))
        put_varint(out, len(spans))
        prev = 0
        for offset, raw in spans:
            put_varint(out, offset - prev)
            put_varint(out, len(raw))
            out += raw
            prev = offset
        return b"".join(kept)

    @staticmethod
    def decode(text: bytes, reader: Reader, raw_limit: int) -> bytes:
        """Re-insert the escaped bytes; the result must not exceed `raw_limit` bytes."""
        n = reader.varint(raw_limit)
        if n == 0:
            return text
        out = bytearray()
        pos = 0
        for _ in range(n):
            offset = pos + reader.varint(len(text) - pos)
            raw = reader.take(reader.varint(raw_limit))
            out += text[pos:offset]
            out += raw
            pos = offset
            if len(out) > raw_limit:
                raise CorruptDataError("llm payload: escapes exceed the chunk size")
        out += text[pos:]
        return bytes(out)
