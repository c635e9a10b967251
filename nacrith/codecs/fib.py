"""The `fib` codec: Fibonacci-hierarchy phrases, word-context models, no LLM.

Pipeline (encoder): tokens (`formats.fib.tokens`) -> case split -> token ids -> Fibonacci
phrase parse (`formats.fib.phrases`) -> events (word ids, phrase ids, first occurrences) coded by
the adaptive context models of `models.fib.events` (order-2/1 word contexts, then recency ranks)
with constriction's range coder, the encoder vectorised in `models.fib.encoder` -> case flags
coded after the events. Spellings of new words go to a side stream (LZMA2, bzip2 or PPM).

Payload version 2 (all integers little-endian; varints are LEB128)::

    mode      u8       0 = stored (the rest is the chunk), 2 = fib version 2
    params    4 bytes  ModelParams (escape weights of orders 2 and 1, their denominator, recency
                       interval)
    n_tokens  varint   tokens in the chunk (each event yields at least one)
    n_spell   varint   byte length of the spelling stream
    spell     bytes    new cores and whitespace runs: method byte (0 LZMA2 raw, 1 bzip2, 2 PPM),
                       data (`formats.fib.tokens.pack_spelling`); empty when nothing is spelled
    streams   A1, A2, B, C: each varint n + n u32 words (range coder output): the context chain
              (small and large contexts), recency-rank buckets, recency-rank offsets
    stream D  rest, u32 words: details of new words and phrases, then the case flags

Mode 1 (version 1, one coded stream) is still decoded by `legacy.fib_v1`. The decoder needs nothing
else; the chunk's raw size comes from the container and bounds every count it reads.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping
from typing import Any

import numpy as np

from nacrith.codecs.base import Codec
from nacrith.coders.range_coder import is_panic
from nacrith.errors import CorruptDataError, FormatError, NacrithError, TruncatedError
from nacrith.formats.fib.framing import FIB_PAYLOAD, get_stream, put_stream
from nacrith.formats.fib.phrases import FIB_LENGTHS, choose_phrases, phrase_keys
from nacrith.formats.fib.tokens import (
    WS,
    SpellingReader,
    apply_case,
    is_cased,
    pack_spelling,
    token_class,
    token_ids,
)
from nacrith.formats.varint import get_varint, put_varint
from nacrith.legacy.fib_v1 import decode_v1
from nacrith.models.fib.encoder import encode_events
from nacrith.models.fib.events import NEW_PHRASE, NEW_WORD, CaseCoder, EventDecoder, ModelParams

__all__ = ["FibCodec"]

MODE_STORED = 0
MODE_FIB1 = 1
MODE_FIB2 = 2
_LEVEL = {length: k for k, length in enumerate(FIB_LENGTHS)}


class _GcPaused:
    """Pause the cyclic GC: the models create many small objects and no cycles."""

    def __enter__(self) -> None:
        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.was:
            gc.enable()


def _case_contexts(
    ids: np.ndarray, flags: np.ndarray, cased_v: np.ndarray, cls_v: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Encoder side: the case context of every cased token, vectorised (see `_decode_case`)."""
    pos = np.flatnonzero(cased_v[ids])
    prev_cls = np.full(len(ids), 7, dtype=np.int64)
    prev_cls[1:] = cls_v[ids[:-1]]
    f = flags[pos].astype(np.int64)
    prev_flag = np.full(len(pos), 3, dtype=np.int64)
    prev_flag[1:] = f[:-1]
    tid = ids[pos]
    order = np.argsort(tid, kind="stable")
    last = np.full(len(pos), 3, dtype=np.int64)
    same = tid[order][1:] == tid[order][:-1]
    last[order[1:][same]] = f[order[:-1][same]]
    ctx = (prev_flag * 8 + prev_cls[pos]) * 4 + last
    return ctx, f


def _decode_case(
    tok: np.ndarray, cased_v: list[bool], cls_v: list[int], case: CaseCoder, dec: Any
) -> tuple[np.ndarray, list[int]]:
    """Decoder side: (positions of the cased tokens, their flags); `tok`: the token ids."""
    pos = np.flatnonzero(np.array(cased_v, dtype=bool)[tok])
    prev_cls = np.full(len(tok), 7, dtype=np.int64)
    prev_cls[1:] = np.array(cls_v, dtype=np.int64)[tok[:-1]]
    return pos, case.decode_all(dec, tok[pos].tolist(), prev_cls[pos].tolist())


def _read_payload(
    payload: bytes, raw_size: int
) -> tuple[ModelParams, int, SpellingReader, tuple[np.ndarray, ...]]:
    """The header of a version-2 payload: (model params, token count, spelling reader, the five
    coded streams A1, A2, B, C, D)."""
    if len(payload) < 5:
        raise TruncatedError("fib payload too short")
    params = ModelParams.from_bytes(payload[1:5])
    n_tokens, pos = get_varint(payload, 5, FIB_PAYLOAD, TruncatedError)
    if n_tokens > raw_size or (n_tokens == 0) != (raw_size == 0):
        raise CorruptDataError(f"fib payload declares {n_tokens} tokens for {raw_size} bytes")
    n_spell, pos = get_varint(payload, pos, FIB_PAYLOAD, TruncatedError)
    if pos + n_spell > len(payload):
        raise TruncatedError("fib spelling stream is cut short")
    reader = SpellingReader(payload[pos : pos + n_spell], 2 * raw_size + 16)
    pos += n_spell
    streams = []
    for _ in range(4):
        words, pos = get_stream(payload, pos)
        streams.append(words)
    rest = payload[pos:]
    if len(rest) % 4:
        raise CorruptDataError("fib coded stream is not a whole number of words")
    streams.append(np.frombuffer(rest, dtype="<u4").astype(np.uint32))
    if n_tokens and not (len(streams[0]) or len(streams[1]) or len(streams[2])):
        raise TruncatedError("fib coded streams are empty")
    return params, n_tokens, reader, tuple(streams)


class FibCodec(Codec):
    """Word/phrase front end with adaptive word-context models (the fast, LLM-free mode).

    Settings:

    - `esc_num`, `esc1_num`, `esc_den`: the escape weight of order-2 (order-1) contexts is
      `esc_num / esc_den` (`esc1_num / esc_den`) per symbol.
    - `o0_step`: the recency snapshot is refreshed every `32 * o0_step` uses.
    - `phrase_bias`: encoder-only; estimated bits a phrase costs beyond its frequency.
    - `min_phrase`: encoder-only; the shortest phrase (in tokens) the parse may choose.
    """

    codec_id = "fib"

    def __init__(
        self,
        esc_num: int = 3,
        esc_den: int = 2,
        o0_step: int = 16,
        phrase_bias: float = 8.0,
        min_phrase: int = 13,
        esc1_num: int = 4,
    ) -> None:
        for name, value in (
            ("esc_num", esc_num),
            ("esc1_num", esc1_num),
            ("esc_den", esc_den),
            ("o0_step", o0_step),
        ):
            low = 0 if name in ("esc_num", "esc1_num") else 1
            if not isinstance(value, int) or not low <= value <= 255:
                raise ValueError(f"{name} must be an integer in {low}..255, got {value!r}")
        self.model_params = ModelParams(esc_num, esc1_num, esc_den, o0_step)
        self.phrase_bias = float(phrase_bias)
        if not isinstance(min_phrase, int) or not 2 <= min_phrase <= FIB_LENGTHS[-1]:
            raise ValueError(f"min_phrase must be an integer in 2..{FIB_LENGTHS[-1]}")
        self.min_phrase = min_phrase

    def params(self) -> dict[str, Any]:
        """Encoder settings (the decoder reads its settings from each payload)."""
        p = self.model_params
        return {
            "esc_num": p.esc2,
            "esc1_num": p.esc1,
            "esc_den": p.esc_den,
            "o0_step": p.o0_step,
            "phrase_bias": self.phrase_bias,
            "min_phrase": self.min_phrase,
        }

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> FibCodec:
        """Rebuild from header params; `FormatError` if they are bad."""
        known = {"esc_num", "esc1_num", "esc_den", "o0_step", "phrase_bias", "min_phrase"}
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
        ids, flags, tokens_by_id = token_ids(data)
        ids_list = ids.tolist()
        n_tokens = len(ids_list)
        phrases = choose_phrases(ids, self.phrase_bias, self.min_phrase)
        keys = list(zip([length for _, length in phrases], phrase_keys(ids, phrases)))
        uses: dict[tuple[int, int], int] = {}
        for key in keys:
            uses[key] = uses.get(key, 0) + 1

        # events: ids in order of creation (a word at its first use, a phrase after its words)
        ops: list[int] = []
        new_words: list[tuple[int, int]] = []
        levels: list[int] = []
        words_of: list[list[int] | None] = []
        event_of_token: dict[int, int] = {}
        spell: list[bytes] = []
        defined: dict[tuple[int, int], tuple[int, list[int], list[int]]] = {}
        ws_index: dict[bytes, int] = {}
        core_event: dict[bytes, int] = {}

        event_get = event_of_token.get

        def words(lo: int, hi: int) -> None:
            span = ids_list[lo:hi]
            known = list(map(event_get, span))
            if None not in known:
                ops.extend(known)
                return
            for t, e in zip(span, known):
                if e is None:
                    e = event_get(t)  # a new word may recur within the span
                if e is not None:
                    ops.append(e)
                    continue
                tok = tokens_by_id[t]
                core = tok.rstrip(WS)
                ws = tok[len(core) :]
                base = core_event.get(core, -1)
                if base < 0:
                    spell.append(core + b"\n")
                w = ws_index.get(ws, -1)
                if w < 0:
                    ws_index[ws] = len(ws_index)
                    spell.append(ws + b"\0")
                ops.append(NEW_WORD)
                new_words.append((base, w))
                e = event_of_token[t] = len(words_of)
                words_of.append(None)
                if base < 0:
                    core_event[core] = e

        pos = 0
        for (start, length), key in zip(phrases, keys):
            words(pos, start)
            pos = start + length
            if uses[key] < 2:
                words(start, pos)
                continue
            entry = defined.get(key)
            if entry is None:
                ops.append(NEW_PHRASE)
                levels.append(_LEVEL[length])
                words(start, pos)
                span = ids_list[start:pos]
                evs = [event_of_token[t] for t in span]
                defined[key] = (len(words_of), span, evs)
                words_of.append(evs)
            elif entry[1] == ids_list[start:pos]:
                ops.append(entry[0])
            else:  # a hash collision: spell the tokens out
                words(start, pos)
        words(pos, len(ids_list))

        enc_d, coded = encode_events(
            self.model_params, ops, new_words, levels, words_of, FIB_LENGTHS
        )
        cased_v = np.array([is_cased(t) for t in tokens_by_id], dtype=bool)
        cls_v = np.array([token_class(t) for t in tokens_by_id], dtype=np.int64)
        ctxs, fl = _case_contexts(ids, flags, cased_v, cls_v)
        CaseCoder.encode(enc_d, ctxs, fl)

        out = bytearray([MODE_FIB2])
        out += self.model_params.as_bytes()
        put_varint(out, n_tokens)
        packed = pack_spelling(spell)
        put_varint(out, len(packed))
        out += packed
        for stream in coded:
            put_stream(out, stream)
        out += np.asarray(enc_d.get_compressed(), dtype="<u4").tobytes()
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
        if mode not in (MODE_FIB1, MODE_FIB2):
            raise FormatError(f"unknown fib payload mode {mode}")
        try:
            with _GcPaused():
                if mode == MODE_FIB1:
                    out = decode_v1(payload, raw_size)
                else:
                    out = self._decode_fib(payload, raw_size)
        except NacrithError:
            raise
        except Exception as exc:
            raise CorruptDataError(
                f"fib payload does not decode: {type(exc).__name__}: {exc}"
            ) from exc
        except BaseException as exc:
            if is_panic(exc):
                raise CorruptDataError(f"fib payload does not decode: {exc}") from exc
            raise
        if len(out) != raw_size:
            raise CorruptDataError(f"fib chunk decoded to {len(out)} bytes, expected {raw_size}")
        return out

    def _decode_fib(self, payload: bytes, raw_size: int) -> bytes:
        params, n_tokens, reader, streams = _read_payload(payload, raw_size)
        ed = EventDecoder(params, streams)
        word_bytes: list[bytes] = []  # id -> spelling (b"" for phrases)
        ws_runs: list[bytes] = []

        def add_word(base: int, w: int, sym: int) -> None:
            while len(word_bytes) < sym:
                word_bytes.append(b"")  # phrases defined since the last new word
            if base >= 0:
                if not word_bytes[base]:
                    raise CorruptDataError("fib word refers to a phrase as its core")
                core = word_bytes[base].rstrip(WS)
            else:
                core = reader.core()
            if w < 0:
                ws_runs.append(reader.ws())
            word_bytes.append(core + ws_runs[w])

        tok_ids, words_of = ed.decode_events(n_tokens, FIB_LENGTHS, add_word)
        if len(tok_ids) != n_tokens:
            raise CorruptDataError(f"fib events give {len(tok_ids)} tokens, expected {n_tokens}")
        while len(word_bytes) < len(words_of):
            word_bytes.append(b"")
        cased_v = [is_cased(w) for w in word_bytes]
        cls_v = [token_class(w) if w else 3 for w in word_bytes]
        pick = np.array(tok_ids, dtype=np.int64)
        pos, flags = _decode_case(pick, cased_v, cls_v, CaseCoder(), ed.dec_d)
        # each id as is, then the Capitalised and ALL CAPS (case flags 1, 2) spellings in use
        spelled = word_bytes
        flag_a = np.array(flags, dtype=np.int8)
        for flag in (1, 2):
            at = pos[flag_a == flag]
            ids, inv = np.unique(pick[at], return_inverse=True)
            pick[at] = len(spelled) + inv.reshape(-1)
            spelled += [apply_case(word_bytes[i], flag) for i in ids.tolist()]
        return b"".join(map(spelled.__getitem__, pick.tolist()))
