"""A GGUF model's vocabulary read from the file alone: no llama.cpp, only integer work.

`GGUFVocab` gives what decoding needs from the tokenizer, the same as llama.cpp's vocabulary
(`nacrith.models.llm.backend.LlamaVocab`) on the same file: `n_vocab`, `bos` and the byte piece
of every token id, so that detokenizing is a table lookup. The pieces follow llama.cpp's
`llama_token_to_piece` without special tokens:

- GPT-2 byte-level BPE (`tokenizer.ggml.model` "gpt2"): each code point of a normal token maps
  back to one byte through the GPT-2 byte-to-unicode table;
- SentencePiece (`tokenizer.ggml.model` "llama"): U+2581 stands for a space, and `<0xXX>` byte
  tokens are the byte XX;
- control and unknown tokens (and unused ones) have an empty piece; user-defined tokens are
  their text as stored.

The tokenizer's metadata arrays are decoded by the shared header reader (`models.gguf_meta`); the
`gguf` package's reader builds a numpy view per array element, far too slow for a large vocabulary.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nacrith.errors import ModelNotFoundError
from nacrith.models.gguf_meta import read_gguf

__all__ = ["GGUFVocab", "gpt2_byte_decoder"]

# llama.cpp's token types (`tokenizer.ggml.token_type`)
_NORMAL, _UNKNOWN, _CONTROL, _USER_DEFINED, _UNUSED, _BYTE = 1, 2, 3, 4, 5, 6

# token texts llama.cpp's loader makes control tokens whatever their stored type (its end-of-turn,
# end-of-generation and fill-in-the-middle guesses); they have an empty piece there, so here too
_CONTROL_TEXTS = frozenset(
    t.encode()
    for t in (
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
        "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]",
        "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
        "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<PRE>", "<|code_prefix|>",
        "<|prefix|>", "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<SUF>",
        "<|code_suffix|>", "<|suffix|>", "<|fim_middle|>", "<fim-middle>", "<fim_middle>",
        "<MID>", "<|code_middle|>", "<|middle|>", "<|fim_pad|>", "<fim-pad>", "<fim_pad>",
        "<PAD>", "[PAD]", "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>",
        "<|file_sep|>",
    )
)  # fmt: skip
# ... and those it always renders as text (user-defined)
_USER_TEXTS = frozenset((b"<|channel|>", b"<|message|>", b"<|start|>", b"<|constrain|>"))

_SPACE = "\u2581".encode()
# llama.cpp's special-token defaults by tokenizer model, used where the file names none
_DEFAULT_BOS = {"llama": 1, "gpt2": 11}
_DEFAULT_EOS = {"llama": 2, "gpt2": 11}


def gpt2_byte_decoder() -> dict[str, int]:
    """GPT-2's unicode-to-byte table: the code point standing for each of the 256 bytes."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("\xa1"), ord("\xac") + 1),
        *range(ord("\xae"), ord("\xff") + 1),
    ]
    table = {chr(b): b for b in printable}
    n = 0
    for b in range(256):
        if b not in printable:
            table[chr(256 + n)] = b
            n += 1
    return table


class GGUFVocab:
    """The vocabulary of the GGUF model at `path`: `n_vocab`, `bos`, `model` (the tokenizer
    model, "gpt2" or "llama"), `tokens` (each token's text as stored), `types` (llama.cpp's token
    types) and the byte pieces of every token."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        fields = read_gguf(
            self.path,
            arrays=lambda key: key.startswith("tokenizer."),
            what=f"the vocabulary of {self.path}",
        ).fields
        model = fields.get("tokenizer.ggml.model")
        tokens = fields.get("tokenizer.ggml.tokens")
        if model not in _DEFAULT_BOS or not isinstance(tokens, list):
            raise ModelNotFoundError(
                f"{self.path}: no vocabulary of a GPT-2 BPE or SentencePiece tokenizer "
                f"(tokenizer model {model!r})"
            )
        self.model = str(model)
        self.tokens: list[bytes] = tokens
        self.n_vocab = len(tokens)
        types = fields.get("tokenizer.ggml.token_type")
        if types is None:
            self.types = np.full(self.n_vocab, _NORMAL, dtype=np.int32)
        elif isinstance(types, np.ndarray) and len(types) == self.n_vocab:
            self.types = types.astype(np.int32)
        else:
            raise ModelNotFoundError(f"{self.path}: token types do not match the vocabulary")
        self.types = _loader_types(self.tokens, self.types)
        #: the pre-tokenizer, BPE merges ("left right") and SentencePiece scores (the tokenizer's)
        self.pre = str(fields.get("tokenizer.ggml.pre", "default"))
        merges = fields.get("tokenizer.ggml.merges", [])
        self.merges: list[bytes] = merges if isinstance(merges, list) else []
        scores = fields.get("tokenizer.ggml.scores")
        self.scores = (
            scores.astype(np.float32)
            if isinstance(scores, np.ndarray) and len(scores) == self.n_vocab
            else np.zeros(self.n_vocab, dtype=np.float32)
        )
        # llama.cpp's `_bos`: the BOS token, else the EOS (models without BOS start from EOS)
        bos = int(fields.get("tokenizer.ggml.bos_token_id", _DEFAULT_BOS[self.model]))  # type: ignore[call-overload]
        eos = int(fields.get("tokenizer.ggml.eos_token_id", _DEFAULT_EOS[self.model]))  # type: ignore[call-overload]
        self.bos = bos if bos >= 0 else eos
        self._pieces: list[bytes] | None = None

    def piece(self, token: int) -> bytes:
        """The bytes token `token` stands for (empty for control tokens)."""
        return self.pieces()[int(token)]

    def pieces(self) -> list[bytes]:
        """The byte pieces of the whole vocabulary, indexed by token id (computed once)."""
        if self._pieces is None:
            if self.model == "gpt2":
                self._pieces = self._bpe_pieces()
            else:
                self._pieces = self._spm_pieces()
        return self._pieces

    def detokenize(self, tokens: Sequence[int] | np.ndarray) -> bytes:
        """Concatenate the pieces of `tokens` (nothing is dropped or stripped)."""
        pieces = self.pieces()
        return b"".join(pieces[int(t)] for t in tokens)

    def _bpe_pieces(self) -> list[bytes]:
        table = gpt2_byte_decoder()
        out = []
        for text, kind in zip(self.tokens, self.types.tolist()):
            if kind == _NORMAL:
                out.append(_decode_gpt2(text, table))
            elif kind == _USER_DEFINED:
                out.append(text)
            else:
                out.append(b"")
        return out

    def _spm_pieces(self) -> list[bytes]:
        out = []
        for text, kind in zip(self.tokens, self.types.tolist()):
            if kind == _NORMAL:
                out.append(text.replace(_SPACE, b" "))
            elif kind == _USER_DEFINED:
                out.append(text)
            elif kind == _BYTE:
                out.append(bytes([int(text[3:-1], 16) & 0xFF]))
            else:
                out.append(b"")
        return out


def _loader_types(tokens: list[bytes], types: np.ndarray) -> np.ndarray:
    """The token types as llama.cpp's loader leaves them: the texts it takes for control tokens
    become control (with two exceptions it makes for vocabularies that also have
    `<|tool_response>`, or `<|return|>` / `<|calls|>` with `<|call|>` / `<|flush|>`), and those
    it always renders become user-defined."""
    types = types.copy()
    by_text = {t: i for i, t in enumerate(tokens) if t in _CONTROL_TEXTS or t in _USER_TEXTS}
    for text, i in by_text.items():
        if text in _CONTROL_TEXTS and types[i] != _CONTROL:
            types[i] = _CONTROL
    for text in _USER_TEXTS & by_text.keys():
        types[by_text[text]] = _USER_DEFINED
    have = by_text.keys()
    if b"<|tool_response>" in have and b"</s>" in have:
        types[by_text[b"</s>"]] = _NORMAL
    if b"<|end|>" in have and (
        {b"<|return|>", b"<|call|>"} <= have or {b"<|calls|>", b"<|flush|>"} <= have
    ):
        types[by_text[b"<|end|>"]] = _USER_DEFINED
    return types


def _decode_gpt2(text: bytes, table: dict[str, int]) -> bytes:
    """llama.cpp's `llama_decode_text`: each code point back to its byte; one outside the
    table becomes an `[UNK_BYTE_0x..]` marker, as llama.cpp writes it."""
    out = bytearray()
    for ch in text.decode("utf-8", "replace"):
        b = table.get(ch)
        if b is not None:
            out.append(b)
        else:
            out += b"[UNK_BYTE_0x" + ch.encode().hex().encode() + text + b"]"
    return bytes(out)
