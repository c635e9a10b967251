"""llama.cpp's tokenizer in pure Python, from the GGUF's vocabulary alone.

`GGUFTokenizer.tokenize` follows llama.cpp's `llama_tokenize` (no BOS, special tokens not parsed)
for the two tokenizer models the registered models use:

- user-defined tokens are cut out of the text first, longest first (llama.cpp's special-token
  partition; control and unknown tokens are left to the text);
- GPT-2 byte-level BPE ("gpt2"): the pre-tokenizer's regular expressions split the text into
  words (`PRE_SPLITS` by `tokenizer.ggml.pre`), each word's bytes become GPT-2 code points and
  the merges apply lowest rank first, leftmost on ties;
- SentencePiece ("llama"): spaces become U+2581, then adjacent pieces merge while the merged
  text is a token, highest score first, leftmost on ties; what never forms a token becomes
  `<0xXX>` byte tokens.

Character classes (letters, numbers, white space) come from `unicodedata`, so text in scripts
whose Unicode data differ between Python's and llama.cpp's tables may tokenize differently. The
codec keeps only regions that round-trip, so a different tokenization changes the ratio, never
the bytes.
"""

from __future__ import annotations

import heapq
import re
import sys
import unicodedata
from functools import lru_cache

import numpy as np

from nacrith.errors import ModelNotFoundError
from nacrith.models.llm.vocab import GGUFVocab, gpt2_byte_decoder

__all__ = ["PRE_SPLITS", "GGUFTokenizer"]

_GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?[{L}]+| ?[{N}]+| ?[^{S}{L}{N}]+|[{S}]+(?![^{S}])|[{S}]+"
#: the pre-tokenizer's regular expressions by `tokenizer.ggml.pre` (llama.cpp's, applied in
#: turn: each splits the pieces the previous one left, keeping what it does not match); only
#: those of the registered models, whose tokenization the tests compare with llama.cpp's
PRE_SPLITS: dict[str, tuple[str, ...]] = {"smollm": (r"[{N}]", _GPT2)}

# llama.cpp's white space (Unicode White_Space)
_SPACES = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_SPM_SPACE = "\u2581"
# llama.cpp's UTF-8 sequence length by the high nibble of the lead byte
_UTF8_LEN = (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4)
_USER_DEFINED = 4  # llama.cpp's token type of user-defined tokens


@lru_cache(maxsize=1)
def _classes() -> dict[str, str]:
    """Regex character-class bodies for Unicode letters (L) and numbers (N)."""
    ranges: dict[str, list[tuple[int, int]]] = {"L": [], "N": []}
    for cp in range(sys.maxunicode + 1):
        major = unicodedata.category(chr(cp))[0]
        if major in ranges:
            spans = ranges[major]
            if spans and spans[-1][1] == cp - 1:
                spans[-1] = (spans[-1][0], cp)
            else:
                spans.append((cp, cp))

    def body(spans: list[tuple[int, int]]) -> str:
        return "".join(
            re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
            for a, b in spans
        )

    return {"L": body(ranges["L"]), "N": body(ranges["N"]), "S": _SPACES}


def _compile(pattern: str) -> re.Pattern[str]:
    c = _classes()
    return re.compile(pattern.replace("{L}", c["L"]).replace("{N}", c["N"]).replace("{S}", c["S"]))


def _split(pattern: re.Pattern[str], text: str) -> list[str]:
    """The matches of `pattern` in `text` and the text between them, in order."""
    out, pos = [], 0
    for m in pattern.finditer(text):
        if m.start() > pos:
            out.append(text[pos : m.start()])
        if m.end() > m.start():
            out.append(m.group())
        pos = m.end()
    if pos < len(text):
        out.append(text[pos:])
    return out


class GGUFTokenizer:
    """llama.cpp's tokenizer over `vocab` (a `GGUFVocab`)."""

    def __init__(self, vocab: GGUFVocab) -> None:
        self.vocab = vocab
        self._ids = {t: i for i, t in enumerate(vocab.tokens)}  # the last of duplicates wins
        user = [i for i, k in enumerate(vocab.types.tolist()) if k == _USER_DEFINED]
        self._user = sorted(user, key=lambda i: (-len(vocab.tokens[i]), i))
        if vocab.model == "gpt2":
            pre = vocab.pre
            if pre not in PRE_SPLITS:
                raise ModelNotFoundError(f"no pure tokenizer for the {pre!r} pre-tokenizer")
            self._splits = [_compile(p) for p in PRE_SPLITS[pre]]
            self._ranks: dict[tuple[bytes, bytes], int] = {}
            for rank, merge in enumerate(vocab.merges):
                cut = merge.find(b" ", 1)
                self._ranks.setdefault((merge[:cut], merge[cut + 1 :]), rank)
            table = gpt2_byte_decoder()
            self._byte_chars = [""] * 256
            for ch, b in table.items():
                self._byte_chars[b] = ch
        else:
            self._scores = vocab.scores
        self._words: dict[bytes, list[int]] = {}

    def tokenize(self, text: bytes) -> np.ndarray:
        """Token ids of `text` (no BOS, special tokens not parsed), as int32."""
        out: list[int] = []
        for part, token in self._partition(text):
            if token is not None:
                out.append(token)
            elif self.vocab.model == "gpt2":
                self._bpe(part, out)
            else:
                self._spm(part.replace(b" ", _SPM_SPACE.encode()), out)
        return np.asarray(out, dtype=np.int32)

    def _partition(self, text: bytes) -> list[tuple[bytes, int | None]]:
        parts: list[tuple[bytes, int | None]] = [(text, None)] if text else []
        for tid in self._user:
            needle = self.vocab.tokens[tid]
            if not needle:
                continue
            new: list[tuple[bytes, int | None]] = []
            for part, token in parts:
                if token is not None or needle not in part:
                    new.append((part, token))
                    continue
                pieces = part.split(needle)
                for k, piece in enumerate(pieces):
                    if k:
                        new.append((needle, tid))
                    if piece:
                        new.append((piece, None))
            parts = new
        return parts

    # -- GPT-2 byte-level BPE ------------------------------------------------------------------

    def _bpe(self, text: bytes, out: list[int]) -> None:
        words = [text.decode("utf-8", "surrogateescape")]
        for pattern in self._splits:
            words = [w for word in words for w in _split(pattern, word)]
        for word in words:
            raw = word.encode("utf-8", "surrogateescape")
            cached = self._words.get(raw)
            if cached is None:
                cached = self._bpe_word("".join(self._byte_chars[b] for b in raw))
                if len(self._words) < 1 << 16:
                    self._words[raw] = cached
            out.extend(cached)

    def _bpe_word(self, word: str) -> list[int]:
        syms = [ch.encode() for ch in word]
        prev = list(range(-1, len(syms) - 1))
        nxt = [*range(1, len(syms)), -1]
        queue: list[tuple[int, int, int, bytes]] = []

        def add(left: int, right: int) -> None:
            if left < 0 or right < 0:
                return
            rank = self._ranks.get((syms[left], syms[right]))
            if rank is not None:
                heapq.heappush(queue, (rank, left, right, syms[left] + syms[right]))

        for i in range(1, len(syms)):
            add(i - 1, i)
        while queue:
            _rank, left, right, merged = heapq.heappop(queue)
            if not syms[left] or not syms[right] or syms[left] + syms[right] != merged:
                continue
            if nxt[left] != right:
                continue
            syms[left], syms[right] = merged, b""
            nxt[left] = nxt[right]
            if nxt[right] >= 0:
                prev[nxt[right]] = left
            add(prev[left], left)
            add(left, nxt[left])
        ids: list[int] = []
        i = 0
        while i != -1 and syms:
            token = self._ids.get(syms[i])
            if token is not None:
                ids.append(token)
            else:
                singles = (self._ids.get(bytes([b])) for b in syms[i])
                ids.extend(t for t in singles if t is not None)
            i = nxt[i]
        return ids

    # -- SentencePiece ---------------------------------------------------------------------------

    def _spm(self, text: bytes, out: list[int]) -> None:
        syms = []
        pos = 0
        while pos < len(text):
            n = _UTF8_LEN[text[pos] >> 4]
            syms.append(text[pos : pos + n])
            pos += n
        if not syms:
            return
        prev = list(range(-1, len(syms) - 1))
        nxt = [*range(1, len(syms)), -1]
        queue: list[tuple[float, int, int, int]] = []
        scores = self._scores

        def add(left: int, right: int) -> None:
            if left < 0 or right < 0:
                return
            token = self._ids.get(syms[left] + syms[right])
            if token is not None:
                size = len(syms[left]) + len(syms[right])
                heapq.heappush(queue, (-float(scores[token]), left, right, size))

        for i in range(1, len(syms)):
            add(i - 1, i)
        while queue:
            _score, left, right, size = heapq.heappop(queue)
            if not syms[left] or not syms[right] or len(syms[left]) + len(syms[right]) != size:
                continue
            syms[left], syms[right] = syms[left] + syms[right], b""
            nxt[left] = nxt[right]
            if nxt[right] >= 0:
                prev[nxt[right]] = left
            add(prev[left], left)
            add(left, nxt[left])
        i = 0
        while i != -1:
            token = self._ids.get(syms[i])
            if token is not None:
                out.append(token)
            else:
                out.extend(self._byte_token(b) for b in syms[i])
            i = nxt[i]

    def _byte_token(self, byte: int) -> int:
        token = self._ids.get(f"<0x{byte:02X}>".encode())
        return token if token is not None else self._ids[bytes([byte])]
