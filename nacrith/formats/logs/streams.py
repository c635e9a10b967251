"""Sub-stream coding for the `logs` codec: byte back ends and a bounded payload reader.

A `logs` payload is a small directory followed by sub-streams (template table, template ids,
numeric residuals, ...). Each sub-stream is coded by one back end, chosen per stream; the
back-end id is one byte in the directory, so the decoder needs no settings:

====  =====================================================================
id    back end
====  =====================================================================
0     raw bytes
1     zstd level 19 (python-zstandard)
2     LZMA2 raw stream, preset 9e, dictionary sized to the stream
3     bzip2 level 9
4-7   PPMd var. I (pyppmd), model orders 4, 6, 10, 16
====  =====================================================================

PPMd memory is a function of the stream's raw length only (at most 64 MiB), so a hostile
directory cannot make the decoder allocate more than that per stream. PPMd goes through
`nacrith.coders.ppmd`, which checks every stream it writes: a stream pyppmd cannot decode back
is never written, and `compress_best` codes it with the next candidate (xz) instead.
"""

from __future__ import annotations

import bz2
import lzma
from collections.abc import Sequence

import zstandard

from nacrith.coders import ppmd
from nacrith.errors import CorruptDataError, FormatError
from nacrith.formats.varint import PayloadReader

#: the pyppmd module, None where it is missing (tests and callers check it here)
pyppmd = ppmd.pyppmd

__all__ = [
    "BACKEND_NAMES",
    "Reader",
    "available_backends",
    "compress_best",
    "decompress_stream",
]

RAW, ZSTD, LZMA, BZ2 = 0, 1, 2, 3
PPMD_ORDERS = {4: 4, 5: 6, 6: 10, 7: 16}
PPMD_ORDER6, PPMD_ORDER16 = 5, 7
BACKEND_NAMES = {RAW: "raw", ZSTD: "zstd", LZMA: "xz", BZ2: "bz2"} | {
    bid: f"ppmd{order}" for bid, order in PPMD_ORDERS.items()
}
_ZSTD_C = zstandard.ZstdCompressor(level=19, write_content_size=True, write_checksum=False)
_ZSTD_D = zstandard.ZstdDecompressor()


def available_backends() -> list[int]:
    """Back-end ids this installation can code with (PPMd needs the optional `pyppmd`)."""
    ids = [RAW, ZSTD, LZMA, BZ2]
    if ppmd.available():
        ids += list(PPMD_ORDERS)
    return ids


def _lzma_filters(raw_len: int) -> list[dict[str, int]]:
    dict_size = 1 << max(16, min(26, (max(raw_len, 1) - 1).bit_length()))
    return [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "dict_size": dict_size}]


def _ppmd_mem(raw_len: int) -> int:
    return 1 << max(21, min(26, (max(raw_len, 1) * 12 - 1).bit_length()))


def compress_stream(data: bytes, backend: int) -> bytes | None:
    """Code `data` with one back end; None when that back end cannot code it losslessly (a
    PPMd stream that does not decode back to `data`)."""
    if backend == RAW:
        return bytes(data)
    if backend == ZSTD:
        return _ZSTD_C.compress(data)
    if backend == LZMA:
        return lzma.compress(data, format=lzma.FORMAT_RAW, filters=_lzma_filters(len(data)))
    if backend == BZ2:
        return bz2.compress(data, 9)
    if backend in PPMD_ORDERS and ppmd.available():
        return ppmd.encode(data, PPMD_ORDERS[backend], _ppmd_mem(len(data)))
    raise ValueError(f"unknown or unavailable back end {backend}")


def decompress_stream(payload: bytes, backend: int, raw_len: int) -> bytes:
    """Decode one sub-stream into exactly `raw_len` bytes, or raise a `NacrithError`."""
    try:
        if backend == RAW:
            out = bytes(payload)
        elif backend == ZSTD:
            # python-zstandard allocates a frame's declared content size up front (the limit
            # applies only without one): a damaged header declaring petabytes raised MemoryError
            declared = zstandard.frame_content_size(payload) if raw_len else -1
            if declared not in (-1, raw_len):
                raise CorruptDataError(
                    f"logs zstd sub-stream declares {declared} bytes, expected {raw_len}"
                )
            out = _ZSTD_D.decompress(payload, max_output_size=raw_len) if raw_len else b""
        elif backend == LZMA:
            dec = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=_lzma_filters(raw_len))
            out = dec.decompress(payload, max_length=raw_len)
        elif backend == BZ2:
            out = bz2.BZ2Decompressor().decompress(payload, max_length=raw_len)
        elif backend in PPMD_ORDERS:
            if not ppmd.available():
                raise FormatError(
                    "this log archive uses PPMd sub-streams: install the `pyppmd` package"
                )
            out = ppmd.decode(payload, PPMD_ORDERS[backend], _ppmd_mem(raw_len), raw_len)
        else:
            raise CorruptDataError(f"logs sub-stream has unknown back end {backend}")
    except (
        lzma.LZMAError,
        OSError,
        ValueError,
        EOFError,
        SystemError,
        RuntimeError,
        zstandard.ZstdError,
    ) as exc:
        # pyppmd reports some damaged streams as SystemError ("returned NULL without setting an
        # exception"): found by scripts/fuzz.py, replayed in tests/fuzz_regressions/.
        raise CorruptDataError(f"logs sub-stream does not decode: {exc}") from exc
    if len(out) != raw_len:
        raise CorruptDataError(f"logs sub-stream decoded to {len(out)} bytes, expected {raw_len}")
    return out


def compress_best(data: bytes, candidates: Sequence[int]) -> tuple[int, bytes]:
    """Code `data` with each candidate back end and keep the smallest (raw always competes;
    a back end that cannot code `data` losslessly drops out)."""
    best_id, best = RAW, bytes(data)
    if len(data) < 16:
        return best_id, best
    for backend in candidates:
        if backend == RAW:
            continue
        coded = compress_stream(data, backend)
        if coded is not None and len(coded) < len(best):
            best_id, best = backend, coded
    return best_id, best


class Reader(PayloadReader):
    """Reader of `logs` payloads; every overrun is a `CorruptDataError`."""

    name = "logs payload"
