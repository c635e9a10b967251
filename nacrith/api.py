"""One-shot functions and reusable compressor / decompressor contexts.

`compress(data, **settings)` is exactly `Compressor(**settings).compress(data)`; in a loop, build
one `Compressor` instead, so the model is loaded once.

Arguments are checked when a context is built: a bad setting raises `ValueError` / `TypeError`
naming it, and the codecs the method needs are built then too, so a missing model file raises
`ModelNotFoundError` before any output exists. Coding runs in this process unless `workers`
asks for processes, or `cluster` names a Ray cluster to run it on.
"""

from __future__ import annotations

import inspect
import io
import os
from collections.abc import Mapping
from typing import IO, Any, TypeVar

from nacrith.codecs.base import Codec
from nacrith.pipeline import Progress, Settings, compress_stream, decompress_stream
from nacrith.workers import resolve_workers

__all__ = ["Compressor", "Decompressor", "compress", "decompress"]

BytesLike = bytes | bytearray | memoryview
CodecOptions = Mapping[str, Mapping[str, Any]]


def byte_view(data: Any, where: str) -> memoryview:
    """`data` as a flat memoryview of bytes; TypeError unless it is a bytes-like object."""
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError(
            f"{where}: a bytes-like object is required, not {type(data).__name__!r}"
        ) from None
    if view.c_contiguous:
        return view.cast("B")
    return memoryview(view.tobytes())


def _known_settings(cls: type[Codec], decoding: bool) -> set[str] | None:
    """Names a codec accepts as settings (None: it takes any keyword)."""
    if decoding:
        params = inspect.signature(cls.from_params).parameters.values()
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            return set()
    if cls.__init__ is object.__init__:
        return set()
    named: set[str] = set()
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            return None
        if name != "self" and param.kind is not inspect.Parameter.VAR_POSITIONAL:
            named.add(name)
    return named


def _codec_options(options: Any, decoding: bool) -> dict[str, dict[str, Any]]:
    """A checked copy of per-codec `options`: known codec ids, mappings of known settings."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise TypeError(
            f"options must be a mapping of codec id to settings, not {type(options).__name__!r}"
        )
    from nacrith.codecs.registry import CODECS

    checked: dict[str, dict[str, Any]] = {}
    for codec_id, settings in options.items():
        cls = CODECS.get(codec_id) if isinstance(codec_id, str) else None
        if cls is None:
            raise ValueError(
                f"options names an unknown codec {codec_id!r} (known: {', '.join(sorted(CODECS))})"
            )
        if not isinstance(settings, Mapping):
            raise TypeError(
                f"options[{codec_id!r}] must be a mapping of {codec_id} settings, "
                f"not {type(settings).__name__!r}"
            )
        known = _known_settings(cls, decoding)
        kind = "decoder option" if decoding else "setting"
        for name in settings:
            if known is not None and name not in known:
                listed = ", ".join(sorted(known)) or "none"
                raise ValueError(f"unknown {codec_id} {kind} {name!r} (known: {listed})")
        checked[codec_id] = dict(settings)
    return checked


def _check_model(model: Any) -> None:
    if model is not None and not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"model must be a name or a path, not {type(model).__name__!r}")


def _check_size(value: Any, name: str) -> None:
    """`value` must be None or a non-negative integer."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be None or an integer, not {type(value).__name__!r}")
    if value < 0:
        raise ValueError(f"{name} must be non-negative, got {value}")


def _check_progress(progress: Any) -> None:
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable, not {type(progress).__name__!r}")


def _settings(
    method: str,
    workers: int | None,
    chunk_size: int | None,
    model: str | os.PathLike[str] | None,
    gpu: bool,
    level: int | None,
    options: CodecOptions | None,
    cluster: str | None = None,
) -> Settings:
    opts = _codec_options(options, decoding=False)
    _check_model(model)
    if model is not None:
        opts.setdefault("llm", {})["model"] = model
    if gpu:
        opts.setdefault("llm", {})["gpu"] = True
    if level is not None:
        opts.setdefault("zstd", {})["level"] = level
    return Settings(
        method=method, workers=workers, chunk_size=chunk_size, options=opts, cluster=cluster
    )


def _codecs_needed(settings: Settings) -> list[str]:
    """Codecs to build up front for `settings.method` (with `auto`, the llm codec only when it
    has settings: binary input never needs it, and building it may fetch the default model)."""
    from nacrith.codecs.registry import CODECS

    method = settings.method
    if method == "auto":
        wanted = ["zstd", "logs", *(["llm"] if "llm" in settings.options else [])]
    else:
        wanted = [method, "zstd"]
    return [codec_id for codec_id in wanted if codec_id in CODECS and codec_id != "stored"]


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
        method: "auto" (default: the neural codec for text, log templates for logs, zstd or
            xz for binary), "fast" (no model: per chunk the best of ppmd, fib, logs, xz and
            zstd), "llm", "ppmd", "fib", "logs", "xz", "zstd" or "stored".
        workers: None (default): code in this process; 0: one worker process per CPU; N: N
            worker processes (a script that asks for processes needs the usual
            ``if __name__ == "__main__":`` guard). Never changes the output bytes.
        chunk_size: bytes per independent chunk (default: the codec's own).
        model: model name or GGUF path for the llm codec.
        gpu: run the llm codec's model on a GPU (needs a GPU build of llama-cpp-python; the
            archive then decodes only where the probe matches, i.e. on a like GPU).
        level: zstd level for binary regions.
        options: per-codec settings, e.g. ``{"llm": {"n_ctx": 4096}}``.
        cluster: the address of a Ray cluster to code on, as `ray.init` takes it (``host:port``,
            ``ray://host:10001``, ``auto``; needs ``nacrith[cluster]``); `workers` then counts
            its coder actors (None: one per CPU of the cluster). Never changes the output bytes.

    Raises:
        ValueError, TypeError: a bad setting (the message names it).
        ModelNotFoundError: the llm codec's model file does not exist.
    """

    def __init__(
        self,
        method: str = "auto",
        *,
        workers: int | None = None,
        chunk_size: int | None = None,
        model: str | os.PathLike[str] | None = None,
        gpu: bool = False,
        level: int | None = None,
        options: CodecOptions | None = None,
        cluster: str | None = None,
    ) -> None:
        self._held = {}
        self.settings = _settings(method, workers, chunk_size, model, gpu, level, options, cluster)
        self._build_codecs()

    def _build_codecs(self) -> None:
        from nacrith.codecs.registry import codec_class

        try:
            for codec_id in _codecs_needed(self.settings):
                settings = self.settings.options.get(codec_id, {})
                self._held[codec_id] = codec_class(codec_id)(**settings)
        except BaseException:
            self.close()
            raise

    def compress(self, data: BytesLike) -> bytes:
        """Compress `data` (any bytes-like object) into a complete archive."""
        view = byte_view(data, "compress()")
        out = io.BytesIO()
        compress_stream(io.BytesIO(view), out, self.settings, view.nbytes, cache=self._held)
        return out.getvalue()

    def compress_stream(
        self,
        reader: IO[bytes],
        writer: IO[bytes],
        size: int | None = None,
        progress: Progress | None = None,
    ) -> int:
        """Compress a binary stream into `writer`; return the archive size in bytes.

        `size` is the number of bytes `reader` holds, when known (stored in the header).
        """
        _check_size(size, "size")
        _check_progress(progress)
        return compress_stream(reader, writer, self.settings, size, progress, self._held)


class Decompressor(_CodecHolder):
    """Reusable decompression context; keeps decoder codecs (a loaded model) between calls.

    Args:
        workers: None (default): decode in this process; 0: one worker process per CPU; N: N.
        max_output_size: refuse archives that decode to more bytes than this (OutputLimitError).
        model: GGUF path for archives made with an unregistered model file (llm codec).
        gpu: let the llm codec use a GPU (archives made on a GPU need one with the same
            numerics; the header's probe checks it).
        options: per-codec machine-local options, e.g. ``{"llm": {"n_threads": 2}}``.
        cluster: the address of a Ray cluster to decode on (see `Compressor`).
    """

    def __init__(
        self,
        *,
        workers: int | None = None,
        max_output_size: int | None = None,
        model: str | os.PathLike[str] | None = None,
        gpu: bool = False,
        options: CodecOptions | None = None,
        cluster: str | None = None,
    ) -> None:
        _check_size(max_output_size, "max_output_size")
        if cluster is not None and (not isinstance(cluster, str) or not cluster):
            raise ValueError(f"cluster must be None or a Ray address, got {cluster!r}")
        resolve_workers(workers)  # raises on a bad value
        _check_model(model)
        self.workers = workers
        self.max_output_size = max_output_size
        self.cluster = cluster
        self.runtime = _codec_options(options, decoding=True)
        if model is not None:
            self.runtime.setdefault("llm", {})["model"] = model
        if gpu:
            self.runtime.setdefault("llm", {})["gpu"] = True
        self._held = {}

    def decompress(self, data: BytesLike) -> bytes:
        """Decode a complete archive (all members) and return the original bytes."""
        view = byte_view(data, "decompress()")
        out = io.BytesIO()
        self.decompress_stream(io.BytesIO(view), out)
        return out.getvalue()

    def decompress_stream(
        self, reader: IO[bytes], writer: IO[bytes], progress: Progress | None = None
    ) -> int:
        """Decode an archive stream into `writer`; return the bytes written."""
        _check_progress(progress)
        return decompress_stream(
            reader,
            writer,
            self.workers,
            self.max_output_size,
            progress,
            self._held,
            self.runtime,
            self.cluster,
        )


def compress(
    data: BytesLike,
    method: str = "auto",
    *,
    workers: int | None = None,
    chunk_size: int | None = None,
    model: str | os.PathLike[str] | None = None,
    gpu: bool = False,
    level: int | None = None,
    options: CodecOptions | None = None,
    cluster: str | None = None,
) -> bytes:
    """Compress `data`; equivalent to ``Compressor(method, ...).compress(data)``."""
    byte_view(data, "compress()")
    with Compressor(
        method,
        workers=workers,
        chunk_size=chunk_size,
        model=model,
        gpu=gpu,
        level=level,
        options=options,
        cluster=cluster,
    ) as compressor:
        return compressor.compress(data)


def decompress(
    data: BytesLike,
    *,
    workers: int | None = None,
    max_output_size: int | None = None,
    model: str | os.PathLike[str] | None = None,
    gpu: bool = False,
    cluster: str | None = None,
) -> bytes:
    """Decompress a complete archive; equivalent to ``Decompressor(...).decompress(data)``."""
    byte_view(data, "decompress()")
    with Decompressor(
        workers=workers, max_output_size=max_output_size, model=model, gpu=gpu, cluster=cluster
    ) as decompressor:
        return decompressor.decompress(data)
