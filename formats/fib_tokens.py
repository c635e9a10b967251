"""Tokens of the `fib` codec: word tokens, the case split, and the spelling stream.

A token is a core plus the whitespace run (space, tab, CR, LF) that follows it. A core is a run
of letters (ASCII letters and bytes >= 0x80, so UTF-8 words stay whole and invalid UTF-8 is just
more bytes), a run of digits, or one other byte. Whitespace at the very start of the input is a
token with no core. Joining the tokens gives the input back, for any bytes.

Case is split off: a token is stored lower-cased with a flag 1 (Capitalised) or 2 (ALL CAPS) when
that reproduces it; otherwise it is stored as it is, flag 0.
"""

from __future__ import annotations

import lzma
import re

__all__ = [
    "CASE_AS_IS",
    "CASE_CAPITAL",
    "CASE_UPPER",
    "apply_case",
    "is_cased",
    "pack_spellings",
    "split_case",
    "tokenize",
    "unpack_spellings",
]

_TOKEN = re.compile(
    rb"[A-Za-z\x80-\xff]+[ \t\r\n]*|[0-9]+[ \t\r\n]*|[^ \t\r\n][ \t\r\n]*|[ \t\r\n]+"
)
CASE_AS_IS = 0
CASE_CAPITAL = 1
CASE_UPPER = 2

_LZMA_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "lc": 3, "pb": 0}]


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


def pack_spellings(words: list[bytes]) -> bytes:
    """The spellings of new words, in order, as one LZMA2 (raw) stream.

    A word is terminated by 00 00; a NUL inside a word (only ever its first byte) is 00 01.
    """
    body = b"".join(w.replace(b"\0", b"\0\1") + b"\0\0" for w in words)
    return lzma.compress(body, format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS) if body else b""


def unpack_spellings(packed: bytes, limit: int) -> list[bytes]:
    """Inverse of `pack_spellings`, reading at most `limit` bytes of text; `ValueError` if bad."""
    if not packed:
        return []
    dec = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS)
    try:
        body = dec.decompress(packed, max_length=limit + 1)
    except lzma.LZMAError as exc:
        raise ValueError(f"spelling stream: {exc}") from exc
    if len(body) > limit or not dec.eof:
        raise ValueError("spelling stream is truncated or longer than the chunk")
    if not body.endswith(b"\0\0"):
        raise ValueError("spelling stream does not end with a terminator")
    words = body[:-2].split(b"\0\0")
    return [w.replace(b"\0\1", b"\0") for w in words]
