"""Token rules of `fib` payload version 1, frozen as that format defines them.

The current `fib` format has rules of its own in `nacrith.formats.fib`; the definitions here
never change with it, so a version-1 payload decodes the same forever.

- A token is a core plus the whitespace run (space, tab, CR, LF) that follows it.
- Phrases are runs of Fibonacci lengths 2, 3, 5, ..., 144 tokens; a phrase definition stores
  the index of its length in `PHRASE_LENGTHS`.
- A token is stored lower-cased; it takes a case flag when it has letters and no capitals.
  Flag 1 restores it Capitalised, 2 in ALL CAPS.
- The case model's context includes the class of the previous token: the class of the last
  byte of its core (0 letter: ASCII letter or any byte >= 0x80, 1 sentence end `.!?`, 2 digit,
  3 anything else, also for a token with no core), doubled, plus one when its whitespace run
  holds a line feed.
- New words are spelled in one raw LZMA2 stream: each word's bytes, with NUL escaped as 00 01,
  then the terminator 00 00.
"""

from __future__ import annotations

import lzma

__all__ = [
    "PHRASE_LENGTHS",
    "WHITESPACE",
    "apply_case",
    "is_cased",
    "token_class",
    "unpack_spellings",
]

WHITESPACE = b" \t\r\n"
_LONGEST_PHRASE = 144


def _fibonacci_lengths(longest: int) -> tuple[int, ...]:
    """Fibonacci numbers from 2 up to `longest`."""
    lengths = [2, 3]
    while lengths[-1] + lengths[-2] <= longest:
        lengths.append(lengths[-1] + lengths[-2])
    return tuple(lengths)


PHRASE_LENGTHS = _fibonacci_lengths(_LONGEST_PHRASE)

_SENTENCE_ENDS = frozenset(b".!?")


def _byte_class(b: int) -> int:
    single = bytes((b,))
    if b >= 0x80 or single.isalpha():
        return 0
    if b in _SENTENCE_ENDS:
        return 1
    return 2 if single.isdigit() else 3


_CLASS_OF_BYTE = bytes(_byte_class(b) for b in range(256))
_NO_CORE = 3


def token_class(token: bytes) -> int:
    """The case model's class of `token` (0..7, see the module docstring)."""
    core = token.rstrip(WHITESPACE)
    byte_class = _CLASS_OF_BYTE[core[-1]] if core else _NO_CORE
    has_line_feed = b"\n" in token[len(core) :]
    return 2 * byte_class + int(has_line_feed)


def is_cased(token: bytes) -> bool:
    """Whether a stored token takes a case flag."""
    return token.islower()


_RESTORE_CASE = {1: bytes.capitalize, 2: bytes.upper}


def apply_case(token: bytes, flag: int) -> bytes:
    """`token` with case flag `flag` applied (0 leaves it as it is)."""
    restore = _RESTORE_CASE.get(flag)
    return token if restore is None else restore(token)


#: the decoder's LZMA2 settings (the dictionary of preset 9 covers every encoder's)
_SPELLING_FILTERS = (
    {"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "lc": 3, "pb": 0},
)
_TERMINATOR = b"\0\0"


def unpack_spellings(packed: bytes, limit: int) -> list[bytes]:
    """The spelled words of a version-1 spelling stream, reading at most `limit` bytes of text;
    `ValueError` when the stream is damaged."""
    if not packed:
        return []
    dec = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=list(_SPELLING_FILTERS))
    try:
        body = dec.decompress(packed, max_length=limit + 1)
    except lzma.LZMAError as exc:
        raise ValueError(f"spelling stream: {exc}") from exc
    if len(body) > limit or not dec.eof:
        raise ValueError("spelling stream is truncated or longer than the chunk")
    if not body.endswith(_TERMINATOR):
        raise ValueError("spelling stream does not end with a terminator")
    return [word.replace(b"\0\1", b"\0") for word in body[: -len(_TERMINATOR)].split(_TERMINATOR)]
