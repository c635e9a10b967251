"""The exact elementary functions, now in `nacrith.exact` (every layer may use them)."""

from nacrith.exact import (
    TINY,
    TRIG_MAX,
    cos,
    exp,
    fixed_point,
    log,
    silu,
    sin,
    softmax,
    softmax_weights,
)

__all__ = [
    "TINY",
    "TRIG_MAX",
    "cos",
    "exp",
    "fixed_point",
    "log",
    "silu",
    "sin",
    "softmax",
    "softmax_weights",
]
