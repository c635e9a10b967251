"""numba's compiler for the loops that have a compiled form, where it runs.

A compiled loop computes what its numpy form computes, with the same IEEE operations in the same
order where results are rounded (numba, like numpy, fuses no multiply and add unless asked), or
with integer and exact float sums whose order cannot matter. So whether numba runs changes speed
only, never a bit. numba is optional: where it does not import, or ``NACRITH_KERNELS`` is
``numpy``, `compiler()` is None and the numpy forms run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import Any

__all__ = ["ENV", "compile_loop", "compiler", "share_helper"]

#: environment variable choosing the loops' implementation: ``numba`` (where it imports) or
#: ``numpy``
ENV = "NACRITH_KERNELS"


@cache
def compiler() -> Callable[..., Any] | None:
    """numba's ``njit``, or None where the numpy forms run (no numba, or ``NACRITH_KERNELS``
    is ``numpy``)."""
    if os.environ.get(ENV, "numba").strip().lower() == "numpy":
        return None
    try:
        from numba import njit
    except ImportError:
        return None
    return njit


def compile_loop(function: Callable[..., Any], **options: Any) -> Callable[..., Any] | None:
    """`function` compiled without the GIL, cached on disk, no bounds or division checks, with
    `options` added or changed (e.g. ``fastmath`` for sums that are exact in any order;
    ``cache=False`` for a loop that calls a `share_helper` of another file, since numba's disk
    cache notices changes of the loop's own file only); None where the numpy forms run."""
    njit = compiler()
    if njit is None:
        return None
    settings = {"nogil": True, "cache": True, "error_model": "numpy", "boundscheck": False}
    return njit(**{**settings, **options})(function)


@cache
def share_helper(function: Callable[..., Any]) -> None:
    """Let compiled loops call `function` (a plain function of numbers), compiled into them;
    nothing where the numpy forms run."""
    if compiler() is None:
        return
    from numba.extending import register_jitable

    register_jitable(inline="always")(function)
