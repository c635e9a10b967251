"""The one progress-bar factory: tqdm on stderr, shown only where a person watches."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["progress_bar"]


def progress_bar(
    total: int | float | None, desc: str, *, unit: str = "B", enabled: bool = True
) -> Any:
    """A tqdm bar on stderr; silent when `enabled` is false or stderr is not a terminal.

    Byte counts (`unit="B"`) are scaled to KiB/MiB; other units are shown as counts.
    """
    from tqdm import tqdm

    in_bytes = unit == "B"
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=in_bytes,
        unit_divisor=1024 if in_bytes else 1000,
        leave=False,
        file=sys.stderr,
        disable=None if enabled else True,
    )
