"""Split log text into templates (constant text) and typed variables, and render it back.

A chunk is cut at every ``\\n``. In each line, every run of decimal digits (at most 19, so the
value fits an unsigned 64-bit integer) and every ``0x`` + hexadecimal run (at most 16 digits)
is a *variable*; what is left is the line's *template*, with one marker byte where each
variable was:

- ``0x00``: a decimal variable (the digits);
- ``0x01``: a hexadecimal variable; the marker stands for ``0x`` followed by the hex digits;
- ``0x03 0x00``: a timestamp in the chunk's time format (see `formats.logs.timestamps`), whose
  decimal variable is its POSIX second.

Floats, IP addresses, dates and identifiers such as ``blk_123`` become several variables
around constant text (``#.#.#.#``), so their structure lives in the template and their parts
in numeric columns. Signs, spaces, ``\\r`` and any other byte stay in the template, so the
transform is lossless for any byte string. When the chunk itself contains bytes 0x00-0x03
(binary data), they are escaped first as ``0x02 0x10+b``; the template table then holds the
escaped form and `unescape` restores it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nacrith.errors import CorruptDataError
from nacrith.formats.logs.timestamps import detect_format, mark_times

__all__ = [
    "DEC",
    "HEX",
    "TIME",
    "Tokenized",
    "escape",
    "split_template",
    "tokenize",
    "unescape",
]

DEC, HEX, TIME = 0, 1, 2
_DEC_MARK, _HEX_MARK = b"\x00", b"\x01"
_DEC_RE = re.compile(rb"(\d{1,19})")
_HEX_DEC_RE = re.compile(rb"0x([0-9a-fA-F]{1,16})|(\d{1,19})")
_MARKS_RE = re.compile(rb"\x03?\x00|\x01")
_UNESCAPE_RE = re.compile(rb"\x02(.?)", re.S)
_KIND = {b"\x00": DEC, b"\x01": HEX, b"\x03\x00": TIME}


@dataclass
class Tokenized:
    """One chunk as templates, a template id per line and the variables in line order."""

    templates: list[bytes]  # skeletons with marker bytes (escaped if `escaped`)
    line_templates: list[int]  # template id of each line
    values: list[bytes]  # variable texts, line by line, left to right (hex without "0x")
    hex_present: bool
    escaped: bool
    time_format: int | None  # index in formats.logs.timestamps.FORMATS
    time_range: tuple[int, int] | None  # first and last POSIX second of that format


def escape(data: bytes) -> tuple[bytes, bool]:
    """Escape marker bytes 0x00-0x03 if the data holds any; returns (text, escaped?)."""
    if not any(b in data for b in (b"\x00", b"\x01", b"\x02", b"\x03")):
        return data, False
    out = data.replace(b"\x02", b"\x02\x12").replace(b"\x00", b"\x02\x10")
    return out.replace(b"\x01", b"\x02\x11").replace(b"\x03", b"\x02\x13"), True


def _unescape_one(match: re.Match[bytes]) -> bytes:
    code = match.group(1)
    if len(code) != 1 or not 0x10 <= code[0] <= 0x13:
        raise CorruptDataError("logs template holds a bad escape sequence")
    return bytes([code[0] - 0x10])


def unescape(piece: bytes) -> bytes:
    """Undo `escape` on one piece of template text."""
    if b"\x02" not in piece:
        return piece
    return _UNESCAPE_RE.sub(_unescape_one, piece)


def tokenize(data: bytes) -> Tokenized:
    """Split `data` into templates, per-line template ids and variable texts."""
    text, escaped = escape(data)
    time_format = detect_format(text[: 1 << 16].split(b"\n"))
    time_range = None
    if time_format is not None:
        text, time_range = mark_times(text, time_format)
        if time_range is None:
            time_format = None
    hex_present = b"0x" in text
    if hex_present:
        parts = _HEX_DEC_RE.split(text)
        statics = parts[0::3]
        hexes = parts[1::3]
        decs = parts[2::3]
        marks = [_DEC_MARK if h is None else _HEX_MARK for h in hexes]
        values = [d if h is None else h for h, d in zip(hexes, decs)]
        if _HEX_MARK not in marks:
            hex_present = False
        pieces: list[bytes] = []
        for static, mark in zip(statics, marks):
            pieces.append(static)
            pieces.append(mark)
        pieces.append(statics[-1])
        skeleton = b"".join(pieces)
    else:
        parts = _DEC_RE.split(text)
        values = parts[1::2]
        skeleton = _DEC_MARK.join(parts[0::2])
    ids: dict[bytes, int] = {}
    line_templates = [ids.setdefault(s, len(ids)) for s in skeleton.split(b"\n")]
    return Tokenized(
        list(ids), line_templates, values, hex_present, escaped, time_format, time_range
    )


def split_template(template: bytes, escaped: bool) -> tuple[list[bytes], list[int]]:
    """(constant pieces, variable kinds) of one template; len(pieces) == len(kinds) + 1."""
    pieces = _MARKS_RE.split(template)
    kinds = [_KIND[m] for m in _MARKS_RE.findall(template)]
    if b"\x03" in template and any(b"\x03" in p for p in pieces):
        raise CorruptDataError("logs template holds a time marker without its variable")
    if escaped:
        pieces = [unescape(p) for p in pieces]
    elif b"\x02" in template:
        raise CorruptDataError("logs template holds an escape byte in an unescaped chunk")
    return pieces, kinds
