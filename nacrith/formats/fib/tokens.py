"""Tokens of the `fib` codec: word tokens, the case split, and the spelling stream.

A token is a core plus the whitespace run (space, tab, CR, LF) that follows it. A core is a run
of letters (ASCII letters and bytes >= 0x80, so UTF-8 words stay whole and invalid UTF-8 is just
more bytes), a run of digits, or one other byte. Whitespace at the very start of the input is a
token with no core. Joining the tokens gives the input back, for any bytes.

Case is split off: a token is stored lower-cased with a flag 1 (Capitalised) or 2 (ALL CAPS) when
that reproduces it; otherwise it is stored as it is, flag 0.

New words are spelled in a side stream (`pack_spelling`, `SpellingReader`) that ends each core
with LF and each whitespace run with NUL (a core holds no whitespace, a run no NUL) and packs them
with LZMA2, bzip2 or a small PPM model. (Payload version 1 spelled them differently; its frozen
reader is `nacrith.legacy.fib_v1_tokens`.)
"""

from __future__ import annotations

import bz2
import itertools
import lzma
import re
from typing import Any

import numpy as np

from nacrith.errors import TruncatedError
from nacrith.formats.fib.framing import FIB_PAYLOAD
from nacrith.formats.fib.spell import PPM_LIMIT, ppm_decode, ppm_encode
from nacrith.formats.varint import get_varint, put_varint

__all__ = [
    "CASE_AS_IS",
    "CASE_CAPITAL",
    "CASE_UPPER",
    "WS",
    "SpellingReader",
    "apply_case",
    "is_cased",
    "pack_spelling",
    "split_case",
    "token_class",
    "token_ids",
    "tokenize",
]

_TOKEN = re.compile(
    rb"[A-Za-z\x80-\xff]+[ \t\r\n]*|[0-9]+[ \t\r\n]*|[^ \t\r\n][ \t\r\n]*|[ \t\r\n]+"
)
CASE_AS_IS = 0
CASE_CAPITAL = 1
CASE_UPPER = 2

_LZMA_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "lc": 3, "pb": 0}]


def _encoder_filters(size: int) -> list[dict[str, Any]]:
    """`_LZMA_FILTERS` with a dictionary just big enough for `size` bytes: the same stream
    (every match lies inside the input anyway), without allocating and clearing the 64 MiB
    dictionary of preset 9 for each small chunk (about 80 ms a call)."""
    return [dict(_LZMA_FILTERS[0], dict_size=max(4096, min(size, 64 << 20)))]


WS = b" \t\r\n"

# token class by the last byte of its core: 0 letter, 1 sentence end, 2 digit, 3 other
_CLASS = bytearray([3] * 256)
for _b in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" + bytes(range(128, 256)):
    _CLASS[_b] = 0
for _b in b".!?":
    _CLASS[_b] = 1
for _b in b"0123456789":
    _CLASS[_b] = 2


def token_class(tok: bytes) -> int:
    """0..7: the class of the token's core (letter, sentence end, digit, other) times two, plus
    one when its whitespace holds a line break (context of the case model)."""
    core = tok.rstrip(WS)
    cls = _CLASS[core[-1]] if core else 3
    return cls * 2 + (1 if b"\n" in tok[len(core) :] else 0)


def tokenize(data: bytes) -> list[bytes]:
    """Split `data` into tokens whose concatenation is `data`."""
    return _TOKEN.findall(data)


def split_case(tokens: list[bytes]) -> tuple[list[bytes], list[int]]:
    """Lower-case each token where a case flag can restore it; returns (tokens, flags)."""
    memo: dict[bytes, tuple[bytes, int]] = {}
    out: list[bytes] = []
    flags: list[int] = []
    for t in tokens:
        hit = memo.get(t)
        if hit is None:
            hit = memo[t] = _split_one(t)
        out.append(hit[0])
        flags.append(hit[1])
    return out, flags


def token_ids(data: bytes) -> tuple[np.ndarray, np.ndarray, list[bytes]]:
    """`split_case(tokenize(data))` as ids: (id of each token, int64; case flag of each token,
    int8; the distinct lower-cased tokens in order of first appearance, so ids count from 0)."""
    tokens = tokenize(data)
    if not tokens:
        return np.zeros(0, np.int64), np.zeros(0, np.int8), []
    first: dict[bytes, int] = {}
    # each token's first position (C-level loop), then dense raw ids in order of appearance
    pos = np.fromiter(map(first.setdefault, tokens, itertools.count()), np.int64, len(tokens))
    del tokens
    _, raw_ids = np.unique(pos, return_inverse=True)
    index: dict[bytes, int] = {}
    lower_of = np.empty(len(first), np.int64)
    flag_of = np.empty(len(first), np.int8)
    for r, t in enumerate(first):  # distinct raw tokens, in order of first appearance
        lo, flag = _split_one(t)
        lower_of[r] = index.setdefault(lo, len(index))
        flag_of[r] = flag
    return lower_of[raw_ids], flag_of[raw_ids], list(index)


def _split_one(t: bytes) -> tuple[bytes, int]:
    lo = t.lower()
    if t == lo:
        return t, CASE_AS_IS
    if t == lo.capitalize():
        return lo, CASE_CAPITAL
    if t == lo.upper():
        return lo, CASE_UPPER
    return t, CASE_AS_IS


def is_cased(token: bytes) -> bool:
    """Whether a stored (lower-cased) token takes a case flag: it is lower case and has letters."""
    return token.islower()


def apply_case(token: bytes, flag: int) -> bytes:
    """Inverse of `split_case` for one token."""
    if flag == CASE_CAPITAL:
        return token.capitalize()
    if flag == CASE_UPPER:
        return token.upper()
    return token


def pack_spelling(items: list[bytes]) -> bytes:
    """Cores and whitespace runs, in order, already terminated (core + LF, run + NUL),
    compressed by LZMA2 (raw), bzip2 or, for small streams, the PPM model of `formats.fib.spell`
    (size varint, then range coder words), whichever is smallest, after a method byte (0, 1,
    2); empty when there is nothing to spell."""
    body = b"".join(items)
    if not body:
        return b""
    filters = _encoder_filters(len(body))
    options = [b"\0" + lzma.compress(body, format=lzma.FORMAT_RAW, filters=filters)]
    options.append(b"\1" + bz2.compress(body, 9))
    if len(body) <= PPM_LIMIT:
        head = bytearray(b"\2")
        put_varint(head, len(body))
        options.append(bytes(head) + ppm_encode(body).astype("<u4").tobytes())
    return min(options, key=len)


class SpellingReader:
    """Reads cores and whitespace runs back from a `pack_spelling` stream."""

    def __init__(self, packed: bytes, limit: int) -> None:
        """`limit` bounds the text read; `ValueError` if the stream is bad."""
        self.body = b""
        self.pos = 0
        if not packed:
            return
        dec: Any
        if packed[0] == 0:
            dec = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS)
        elif packed[0] == 1:
            dec = bz2.BZ2Decompressor()
        elif packed[0] == 2:
            size, pos = get_varint(packed, 1, FIB_PAYLOAD, TruncatedError)
            if size > min(limit, PPM_LIMIT) or (len(packed) - pos) % 4:
                raise ValueError("bad PPM spelling stream")
            self.body = ppm_decode(np.frombuffer(packed[pos:], "<u4").astype(np.uint32), size)
            return
        else:
            raise ValueError(f"unknown spelling method {packed[0]}")
        try:
            self.body = dec.decompress(packed[1:], max_length=limit + 1)
        except (lzma.LZMAError, OSError, EOFError) as exc:
            raise ValueError(f"spelling stream: {exc}") from exc
        if len(self.body) > limit or not dec.eof:
            raise ValueError("spelling stream is truncated or longer than the chunk")

    def _read(self, end: bytes) -> bytes:
        pos = self.pos
        stop = self.body.find(end, pos)
        if stop < 0:
            raise ValueError("spelling stream ends inside a word")
        self.pos = stop + 1
        return self.body[pos:stop]

    def core(self) -> bytes:
        """The next core."""
        return self._read(b"\n")

    def ws(self) -> bytes:
        """The next whitespace run."""
        return self._read(b"\0")
