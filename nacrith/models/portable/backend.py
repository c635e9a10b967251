"""The portable engine behind the interface the `llm` codec's lockstep loop drives.

`PortableBackend` has the methods and attributes of `nacrith.models.llm.backend.LlamaBackend`
that the codec and `run_streams` use (tokenizer, `prefill`, `step`, `clear`, `hidden_states`,
`n_vocab`, `n_embd`, `bos`, ...), with the portable engine computing the logits and hidden
states (float64, the same bits on every machine). The vocabulary (byte pieces, BOS, size) is
read from the GGUF alone (`GGUFVocab`), so decoding needs no llama.cpp. `tokenize` (the encoder's)
is llama.cpp's tokenizer, loaded without weights on first use, where llama-cpp-python imports,
else the pure one (`GGUFTokenizer`); `pure_tokenize` is always the pure one.

Loaded weights are shared by every backend of this process on the same file.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nacrith.errors import NacrithError
from nacrith.models.llm.tokenizer import GGUFTokenizer
from nacrith.models.llm.vocab import GGUFVocab
from nacrith.models.portable import parallel, widening
from nacrith.models.portable.engine import PortableModel
from nacrith.models.portable.gemma import GemmaModel
from nacrith.models.portable.gemma_cache import cached_gemma_weights
from nacrith.models.portable.gemma_weights import GemmaWeights
from nacrith.models.portable.support import gguf_summary
from nacrith.models.portable.weight_cache import cached_weights
from nacrith.models.portable.weights import ModelWeights, matrix_revision

__all__ = ["PortableBackend", "default_threads", "shared_weights"]

_weights: weakref.WeakValueDictionary[tuple[str, int, int, int], ModelWeights] = (
    weakref.WeakValueDictionary()
)
_weights_lock = threading.Lock()


def shared_weights(path: str | os.PathLike[str], revision: int = 1) -> ModelWeights:
    """The weights of the GGUF at `path` for arithmetic `revision`, loaded once while any
    backend of this process holds them (keyed by the file's path, size and modification time
    and the revision; read through the disk cache of `weight_cache`)."""
    st = Path(path).stat()
    revision = matrix_revision(revision)
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns, revision)
    with _weights_lock:
        weights = _weights.get(key)
        if weights is None:
            weights = cached_weights(path, revision)
            _weights[key] = weights
        return weights


_gemma: weakref.WeakValueDictionary[tuple[str, int, int, int], GemmaWeights] = (
    weakref.WeakValueDictionary()
)


def shared_gemma_weights(path: str | os.PathLike[str], revision: int = 1) -> GemmaWeights:
    """`shared_weights` for a Gemma 3 GGUF (through `gemma_cache`)."""
    st = Path(path).stat()
    revision = matrix_revision(revision)
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns, revision)
    with _weights_lock:
        weights = _gemma.get(key)
        if weights is None:
            weights = cached_gemma_weights(path, revision)
            _gemma[key] = weights
        return weights


class PortableBackend:
    """A GGUF model on the portable engine: `n_seq` streams of `n_ctx` tokens each.

    `hidden`: keep the final hidden states for `hidden_states` (the engine always has them;
    the flag mirrors `LlamaBackend`'s, which `run_streams` checks). `revision`: the engine's
    arithmetic revision (`PortableModel`); an archive must be decoded with the one it was made
    with. `sink`: the window's attention sink (the start of every shift); the Gemma graph then
    keeps a ring for its sliding-window layers, with the same logits (None: full cache).
    `threads`: threads each matrix product is split over (None: `default_threads()`); the
    logits have the same bits for every count. `widen`: which block matrices of a llama graph
    keep float64 values for batched products (`widening.PARTS`; memory for speed, the same
    bits; they are shared by this process's backends on the file); None leaves them as they are.
    """

    #: the dtype of logits and hidden states: float64, kept whole through the predictors
    dtype = np.float64
    #: a batch of k tokens computes the bits of k single steps (`lockstep.batch_exact`)
    batch_exact = True

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        n_seq: int = 1,
        n_ctx: int = 2048,
        hidden: bool = False,
        revision: int = 1,
        sink: int | None = None,
        threads: int | None = None,
        widen: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.revision = revision
        self._vocab = GGUFVocab(self.path)
        self._tokenizer: Any = None
        self._pure: GGUFTokenizer | None = None
        if widen is not None:
            widening.check_part(widen)
        if gguf_summary(self.path)[0] == "gemma3":
            gemma = shared_gemma_weights(self.path, revision)
            self.model = GemmaModel(
                n_seq=n_seq, n_ctx=n_ctx, weights=gemma, revision=revision, sink=sink
            )
        else:
            weights = shared_weights(self.path, revision)
            self.model = PortableModel(n_seq=n_seq, n_ctx=n_ctx, weights=weights, revision=revision)
        if widen is not None:
            self.widen(widen)
        self.model.threads = default_threads() if threads is None else int(threads)
        if not 1 <= self.model.threads <= parallel.MAX_THREADS:
            raise ValueError(f"threads must lie in [1, {parallel.MAX_THREADS}], got {threads}")
        if self.model.n_vocab != self._vocab.n_vocab:
            raise NacrithError(
                f"{self.path}: the tokenizer has {self._vocab.n_vocab} tokens, the output "
                f"layer {self.model.n_vocab}"
            )
        self.n_vocab = self.model.n_vocab
        self.n_embd = self.model.n_embd
        self.n_ctx = n_ctx
        self.n_seq = n_seq
        self.n_ctx_train = self.model.config.n_ctx_train
        self.bos = self._vocab.bos
        self.hidden = bool(hidden)

    # -- tokenizer ------------------------------------------------------------------------------

    def tokenize(self, text: bytes) -> np.ndarray:
        """Token ids of `text` (no BOS, special tokens not parsed), as int32: llama.cpp's
        tokenizer (loaded on first use) where llama-cpp-python imports, else the pure one."""
        if self._tokenizer is None:
            if _llama_cpp_imports():
                from nacrith.models.llm.backend import LlamaVocab

                self._tokenizer = LlamaVocab(self.path)
            else:
                self._tokenizer = self._pure_tokenizer()
        return self._tokenizer.tokenize(text)

    def pure_tokenize(self, text: bytes) -> np.ndarray:
        """`tokenize` by the pure tokenizer (`GGUFTokenizer`), which needs no llama.cpp."""
        return self._pure_tokenizer().tokenize(text)

    def _pure_tokenizer(self) -> GGUFTokenizer:
        if self._pure is None:
            self._pure = GGUFTokenizer(self._vocab)
        return self._pure

    def pieces(self) -> list[bytes]:
        """The byte pieces of the whole vocabulary, indexed by token id."""
        return self._vocab.pieces()

    def detokenize(self, tokens: Sequence[int] | np.ndarray) -> bytes:
        """Concatenate the pieces of `tokens`."""
        return self._vocab.detokenize(tokens)

    # -- evaluation ---------------------------------------------------------------------------

    def clear(self, seq: int) -> None:
        """Forget everything stream `seq` has seen."""
        self.model.clear(seq)

    def prefill(self, seq: int, tokens: Sequence[int] | np.ndarray) -> np.ndarray:
        """Clear stream `seq`, feed `tokens` at positions 0.. as one batch; logits of the last."""
        return self.model.prefill(seq, tokens)

    def append(
        self, seq: int, tokens: Sequence[int] | np.ndarray, *, all_logits: bool = False
    ) -> np.ndarray:
        """Feed `tokens` to stream `seq` at its next positions as one batch; logits of the last
        token, or of every token when `all_logits`."""
        return self.model.append(seq, tokens, all_logits=all_logits)

    @property
    def cuts_cache(self) -> bool:
        """Whether `truncate` works here: on the llama graph (the Gemma graph's ring for its
        sliding-window layers would lose the entries a cut-off position overwrote)."""
        return isinstance(self.model, PortableModel)

    def truncate(self, seq: int, length: int) -> None:
        """Keep the first `length` cache positions of stream `seq` and forget the rest (a
        decoder's wrong guesses, `lockstep._DraftingFeed`); llama graph only."""
        if not self.cuts_cache:
            raise NotImplementedError("the Gemma graph cannot cut its cache back")
        self.model.shift(seq, length, self.model.length(seq) - length)  # drops the tail

    def shift(self, seq: int, start: int, count: int) -> None:
        """Drop cache positions [start, start + count) of stream `seq`, moving later ones down
        (keys re-rotated exactly; see `PortableModel.shift`)."""
        self.model.shift(seq, start, count)

    def step(
        self,
        seqs: Sequence[int],
        tokens: Sequence[int] | np.ndarray,
        positions: Sequence[int] | np.ndarray,
    ) -> np.ndarray:
        """Feed one token to each stream in `seqs`; logits as (B, V)."""
        return self.model.step(seqs, tokens, positions)

    def hidden_states(self) -> np.ndarray:
        """Final hidden states (n_out, n_embd) of the last `prefill` or `step`."""
        if not self.hidden:
            raise RuntimeError("this backend was made without hidden=True")
        return self.model.hidden_states()

    # -- lifetime -------------------------------------------------------------------------------

    def widen(self, part: str) -> int:
        """Keep the float64 values of `part` (`widening.PARTS`) of a llama graph's block
        matrices, shared by this process's backends on the file; returns the bytes they take
        (0 for a Gemma graph or revision 1, which this does not apply to)."""
        widening.check_part(part)
        if not isinstance(self.model, PortableModel) or self.revision == 1:
            return 0
        return widening.widen(self.model.weights, part)

    def close(self) -> None:
        """Free the tokenizer and this backend's hold on the weights."""
        if self._tokenizer is not None and self._tokenizer is not self._pure:
            self._tokenizer.close()
        self._tokenizer = self._pure = None
        self.model = None  # type: ignore[assignment]

    def __enter__(self) -> PortableBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def default_threads() -> int:
    """Threads per product when the caller names none: 1 (a process per core is the codec's
    way to use several cores; a caller running one stream alone passes more)."""
    return 1


def _llama_cpp_imports() -> bool:
    """Whether llama-cpp-python imports here (its native library included)."""
    try:
        import llama_cpp  # noqa: F401
    except (ImportError, OSError):
        return False
    return True
