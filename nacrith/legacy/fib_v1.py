"""Decoder of `fib` payload version 1 (frozen; new payloads are version 2, see `fib`).

Payload after the mode byte (1)::

    params    3 bytes  ModelParams (escape weight numerator/denominator, order-0 schedule)
    n_tokens  varint   tokens in the chunk (each event yields at least one)
    n_spell   varint   byte length of the spelling stream
    spell     bytes    LZMA2 raw stream of new words (see `fib_tokens.unpack_spellings`)
    coded     rest     range coder output, u32 words: events, then case flags
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nacrith.errors import CorruptDataError, TruncatedError
from nacrith.formats.fib.framing import get_varint
from nacrith.formats.fib.phrases import FIB_LENGTHS
from nacrith.formats.fib.tokens import WS, apply_case, is_cased, token_class
from nacrith.formats.fib.tokens import unpack_spellings as unpack_spellings_v1
from nacrith.legacy.fib_v1_models import CaseCoder, EventCoder, ModelParams

__all__ = ["decode_v1"]


def _decode_case(
    tok_ids: list[int], cased_v: list[bool], cls_v: list[int], case: CaseCoder, dec: Any
) -> list[int]:
    """The flag of every token (0 for tokens that take none)."""
    flags = [0] * len(tok_ids)
    last: dict[int, int] = {}
    prev_flag = 3
    prev_cls = 7
    for i, t in enumerate(tok_ids):
        if cased_v[t]:
            flag = case.decode_one(dec, (prev_flag * 8 + prev_cls) * 4 + last.get(t, 3))
            flags[i] = flag
            last[t] = flag
            prev_flag = flag
        prev_cls = cls_v[t]
    return flags


def decode_v1(payload: bytes, raw_size: int) -> bytes:
    """Decode a version-1 payload (mode byte included) into `raw_size` bytes (or fewer/more,
    which the caller checks)."""
    if len(payload) < 4:
        raise TruncatedError("fib payload too short")
    params = ModelParams.from_bytes(payload[1:4])
    n_tokens, pos = get_varint(payload, 4)
    if n_tokens > raw_size or (n_tokens == 0) != (raw_size == 0):
        raise CorruptDataError(f"fib payload declares {n_tokens} tokens for {raw_size} bytes")
    n_spell, pos = get_varint(payload, pos)
    if pos + n_spell > len(payload):
        raise TruncatedError("fib spelling stream is cut short")
    spellings = unpack_spellings_v1(payload[pos : pos + n_spell], 6 * raw_size + 16)
    pos += n_spell
    rest = payload[pos:]
    if len(rest) % 4:
        raise CorruptDataError("fib coded stream is not a whole number of words")
    coded = np.frombuffer(rest, dtype="<u4").astype(np.uint32)
    if len(coded) == 0 and n_tokens:
        raise TruncatedError("fib coded stream is empty")
    ec = EventCoder(params, coded)
    id_tokens: list[list[int]] = []  # event id -> word ids (a word: itself)
    word_bytes: list[bytes] = []  # event id -> spelling (b"" for phrases)
    cased_v: list[bool] = []
    cls_v: list[int] = []
    tok_ids: list[int] = []
    new_word = EventCoder.NEW_WORD

    ws_runs: list[bytes] = []
    n_spelled = 0

    def next_spelling() -> bytes:
        nonlocal n_spelled
        if n_spelled >= len(spellings):
            raise CorruptDataError("fib payload uses more spellings than it holds")
        n_spelled += 1
        return spellings[n_spelled - 1]

    def add_word() -> int:
        base, w = ec.decode_spelling()
        if base >= 0:
            core = word_bytes[base].rstrip(WS)
            if not word_bytes[base]:
                raise CorruptDataError("fib word refers to a phrase as its core")
        else:
            core = next_spelling()
        if w < 0:
            ws_runs.append(next_spelling())
        ws = ws_runs[w]
        word = core + ws
        n = ec.commit_new_word()
        if n != len(id_tokens):
            raise CorruptDataError("fib word ids out of step")
        id_tokens.append([n])
        word_bytes.append(word)
        cased_v.append(is_cased(word))
        cls_v.append(token_class(word))
        return n

    while len(tok_ids) < n_tokens:
        e = ec.decode()
        if e >= 0:
            tok_ids.extend(id_tokens[e])
        elif e == new_word:
            tok_ids.append(add_word())
        else:
            level = ec.decode_level()
            if level >= len(FIB_LENGTHS):
                raise CorruptDataError(f"fib phrase level {level} out of range")
            phrase: list[int] = []
            for _ in range(FIB_LENGTHS[level]):
                e = ec.decode()
                if e == new_word:
                    phrase.append(add_word())
                elif e < 0 or len(id_tokens[e]) != 1:
                    raise CorruptDataError("fib phrase definition holds a phrase")
                else:
                    phrase.append(e)
            if ec.end_phrase(len(phrase)) != len(id_tokens):
                raise CorruptDataError("fib phrase ids out of step")
            id_tokens.append(phrase)
            word_bytes.append(b"")
            cased_v.append(False)
            cls_v.append(3)
            tok_ids.extend(phrase)
    if len(tok_ids) != n_tokens:
        raise CorruptDataError(f"fib events give {len(tok_ids)} tokens, expected {n_tokens}")
    flags = _decode_case(tok_ids, cased_v, cls_v, CaseCoder(), ec.dec)
    out = [word_bytes[t] for t in tok_ids]
    for i in np.flatnonzero(flags).tolist():
        out[i] = apply_case(out[i], flags[i])
    return b"".join(out)
