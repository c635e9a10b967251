"""Owning wrapper over llama-cpp-python's low-level API: one model, one context, many streams.

Each stream is one sequence id in a context with a non-unified KV cache. `step` feeds one new
token to each of several streams in a single `llama_decode` and returns their logits as one
(B, V) float32 array; `prefill` (re)loads one stream's context as one batch; `append` feeds
several tokens to one stream at its next positions as one batch; `shift` drops a span of a
stream's positions and moves the later ones down (llama.cpp re-rotates their keys). Encoder and
decoder use them identically (the determinism contract: ARCHITECTURE.md, "Contracts that keep
archives decodable").

`llama_cpp` (the optional extra `nacrith[llama]`) is imported on first use, so importing this
module is cheap and works without it. Native log output is silenced (`llama_log_set`), so
nothing reaches stdout or stderr.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nacrith.errors import ModelNotFoundError, NacrithError

__all__ = [
    "MAX_AUTO_THREADS",
    "LlamaBackend",
    "LlamaVocab",
    "auto_threads",
    "gpu_available",
    "llama_version",
    "requantize",
    "usable_cpus",
]

#: how to install the optional llama.cpp engine, named by every error that needs it
LLAMA_EXTRA_HINT = "pip install 'nacrith[llama]'"

#: most llama.cpp threads `auto_threads` gives one process: a 135M-parameter model's layers are
#: small, and each op of every token ends at a barrier of all threads (BENCHMARKS.md,
#: "speed-threads")
MAX_AUTO_THREADS = 4

_lock = threading.Lock()
_llama: Any = None
_log_callback: Any = None  # kept alive: llama.cpp holds a pointer to it


def _lib() -> Any:
    """Import llama_cpp, initialise the backend once and silence native logging."""
    global _llama, _log_callback
    with _lock:
        if _llama is None:
            try:
                import llama_cpp
            except (ImportError, OSError, RuntimeError) as exc:  # its native library included
                raise NacrithError(
                    f"llama.cpp is not available here ({exc}); the llama engine needs it "
                    f"(--engine llama, --gpu, a model the portable engine cannot run, an "
                    f"archive made with the llama engine): {LLAMA_EXTRA_HINT}"
                ) from exc

            _log_callback = llama_cpp.llama_log_callback(lambda level, text, user: None)
            llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))
            llama_cpp.llama_backend_init()
            _llama = llama_cpp
    return _llama


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def auto_threads(processes: int = 1, reserve: int = 0) -> int:
    """Model threads for one of `processes` processes that code at once on this machine: an
    equal share of the usable CPUs less `reserve` CPUs kept for other threads, at least 1 and
    at most `MAX_AUTO_THREADS`. The thread count never changes llama.cpp's CPU results
    (tests/models/llm/test_threads.py)."""
    return max(1, min(MAX_AUTO_THREADS, usable_cpus() // max(1, processes) - reserve))


def llama_version() -> str:
    """Version of llama-cpp-python (which pins the vendored llama.cpp)."""
    return str(_lib().__version__)


def gpu_available() -> bool:
    """Whether this llama.cpp build can offload layers to a GPU (CUDA, Metal, Vulkan...)."""
    return bool(_lib().llama_supports_gpu_offload())


def requantize(src: str | os.PathLike[str], dst: str | os.PathLike[str], ftype: int) -> None:
    """Requantize GGUF `src` into `dst` with llama.cpp's quantizer (one thread: reproducible)."""
    lib = _lib()
    params = lib.llama_model_quantize_default_params()
    params.nthread = 1
    params.ftype = ftype
    params.allow_requantize = True
    rc = lib.llama_model_quantize(
        os.fsencode(os.fspath(src)), os.fsencode(os.fspath(dst)), ctypes.byref(params)
    )
    if rc != 0:
        raise ModelNotFoundError(f"llama.cpp could not requantize {src} (code {rc})")


class _Vocabulary:
    """Tokenizer methods over a loaded llama.cpp vocabulary (`_lib`, `_vocab`, `n_vocab`)."""

    _lib: Any
    _vocab: Any
    n_vocab: int
    _pieces: list[bytes] | None

    def tokenize(self, text: bytes) -> np.ndarray:
        """Token ids of `text` (no BOS, special tokens not parsed), as int32."""
        if not text:
            return np.zeros(0, dtype=np.int32)
        n_max = len(text) + 16
        buf = (ctypes.c_int32 * n_max)()
        n = self._lib.llama_tokenize(self._vocab, text, len(text), buf, n_max, False, False)
        if n < 0:  # pragma: no cover - n_max is always enough for byte-level BPE
            raise NacrithError(f"tokenizer needs {-n} slots for {len(text)} bytes")
        return np.frombuffer(buf, dtype=np.int32, count=n).copy()

    def piece(self, token: int) -> bytes:
        """The bytes token `token` stands for (empty for control tokens)."""
        size = 64
        while True:
            buf = ctypes.create_string_buffer(size)
            n = self._lib.llama_token_to_piece(self._vocab, int(token), buf, size, 0, False)
            if n >= 0:
                return buf.raw[:n]
            size = -n

    def pieces(self) -> list[bytes]:
        """The byte pieces of the whole vocabulary, indexed by token id (computed once)."""
        if self._pieces is None:
            self._pieces = [self.piece(t) for t in range(self.n_vocab)]
        return self._pieces

    def detokenize(self, tokens: Sequence[int] | np.ndarray) -> bytes:
        """Concatenate the pieces of `tokens` (low-level: nothing is dropped or stripped)."""
        pieces = self.pieces()
        return b"".join(pieces[int(t)] for t in tokens)


class LlamaVocab(_Vocabulary):
    """Only the vocabulary of a GGUF model (llama.cpp's tokenizer, no weights, no context).

    `n_vocab`, `bos` and the tokenizer methods are those of `LlamaBackend` on the same file.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        lib = _lib()
        self._lib = lib
        self._model = None
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelNotFoundError(f"model file {self.path} does not exist")
        mparams = lib.llama_model_default_params()
        mparams.vocab_only = True
        self._model = lib.llama_model_load_from_file(os.fsencode(self.path), mparams)
        if not self._model:
            raise ModelNotFoundError(f"llama.cpp could not load {self.path} (not a GGUF model?)")
        self._vocab = lib.llama_model_get_vocab(self._model)
        self.n_vocab = int(lib.llama_vocab_n_tokens(self._vocab))
        self.bos = _bos(lib, self._vocab)
        self._pieces = None

    def close(self) -> None:
        """Free the vocabulary; unusable afterwards."""
        if self._model:
            self._lib.llama_model_free(self._model)
            self._model = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


def _bos(lib: Any, vocab: Any) -> int:
    """The BOS token of `vocab`, else its EOS (models without BOS start from EOS)."""
    bos = int(lib.llama_vocab_bos(vocab))
    return bos if bos >= 0 else int(lib.llama_vocab_eos(vocab))


class LlamaBackend(_Vocabulary):
    """A loaded GGUF model with a context of `n_seq` independent streams of `n_ctx` tokens each.

    Settings (keyword arguments after `path`, the GGUF file):

    - `n_seq`: number of streams (sequence ids 0..n_seq-1).
    - `n_ctx`: context length of each stream, in tokens.
    - `n_threads`: CPU threads for llama.cpp (default: `auto_threads()`, this process's share
      of the CPUs as if it coded alone). The logits have the same bits for any count.
    - `n_gpu_layers`: layers to offload when llama.cpp was built with a GPU backend.
    - `n_ubatch`: physical batch size; part of the numerics, so fixed by the format.
    - `flash_attn`: flash attention on/off; changes the numerics, both sides must agree.
    - `hidden`: also keep the final hidden state (the output layer's input, `n_embd` floats)
      of every output; `hidden_states` returns those of the last decode. The logits are the same
      bit for bit with or without it.
    """

    #: llama.cpp's float rounding depends on the batch: encoder and decoder make the same calls
    batch_exact = False

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        n_seq: int = 1,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        n_ubatch: int = 512,
        flash_attn: bool = False,
        hidden: bool = False,
    ) -> None:
        lib = _lib()
        self._lib = lib
        self._model = None
        self._ctx = None
        self._batch = None
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelNotFoundError(f"model file {self.path} does not exist")
        if n_seq < 1 or n_ctx < 8:
            raise ValueError(f"need n_seq >= 1 and n_ctx >= 8, got {n_seq}, {n_ctx}")
        if n_threads is None:
            n_threads = auto_threads()
        if isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads < 1:
            raise ValueError(f"n_threads must be a positive integer, got {n_threads!r}")
        self.n_threads = n_threads
        mparams = lib.llama_model_default_params()
        mparams.n_gpu_layers = n_gpu_layers
        # no extra weight buffer types (CPU repacking, AMX): they change the numerics by CPU
        # model, and ggml's AMX matmul crashes where the kernel does not grant AMX state
        mparams.use_extra_bufts = False
        self._model = lib.llama_model_load_from_file(os.fsencode(self.path), mparams)
        if not self._model:
            raise ModelNotFoundError(f"llama.cpp could not load {self.path} (not a GGUF model?)")
        self._vocab = lib.llama_model_get_vocab(self._model)
        self.n_vocab = int(lib.llama_vocab_n_tokens(self._vocab))
        self.n_ctx_train = int(lib.llama_model_n_ctx_train(self._model))
        self.bos = _bos(lib, self._vocab)
        self.n_seq = n_seq
        self.n_ctx = n_ctx
        self.n_batch = max(n_ctx, n_seq, 512)
        cparams = lib.llama_context_default_params()
        cparams.n_ctx = n_ctx * n_seq
        cparams.n_batch = self.n_batch
        cparams.n_ubatch = min(n_ubatch, self.n_batch)
        cparams.n_seq_max = n_seq
        cparams.n_threads = n_threads
        cparams.n_threads_batch = n_threads
        cparams.kv_unified = False
        cparams.flash_attn_type = (
            lib.LLAMA_FLASH_ATTN_TYPE_ENABLED if flash_attn else lib.LLAMA_FLASH_ATTN_TYPE_DISABLED
        )
        cparams.no_perf = True
        self._ctx = lib.llama_init_from_model(self._model, cparams)
        if not self._ctx:
            self.close()
            raise NacrithError(
                f"llama.cpp could not create a context of {n_seq} x {n_ctx} tokens (out of memory?)"
            )
        self._mem = lib.llama_get_memory(self._ctx)
        self.n_embd = int(lib.llama_model_n_embd(self._model))
        self.hidden = bool(hidden)
        if self.hidden:
            lib.llama_set_embeddings(self._ctx, True)
        self._n_out = 0
        self._kept = slice(None)
        self._batch = lib.llama_batch_init(self.n_batch, 0, 1)
        b = self._batch
        self._tok = np.ctypeslib.as_array(b.token, shape=(self.n_batch,))
        self._pos = np.ctypeslib.as_array(b.pos, shape=(self.n_batch,))
        self._nseq = np.ctypeslib.as_array(b.n_seq_id, shape=(self.n_batch,))
        self._out = np.ctypeslib.as_array(
            ctypes.cast(b.logits, ctypes.POINTER(ctypes.c_int8)), shape=(self.n_batch,)
        )
        self._seq_ptrs = [b.seq_id[i] for i in range(self.n_batch)]
        self._nseq[:] = 1
        self._pieces: list[bytes] | None = None

    # -- evaluation --------------------------------------------------------------------------

    def clear(self, seq: int) -> None:
        """Forget everything stream `seq` has seen."""
        self._lib.llama_memory_seq_rm(self._mem, seq, -1, -1)

    def prefill(self, seq: int, tokens: Sequence[int] | np.ndarray) -> np.ndarray:
        """Clear stream `seq`, feed `tokens` at positions 0.. as one batch; logits of the last.

        With `hidden`, llama.cpp outputs every token of the batch and this returns the FIRST
        token's logits (and `hidden_states` its state): llama-engine archives of llm formats
        1-5 were coded with exactly that at every re-prefill, so it stays. `append` returns the
        right rows.
        """
        n = len(tokens)
        if not 1 <= n <= min(self.n_ctx, self.n_batch):
            raise ValueError(f"prefill of {n} tokens does not fit a context of {self.n_ctx}")
        self.clear(seq)
        self._tok[:n] = tokens
        self._pos[:n] = np.arange(n, dtype=np.int32)
        self._out[:n] = 0
        self._out[n - 1] = 1
        for i in range(n):
            self._seq_ptrs[i][0] = seq
        return self._decode(n, 1)[0]

    def append(
        self, seq: int, tokens: Sequence[int] | np.ndarray, *, all_logits: bool = False
    ) -> np.ndarray:
        """Feed `tokens` to stream `seq` at its next positions as one batch (nothing cleared);
        the logits of the last token as (V,), or of every token as (n, V) with `all_logits`."""
        n = len(tokens)
        start = int(self._lib.llama_memory_seq_pos_max(self._mem, seq)) + 1
        if not 1 <= n <= self.n_batch or start + n > self.n_ctx:
            raise ValueError(
                f"append of {n} tokens at {start} does not fit a context of {self.n_ctx}"
            )
        self._tok[:n] = tokens
        self._pos[:n] = np.arange(start, start + n, dtype=np.int32)
        self._out[:n] = 1 if all_logits else 0
        self._out[n - 1] = 1
        for i in range(n):
            self._seq_ptrs[i][0] = seq
        if all_logits:
            return self._decode(n, n)
        # with `hidden`, llama.cpp outputs every token whatever the flags say
        rows = self._decode(n, n if self.hidden else 1)
        self._kept = slice(-1, None)
        return rows[-1]

    def shift(self, seq: int, start: int, count: int) -> None:
        """Drop positions start..start+count-1 of stream `seq` and move every later position
        down by `count` (their keys are re-rotated at the next decode)."""
        if start < 0 or count < 1:
            raise ValueError(f"shift needs start >= 0 and count >= 1, got {start}, {count}")
        lib = self._lib
        lib.llama_memory_seq_rm(self._mem, seq, start, start + count)
        lib.llama_memory_seq_add(self._mem, seq, start + count, -1, -count)

    def step(
        self,
        seqs: Sequence[int],
        tokens: Sequence[int] | np.ndarray,
        positions: Sequence[int] | np.ndarray,
    ) -> np.ndarray:
        """Feed one token to each stream in `seqs` (one `llama_decode`); logits as (B, V)."""
        n = len(seqs)
        if not 1 <= n <= self.n_batch:
            raise ValueError(f"step over {n} streams")
        self._tok[:n] = tokens
        self._pos[:n] = positions
        self._out[:n] = 1
        for i, s in enumerate(seqs):
            self._seq_ptrs[i][0] = s
        return self._decode(n, n)

    def _decode(self, n_tokens: int, n_out: int) -> np.ndarray:
        self._batch.n_tokens = n_tokens
        rc = self._lib.llama_decode(self._ctx, self._batch)
        if rc != 0:
            raise NacrithError(f"llama_decode failed with code {rc}")
        self._n_out = n_out
        self._kept = slice(None)  # the rows of the hidden states that `hidden_states` returns
        ptr = self._lib.llama_get_logits(self._ctx)
        return np.ctypeslib.as_array(ptr, shape=(n_out, self.n_vocab)).copy()

    def hidden_states(self) -> np.ndarray:
        """Final hidden states (n_out, n_embd) of the last `prefill` or `step` (needs `hidden`)."""
        if not self.hidden:
            raise RuntimeError("this backend was made without hidden=True")
        ptr = self._lib.llama_get_embeddings(self._ctx)
        if not ptr or not self._n_out:
            raise NacrithError("llama.cpp returned no hidden states")
        return np.ctypeslib.as_array(ptr, shape=(self._n_out, self.n_embd))[self._kept].copy()

    # -- lifetime ------------------------------------------------------------------------------

    def close(self) -> None:
        """Free the batch, context and model; the backend is unusable afterwards."""
        lib = self._lib
        if self._batch is not None:
            lib.llama_batch_free(self._batch)
            self._batch = None
        if self._ctx:
            lib.llama_free(self._ctx)
            self._ctx = None
        if self._model:
            lib.llama_model_free(self._model)
            self._model = None

    def __enter__(self) -> LlamaBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
