"""The table of codecs: stable id -> class.

The id is what every chunk record stores, so an id, once written, keeps naming the same payload
format forever. Adding a codec::

    class MyCodec(Codec):
        codec_id = "mine"
        ...

    register_codec(MyCodec)   # or add it to BUILT_IN below

`import nacrith` does not import this module (nor numpy, zstandard or llama.cpp through it): the
pipeline imports it on first use.
"""

from __future__ import annotations

from nacrith.codecs.base import Codec
from nacrith.codecs.basic import StoredCodec, ZstdCodec
from nacrith.codecs.fib import FibCodec
from nacrith.codecs.llm import LLMCodec
from nacrith.codecs.logs import LogsCodec
from nacrith.codecs.ppmd import PpmdCodec
from nacrith.codecs.xz import XzCodec
from nacrith.errors import FormatError
from nacrith.formats.container import CODEC_ID_PATTERN

__all__ = ["CODECS", "METHODS", "PICKING_METHODS", "codec_class", "known_codecs", "register_codec"]

BUILT_IN: tuple[type[Codec], ...] = (
    LLMCodec,
    FibCodec,
    LogsCodec,
    PpmdCodec,
    ZstdCodec,
    XzCodec,
    StoredCodec,
)

#: every usable codec, by id (built-in ones first, in the order `METHODS` lists them)
CODECS: dict[str, type[Codec]] = {cls.codec_id: cls for cls in BUILT_IN}

#: methods that pick a codec per chunk: `auto` (the neural codec for text, logs for logs, the
#: general codecs for binary) and `fast` (the same without the model: per chunk the best of fib,
#: ppmd, logs, xz and zstd, judged on a sample); their names are never codec ids
PICKING_METHODS: tuple[str, ...] = ("auto", "fast")

#: what `--method` accepts: the picking methods, then one name per codec
METHODS: tuple[str, ...] = (*PICKING_METHODS, *CODECS)


def register_codec(cls: type[Codec]) -> type[Codec]:
    """Make `cls` available under its `codec_id` (usable as a class decorator)."""
    codec_id = getattr(cls, "codec_id", None)
    if not isinstance(codec_id, str) or not CODEC_ID_PATTERN.match(codec_id):
        raise ValueError(f"invalid codec id {codec_id!r}: use 1-32 chars of [a-z0-9_-]")
    if codec_id in PICKING_METHODS:
        raise ValueError(f"codec id {codec_id!r} is reserved for a method that picks codecs")
    existing = CODECS.get(codec_id)
    if existing is not None and existing is not cls:
        raise ValueError(f"codec id {codec_id!r} is already registered by {existing.__qualname__}")
    CODECS[codec_id] = cls
    return cls


def known_codecs() -> list[str]:
    """Ids of all usable codecs (built-in and registered)."""
    return sorted(CODECS)


def codec_class(codec_id: str) -> type[Codec]:
    """The codec class registered under `codec_id`; `FormatError` when there is none."""
    cls = CODECS.get(codec_id)
    if cls is None:
        raise FormatError(f"unknown codec {codec_id!r} (known: {', '.join(known_codecs())})")
    return cls
