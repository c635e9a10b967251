"""The `llm` codec: text -> tokens -> a small LLM + online predictors -> range coder.

Payload of one chunk::

    mode        1 byte: 0 = neural, 1 = stored (the text could not be tokenized losslessly)
    -- mode 0 --
    side_len    varint, then side_len bytes of front-end side data (escapes, then reflow when
                the header's `reflow` is set, then line ends)
    n_tokens    varint (<= the chunk's size)
    stream      the range coder's bytes, to the end

Two engines compute the model's logits (`engine`, stored in the header; see `llm_params`): the
portable engine, whose probabilities (with the predictors and the quantizer in exact mode) have
the same bits on every machine, and llama.cpp, faster and GPU-capable but machine-bound.

Chunks given together to `encode_many` / `decode_many` run as lockstep streams of one model
context. Each stream's numbers do not depend on its companions (one new token per stream per
step, a KV cache per stream, slides and skips decided per stream), so how chunks are grouped
is free on both sides; the tests check it.

The header params pin everything the decoder needs: engine, model name and file sha256,
tokenizer hash, context geometry, predictor settings (and, for llama, the llama-cpp-python
version), and a probe hash of the logits and predictor math on fixed inputs. `from_params`
recomputes the probe and raises `ModelMismatchError` naming the cause before any payload is
decoded; for a portable archive a mismatch is a failed self-test (a bug or a broken install).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from nacrith.codecs.base import Codec
from nacrith.codecs.llm_params import (
    DEFAULT_SKIP_RUN,
    FORMAT_VERSION,
    HASH_HEX,
    LLAMA_VERSION,
    REVISION_VERSION,
    WINDOW_VERSION,
    StoredParams,
    cached_sha256,
    check_widen,
    choose_engine,
    choose_revision,
    choose_threads,
    choose_widen,
    make_window,
    model_for,
    other_device,
    registered_name,
    self_test_failed,
    vocabulary_hash,
    window_params,
)
from nacrith.codecs.llm_probe import probe_of
from nacrith.coders.range_coder import HEAD_MIN, RangeDecoder, RangeEncoder
from nacrith.errors import (
    CorruptDataError,
    FormatError,
    ModelMismatchError,
    NacrithError,
    TruncatedError,
)
from nacrith.formats.text import Escapes, Reader, bad_codepoint_pattern, prepare, restore
from nacrith.formats.varint import put_varint
from nacrith.models.llm import registry
from nacrith.models.llm.lockstep import ENCODE_BATCH, MAX_DRAFT, run_streams
from nacrith.models.llm.skipping import run_skipping
from nacrith.models.online.ensemble import Ensemble, EnsembleSettings

__all__ = ["LLMCodec"]

MODE_NEURAL = 0
MODE_STORED = 1


class LLMCodec(Codec):
    """Neural text codec. Settings are keyword arguments; `params` says which are stored.

    - `model`: registered model name or GGUF path (default: ``$NACRITH_MODEL`` or
      ``smollm2-135m``).
    - `n_ctx`: context length per stream, in tokens (the model allows up to its training
      context; default: the registered model's `context`, else 2048).
    - `sink`, `drop`: how a full context makes room. `sink` > 0: keep the first `sink`
      positions (BOS and attention-sink tokens), drop the next `drop` and shift the rest
      down, with no re-prefill (format 6). `sink` 0: clear and re-prefill BOS plus the last
      `keep` tokens, as formats 1-5 do. Defaults (`llm_params.make_window`): the shift where
      the engine can shift its cache, else the re-prefill.
    - `keep`: tokens of history re-prefilled when the context slides (default n_ctx // 2).
    - `skip`, `skip_run`: confidence skip (format 6, shifting window only): a position whose
      model-free mixture (n-gram, match) gives some token at least `skip` is coded without the
      model, at most `skip_run` positions in a row; the model catches up in one batch. 0: off.
    - `bias_lr`, `ngram_order`, `ngram_discount`, `match`, `mixer_lr`, `column`, `cache_size`,
      `cache_theta`: predictor settings (see `nacrith.models.online.ensemble.EnsembleSettings`).
    - `crlf`: turn CRLF into LF before the model sees the text (reversible).
    - `reflow`: turn the line breaks of greedily hard-wrapped text into spaces before the
      model sees it (reversible; the width is found per chunk, and text that is not wrapped
      that way is left alone).
    - `engine`: what computes the model's probabilities: ``"portable"`` (exact arithmetic:
      the archive decodes bit-exactly on any machine; llama and Gemma 3 models with the tensor
      types `nacrith.models.portable.support` lists) or ``"llama"`` (llama.cpp: faster, may use
      a GPU, but the archive decodes only where the probe matches, i.e. machine-bound).
      Default: portable when it runs the model and no `gpu` is asked for, else llama.
    - `revision`: the portable engine's arithmetic revision (stored; format 7 for revision 2,
      the default; revision 1 writes formats 5-6 as before).
    - `n_threads`, `processes`: the model's CPU threads (llama.cpp's, or those the portable
      engine splits each product over), and how many processes code at once on this machine.
      Default: this process's share of the CPUs (`llm_params.choose_threads`).
    - `gpu`: offload all layers to a GPU (llama engine only; the probe checks its numerics).
    - `overlap`: run each model call in a second thread while the predictors learn the last
      token; the encoder, which knows every token, lets the model run one step ahead.
    - `encode_batch`: on the exact (portable) engine, the encoder computes each stream's rows
      for up to this many tokens in one model call (0: token by token).
    - `decode_drafts`: on the exact engine's llama graph, the decoder feeds each decoded token
      with up to this many guesses of the next ones and keeps the rows they confirm
      (`nacrith.models.llm.drafting`; 0: token by token).
    - `n_threads`, `processes`, `overlap`, `encode_batch`, `decode_drafts` and `widen` are
      machine-local: they are not stored, and the payload has the same bits whatever they are.
    - `widen`: which weight matrices the portable engine's encoder keeps as float64 values
      for its batches (`llm_params.WIDEN_PARTS`; default: `llm_params.choose_widen`).
    - `max_streams`: most chunks coded in lockstep in one context (memory: each stream holds
      its own KV cache and predictor state).
    """

    codec_id: ClassVar[str] = "llm"

    DEFAULT_CTX = registry.DEFAULT_CONTEXT
    #: Chunks (independent streams) of at most this size, cut into equal parts. Ratio comes
    #: first: each stream starts cold, so more streams cost bits (BENCHMARKS.md, "llm chunk
    #: size"); files up to about 0.9 MiB stay one stream and larger ones give every worker
    #: streams to run. `--chunk-size` trades ratio for speed.
    default_chunk_size: ClassVar[int] = 1 << 20

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        n_ctx: int | None = None,
        keep: int | None = None,
        sink: int | None = None,
        drop: int | None = None,
        skip: float = 0.0,
        skip_run: int = DEFAULT_SKIP_RUN,
        bias_lr: float = 0.5,
        ngram_order: int = 4,
        ngram_discount: float = 0.75,
        match: bool = True,
        mixer_lr: float = 0.5,
        column: bool = True,
        cache_size: int = 8192,
        cache_theta: float = 35.0,
        crlf: bool = True,
        reflow: bool = True,
        engine: str | None = None,
        revision: int | None = None,
        n_threads: int | None = None,
        processes: int | None = None,
        gpu: bool = False,
        max_streams: int = 8,
        overlap: bool = True,
        encode_batch: int = ENCODE_BATCH,
        widen: str | None = None,
        decode_drafts: int = MAX_DRAFT,
    ) -> None:
        self.model_path = registry.resolve_model(model)
        name = os.fspath(model) if model else os.environ.get(registry.ENV_MODEL) or ""
        self.model_name = name if name in registry.MODELS else (name or registry.DEFAULT_MODEL)
        if self.model_name not in registry.MODELS:
            self.model_name = registered_name(self.model_path) or self.model_path.name
        if n_ctx is None:
            spec = registry.MODELS.get(self.model_name)
            n_ctx = spec.context if spec is not None else self.DEFAULT_CTX
        if not isinstance(n_ctx, int) or not 16 <= n_ctx <= 1 << 17:
            raise ValueError(f"n_ctx must be an integer in 16..131072, got {n_ctx!r}")
        keep = n_ctx // 2 if keep is None else keep
        if not isinstance(keep, int) or not 1 <= keep <= n_ctx - 2:
            raise ValueError(f"keep must be an integer in 1..{n_ctx - 2}, got {keep!r}")
        if not isinstance(max_streams, int) or max_streams < 1:
            raise ValueError(f"max_streams must be a positive integer, got {max_streams!r}")
        self.engine = choose_engine(engine, self.model_path, self.model_name, bool(gpu))
        self.revision = choose_revision(self.engine, revision)
        self.window, self.skip = make_window(n_ctx, keep, sink, drop, skip, skip_run)
        self.settings = EnsembleSettings(
            bias_lr=bias_lr,
            ngram_order=ngram_order,
            ngram_discount=ngram_discount,
            match=match,
            mixer_lr=mixer_lr,
            column=column,
            cache_size=cache_size,
            cache_theta=cache_theta,
        )
        self.settings.validate()
        self.n_ctx = n_ctx
        self.keep = keep
        self.crlf = bool(crlf)
        self.reflow = bool(reflow)
        self.n_threads = n_threads
        self.processes = processes
        #: CPU threads of this codec's model (either engine)
        self.threads = choose_threads(n_threads, processes, self.engine)
        self.gpu = bool(gpu)
        self.max_streams = max_streams
        self.overlap = bool(overlap)
        if not isinstance(encode_batch, int) or encode_batch < 0:
            raise ValueError(f"encode_batch must be a non-negative integer, got {encode_batch!r}")
        self.encode_batch = encode_batch
        if not isinstance(decode_drafts, int) or decode_drafts < 0:
            raise ValueError(f"decode_drafts must be a non-negative integer, got {decode_drafts!r}")
        self.decode_drafts = decode_drafts
        self.widen = check_widen(widen)
        self._widened = False
        self._backend = None
        self._backend_streams = 0
        self._pattern = None
        self._lock = threading.RLock()
        self._probe: str | None = None
        self._tokenizer_hash: str | None = None

    @property
    def exact(self) -> bool:
        """Whether the predictors and the coder run in exact mode (the portable engine)."""
        return self.engine == "portable"

    # -- model ---------------------------------------------------------------------------------

    def runtime(self) -> dict[str, Any]:
        """The machine-local settings worker processes need to rebuild this codec."""
        return {
            "model": os.fspath(self.model_path),
            "n_threads": self.n_threads,
            "processes": self.processes,
            "gpu": self.gpu,
            "max_streams": self.max_streams,
            "overlap": self.overlap,
            "encode_batch": self.encode_batch,
            "widen": self.widen,
            "decode_drafts": self.decode_drafts,
        }

    def _get_backend(self, n_streams: int = 1):
        n_streams = max(1, min(n_streams, self.max_streams))
        if self._backend is not None and self._backend_streams >= n_streams:
            return self._backend
        # the new backend comes before the old one closes: the portable engine's weights,
        # shared while any backend holds them, then stay loaded
        new = self._new_backend(n_streams)
        if self._backend is not None:
            self._backend.close()
        self._backend, self._backend_streams = new, n_streams
        if self.n_ctx > self._backend.n_ctx_train:
            raise ValueError(
                f"n_ctx {self.n_ctx} exceeds the model's training context "
                f"{self._backend.n_ctx_train}"
            )
        return self._backend

    def _new_backend(self, n_streams: int):
        hidden = self.settings.cache_size > 0
        if self.engine == "portable":
            from nacrith.models.portable.backend import PortableBackend

            return PortableBackend(
                self.model_path,
                n_seq=n_streams,
                n_ctx=self.n_ctx,
                hidden=hidden,
                revision=self.revision,
                sink=self.window.sink,
                threads=self.threads,
            )
        from nacrith.models.llm.backend import LlamaBackend, gpu_available

        if self.gpu and not gpu_available():
            raise NacrithError(
                "this llama-cpp-python build cannot offload to a GPU; install a CUDA build "
                "(see README) or leave out --gpu"
            )
        return LlamaBackend(
            self.model_path,
            n_seq=n_streams,
            n_ctx=self.n_ctx,
            n_threads=self.threads,
            n_gpu_layers=999 if self.gpu else 0,
            hidden=hidden,
        )

    def _escapes(self) -> Escapes:
        if self._pattern is None:
            pieces = self._get_backend().pieces()
            single = {p[0] for p in pieces if len(p) == 1}
            self._pattern = bad_codepoint_pattern(single)
        return Escapes(self._pattern)

    def tokenizer_hash(self) -> str:
        """sha256 over the byte pieces of the whole vocabulary and the BOS id."""
        if self._tokenizer_hash is None:
            self._tokenizer_hash = vocabulary_hash(self._get_backend())
        return self._tokenizer_hash

    def probe(self) -> str:
        """Hash of the engine's logits on a fixed text and of the predictors' and the coder's
        math on them: this machine's numbers with the llama engine, a self-test (the same hash
        everywhere) with the portable one (`llm_probe`)."""
        if self._probe is None:
            with self._lock:
                self._probe = probe_of(self)
        return self._probe

    # -- params ----------------------------------------------------------------------------------

    def params(self) -> dict[str, Any]:
        """Everything the decoder needs, plus the fingerprints it checks."""
        from nacrith.models.llm.backend import llama_version

        engine: dict[str, Any] = (
            {"version": LLAMA_VERSION, "llama_cpp": llama_version()}
            if self.engine == "llama"
            else {"version": FORMAT_VERSION, "engine": self.engine}
        )
        if self.window.shifts:
            engine = {**engine, "version": WINDOW_VERSION, "engine": self.engine}
        if self.revision != 1:
            engine = {**engine, "version": REVISION_VERSION, "revision": self.revision}
        return {
            **engine,
            "model": self.model_name,
            "sha256": cached_sha256(self.model_path)[:HASH_HEX],
            "tokenizer": self.tokenizer_hash()[:HASH_HEX],
            "n_ctx": self.n_ctx,
            **window_params(self.window, self.skip),
            "crlf": self.crlf,
            "reflow": self.reflow,
            "head_min": HEAD_MIN,
            "predictors": self.settings.to_dict(),
            "probe": self.probe()[:HASH_HEX],
        }

    @classmethod
    def from_params(cls, params: Mapping[str, Any], **runtime: Any) -> LLMCodec:
        """Decoder-side codec from header params; checks model, tokenizer and probe.

        `runtime` may set `model` (a path to use instead of the registered name), `n_threads`,
        `processes`, `gpu` (ignored for portable archives), `max_streams`, `overlap`,
        `encode_batch`, `widen` and `decode_drafts`.
        """
        stored = StoredParams.read(params)
        model = runtime.pop("model", None)
        if model is None:
            model = model_for(stored.model)
        if stored.engine == "portable":
            runtime.pop("gpu", None)

        def build(**overrides: Any) -> LLMCodec:
            local = {**runtime, **overrides}  # machine-local only: stored settings stay as stored
            return cls(
                model,
                n_ctx=stored.n_ctx,
                keep=stored.keep,
                sink=stored.window.sink,
                drop=stored.window.drop or None,
                skip=stored.skip.threshold if stored.skip else 0.0,
                skip_run=stored.skip.run if stored.skip else DEFAULT_SKIP_RUN,
                crlf=stored.crlf,
                reflow=stored.reflow,
                engine=stored.engine,
                revision=stored.revision if stored.engine == "portable" else None,
                **stored.settings.to_dict(),
                **local,
            )

        try:
            codec = build()
        except ValueError as exc:
            raise FormatError(f"bad llm codec parameters: {exc}") from exc
        have_sha = cached_sha256(codec.model_path)
        if not have_sha.startswith(stored.sha256):
            raise ModelMismatchError(
                f"model file {codec.model_path} has sha256 {have_sha[:16]}..., the archive needs "
                f"{stored.model!r} with sha256 {stored.sha256[:16]}..."
            )
        if not codec.tokenizer_hash().startswith(stored.tokenizer):
            raise ModelMismatchError("the model's tokenizer differs from the archive's")
        if codec.probe().startswith(stored.probe):
            return codec
        if stored.engine == "portable":
            codec.close()
            raise self_test_failed()
        return other_device(codec, build, stored)

    # -- text front end ----------------------------------------------------------------------------

    def _front(self, data: bytes) -> tuple[bytes, bytes]:
        """(side data, text for the model) of one chunk."""
        return prepare(data, self._escapes(), crlf=self.crlf, reflow=self.reflow)

    def accepts(self, data: bytes) -> bool:
        """Whether coding `data` as text is worthwhile: it tokenizes losslessly and at most 2%
        of it needs escaping."""
        side, text = self._front(data)
        if len(side) > 8 + len(data) // 50:
            return False
        be = self._get_backend()
        return be.detokenize(be.tokenize(text)) == text

    # -- coding ----------------------------------------------------------------------------------

    def encode(self, data: bytes) -> bytes:
        """Code one chunk."""
        return self.encode_many([data])[0]

    def decode(self, payload: bytes, raw_size: int) -> bytes:
        """Decode one chunk of exactly `raw_size` bytes."""
        return self.decode_many([(payload, raw_size)])[0]

    def encode_many(self, chunks: Sequence[bytes]) -> list[bytes]:
        """Code independent chunks as lockstep streams (groups of `max_streams`)."""
        with self._lock:
            out: list[bytes | None] = [None] * len(chunks)
            jobs = []
            for k, data in enumerate(chunks):
                data = bytes(data)
                side, text = self._front(data)
                be = self._get_backend()
                toks = be.tokenize(text)
                if be.detokenize(toks) != text:
                    out[k] = bytes([MODE_STORED]) + data
                    continue
                head = bytearray([MODE_NEURAL])
                put_varint(head, len(side))
                head += side
                put_varint(head, len(toks))
                jobs.append((k, bytes(head), toks))
            self._widen_for(sum(len(j[2]) for j in jobs))
            # longest first, so that lockstep groups hold similar lengths
            jobs.sort(key=lambda j: -len(j[2]))
            for g in range(0, len(jobs), self.max_streams):
                group = jobs[g : g + self.max_streams]
                encoders = [RangeEncoder() for _ in group]
                token_lists = [j[2] for j in group]

                done: list[list[int]] = [[] for _ in group]

                def code(
                    s: int, probs: np.ndarray, token_lists=token_lists, done=done, encoders=encoders
                ) -> int:
                    tok = int(token_lists[s][len(done[s])])
                    done[s].append(tok)
                    encoders[s].encode_probs(tok, probs, exact=self.exact)
                    return tok

                weights = [len(chunks[k]) / max(1, len(t)) for (k, _, t) in group]
                self._run([len(t) for t in token_lists], code, known=token_lists, weights=weights)
                for (k, head, _), enc in zip(group, encoders):
                    payload = head + enc.finish()
                    raw = bytes(chunks[k])
                    # never more than one byte over the raw chunk
                    out[k] = payload if len(payload) <= len(raw) else bytes([MODE_STORED]) + raw
            return [bytes(o) for o in out if o is not None]

    def decode_many(self, items: Sequence[tuple[bytes, int]]) -> list[bytes]:
        """Decode independent (payload, raw_size) pairs as lockstep streams."""
        with self._lock:
            out: list[bytes | None] = [None] * len(items)
            jobs = []
            for k, (payload, raw_size) in enumerate(items):
                payload = bytes(payload)
                if not payload:
                    raise TruncatedError("llm payload is empty")
                if payload[0] == MODE_STORED:
                    if len(payload) - 1 != raw_size:
                        raise CorruptDataError("stored llm chunk has the wrong size")
                    out[k] = payload[1:]
                    continue
                if payload[0] != MODE_NEURAL:
                    raise CorruptDataError(f"unknown llm payload mode {payload[0]}")
                r = Reader(payload, 1)
                side = r.take(r.varint(len(payload)))
                n_tokens = r.varint(raw_size)
                jobs.append((k, raw_size, side, n_tokens, r.rest()))
            jobs.sort(key=lambda j: -j[3])
            for g in range(0, len(jobs), self.max_streams):
                group = jobs[g : g + self.max_streams]
                try:
                    decoders = [RangeDecoder(j[4]) for j in group]
                except (ValueError, TypeError) as exc:
                    raise CorruptDataError(f"llm payload does not decode: {exc}") from exc

                def code(s: int, probs: np.ndarray, decoders=decoders) -> int:
                    return decoders[s].decode_probs(probs, exact=self.exact)

                weights = [j[1] / max(1, j[3]) for j in group]
                token_lists = self._run([j[3] for j in group], code, weights=weights)
                be = self._get_backend()
                for (k, raw_size, side, _, _), toks in zip(group, token_lists):
                    out[k] = self._back(be.detokenize(toks), side, raw_size)
            return [bytes(o) for o in out if o is not None]

    def _back(self, text: bytes, side: bytes, raw_size: int) -> bytes:
        return restore(text, side, raw_size, reflow=self.reflow)

    def _ensemble(self, be, n_streams: int) -> Ensemble:
        return Ensemble(
            self.settings,
            n_streams,
            be.n_vocab,
            be.pieces(),
            be.n_embd,
            exact=self.exact,
            skipping=self.skip is not None,
        )

    def _loop(self, be, ens: Ensemble, lengths, code, known=None, weights=None, overlap=True):
        """The lockstep loop this codec's format runs: with confidence skip or without."""
        if self.skip is not None:
            return run_skipping(
                be,
                ens,
                lengths,
                code,
                window=self.window,
                skip=self.skip,
                known=known,
                weights=weights,
            )
        return run_streams(
            be,
            ens,
            lengths,
            code,
            window=self.window,
            overlap=overlap,
            known=known,
            weights=weights,
            batch=self.encode_batch,
            drafts=self.decode_drafts,
        )

    def _widen_for(self, tokens: int) -> None:
        """Widen the portable engine's matrices once, before an encoder's batches (`widen`)."""
        if not self._widened and self.exact and self.encode_batch > 1:
            part = choose_widen(self.widen, tokens)
            if part != "none":
                self._get_backend().widen(part)
                self._widened = True

    def _run(self, lengths: list[int], code, known=None, weights=None) -> list[list[int]]:
        """Run the lockstep loop; `weights`: the raw bytes each stream's token stands for."""
        be = self._get_backend(len(lengths))
        ens = self._ensemble(be, len(lengths))
        try:
            return self._loop(be, ens, lengths, code, known, weights, self.overlap)
        except NacrithError:
            raise
        except (IndexError, ValueError, OverflowError) as exc:
            raise CorruptDataError(f"llm payload does not decode: {exc}") from exc

    def close(self) -> None:
        """Free the model."""
        with self._lock:
            if self._backend is not None:
                self._backend.close()
                self._backend = None
