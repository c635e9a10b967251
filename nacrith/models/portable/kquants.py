"""Exact dequantization of GGUF tensors, K-quants included, as small integers and block scales.

Every quantized GGML type this module reads stores, per block of 16 or 32 weights, a scale that is
a half-precision number (times a small integer for the K-quants) and small integers ``q``; some
also store a minimum. A weight is ``scale * q - minimum``. A half has an 11-bit significand and the
integers have at most 8 bits, so each product fits in 27 bits, and the difference of two of them
fits in a float64 significand whatever their exponents (a half's exponent range is 40 binary
places): float64 holds every weight exactly, with one rounding-free operation order.

`decompose` gives the integers and the per-block scales and minimums (what an integer matrix
product needs); `dequantize` gives the exact float64 values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nacrith.errors import ModelNotFoundError

__all__ = ["BLOCK_BYTES", "Blocks", "decompose", "dequantize"]

QK_K = 256

#: bytes per block and weights per block of each quantized type this module reads
BLOCK_BYTES: dict[str, tuple[int, int]] = {
    "Q8_0": (34, 32),
    "Q4_1": (20, 32),
    "Q5_0": (22, 32),
    "Q4_K": (144, QK_K),
    "Q5_K": (176, QK_K),
    "Q6_K": (210, QK_K),
}


@dataclass(frozen=True)
class Blocks:
    """A quantized matrix as ``scale * q - minimum`` per block of `block` consecutive columns.

    `q`: (rows, cols) small integers (int16); `scale`, `minimum`: (rows, cols // block) float64
    (exact products of a half and a small integer); `minimum` is None for types without one.
    """

    q: np.ndarray
    scale: np.ndarray
    minimum: np.ndarray | None
    block: int

    def values(self) -> np.ndarray:
        """The exact float64 weights, (rows, cols)."""
        rows, cols = self.q.shape
        q = self.q.reshape(rows, cols // self.block, self.block).astype(np.float64)
        out = q * self.scale[..., None]
        if self.minimum is not None:
            out -= self.minimum[..., None]
        return out.reshape(rows, cols)


def _halves(raw: np.ndarray) -> np.ndarray:
    """Little-endian float16 from a (..., 2) uint8 array, as float64 (exact)."""
    return np.ascontiguousarray(raw).view("<f2")[..., 0].astype(np.float64)


def _nibbles(qs: np.ndarray, groups: int) -> np.ndarray:
    """(n, groups * 32) bytes -> (n, groups * 64): per group of 32 bytes, low nibbles then high."""
    qs = qs.reshape(qs.shape[0], groups, 1, 32) >> np.array([0, 4], np.uint8).reshape(1, 1, 2, 1)
    return (qs & 0x0F).reshape(qs.shape[0], groups * 64)


def _scale_min_k4(scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The eight 6-bit scales and minimums of a Q4_K/Q5_K super-block's 12 packed bytes."""
    s = scales.reshape(-1, 3, 4)
    d, m, md = s[:, 0], s[:, 1], s[:, 2]
    sc = np.concatenate([d & 0x3F, (md & 0x0F) | ((d >> 2) & 0x30)], axis=-1)
    mn = np.concatenate([m & 0x3F, (md >> 4) | ((m >> 2) & 0x30)], axis=-1)
    return sc.astype(np.float64), mn.astype(np.float64)


def _q8_0(b: np.ndarray) -> tuple[np.ndarray, np.ndarray, None, int]:
    q = b[:, 2:].view(np.int8).astype(np.int16)
    return q, _halves(b[:, 0:2])[:, None], None, 32


def _q4_1(b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    q = np.concatenate([b[:, 4:] & 0x0F, b[:, 4:] >> 4], axis=-1).astype(np.int16)
    return q, _halves(b[:, 0:2])[:, None], -_halves(b[:, 2:4])[:, None], 32


def _q5_0(b: np.ndarray) -> tuple[np.ndarray, np.ndarray, None, int]:
    qh = np.ascontiguousarray(b[:, 2:6]).view("<u4")[:, 0]
    high = ((qh[:, None] >> np.arange(32, dtype=np.uint32)[None, :]) & 1).astype(np.int16)
    qs = b[:, 6:22]
    low = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.int16)
    return (low | (high << 4)) - 16, _halves(b[:, 0:2])[:, None], None, 32


def _q4_k(b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    d, dmin = _halves(b[:, 0:2]), _halves(b[:, 2:4])
    sc, mn = _scale_min_k4(b[:, 4:16])
    q = _nibbles(b[:, 16:144], 4).astype(np.int16)
    return q, d[:, None] * sc, dmin[:, None] * mn, 32


def _q5_k(b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    d, dmin = _halves(b[:, 0:2]), _halves(b[:, 2:4])
    sc, mn = _scale_min_k4(b[:, 4:16])
    qh = b[:, 16:48].reshape(-1, 1, 32) >> np.arange(8, dtype=np.uint8).reshape(1, 8, 1)
    high = (qh & 1).reshape(-1, QK_K).astype(np.int16)
    q = _nibbles(b[:, 48:176], 4).astype(np.int16) | (high << 4)
    return q, d[:, None] * sc, dmin[:, None] * mn, 32


def _q6_k(b: np.ndarray) -> tuple[np.ndarray, np.ndarray, None, int]:
    n = b.shape[0]
    ql = b[:, 0:128].reshape(n, 2, 1, 64) >> np.array([0, 4], np.uint8).reshape(1, 1, 2, 1)
    ql = (ql & 0x0F).reshape(n, 8, 32)
    qh = b[:, 128:192].reshape(n, 2, 1, 32) >> np.array([0, 2, 4, 6], np.uint8).reshape(1, 1, 4, 1)
    qh = (qh & 0x03).reshape(n, 8, 32)
    q = (ql.astype(np.int16) | (qh.astype(np.int16) << 4)).reshape(n, QK_K) - 32
    sc = b[:, 192:208].view(np.int8).astype(np.float64)
    return q, _halves(b[:, 208:210])[:, None] * sc, None, 16


_DECODERS = {
    "Q8_0": _q8_0,
    "Q4_1": _q4_1,
    "Q5_0": _q5_0,
    "Q4_K": _q4_k,
    "Q5_K": _q5_k,
    "Q6_K": _q6_k,
}


def decompose(type_name: str, data: np.ndarray, cols: int) -> Blocks:
    """The integers and block scales of a quantized GGUF tensor's raw data, (rows, cols)."""
    decoder = _DECODERS.get(type_name)
    if decoder is None:
        raise ModelNotFoundError(f"the portable engine cannot read {type_name} tensors")
    size, per_block = BLOCK_BYTES[type_name]
    raw = np.ascontiguousarray(np.asarray(data, dtype=np.uint8)).reshape(-1)
    if cols % per_block or raw.size % size:
        raise ModelNotFoundError(f"a {type_name} tensor of {cols} columns has a partial block")
    rows = raw.size // size * per_block // cols
    q, scale, minimum, block = decoder(raw.reshape(-1, size))
    n_blocks = cols // block
    return Blocks(
        q=q.reshape(rows, cols),
        scale=scale.reshape(rows, n_blocks),
        minimum=None if minimum is None else minimum.reshape(rows, n_blocks),
        block=block,
    )


def dequantize(type_name: str, data: np.ndarray, cols: int) -> np.ndarray:
    """Exact float64 values (rows, cols) of a GGUF tensor's raw data (F32, F16, Q8_0, Q4_1, Q5_0,
    Q4_K, Q5_K, Q6_K)."""
    if type_name == "F32":
        return np.asarray(data, dtype=np.float32).reshape(-1, cols).astype(np.float64)
    if type_name == "F16":
        return np.asarray(data, dtype=np.float16).reshape(-1, cols).astype(np.float64)
    return decompose(type_name, data, cols).values()
