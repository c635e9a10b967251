"""The compressors nacrith is compared with, each at fixed settings, as `Contender`s.

gzip, bzip2 and xz come from the standard library; zstd, brotli and PPMd from their Python
bindings. A peer's factory imports its binding, so a missing package raises `ImportError` only
when that peer is asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nacrith.bench.collect import BenchFile

__all__ = ["PEERS", "PPMD_MEMORY", "PPMD_ORDER", "Contender", "package_version"]

PPMD_ORDER = 8
PPMD_MEMORY = 256 << 20


@dataclass
class Contender:
    """A way to compress: one nacrith method, or one peer compressor at fixed settings."""

    name: str
    kind: str  # "ncz" or "peer"
    compress: Callable[[bytes], bytes]
    decompress: Callable[[bytes], bytes]
    settings: str = ""
    applies: Callable[[BenchFile, bytes], bool] = lambda _file, _data: True
    close: Callable[[], None] = lambda: None


def package_version(package: str) -> str:
    """The installed version of distribution `package`, or "?" when it is not installed."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


def _peer_gzip() -> Contender:
    import gzip

    return Contender(
        "gzip -9",
        "peer",
        lambda data: gzip.compress(data, compresslevel=9, mtime=0),
        gzip.decompress,
        "Python gzip module (zlib), level 9",
    )


def _peer_bzip2() -> Contender:
    import bz2

    return Contender(
        "bzip2 -9",
        "peer",
        lambda data: bz2.compress(data, 9),
        bz2.decompress,
        "Python bz2 module (libbzip2), 900k blocks",
    )


def _peer_xz() -> Contender:
    import lzma

    preset = 9 | lzma.PRESET_EXTREME
    return Contender(
        "xz -9e",
        "peer",
        lambda data: lzma.compress(data, format=lzma.FORMAT_XZ, preset=preset),
        lzma.decompress,
        "Python lzma module (liblzma), preset 9 extreme, CRC64",
    )


def _peer_zstd() -> Contender:
    import zstandard

    params = zstandard.ZstdCompressionParameters.from_level(19, window_log=27, enable_ldm=True)
    compressor = zstandard.ZstdCompressor(compression_params=params)
    decompressor = zstandard.ZstdDecompressor(max_window_size=1 << 27)
    return Contender(
        "zstd -19 --long",
        "peer",
        compressor.compress,
        decompressor.decompress,
        f"python-zstandard {zstandard.__version__}, level 19, window_log 27, "
        "long-distance matching",
    )


def _peer_brotli() -> Contender:
    import brotli

    return Contender(
        "brotli -q 11",
        "peer",
        lambda data: brotli.compress(data, quality=11, lgwin=24),
        brotli.decompress,
        f"brotli {package_version('brotli')}, quality 11, lgwin 24 (the brotli tool's defaults)",
    )


def _peer_ppmd() -> Contender:
    import pyppmd

    def compress(data: bytes) -> bytes:
        return pyppmd.compress(data, max_order=PPMD_ORDER, mem_size=PPMD_MEMORY, variant="I")

    def decompress(data: bytes) -> bytes:
        return pyppmd.decompress(data, max_order=PPMD_ORDER, mem_size=PPMD_MEMORY, variant="I")

    return Contender(
        "ppmd",
        "peer",
        compress,
        decompress,
        f"pyppmd {package_version('pyppmd')}, PPMd var. I rev. 1, order {PPMD_ORDER}, "
        f"{PPMD_MEMORY >> 20} MiB",
    )


PEERS: dict[str, Callable[[], Contender]] = {
    "gzip": _peer_gzip,
    "bzip2": _peer_bzip2,
    "xz": _peer_xz,
    "zstd": _peer_zstd,
    "brotli": _peer_brotli,
    "ppmd": _peer_ppmd,
}
