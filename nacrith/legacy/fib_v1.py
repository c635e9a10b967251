"""Decoder of `fib` payload version 1 (frozen; new payloads are version 2, see `codecs.fib`).

Payload after the mode byte (1)::

    params    3 bytes  V1ModelParams (escape weight numerator/denominator, order-0 schedule)
    n_tokens  varint   tokens in the chunk (each event yields at least one)
    n_spell   varint   byte length of the spelling stream
    spell     bytes    LZMA2 raw stream of new words (see `fib_v1_tokens.unpack_spellings`)
    coded     rest     range coder output, u32 words: events, then case flags

Everything the decoder relies on is defined in this package (`fib_v1_models`, `fib_v1_tokens`),
so no change to the current format can alter how a version-1 payload decodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nacrith.errors import CorruptDataError, TruncatedError
from nacrith.formats.varint import get_varint
from nacrith.legacy.fib_v1_models import V1CaseCoder, V1EventDecoder, V1ModelParams
from nacrith.legacy.fib_v1_tokens import (
    PHRASE_LENGTHS,
    WHITESPACE,
    apply_case,
    is_cased,
    token_class,
    unpack_spellings,
)

__all__ = ["decode_v1"]

_NAME = "fib payload"
#: class of a phrase id in the case model's context
_PHRASE_CLASS = 3


@dataclass
class _Header:
    """The fields of a version-1 payload before its coded events."""

    params: V1ModelParams
    n_tokens: int
    spellings: list[bytes]
    coded: np.ndarray


def _read_header(payload: bytes, raw_size: int) -> _Header:
    if len(payload) < 4:
        raise TruncatedError("fib payload too short")
    params = V1ModelParams.from_bytes(payload[1:4])
    n_tokens, pos = get_varint(payload, 4, _NAME, TruncatedError)
    if n_tokens > raw_size or (n_tokens == 0) != (raw_size == 0):
        raise CorruptDataError(f"fib payload declares {n_tokens} tokens for {raw_size} bytes")
    n_spell, pos = get_varint(payload, pos, _NAME, TruncatedError)
    if pos + n_spell > len(payload):
        raise TruncatedError("fib spelling stream is cut short")
    spellings = unpack_spellings(payload[pos : pos + n_spell], 6 * raw_size + 16)
    rest = payload[pos + n_spell :]
    if len(rest) % 4:
        raise CorruptDataError("fib coded stream is not a whole number of words")
    coded = np.frombuffer(rest, dtype="<u4").astype(np.uint32)
    if len(coded) == 0 and n_tokens:
        raise TruncatedError("fib coded stream is empty")
    return _Header(params, n_tokens, spellings, coded)


class _Vocabulary:
    """The ids defined so far: a word's spelling or a phrase's words, as the events define them."""

    def __init__(self, events: V1EventDecoder, spellings: list[bytes]) -> None:
        self.events = events
        self.spellings = spellings
        self.n_spelled = 0
        self.ws_runs: list[bytes] = []
        self.id_tokens: list[list[int]] = []  # id -> word ids (a word: itself)
        self.word_bytes: list[bytes] = []  # id -> spelling (b"" for phrases)
        self.cased: list[bool] = []
        self.classes: list[int] = []

    def _next_spelling(self) -> bytes:
        if self.n_spelled >= len(self.spellings):
            raise CorruptDataError("fib payload uses more spellings than it holds")
        self.n_spelled += 1
        return self.spellings[self.n_spelled - 1]

    def add_word(self) -> int:
        """Decode the definition of a new word (after NEW_WORD); its id."""
        base, w = self.events.decode_spelling()
        if base >= 0:
            core = self.word_bytes[base].rstrip(WHITESPACE)
            if not self.word_bytes[base]:
                raise CorruptDataError("fib word refers to a phrase as its core")
        else:
            core = self._next_spelling()
        if w < 0:
            self.ws_runs.append(self._next_spelling())
        word = core + self.ws_runs[w]
        n = self.events.commit_new_word()
        if n != len(self.id_tokens):
            raise CorruptDataError("fib word ids out of step")
        self.id_tokens.append([n])
        self.word_bytes.append(word)
        self.cased.append(is_cased(word))
        self.classes.append(token_class(word))
        return n

    def add_phrase(self) -> list[int]:
        """Decode the definition of a new phrase (after NEW_PHRASE); its word ids."""
        events = self.events
        level = events.decode_level()
        if level >= len(PHRASE_LENGTHS):
            raise CorruptDataError(f"fib phrase level {level} out of range")
        phrase: list[int] = []
        for _ in range(PHRASE_LENGTHS[level]):
            e = events.decode()
            if e == V1EventDecoder.NEW_WORD:
                phrase.append(self.add_word())
            elif e < 0 or len(self.id_tokens[e]) != 1:
                raise CorruptDataError("fib phrase definition holds a phrase")
            else:
                phrase.append(e)
        if events.end_phrase() != len(self.id_tokens):
            raise CorruptDataError("fib phrase ids out of step")
        self.id_tokens.append(phrase)
        self.word_bytes.append(b"")
        self.cased.append(False)
        self.classes.append(_PHRASE_CLASS)
        return phrase


def _decode_tokens(events: V1EventDecoder, vocab: _Vocabulary, n_tokens: int) -> list[int]:
    """The word id of every token, from the event stream."""
    tok_ids: list[int] = []
    while len(tok_ids) < n_tokens:
        e = events.decode()
        if e >= 0:
            tok_ids.extend(vocab.id_tokens[e])
        elif e == V1EventDecoder.NEW_WORD:
            tok_ids.append(vocab.add_word())
        else:
            tok_ids.extend(vocab.add_phrase())
    if len(tok_ids) != n_tokens:
        raise CorruptDataError(f"fib events give {len(tok_ids)} tokens, expected {n_tokens}")
    return tok_ids


def _decode_case(tok_ids: list[int], vocab: _Vocabulary, events: V1EventDecoder) -> list[int]:
    """The case flag of every token (0 for tokens that take none), coded after the events."""
    case = V1CaseCoder()
    flags = [0] * len(tok_ids)
    last: dict[int, int] = {}
    prev_flag = 3
    prev_cls = 7
    for i, t in enumerate(tok_ids):
        if vocab.cased[t]:
            flag = case.decode_one(events.dec, (prev_flag * 8 + prev_cls) * 4 + last.get(t, 3))
            flags[i] = flag
            last[t] = flag
            prev_flag = flag
        prev_cls = vocab.classes[t]
    return flags


def decode_v1(payload: bytes, raw_size: int) -> bytes:
    """Decode a version-1 payload (mode byte included) into `raw_size` bytes (or fewer/more,
    which the caller checks)."""
    head = _read_header(payload, raw_size)
    events = V1EventDecoder(head.params, head.coded)
    vocab = _Vocabulary(events, head.spellings)
    tok_ids = _decode_tokens(events, vocab, head.n_tokens)
    flags = _decode_case(tok_ids, vocab, events)
    out = [vocab.word_bytes[t] for t in tok_ids]
    for i in np.flatnonzero(flags).tolist():
        out[i] = apply_case(out[i], flags[i])
    return b"".join(out)
