"""Draft tokens for a decoder on an exact engine: guesses of a stream's next tokens from its own
history, which the model then checks in one batch (speculative decoding).

On a `batch_exact` engine a batch of tokens computes the bits of single steps, so a decoder may
feed the token it just decoded together with guesses of the tokens after it: each row whose
inputs turn out to be the decoded tokens is the row a single step would have computed, and the
cache past the first wrong guess is cut off. The archive's bytes and the distributions do not
depend on the drafts; only the number of model calls does.

`Drafter` guesses the way prompt-lookup decoding does: the token that followed the latest
earlier occurrence of the longest matching context (up to `ORDERS[0]` tokens), repeated on its
own guesses. It keeps, per context order, a running estimate of how often such a guess is right
(every decoded token checks the guess made for it) and drafts as many tokens as maximize the
expected tokens per unit of model cost, a batch of 1 + k rows costing about ``1 + ROW_COST * k``
single steps. Repetitive text (logs, markup, code) drafts often; prose rarely drafts at all.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

__all__ = ["MAX_DRAFT", "ORDERS", "ROW_COST", "Drafter"]

#: context orders tried, longest first
ORDERS = (6, 4, 3, 2, 1)
#: the most tokens drafted after the decoded one
MAX_DRAFT = 7
#: the cost of each further row of a batch, in single steps (the portable engine's products
#: read the weights once per batch; BENCHMARKS.md, section speed-drafts)
ROW_COST = 0.4
#: weight of the newest check in the running hit rates
_RATE_STEP = 1 / 16
#: the hit rate assumed for an order before any check
_PRIOR = 0.5
#: slots of each order's table of latest occurrences (a context's hash picks its slot; a
#: collision only makes a wrong guess), so memory stays fixed however long the stream
_SLOTS = 1 << 18


class Drafter:
    """Guesses of one stream's next tokens from the tokens it has decoded so far."""

    def __init__(self, max_draft: int = MAX_DRAFT, row_cost: float = ROW_COST) -> None:
        if max_draft < 0:
            raise ValueError(f"max_draft must be non-negative, got {max_draft}")
        self.max_draft = max_draft
        self.row_cost = row_cost
        #: per order: context hash slot -> the position after its latest occurrence (-1: none)
        self._next = {order: array("i", [-1]) * _SLOTS for order in ORDERS}
        self._seen = 0  # tokens of the history learnt so far
        self._rate = dict.fromkeys(ORDERS, _PRIOR)
        self._pending: tuple[int, int] | None = None  # (order, token) guessed for position _seen

    def learn(self, history: Sequence[int]) -> None:
        """Take in the tokens of `history` (the stream's decoded tokens, a growing list) not seen
        yet, checking the one-token guess made for each."""
        for p in range(self._seen, len(history)):
            if self._pending is not None:
                order, guess = self._pending
                hit = guess == history[p]
                self._rate[order] += _RATE_STEP * (hit - self._rate[order])
            for order in ORDERS:
                if p >= order:
                    self._next[order][hash(tuple(history[p - order : p])) % _SLOTS] = p
            self._seen = p + 1
            self._pending = self._guess(history, history[max(0, p + 1 - ORDERS[0]) : p + 1])

    def _guess(self, history: Sequence[int], context: Sequence[int]) -> tuple[int, int] | None:
        """(order, token) that followed the longest earlier match of `context`'s end."""
        n = len(context)
        for order in ORDERS:
            if n >= order:
                at = self._next[order][hash(tuple(context[n - order :])) % _SLOTS]
                if 0 <= at < len(history):
                    return order, history[at]
        return None

    def draft(self, history: Sequence[int], room: int) -> list[int]:
        """Guesses of the tokens after `history` (already `learn`t), at most `room`: as many as
        maximize the expected tokens per model cost (none when guessing does not pay)."""
        limit = min(room, self.max_draft)
        guesses: list[int] = []
        chance = 1.0
        expected = best_value = 1.0
        best = 0
        context = list(history[-ORDERS[0] :])
        while len(guesses) < limit:
            guess = self._guess(history, context)
            if guess is None:
                break
            order, token = guess
            chance *= self._rate[order]
            expected += chance
            guesses.append(token)
            context = [*context[1:], token]
            value = expected / (1.0 + self.row_cost * len(guesses))
            if value > best_value:
                best, best_value = len(guesses), value
        return guesses[:best]
