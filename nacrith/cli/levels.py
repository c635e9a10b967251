"""Compression levels `-1` .. `-9`: named points on the speed/ratio curve of `ncz compress`.

Each level is a method, a model and a context, chosen from measured points (BENCHMARKS.md,
section "Levels": each level's speed and bits per byte, from `scripts/bench_levels.py`). Low
levels use no model; the default level is the default `auto` settings; the highest use the
best-ratio model and context. Levels that share a point are the same today.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

__all__ = ["DEFAULT_LEVEL", "LEVELS", "Level", "level_options"]


@dataclass(frozen=True)
class Level:
    """What one level sets: `method`, and for the llm codec `model` and `context` (None: the
    codec's default)."""

    method: str
    model: str | None = None
    context: int | None = None

    def describe(self) -> str:
        """The level's settings as `ncz compress` options."""
        if self.method != "auto":
            return f"--method {self.method}"
        words = ["--method auto"]
        if self.model is not None:
            words.append(f"--model {self.model}")
        if self.context is not None:
            words.append(f"--context {self.context}")
        return " ".join(words)


_NO_MODEL = Level("fast")
_DEFAULT = Level("auto")

LEVELS: dict[int, Level] = {
    1: _NO_MODEL,
    2: _NO_MODEL,
    3: _NO_MODEL,
    4: _DEFAULT,
    5: _DEFAULT,
    6: _DEFAULT,
    7: Level("auto", context=8192),
    8: Level("auto", "gemma3-270m", 2048),
    9: Level("auto", "gemma3-270m", 8192),
}
DEFAULT_LEVEL = 6


def level_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the flags `-1` .. `-9`, which set the `level` parameter (None when none is given)."""
    for number in sorted(LEVELS, reverse=True):
        func = click.option(
            f"-{number}",
            "level",
            flag_value=number,
            default=None,
            type=int,
            hidden=number not in (1, max(LEVELS)),
            help=_help(number),
        )(func)
    return func


def _help(number: int) -> str:
    if number == 1:
        return (
            f"-1 .. -{max(LEVELS)}: compression level, from fastest (-1: "
            f"{LEVELS[1].describe()}, no model) to the default -{DEFAULT_LEVEL} "
            f"({LEVELS[DEFAULT_LEVEL].describe()})."
        )
    return f"Best ratio, slowest level: {LEVELS[number].describe()}."
