"""The `Codec` interface: one way of coding a chunk.

A codec turns one chunk of raw bytes into a payload and back. Each codec has a stable string id
(stored in every chunk record, never an index) and a JSON-serialisable parameter dict (stored once
in the archive header) from which the decoder rebuilds an identical codec, so decoding needs no
options. The table of codecs is `nacrith.codecs.registry`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from nacrith.errors import FormatError

__all__ = ["Codec"]


class Codec(ABC):
    """One way of coding a chunk. Instances may hold expensive state (a loaded model).

    Subclasses set `codec_id`, implement `encode`/`decode`, and, when they have settings,
    `params`/`from_params`. A codec must never read beyond its payload, must produce exactly
    `raw_size` bytes or raise a `NacrithError`, and must bound its work by `raw_size`.
    """

    codec_id: ClassVar[str]

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
