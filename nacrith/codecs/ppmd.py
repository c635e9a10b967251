"""The `ppmd` codec: PPMd var. I (`nacrith.coders.ppmd`) over a whole chunk, for text.

Payload: one byte, the model order (`ORDERS`), or 0 for a chunk stored as it is; then the PPMd
stream. The model memory is a function of the chunk's raw size and the codec's `max_mem`
parameter (`model_memory`), so a decoder derives it and a damaged table cannot make it allocate
more than `max_mem`; a process decoding N chunks at once (``-T N``) holds N models.

The encoder picks the order by coding a sample of the chunk at each of `ORDERS` (`choose`),
then codes the chunk once. pyppmd writes undecodable streams for some inputs, so every stream
is decoded and compared before it is kept (`nacrith.coders.ppmd.encode`); when the chosen order
fails, the other orders are tried, nearest first, and a chunk no order codes is stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from nacrith.codecs.base import Codec
from nacrith.coders import ppmd
from nacrith.errors import CorruptDataError, FormatError, TruncatedError

__all__ = ["ORDERS", "PpmdCodec", "choose", "model_memory"]

#: model orders the encoder tries, lowest first
ORDERS: tuple[int, ...] = (4, 6, 8, 12, 16)
#: payload byte 0 for a chunk no order codes
STORED = 0
#: model memory per input byte: enough that the model does not restart within a text chunk
MEM_PER_BYTE = 16
#: the default cap on model memory (a parameter: decoders derive the memory from it)
DEFAULT_MAX_MEM = 256 << 20
#: smallest model memory
MIN_MEM = 1 << 20
#: bytes of a chunk the order is chosen on (the first half and half from the middle)
SAMPLE = 64 << 10


def model_memory(raw_size: int, max_mem: int = DEFAULT_MAX_MEM) -> int:
    """The model memory for a chunk of `raw_size` bytes (both sides compute it)."""
    want = max(MIN_MEM, MEM_PER_BYTE * max(raw_size, 1))
    return min(max_mem, 1 << (want - 1).bit_length())


def _sample(data: bytes) -> bytes:
    if len(data) <= SAMPLE:
        return data
    middle = len(data) // 2
    return data[: SAMPLE // 2] + data[middle : middle + SAMPLE // 2]


def choose(data: bytes, max_mem: int = DEFAULT_MAX_MEM) -> int:
    """The order of `ORDERS` that codes a sample of `data` smallest (ties: the lowest);
    orders whose stream fails its round trip on the sample do not compete."""
    sample = _sample(data)
    mem = model_memory(len(sample), max_mem)
    best_order, best_size = ORDERS[0], None
    for order in ORDERS:
        coded = ppmd.encode(sample, order, mem)
        if coded is not None and (best_size is None or len(coded) < best_size):
            best_order, best_size = order, len(coded)
    return best_order


class PpmdCodec(Codec):
    """PPMd var. I, the order chosen per chunk, the memory from the chunk size."""

    codec_id = "ppmd"

    def __init__(self, max_mem: int = DEFAULT_MAX_MEM) -> None:
        if (
            isinstance(max_mem, bool)
            or not isinstance(max_mem, int)
            or not MIN_MEM <= max_mem <= ppmd.MAX_MEM
            or max_mem & (max_mem - 1)
        ):
            raise ValueError(
                f"ppmd max_mem must be a power of two in {MIN_MEM}..{ppmd.MAX_MEM}, got {max_mem!r}"
            )
        self.max_mem = max_mem
        #: sample digest -> order: method `fast` estimates a chunk on the very sample `choose`
        #: takes of it, so the chunk's own encode finds the order here
        self._chosen: dict[bytes, int] = {}

    def params(self) -> dict[str, Any]:
        """The memory cap: the decoder derives each chunk's model memory from it."""
        return {"max_mem": self.max_mem}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> PpmdCodec:
        """Rebuild from header params; `FormatError` if they are bad."""
        if set(params) != {"max_mem"}:
            raise FormatError(f"bad ppmd parameters {dict(params)!r}")
        try:
            return cls(params["max_mem"])
        except ValueError as exc:
            raise FormatError(f"bad ppmd parameters {dict(params)!r}: {exc}") from None

    def encode(self, data: bytes) -> bytes:
        """Code one chunk at the order `choose` finds best (see `encode_at`)."""
        data = bytes(data)
        if not data:
            return bytes([STORED])
        key = hashlib.blake2b(_sample(data), digest_size=16).digest()
        order = self._chosen.get(key)
        if order is None:
            order = choose(data, self.max_mem)
            if len(self._chosen) >= 64:
                self._chosen.clear()
            self._chosen[key] = order
        return self.encode_at(data, order)

    def encode_at(self, data: bytes, order: int) -> bytes:
        """Code `data` at `order`, or else at the nearest order of `ORDERS` whose stream
        round-trips (lower before higher at the same distance); stored when none does."""
        data = bytes(data)
        mem = model_memory(len(data), self.max_mem)
        others = sorted((o for o in ORDERS if o != order), key=lambda o: (abs(o - order), o))
        for candidate in [order, *others]:
            coded = ppmd.encode(data, candidate, mem)
            if coded is not None:
                return bytes([candidate]) + coded
        return bytes([STORED]) + data

    def decode(self, payload: bytes, raw_size: int) -> bytes:
        """Decode one payload into exactly `raw_size` bytes."""
        if not payload:
            raise TruncatedError("ppmd payload ends before its order byte")
        order, body = payload[0], payload[1:]
        if order == STORED:
            if len(body) != raw_size:
                raise CorruptDataError(
                    f"stored ppmd chunk holds {len(body)} bytes, the table says {raw_size}"
                )
            return bytes(body)
        if not ppmd.MIN_ORDER <= order <= ppmd.MAX_ORDER:
            raise CorruptDataError(f"ppmd payload names unknown model order {order}")
        return ppmd.decode(body, order, model_memory(raw_size, self.max_mem), raw_size)
