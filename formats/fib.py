"""The `fib` codec: Fibonacci-hierarchy phrases, word-context models, no LLM.

Pipeline (encoder): tokens (`fib_tokens`) -> case split -> token ids -> Fibonacci phrase parse
(`fib_phrases`) -> events (word ids, phrase ids, first occurrences) coded by the adaptive
context models of `nacrith.models.fib_models` with constriction's range coder -> case flags
coded in the same stream. Spellings of new words go to an LZMA2 side stream.

Payload (all integers little-endian; varints are LEB128)::

    mode      u8       0 = stored (the rest is the chunk), 1 = fib version 1
    params    3 bytes  ModelParams (escape weight numerator/denominator, order-0 schedule)
    n_tokens  varint   tokens in the chunk (each event yields at least one)
    n_spell   varint   byte length of the spelling stream
    spell     bytes    LZMA2 raw stream of new words (see `fib_tokens.pack_spellings`)
    coded     rest     range coder output, u32 words: events, then case flags

The decoder needs nothing else; the chunk's raw size comes from the container and bounds every
count it reads.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping
from typing import Any

import numpy as np
from nacrith.formats.codec import Codec, register_codec
from nacrith.formats.fib_phrases import FIB_LENGTHS, fib_hashes, parse
from nacrith.formats.fib_tokens import (
    apply_case,
    is_cased,
    pack_spellings,
    split_case,
    tokenize,
    unpack_spellings,
)
from nacrith.models.fib_models import CaseCoder, EventCoder, ModelParams

from nacrith.errors import CorruptDataError, FormatError, NacrithError, TruncatedError

__all__ = ["FibCodec"]

MODE_STORED = 0
MODE_FIB1 = 1
_LEVEL = {length: k for k, length in enumerate(FIB_LENGTHS)}

# token class by the last byte of its core: 0 letter, 1 sentence end, 2 digit, 3 other
_CLASS = bytearray([3] * 256)
for _b in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" + bytes(range(128, 256)):
    _CLASS[_b] = 0
for _b in b".!?":
    _CLASS[_b] = 1
for _b in b"0123456789":
    _CLASS[_b] = 2
_WS = b" \t\r\n"


def _put_varint(out: bytearray, value: int) -> None:
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _get_varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise TruncatedError("fib payload ends inside a number")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise CorruptDataError("fib payload holds an over-long number")


def _token_class(tok: bytes) -> int:
    core = tok.rstrip(_WS)
    cls = _CLASS[core[-1]] if core else 3
    return cls * 2 + (1 if b"\n" in tok[len(core) :] else 0)


class _GcPaused:
    """Pause the cyclic GC: the models create many small objects and no cycles."""

    def __enter__(self) -> None:
        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.was:
            gc.enable()


def _case_contexts(ids: np.ndarray, flags: np.ndarray, cased_v: np.ndarray, cls_v: np.ndarray):
    """Encoder side: the case context of every cased token, vectorised (see `_decode_case`)."""
    pos = np.flatnonzero(cased_v[ids])
    prev_cls = np.full(len(ids), 7, dtype=np.int64)
    prev_cls[1:] = cls_v[ids[:-1]]
    f = flags[pos]
    prev_flag = np.full(len(pos), 3, dtype=np.int64)
    prev_flag[1:] = f[:-1]
    tid = ids[pos]
    order = np.argsort(tid, kind="stable")
    last = np.full(len(pos), 3, dtype=np.int64)
    same = tid[order][1:] == tid[order][:-1]
    last[order[1:][same]] = f[order[:-1][same]]
    ctx = (prev_flag * 8 + prev_cls[pos]) * 4 + last
    return ctx.tolist(), f.tolist()


def _decode_case(
    tok_ids: list[int], cased_v: list[bool], cls_v: list[int], case: CaseCoder, dec: Any
) -> list[int]:
    """Decoder side: the flag of every token (0 for tokens that take none)."""
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


@register_codec
class FibCodec(Codec):
    """Word/phrase front end with adaptive word-context models (the fast, LLM-free mode).

    Args:
        esc_num, esc_den: escape weight of order-1/2 contexts, esc_num/esc_den per symbol.
        o0_step: the order-0 table is rebuilt every 1/o0_step of the events seen.
        phrase_bias: encoder-only; estimated bits a phrase costs beyond its frequency.
    """

    codec_id = "fib"
    accepts_binary = False

    def __init__(
        self, esc_num: int = 3, esc_den: int = 2, o0_step: int = 16, phrase_bias: float = 4.0
    ) -> None:
        for name, value in (("esc_num", esc_num), ("esc_den", esc_den), ("o0_step", o0_step)):
            if not isinstance(value, int) or not (0 if name == "esc_num" else 1) <= value <= 255:
                raise ValueError(f"{name} must be an integer in 0..255 (1..255), got {value!r}")
        self.model_params = ModelParams(esc_num, esc_den, o0_step)
        self.phrase_bias = float(phrase_bias)

    def params(self) -> dict[str, Any]:
        """Encoder settings (the decoder reads its settings from each payload)."""
        p = self.model_params
        return {
            "esc_num": p.esc_num,
            "esc_den": p.esc_den,
            "o0_step": p.o0_step,
            "phrase_bias": self.phrase_bias,
        }

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> FibCodec:
        """Rebuild from header params; `FormatError` if they are bad."""
        known = {"esc_num", "esc_den", "o0_step", "phrase_bias"}
        if set(params) - known:
            raise FormatError(f"unknown fib parameters {sorted(set(params) - known)}")
        try:
            return cls(**dict(params))
        except (TypeError, ValueError) as exc:
            raise FormatError(f"bad fib parameters {dict(params)!r}: {exc}") from exc

    # -- encoder ----------------------------------------------------------------------------------

    def encode(self, data: bytes) -> bytes:
        """Code one chunk; falls back to storing it when that is smaller."""
        data = bytes(data)
        with _GcPaused():
            payload = self._encode_fib(data) if data else b""
        if not payload or len(payload) > len(data):
            return bytes([MODE_STORED]) + data
        return payload

    def _encode_fib(self, data: bytes) -> bytes:
        raw_tokens = tokenize(data)
        tokens, flags = split_case(raw_tokens)
        index: dict[bytes, int] = {}
        ids_list = [index.setdefault(t, len(index)) for t in tokens]
        ids = np.array(ids_list, dtype=np.int64)
        hashes = fib_hashes(ids)
        phrases = parse(ids, hashes, self.phrase_bias)

        uses: dict[tuple[int, int], int] = {}
        for start, length in phrases:
            key = (length, int(hashes[length][start]))
            uses[key] = uses.get(key, 0) + 1

        ec = EventCoder(self.model_params)
        event_of_token: dict[int, int] = {}
        spellings: list[bytes] = []
        defined: dict[tuple[int, int], tuple[int, list[int]]] = {}

        ws_index: dict[bytes, int] = {}
        core_event: dict[bytes, int] = {}

        def words(lo: int, hi: int) -> None:
            for t in ids_list[lo:hi]:
                e = event_of_token.get(t)
                if e is not None:
                    ec.encode_id(e)
                    continue
                tok = tokens_by_id[t]
                core = tok.rstrip(_WS)
                ws = tok[len(core) :]
                base = core_event.get(core, -1)
                if base < 0:
                    spellings.append(core)
                w = ws_index.get(ws, -1)
                if w < 0:
                    ws_index[ws] = len(ws_index)
                    spellings.append(ws)
                e = event_of_token[t] = ec.encode_new_word(base, w)
                if base < 0:
                    core_event[core] = e

        tokens_by_id = list(index)
        pos = 0
        for start, length in phrases:
            words(pos, start)
            pos = start + length
            key = (length, int(hashes[length][start]))
            if uses[key] < 2:
                words(start, pos)
                continue
            entry = defined.get(key)
            if entry is None:
                ec.encode_new_phrase(_LEVEL[length])
                words(start, pos)
                defined[key] = (ec.end_phrase(length), ids_list[start:pos])
            elif entry[1] == ids_list[start:pos]:
                ec.encode_id(entry[0])
            else:  # a hash collision: spell the tokens out
                words(start, pos)
        words(pos, len(ids_list))

        assert ec.enc is not None
        cased_v = np.array([is_cased(t) for t in tokens_by_id], dtype=bool)
        cls_v = np.array([_token_class(t) for t in tokens_by_id], dtype=np.int64)
        ctxs, fl = _case_contexts(ids, np.array(flags, dtype=np.int64), cased_v, cls_v)
        CaseCoder().encode(ec.enc, ctxs, fl)
        coded = ec.finish()

        out = bytearray([MODE_FIB1])
        out += self.model_params.as_bytes()
        _put_varint(out, len(tokens))
        spell = pack_spellings(spellings)
        _put_varint(out, len(spell))
        out += spell
        out += coded.astype("<u4").tobytes()
        return bytes(out)

    # -- decoder ----------------------------------------------------------------------------------

    def decode(self, payload: bytes, raw_size: int) -> bytes:
        """Decode one chunk payload into exactly `raw_size` bytes."""
        payload = bytes(payload)
        if not payload:
            if raw_size == 0:
                return b""
            raise TruncatedError("empty fib payload for a non-empty chunk")
        mode = payload[0]
        if mode == MODE_STORED:
            if len(payload) - 1 != raw_size:
                raise CorruptDataError(
                    f"stored fib chunk holds {len(payload) - 1} bytes, expected {raw_size}"
                )
            return payload[1:]
        if mode != MODE_FIB1:
            raise FormatError(f"unknown fib payload mode {mode}")
        try:
            with _GcPaused():
                out = self._decode_fib(payload, raw_size)
        except NacrithError:
            raise
        except Exception as exc:
            raise CorruptDataError(
                f"fib payload does not decode: {type(exc).__name__}: {exc}"
            ) from exc
        except BaseException as exc:
            # constriction reports impossible states as a pyo3 PanicException (a BaseException)
            if type(exc).__name__ == "PanicException":
                raise CorruptDataError(f"fib payload does not decode: {exc}") from exc
            raise
        if len(out) != raw_size:
            raise CorruptDataError(f"fib chunk decoded to {len(out)} bytes, expected {raw_size}")
        return out

    def _decode_fib(self, payload: bytes, raw_size: int) -> bytes:
        if len(payload) < 4:
            raise TruncatedError("fib payload too short")
        params = ModelParams.from_bytes(payload[1:4])
        n_tokens, pos = _get_varint(payload, 4)
        if n_tokens > raw_size or (n_tokens == 0) != (raw_size == 0):
            raise CorruptDataError(f"fib payload declares {n_tokens} tokens for {raw_size} bytes")
        n_spell, pos = _get_varint(payload, pos)
        if pos + n_spell > len(payload):
            raise TruncatedError("fib spelling stream is cut short")
        spellings = unpack_spellings(payload[pos : pos + n_spell], 6 * raw_size + 16)
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
                core = word_bytes[base].rstrip(_WS)
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
            cls_v.append(_token_class(word))
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
