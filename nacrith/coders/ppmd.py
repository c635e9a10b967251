"""PPMd var. I (pyppmd's `Ppmd8`): the one place nacrith codes bytes with PPMd.

A stream is pyppmd's range-coded output without an end marker; the decoder is told the model
order, the memory size and the number of bytes to produce, so nothing else is stored.

pyppmd has round-trip bugs: for some inputs (at model orders of 13 and above, for example) the
encoder writes a stream its own decoder rejects or decodes wrongly. `encode` therefore decodes
its output and compares it with the input before returning it, and returns None when they
differ, so that the caller codes the data another way; it never hands out a stream that does
not decode. `decode` bounds its work by the stream and the requested length and turns every
failure into a `CorruptDataError`.
"""

from __future__ import annotations

from nacrith.errors import CorruptDataError, FormatError

try:  # a base dependency; still optional at import so that a broken install fails clearly
    import pyppmd
except ImportError:  # pragma: no cover - exercised only where pyppmd is missing
    pyppmd = None

__all__ = ["MAX_MEM", "MAX_ORDER", "MIN_MEM", "MIN_ORDER", "available", "decode", "encode"]

#: model orders Ppmd8 accepts
MIN_ORDER, MAX_ORDER = 2, 64
#: model memory sizes nacrith uses (a decoder allocates exactly this much)
MIN_MEM, MAX_MEM = 1 << 16, 1 << 30
#: zeros fed after a stream per round (pyppmd's decoder reads a little past the last symbol)
_PAD = 1 << 16
#: exceptions pyppmd raises on damaged input; some damaged streams surface as SystemError
#: ("returned NULL without setting an exception"), found by scripts/fuzz.py
_DECODE_ERRORS = (OSError, ValueError, EOFError, SystemError, RuntimeError, MemoryError)


def available() -> bool:
    """Whether PPMd can be used here (the `pyppmd` package imports)."""
    return pyppmd is not None


def _check(order: int, mem: int) -> None:
    if isinstance(order, bool) or not isinstance(order, int) or not MIN_ORDER <= order <= MAX_ORDER:
        raise ValueError(
            f"PPMd order must be an integer in {MIN_ORDER}..{MAX_ORDER}, got {order!r}"
        )
    if isinstance(mem, bool) or not isinstance(mem, int) or not MIN_MEM <= mem <= MAX_MEM:
        raise ValueError(f"PPMd memory must be an integer in {MIN_MEM}..{MAX_MEM}, got {mem!r}")


def _require() -> None:
    if pyppmd is None:
        raise FormatError("PPMd-coded data needs the `pyppmd` package: install it")


def encode(data: bytes, order: int, mem: int) -> bytes | None:
    """PPMd-code `data` with a model of `order` in `mem` bytes; None when pyppmd's stream does
    not decode back to `data` (the caller then codes the data another way)."""
    _check(order, mem)
    _require()
    data = bytes(data)
    if not data:
        return b""
    enc = pyppmd.Ppmd8Encoder(order, mem)
    coded = enc.encode(data) + enc.flush(endmark=False)
    try:
        back = decode(coded, order, mem, len(data))
    except CorruptDataError:
        return None
    return coded if back == data else None


def decode(payload: bytes, order: int, mem: int, raw_len: int) -> bytes:
    """Decode exactly `raw_len` bytes from a stream `encode` wrote with `order` and `mem`;
    `CorruptDataError` when it does not decode to that many bytes.

    pyppmd decodes in a helper thread that waits for more input when a damaged stream runs
    dry, and a decoder left waiting can crash the process later; so the input is padded with
    zeros, and a decoder still hungry is fed more zeros until it has produced `raw_len` bytes
    or reported the damage (a symbol reads at most a few bytes, so the zeros are bounded by
    the length asked for).
    """
    _check(order, mem)
    _require()
    if raw_len < 0:
        raise ValueError(f"raw_len must be >= 0, got {raw_len}")
    if raw_len == 0:
        return b""
    try:
        dec = pyppmd.Ppmd8Decoder(order, mem)
        out = dec.decode(bytes(payload) + bytes(min(4 * raw_len + 64, _PAD)), raw_len)
        budget = 4 * raw_len + 64
        while len(out) < raw_len and dec.needs_input and budget > 0:
            out += dec.decode(bytes(_PAD), raw_len - len(out))
            budget -= _PAD
    except _DECODE_ERRORS as exc:
        raise CorruptDataError(f"PPMd stream does not decode: {exc}") from exc
    if len(out) != raw_len:
        raise CorruptDataError(f"PPMd stream decoded to {len(out)} bytes, expected {raw_len}")
    return out
