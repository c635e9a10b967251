"""One-shot functions and reusable compressor / decompressor contexts.

`compress(data, **settings)` is exactly `Compressor(**settings).compress(data)`; in a loop, build
one `Compressor` instead, so the model is loaded once.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import IO, Any, TypeVar

from nacrith.codecs.base import Codec
from nacrith.pipeline import Progress, Settings, compress_stream, decompress_stream

__all__ = ["Compressor", "Decompressor", "compress", "decompress"]


def _settings(
    method: str,
    workers: int | None,
    chunk_size: int | None,
    model: str | None,
    gpu: bool,
    level: int | None,
    options: Mapping[str, Mapping[str, Any]] | None,
) -> Settings:
    opts = {k: dict(v) for k, v in (options or {}).items()}
    if model is not None:
        opts.setdefault("llm", {})["model"] = model
    if gpu:
        opts.setdefault("llm", {})["gpu"] = True
    if level is not None:
        opts.setdefault("zstd", {})["level"] = level
    return Settings(method=method, workers=workers, chunk_size=chunk_size, options=opts)


_H = TypeVar("_H", bound="_CodecHolder")


class _CodecHolder:
    """Keeps loaded codecs in `_held` between calls and closes them with the context."""

    _held: dict[Any, Codec]

    def close(self) -> None:
        """Release loaded codecs."""
        for codec in self._held.values():
            codec.close()
        self._held.clear()

    def __enter__(self: _H) -> _H:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Compressor(_CodecHolder):
    """Reusable compression context; holds loaded codecs (the model) between calls.

    Args:
        method: "auto" (default: the neural codec for text, log templates for logs, zstd for
            binary), "llm", "fib" (fast, no model), "logs", "zstd" or "stored".
        workers: worker processes (None or 0: one per CPU). Never changes the output bytes.
        chunk_size: bytes per independent chunk (default: the codec's own).
        model: model name or GGUF path for the llm codec.
        gpu: run the llm codec's model on a GPU (needs a GPU build of llama-cpp-python; the
            archive then decodes only where the probe matches, i.e. on a like GPU).
        level: zstd level for binary regions.
        options: per-codec settings, e.g. ``{"llm": {"n_ctx": 4096}}``.
    """

    def __init__(
        self,
        method: str = "auto",
        *,
        workers: int | None = None,
        chunk_size: int | None = None,
        model: str | None = None,
        gpu: bool = False,
        level: int | None = None,
        options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.settings = _settings(method, workers, chunk_size, model, gpu, level, options)
        self._held = {}

    def compress(self, data: bytes | bytearray | memoryview) -> bytes:
        """Compress `data` into a complete archive."""
        raw = bytes(data)
        out = io.BytesIO()
        compress_stream(io.BytesIO(raw), out, self.settings, len(raw), cache=self._held)
        return out.getvalue()

    def compress_stream(
        self,
        reader: IO[bytes],
        writer: IO[bytes],
        size: int | None = None,
        progress: Progress | None = None,
    ) -> int:
        """Compress a binary stream into `writer`; return the archive size in bytes."""
        return compress_stream(reader, writer, self.settings, size, progress, self._held)


class Decompressor(_CodecHolder):
    """Reusable decompression context; keeps decoder codecs (a loaded model) between calls.

    Args:
        workers: worker processes (None or 0: one per CPU).
        max_output_size: refuse archives that decode to more bytes than this (OutputLimitError).
        model: GGUF path for archives made with an unregistered model file (llm codec).
        gpu: let the llm codec use a GPU (archives made on a GPU need one with the same
            numerics; the header's probe checks it).
        options: per-codec machine-local options, e.g. ``{"llm": {"n_threads": 2}}``.
    """

    def __init__(
        self,
        *,
        workers: int | None = None,
        max_output_size: int | None = None,
        model: str | None = None,
        gpu: bool = False,
        options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        if max_output_size is not None and max_output_size < 0:
            raise ValueError("max_output_size must be non-negative")
        if workers is not None and (not isinstance(workers, int) or workers < 0):
            raise ValueError(f"workers must be a non-negative integer, got {workers!r}")
        self.workers = workers
        self.max_output_size = max_output_size
        self.runtime = {k: dict(v) for k, v in (options or {}).items()}
        if model is not None:
            self.runtime.setdefault("llm", {})["model"] = model
        if gpu:
            self.runtime.setdefault("llm", {})["gpu"] = True
        self._held = {}

    def decompress(self, data: bytes | bytearray | memoryview) -> bytes:
        """Decode a complete archive (all members) and return the original bytes."""
        out = io.BytesIO()
        self.decompress_stream(io.BytesIO(bytes(data)), out)
        return out.getvalue()

    def decompress_stream(
        self, reader: IO[bytes], writer: IO[bytes], progress: Progress | None = None
    ) -> int:
        """Decode an archive stream into `writer`; return the bytes written."""
        return decompress_stream(
            reader, writer, self.workers, self.max_output_size, progress, self._held, self.runtime
        )


def compress(
    data: bytes | bytearray | memoryview,
    method: str = "auto",
    *,
    workers: int | None = None,
    chunk_size: int | None = None,
    model: str | None = None,
    gpu: bool = False,
    level: int | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> bytes:
    """Compress `data`; equivalent to ``Compressor(method, ...).compress(data)``."""
    with Compressor(
        method,
        workers=workers,
        chunk_size=chunk_size,
        model=model,
        gpu=gpu,
        level=level,
        options=options,
    ) as compressor:
        return compressor.compress(data)


def decompress(
    data: bytes | bytearray | memoryview,
    *,
    workers: int | None = None,
    max_output_size: int | None = None,
    model: str | None = None,
    gpu: bool = False,
) -> bytes:
    """Decompress a complete archive; equivalent to ``Decompressor(...).decompress(data)``."""
    with Decompressor(
        workers=workers, max_output_size=max_output_size, model=model, gpu=gpu
    ) as decompressor:
        return decompressor.decompress(data)
