"""Chunk codecs and their registry.

A codec turns one chunk of raw bytes into a payload and back. Each codec has a stable string id
(stored in every chunk record, never an index) and a JSON-serialisable parameter dict (stored once
in the archive header) from which the decoder rebuilds an identical codec, so decoding needs no
options.

Adding a codec is a matter of subclassing `Codec` and registering it::

    @register_codec
    class MyCodec(Codec):
        codec_id = "mine"
        ...

Built-in codecs are registered lazily by import path, so `import nacrith` imports no codec
module (and loads no model) until a codec is asked for.
"""

from __future__ import annotations

import importlib
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from nacrith.errors import FormatError

__all__ = [
    "Codec",
    "codec_class",
    "known_codecs",
    "register_codec",
]

CODEC_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")

# Built-in codecs: id -> "module:Class". Imported on first use.
_LAZY: dict[str, str] = {
    "stored": "nacrith.formats.basic:StoredCodec",
    "zstd": "nacrith.formats.basic:ZstdCodec",
    "llm": "nacrith.models.llm_codec:LLMCodec",
    "fib": "nacrith.formats.fib:FibCodec",
    "logs": "nacrith.formats.logs:LogsCodec",
}
_LOADED: dict[str, type[Codec]] = {}


class Codec(ABC):
    """One way of coding a chunk. Instances may hold expensive state (a loaded model).

    Subclasses set `codec_id`, implement `encode`/`decode`, and, when they have settings,
    `params`/`from_params`. A codec must never read beyond its payload, must produce exactly
    `raw_size` bytes or raise a `NacrithError`, and must bound its work by `raw_size`.
    """

    codec_id: ClassVar[str]
    #: False for codecs that only make sense on text regions (the caller routes binary elsewhere).
    accepts_binary: ClassVar[bool] = True

    def params(self) -> dict[str, Any]:
        """Settings the decoder needs, as a JSON-serialisable dict (stored in the header)."""
        return {}

    def runtime(self) -> dict[str, Any]:
        """Machine-local settings that are not stored (a model path, a device, threads).

        Worker processes rebuild a codec as ``from_params(params, **runtime)``; codecs that have
        such settings accept them as keyword arguments of `from_params`.
        """
        return {}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Codec:
        """Build the decoder-side codec from the header's params; `FormatError` if they are bad."""
        if params:
            raise FormatError(f"codec {cls.codec_id!r} takes no parameters, got {sorted(params)}")
        return cls()

    @abstractmethod
    def encode(self, data: bytes) -> bytes:
        """Code one chunk."""

    @abstractmethod
    def decode(self, payload: bytes, raw_size: int) -> bytes:
        """Decode one chunk payload into exactly `raw_size` bytes."""

    def encode_many(self, chunks: Sequence[bytes]) -> list[bytes]:
        """Code several independent chunks (codecs that batch, like `llm`, override this)."""
        return [self.encode(chunk) for chunk in chunks]

    def decode_many(self, items: Sequence[tuple[bytes, int]]) -> list[bytes]:
        """Decode several independent (payload, raw_size) pairs."""
        return [self.decode(payload, size) for payload, size in items]

    def accepts(self, data: bytes) -> bool:
        """Whether this codec can code `data` losslessly (e.g. the tokenizer can represent it)."""
        return True

    def close(self) -> None:  # noqa: B027 - optional hook, most codecs hold nothing
        """Release resources (a loaded model); the codec must not be used afterwards."""


def register_codec(cls: type[Codec]) -> type[Codec]:
    """Class decorator: make `cls` available under its `codec_id`."""
    codec_id = getattr(cls, "codec_id", None)
    if not isinstance(codec_id, str) or not CODEC_ID_PATTERN.match(codec_id):
        raise ValueError(f"invalid codec id {codec_id!r}: use 1-32 chars of [a-z0-9_-]")
    existing = _LOADED.get(codec_id)
    if existing is not None and existing is not cls:
        raise ValueError(f"codec id {codec_id!r} is already registered by {existing.__qualname__}")
    _LOADED[codec_id] = cls
    return cls


def known_codecs() -> list[str]:
    """Ids of all codecs that can be used (built-in and registered)."""
    return sorted(set(_LAZY) | set(_LOADED))


def codec_class(codec_id: str) -> type[Codec]:
    """The codec class registered under `codec_id`; `FormatError` when there is none."""
    cls = _LOADED.get(codec_id)
    if cls is not None:
        return cls
    target = _LAZY.get(codec_id)
    if target is None:
        raise FormatError(f"unknown codec {codec_id!r} (known: {', '.join(known_codecs())})")
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise FormatError(f"codec {codec_id!r} is not available here: {exc}") from exc
    cls = getattr(module, class_name)
    _LOADED.setdefault(codec_id, cls)
    return _LOADED[codec_id]
