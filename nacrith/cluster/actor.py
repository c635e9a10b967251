"""The coder actor: one process on a cluster node holding the run's codecs (a loaded model).

It is a plain class here; the runner wraps it with `ray.remote`, so this module never imports
ray. Each actor builds its codecs from the archive params itself, on its own node: a registered
model is found (or pulled) in that node's cache by name and checked against the params' sha256,
tokenizer hash and probe, exactly as a decoder checks it.
"""

from __future__ import annotations

import os
import socket
from importlib import metadata
from typing import Any

from nacrith.cluster.connect import ClusterError
from nacrith.cluster.shared import RangeBatch, read_range
from nacrith.workers import (
    CodecSet,
    DecodeItem,
    EncodeItem,
    EncodeResult,
    decode_batch,
    encode_batch,
)

__all__ = ["ChunkCoder", "nacrith_version"]


def nacrith_version() -> str:
    """The installed nacrith's version (driver and actors must run the same one)."""
    try:
        return metadata.version("nacrith")
    except metadata.PackageNotFoundError:
        return "unknown"


class ChunkCoder:
    """Encodes or decodes batches with codecs built from `params` and `runtime`."""

    def __init__(
        self,
        params: dict[str, dict[str, Any]],
        runtime: dict[str, dict[str, Any]],
        driver_version: str,
    ) -> None:
        self.params = params
        self.runtime = runtime
        self.driver_version = driver_version
        self.codecs: CodecSet | None = None

    def _codecs(self) -> CodecSet:
        if self.codecs is None:
            here = nacrith_version()
            if here != self.driver_version:
                raise ClusterError(
                    f"node {socket.gethostname()} runs nacrith {here}, the driver "
                    f"{self.driver_version}: install the same version on every node"
                )
            self.codecs = CodecSet(self.params, runtime=self.runtime)
        return self.codecs

    def prepare(self) -> dict[str, Any]:
        """Build (and check) every codec now; where this actor runs."""
        codecs = self._codecs()
        for codec_id in self.params:
            if codec_id != "stored":
                codecs.get(codec_id)
        return {"pid": os.getpid(), "host": socket.gethostname()}

    def encode(self, batch: list[EncodeItem] | RangeBatch) -> list[EncodeResult] | None:
        """Encode a batch (or the range of a shared file it names; None: cannot read it)."""
        if isinstance(batch, RangeBatch):
            items = read_range(batch)
            if items is None:
                return None
        else:
            items = batch
        return encode_batch(self._codecs(), items)

    def decode(self, batch: list[DecodeItem]) -> list[bytes]:
        """Decode a batch of (codec id, payload, raw size)."""
        return decode_batch(self._codecs(), batch)

    def close(self) -> None:
        """Release the codecs (the model)."""
        if self.codecs is not None:
            self.codecs.close()
            self.codecs = None
