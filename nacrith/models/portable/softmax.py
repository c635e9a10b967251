"""The attention softmax of both portable graphs: integer weights with the same bits on every
machine.

Each row of scores (``-inf`` where a key is hidden) becomes weights that are integers summing to
about ``2**P_BITS``: first ``w = rint(2**SCORE_BITS * e**(s - max))``, integers whose row sums
are exact, then ``rint(2**P_BITS * w / sum(w))``. How ``e**(s - max)`` is computed is the
arithmetic revision's:

- revisions 1 and 2: `exact.exp` of the float64 difference (a degree-14 polynomial, about 30
  passes over the scores);
- revision 3: the difference rounded to a grid of ``2**-EXP_GRID`` and looked up in `exp_table`,
  whose entries are ``rint(2**SCORE_BITS * e**(-i * 2**-EXP_GRID))`` computed once with
  `exact.exp`. The lookup is exact, so the weights are as machine-independent as before; the
  grid moves each weight by at most ``2**-(EXP_GRID + 1)`` of itself. Where the compiled
  `kernels` run, one loop does the same operations in the same order (the same bits).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from nacrith import exact
from nacrith.errors import NacrithError
from nacrith.models.portable import kernels

__all__ = ["EXP_GRID", "P_BITS", "SCORE_BITS", "attention_weights", "exp_table"]

SCORE_BITS = 38  # exp(score - max) as fixed point; n_ctx <= 2**14 keeps row sums < 2**53
P_BITS = 26  # normalized attention weights
EXP_GRID = 12  # revision 3: binary places of (max - score) kept for the table lookup
#: revision 3's table length: from here on 2**SCORE_BITS * e**-x < 1/2 rounds to 0
_TABLE_SPAN = 28
#: the first arithmetic revision whose softmax uses the table
TABLE_REVISION = 3


@cache
def exp_table() -> np.ndarray:
    """``rint(2**SCORE_BITS * e**(-i * 2**-EXP_GRID))`` for i below ``28 * 2**EXP_GRID``
    (float64 integers; the last ones are 0)."""
    steps = np.arange(_TABLE_SPAN << EXP_GRID, dtype=np.float64)
    table = np.rint(np.ldexp(exact.exp(-np.ldexp(steps, -EXP_GRID)), SCORE_BITS))
    table.flags.writeable = False
    return table


def attention_weights(scores: np.ndarray, revision: int) -> np.ndarray:
    """Integer weights (float64) from `scores` along the last axis, for arithmetic `revision`;
    `scores` (float64, ``-inf`` where hidden, at least one finite per row) is overwritten."""
    if revision >= TABLE_REVISION and kernels.available():
        return kernels.table_softmax(scores, exp_table(), 2.0**EXP_GRID, 2.0**P_BITS)
    top = np.max(scores, axis=-1, keepdims=True)
    if not np.all(np.isfinite(top)):
        raise NacrithError("attention scores are not finite (NaN or overflow?)")
    if revision < TABLE_REVISION:
        weights = np.rint(np.ldexp(exact.exp(scores - top), SCORE_BITS))
    else:
        table = exp_table()
        np.subtract(top, scores, out=scores)  # >= 0, +inf where hidden
        scores *= 2.0**EXP_GRID  # a power of two: exact
        np.rint(scores, out=scores)
        np.minimum(scores, len(table) - 1, out=scores)
        weights = table[scores.astype(np.intp)]
    sums = np.sum(weights, axis=-1, keepdims=True)  # integers below 2**53: exact
    return np.rint(np.ldexp(weights, P_BITS) / sums)
