"""The two general-purpose codecs: `stored` (bytes as they are) and `zstd` (binary fallback)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import zstandard

from nacrith.codecs.base import Codec
from nacrith.errors import CorruptDataError, FormatError

__all__ = ["StoredCodec", "ZstdCodec"]


class StoredCodec(Codec):
    """Raw bytes, for data nothing else shrinks."""

    codec_id = "stored"

    def encode(self, data: bytes) -> bytes:
        """Return `data` unchanged."""
        return bytes(data)

    def decode(self, payload: bytes, raw_size: int) -> bytes:
        """Return the payload, which must be exactly `raw_size` bytes."""
        if len(payload) != raw_size:
            raise CorruptDataError(
                f"stored chunk holds {len(payload)} bytes, the table says {raw_size}"
            )
        return bytes(payload)


class ZstdCodec(Codec):
    """Zstandard at a fixed level (python-zstandard), for binary regions and as a fallback."""

    codec_id = "zstd"
    DEFAULT_LEVEL = 19

    def __init__(self, level: int = DEFAULT_LEVEL) -> None:
        if not isinstance(level, int) or not 1 <= level <= 22:
            raise ValueError(f"zstd level must be an integer in 1..22, got {level!r}")
        self.level = level
        self._compressor = zstandard.ZstdCompressor(level=level, write_content_size=True)
        self._decompressor = zstandard.ZstdDecompressor()

    def params(self) -> dict[str, Any]:
        """The level is informational (the decoder does not need it) but kept for `ncz info`."""
        return {"level": self.level}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ZstdCodec:
        """Rebuild from header params."""
        level = params.get("level", cls.DEFAULT_LEVEL)
        if not isinstance(level, int) or not 1 <= level <= 22 or set(params) - {"level"}:
            raise FormatError(f"bad zstd parameters {dict(params)!r}")
        return cls(level)

    def encode(self, data: bytes) -> bytes:
        """Compress one chunk as one zstd frame."""
        return self._compressor.compress(data)

    def decode(self, payload: bytes, raw_size: int) -> bytes:
        """Decompress one frame, never producing more than `raw_size` bytes."""
        try:
            # python-zstandard allocates a frame's declared content size up front (the limit
            # below applies only to frames without one): a corrupt header declaring petabytes
            # raised MemoryError (found by scripts/fuzz.py, kept in tests/fuzz_regressions/)
            declared = zstandard.frame_content_size(payload)
            if declared not in (-1, raw_size):
                raise CorruptDataError(
                    f"zstd frame declares {declared} bytes, the chunk holds {raw_size}"
                )
            out = self._decompressor.decompress(payload, max_output_size=raw_size)
        except zstandard.ZstdError as exc:
            raise CorruptDataError(f"zstd payload does not decode: {exc}") from exc
        if len(out) != raw_size:
            raise CorruptDataError(f"zstd chunk decoded to {len(out)} bytes, expected {raw_size}")
        return out
