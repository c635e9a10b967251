"""Reversible text front end of the `llm` codec: line ends, hard wraps, unrepresentable bytes.

Three lossless steps, each undone exactly by the decoder:

1. `LineEnds`: when most line ends are CRLF, every CRLF becomes LF and the ordinals of the LFs that
   were bare are recorded (the model codes CRLF text less well than the same text with LF).
2. `Reflow`: when the text is hard-wrapped by a greedy fill at one width, the line breaks that
   the fill rule implies become spaces, and the decoder puts them back by the same rule.
3. `Escapes`: code points the tokenizer cannot represent (bytes missing from its byte alphabet,
   invalid UTF-8) are cut out of the text and kept verbatim beside it, with their offsets.

Side data is written with `put_varint` / read with `Reader`; a `Reader` never reads past its
buffer and raises `CorruptDataError` / `TruncatedError` on bad input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from nacrith.errors import CorruptDataError, TruncatedError
from nacrith.formats.varint import PayloadReader, put_varint

__all__ = [
    "Escapes",
    "LineEnds",
    "Reader",
    "Reflow",
    "bad_codepoint_pattern",
    "prepare",
    "restore",
]


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


class Reflow:
    """Undo a greedy hard wrap: line breaks the fill rule implies become spaces.

    A separator (space or LF) at column `col` of its line, followed by a word of `w` bytes, is
    where a greedy fill at width `W` breaks the line when ``col > 0``, ``w > 0`` and
    ``col + 1 + w > W`` (the next word would not fit). Every LF at such a place becomes a space;
    the decoder turns each such space back into an LF, except at the listed positions (spaces
    where the original line ran past `W`). Other LFs stay as they are. Words are runs of bytes
    other than space and LF, so they read the same before and after the step. Columns and word
    lengths count characters: every byte but UTF-8 continuation bytes (0x80-0xBF).
    """

    #: widths tried by the encoder; narrower or wider "wraps" are not prose
    MIN_WIDTH = 20
    MAX_WIDTH = 1000
    #: an exception costs about two varint bytes, a reflowed break saves 2-3 bits of model code
    EXCEPTION_COST = 8
    #: fewer implied breaks than this are not worth the side data or a changed text
    MIN_BREAKS = 4
    #: share of the LFs between two words that the wrap must imply: wrapped prose scores 0.96
    #: (alice29.txt) and 0.99 (lcet10.txt); verse, plays, code and logs score 0.30 or less
    MIN_SHARE = 0.8
    #: most widths that may imply the same breaks: a real greedy fill has some line that the
    #: next word missed by a byte or two, so its width is pinned down (alice29.txt: one width);
    #: lines of one length with one kind of first word (log lines, tables) fit a wide range
    MAX_TIES = 4

    @staticmethod
    def _separators(
        text: bytes,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Positions of spaces and LFs, whether each is an LF, its column, the length of the
        word after it, and the character count before every byte offset."""
        a = np.frombuffer(text, dtype=np.uint8)
        chars = np.zeros(a.size + 1, dtype=np.int64)
        np.cumsum((a < 0x80) | (a >= 0xC0), out=chars[1:])
        pos = np.flatnonzero((a == 32) | (a == 10))
        is_lf = a[pos] == 10
        word = chars[np.append(pos[1:], a.size)] - chars[pos + 1]
        lf_at = np.where(is_lf, pos, -1)
        last_lf = np.maximum.accumulate(lf_at) if pos.size else lf_at
        prev_lf = np.concatenate(([-1], last_lf[:-1]))
        col = chars[pos] - chars[prev_lf + 1]
        return pos, is_lf, col, word, chars

    @classmethod
    def choose_width(cls, text: bytes) -> tuple[int, int, int]:
        """(width, implied breaks, exceptions) of the best greedy wrap of `text`; width 0 when
        reflowing does not pay."""
        _, is_lf, col, word, _ = cls._separators(text)
        wrap_at = np.minimum(col + 1 + word, cls.MAX_WIDTH + 1)
        live = (col > 0) & (word > 0)
        # breaks[W] / spaces[W]: LFs / spaces with col + 1 + word > W
        size = cls.MAX_WIDTH + 2
        breaks = np.cumsum(np.bincount(wrap_at[live & is_lf], minlength=size)[::-1])[::-1]
        spaces = np.cumsum(np.bincount(wrap_at[live & ~is_lf], minlength=size)[::-1])[::-1]
        breaks, spaces = breaks[1:], spaces[1:]
        score = breaks - cls.EXCEPTION_COST * spaces
        score[breaks < max(cls.MIN_BREAKS, cls.MIN_SHARE * breaks[0])] = -1
        score[: cls.MIN_WIDTH] = -1
        score[0] = 0  # width 0 means off
        width = int(np.argmax(score))
        same = (breaks[width:] == breaks[width]) & (spaces[width:] == spaces[width])
        if width == 0 or same[: cls.MAX_TIES + 1].all():
            return 0, 0, 0
        return width, int(breaks[width]), int(spaces[width])

    @classmethod
    def encode(cls, text: bytes, out: bytearray) -> bytes:
        """Append the side data to `out` and return `text` with the implied breaks as spaces."""
        width = cls.choose_width(text)[0]
        put_varint(out, width)
        if not width:
            return text
        pos, is_lf, col, word, _ = cls._separators(text)
        implied = (col > 0) & (word > 0) & (col + 1 + word > width)
        put_varint(out, int((implied & ~is_lf).sum()))
        prev = 0
        for p in pos[implied & ~is_lf].tolist():
            put_varint(out, p - prev)
            prev = p
        flat = bytearray(text)
        for p in pos[implied & is_lf].tolist():
            flat[p] = 32
        return bytes(flat)

    @classmethod
    def decode(cls, text: bytes, reader: Reader) -> bytes:
        """Undo `encode` given the side data at `reader`."""
        width = reader.varint(cls.MAX_WIDTH)
        if not width:
            return text
        n = len(text)
        count = reader.varint(n)
        keep: set[int] = set()
        p = 0
        for _ in range(count):
            p += reader.varint(n)
            if p >= n or text[p] != 32 or p in keep:
                raise CorruptDataError("llm payload: bad reflow exception list")
            keep.add(p)
        pos, is_lf, _, word, chars = cls._separators(text)
        out = bytearray(text)
        line_start = 0  # characters before the current line
        for p, lf, w, c in zip(pos.tolist(), is_lf.tolist(), word.tolist(), chars[pos].tolist()):
            if lf:
                line_start = c + 1
                continue
            col = c - line_start
            if col > 0 and w > 0 and col + 1 + w > width and p not in keep:
                out[p] = 10
                line_start = c + 1
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


def prepare(data: bytes, escapes: Escapes, *, crlf: bool, reflow: bool) -> tuple[bytes, bytes]:
    """(side data, text for the model) of one chunk: line ends, then reflow (when on), then
    escapes; the side data lists them in the order `restore` undoes them."""
    side_le = bytearray()
    text = LineEnds.encode(data, side_le) if crlf else data
    if not crlf:
        put_varint(side_le, 0)
    side_rf = bytearray()
    if reflow:
        text = Reflow.encode(text, side_rf)
    side = bytearray()
    text = escapes.encode(text, side)
    return bytes(side + side_rf + side_le), text


def restore(text: bytes, side: bytes, raw_size: int, *, reflow: bool) -> bytes:
    """A chunk's original bytes from the model's `text` and the front end's `side` data
    (escapes, then reflow when the format has that step, then line ends).

    `CorruptDataError` / `TruncatedError` when they do not fit together or the result is not
    `raw_size` bytes.
    """
    if len(text) > raw_size:
        raise CorruptDataError("llm chunk decodes to more bytes than its size")
    r = Reader(side)
    text = Escapes.decode(text, r, raw_size)
    if reflow:
        text = Reflow.decode(text, r)
    text = LineEnds.decode(text, r)
    if r.pos != len(side):
        raise CorruptDataError("llm payload has unused side data")
    if len(text) != raw_size:
        raise CorruptDataError(f"llm chunk decoded to {len(text)} bytes, the table says {raw_size}")
    return text
