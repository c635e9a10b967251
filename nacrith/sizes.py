"""Byte counts as people write them on command lines: 1000000, 64k, 1M, 64KiB."""

from __future__ import annotations

from typing import Any

import click

__all__ = ["ByteSize", "parse_size"]


def parse_size(text: str) -> int:
    """Parse `1000000`, `1M`, `3MB`, `64KiB`, `1G` (K/M/G = 10^3/10^6/10^9, KiB... = 2^10...)."""
    units = {
        "": 1,
        "B": 1,
        "K": 10**3,
        "KB": 10**3,
        "M": 10**6,
        "MB": 10**6,
        "G": 10**9,
        "GB": 10**9,
        "KIB": 1 << 10,
        "MIB": 1 << 20,
        "GIB": 1 << 30,
    }
    cleaned = text.strip().replace(",", "").replace("_", "")
    number = cleaned.rstrip("BbIiKkMmGg")
    unit = cleaned[len(number) :].upper()
    try:
        value = float(number) * units[unit]
    except (ValueError, KeyError):
        raise ValueError(f"not a byte count: {text!r} (use e.g. 1000000, 1M, 64KiB)") from None
    if value < 1 or value != int(value):
        raise ValueError(f"byte count must be a positive whole number: {text!r}")
    return int(value)


class ByteSize(click.ParamType):
    """Click parameter type for byte counts written like `parse_size` reads them."""

    name = "BYTES"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_size(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
