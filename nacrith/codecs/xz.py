"""The `xz` codec: raw LZMA2 (Python's lzma, liblzma) at preset 9 extreme, for binary regions.

Payload: one byte naming the branch filter applied before LZMA2 (`FILTERS`, 0 = none), one
byte of LZMA2 literal/position settings (`(pb * 5 + lp) * 9 + lc`, as in an .lzma header),
then a raw LZMA2 stream (no .xz container: the chunk record already holds the sizes and
checksums). The dictionary is sized to the chunk (`dictionary_size`), so the decoder derives it
from the chunk's raw size. The encoder picks the settings (`PROPERTIES`, and a branch filter
where the chunk starts with an executable header naming that machine) by compressing a sample
of the chunk each way (`choose`), then compresses the chunk once.
"""

from __future__ import annotations

import lzma
from collections.abc import Mapping
from typing import Any

from nacrith.codecs.base import Codec
from nacrith.errors import CorruptDataError, FormatError, TruncatedError

__all__ = ["FILTERS", "PROPERTIES", "XzCodec", "branch_filter", "choose", "dictionary_size"]

#: payload byte 0 -> the branch (BCJ) filter before LZMA2; ids are stable, never reuse one
FILTERS: dict[int, int | None] = {
    0: None,
    1: lzma.FILTER_X86,
    2: lzma.FILTER_SPARC,
    3: lzma.FILTER_POWERPC,
    4: lzma.FILTER_ARM,
    5: lzma.FILTER_ARMTHUMB,
    6: lzma.FILTER_IA64,
}
#: (lc, lp, pb) settings the encoder tries: xz's default, and pb=0 variants for unaligned data
PROPERTIES: tuple[tuple[int, int, int], ...] = ((3, 0, 2), (3, 0, 0), (4, 0, 0), (0, 0, 0))
MIN_DICTIONARY = 4096
MAX_DICTIONARY = 64 << 20  # xz -9's dictionary
#: bytes of a chunk the settings are chosen on (the first half and half from the middle)
SAMPLE = 64 << 10

#: ELF e_machine -> FILTERS key
_ELF_MACHINES = {3: 1, 62: 1, 2: 2, 18: 2, 43: 2, 20: 3, 21: 3, 40: 4, 50: 6}

Settings = tuple[int, tuple[int, int, int]]  # (filter key, (lc, lp, pb))


def dictionary_size(raw_size: int) -> int:
    """The LZMA2 dictionary for a chunk of `raw_size` bytes (both sides compute it)."""
    return min(max(raw_size, MIN_DICTIONARY), MAX_DICTIONARY)


def branch_filter(data: bytes) -> int:
    """The `FILTERS` key an executable header at the start of `data` suggests (0: none)."""
    if data[:4] == b"\x7fELF" and len(data) >= 20:
        order = "little" if data[5] == 1 else "big"
        return _ELF_MACHINES.get(int.from_bytes(data[18:20], order), 0)
    if data[:2] == b"MZ":
        return 1
    return 0


def _chain(key: int, props: tuple[int, int, int], dict_size: int) -> list[dict[str, Any]]:
    """The filter chain for the decoder (the encoder adds the preset)."""
    lc, lp, pb = props
    chain: list[dict[str, Any]] = []
    branch = FILTERS[key]
    if branch is not None:
        chain.append({"id": branch})
    chain.append({"id": lzma.FILTER_LZMA2, "dict_size": dict_size, "lc": lc, "lp": lp, "pb": pb})
    return chain


def _props_byte(props: tuple[int, int, int]) -> int:
    lc, lp, pb = props
    return (pb * 5 + lp) * 9 + lc


def _props_of(value: int) -> tuple[int, int, int]:
    """(lc, lp, pb) of a settings byte; `CorruptDataError` unless LZMA2 allows them."""
    lc, rest = value % 9, value // 9
    lp, pb = rest % 5, rest // 5
    if pb > 4 or lc + lp > 4:
        raise CorruptDataError(f"xz payload has invalid LZMA2 settings byte {value}")
    return lc, lp, pb


def _compress(data: bytes, settings: Settings, preset: int) -> bytes:
    key, props = settings
    chain = _chain(key, props, dictionary_size(len(data)))
    chain[-1]["preset"] = preset
    packed = lzma.compress(data, format=lzma.FORMAT_RAW, filters=chain)
    return bytes([key, _props_byte(props)]) + packed


def choose(data: bytes, preset: int) -> Settings:
    """The filter and LZMA2 settings that code a sample of `data` smallest (ties: the first)."""
    if len(data) > SAMPLE:
        middle = len(data) // 2
        sample = data[: SAMPLE // 2] + data[middle : middle + SAMPLE // 2]
    else:
        sample = data
    keys = sorted({0, branch_filter(data)})
    tries = [(key, props) for key in keys for props in PROPERTIES]
    sizes = [len(_compress(sample, settings, preset)) for settings in tries]
    return tries[sizes.index(min(sizes))]


class XzCodec(Codec):
    """LZMA2 at `preset` (0..9, `extreme` for -e), the dictionary sized to each chunk."""

    codec_id = "xz"
    DEFAULT_PRESET = 9

    def __init__(self, preset: int = DEFAULT_PRESET, extreme: bool = True) -> None:
        if isinstance(preset, bool) or not isinstance(preset, int) or not 0 <= preset <= 9:
            raise ValueError(f"xz preset must be an integer in 0..9, got {preset!r}")
        if not isinstance(extreme, bool):
            raise ValueError(f"xz extreme must be true or false, got {extreme!r}")
        self.preset = preset
        self.extreme = extreme

    def params(self) -> dict[str, Any]:
        """The settings that differ from the defaults (informational: decoding needs none)."""
        out: dict[str, Any] = {}
        if self.preset != self.DEFAULT_PRESET:
            out["preset"] = self.preset
        if not self.extreme:
            out["extreme"] = False
        return out

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> XzCodec:
        """Rebuild from header params; `FormatError` if they are bad."""
        if set(params) - {"preset", "extreme"}:
            raise FormatError(f"bad xz parameters {dict(params)!r}")
        try:
            return cls(params.get("preset", cls.DEFAULT_PRESET), params.get("extreme", True))
        except ValueError as exc:
            raise FormatError(f"bad xz parameters {dict(params)!r}: {exc}") from None

    def encode(self, data: bytes) -> bytes:
        """Compress one chunk with the settings `choose` finds best on a sample of it."""
        data = bytes(data)
        preset = self.preset | (lzma.PRESET_EXTREME if self.extreme else 0)
        return _compress(data, choose(data, preset), preset)

    def decode(self, payload: bytes, raw_size: int) -> bytes:
        """Decompress one payload, never producing more than `raw_size` bytes."""
        if len(payload) < 2:
            raise TruncatedError("xz payload ends inside its settings")
        key = payload[0]
        if key not in FILTERS:
            raise CorruptDataError(f"xz payload names unknown filter {key}")
        chain = _chain(key, _props_of(payload[1]), dictionary_size(raw_size))
        try:
            inflater = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=chain)
            out = inflater.decompress(payload[2:], max_length=raw_size)
            if not inflater.eof and len(out) == raw_size and inflater.decompress(b"", 1):
                raise CorruptDataError(f"xz payload decodes to more than {raw_size} bytes")
        except lzma.LZMAError as exc:
            raise CorruptDataError(f"xz payload does not decode: {exc}") from None
        if not inflater.eof:
            raise TruncatedError(
                f"xz payload ends before its end marker ({len(out)} of {raw_size} bytes decoded)"
            )
        if inflater.unused_data:
            raise CorruptDataError("xz payload has bytes after its end")
        if len(out) != raw_size:
            raise CorruptDataError(f"xz chunk decoded to {len(out)} bytes, expected {raw_size}")
        return out
