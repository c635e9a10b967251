"""Line filters of `LogsCodec.decode_lines`: the lines a number search or a time range may
match, from the decoded columns (before any line is rendered)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from nacrith.formats.logs.template import DEC, HEX, TIME
from nacrith.formats.logs.timestamps import FORMATS

__all__ = ["line_times", "number_filter"]


def line_times(vals: Any, per_line: np.ndarray) -> np.ndarray:
    """Per line, POSIX seconds of its first time variable, else of the nearest line before it
    that has one, else of the first line after it; NaN when the chunk has none."""
    n_lines = per_line.size
    out = np.full(n_lines, np.nan)
    times = np.flatnonzero(vals.kind == TIME)
    if times.size == 0:
        return out
    var_line = np.repeat(np.arange(n_lines), per_line)[times]
    lines, first = np.unique(var_line, return_index=True)
    out[lines] = vals.values[times[first]].astype(np.float64)
    has = np.zeros(n_lines, dtype=bool)
    has[lines] = True
    idx = np.maximum.accumulate(np.where(has, np.arange(n_lines), -1))
    filled = np.where(idx >= 0, out[np.maximum(idx, 0)], np.nan)
    return np.where(np.isnan(filled), out[lines[0]], filled)


_ADJACENT_RE = re.compile(rb"[\x00\x01][\x00\x01\x03]")
_DIGITS_RE = re.compile(rb"\d+")


def number_filter(
    templates: list[bytes],
    tids: np.ndarray,
    layout: Any,
    vals: Any,
    per_line: np.ndarray,
    numbers: Sequence[tuple[bytes, bool]],
) -> np.ndarray:
    """Lines that can hold every (digits, whole) of `numbers` (see `LogsCodec.decode_lines`)."""
    n_lines = len(tids)
    t_hex = np.array([HEX in layout.col_kind[c] for c in layout.template_cols], dtype=bool)
    t_adjacent = np.array([bool(_ADJACENT_RE.search(t)) for t in templates], dtype=bool)
    var_line = np.repeat(np.arange(n_lines), per_line)
    dec = vals.kind == DEC
    times = np.flatnonzero(vals.kind == TIME)
    time_runs: list[list[bytes]] = []
    if times.size:
        uniq, time_inverse = np.unique(vals.values[times], return_inverse=True)
        render = FORMATS[vals.time_format].render
        time_runs = [_DIGITS_RE.findall(render(v)) for v in uniq.tolist()]
    mask = np.ones(n_lines, dtype=bool)
    for digits, whole in numbers:
        width = len(digits)
        if not 1 <= width <= 19 or not digits.isdigit():
            continue
        target = np.uint64(int(digits))
        with np.errstate(over="ignore"):
            if whole:
                ok = dec & (vals.lengths == width) & (vals.values == target)
            else:
                low = vals.values % np.uint64(10**width)
                ok = dec & (vals.lengths >= width) & (low == target)
        line_ok = np.zeros(n_lines, dtype=bool)
        line_ok[var_line[ok]] = True
        if time_runs:
            spelt = np.array(
                [
                    any(r == digits if whole else r.endswith(digits) for r in runs)
                    for runs in time_runs
                ]
            )
            line_ok[var_line[times[spelt[time_inverse]]]] = True
        mask &= line_ok | (t_hex | (t_adjacent & (not whole)))[tids]
    return mask
