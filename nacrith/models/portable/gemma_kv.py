"""Keys and values of one stream of the Gemma 3 graph, with a ring for the sliding-window layers.

Global layers keep every position of the context. A local layer attends only to the last
`sliding_window` positions, so with a `sink` given it keeps positions ``[0, sink)`` (what a
`shift` that keeps an attention sink of at most `sink` positions brings back into view) plus a
ring of the last `sliding_window` positions: position ``p >= sink`` lives in slot
``sink + (p - sink) % sliding_window``. Without a sink every layer keeps every position.

The numbers held are the same either way, and attention reads the keys of each position it
sees in position order, so logits have the same bits with and without the ring. `held` marks
the positions the ring layers still hold; a shift that would bring a position the ring has let
go back into a window is refused when that window is read (`NacrithError`), never computed
differently.
"""

from __future__ import annotations

import numpy as np

from nacrith.errors import NacrithError
from nacrith.models.portable.gemma_weights import GemmaConfig

__all__ = ["StreamKV"]


class StreamKV:
    """Keys (float32 integers of QK_BITS bits, times a float64 power of two per head) and values
    (int32 integers on the layer's grid) of one stream, per layer, by position.

    :param config: the model's settings (layer kinds, sliding window, heads).
    :param n_ctx: context length in tokens.
    :param sink: positions every layer keeps for shifts, with a ring for the local layers beyond
        them; None: every layer keeps every position (no ring).
    """

    def __init__(self, config: GemmaConfig, n_ctx: int, sink: int | None = None) -> None:
        if sink is not None and not 0 <= sink < n_ctx:
            raise ValueError(f"sink must lie in [0, {n_ctx}), got {sink}")
        self.window = config.sliding_window
        self.pin = sink or 0
        ring = sink is not None and self.pin + self.window < n_ctx
        self.ring = [ring and config.is_local(i) for i in range(config.n_layer)]
        self.local = [config.is_local(i) for i in range(config.n_layer)]
        n_kv, hd = config.n_head_kv, config.head_dim
        self.k_int: list[np.ndarray] = []
        self.k_scale: list[np.ndarray] = []
        self.v_int: list[np.ndarray] = []
        for in_ring in self.ring:
            size = self.pin + self.window if in_ring else n_ctx
            self.k_int.append(np.zeros((size, n_kv, hd), dtype=np.float32))
            self.k_scale.append(np.zeros((size, n_kv)))
            self.v_int.append(np.zeros((size, n_kv * hd), dtype=np.int32))
        self.held = np.zeros(n_ctx, dtype=bool)
        self.length = 0

    @property
    def nbytes(self) -> int:
        """Bytes of keys and values held for this stream."""
        return sum(a.nbytes for arrays in (self.k_int, self.k_scale, self.v_int) for a in arrays)

    def slots(self, layer: int, positions: np.ndarray) -> np.ndarray:
        """Where `positions` live in `layer`'s arrays."""
        if not self.ring[layer]:
            return positions
        pin = self.pin
        return np.where(positions < pin, positions, pin + (positions - pin) % self.window)

    def window_of(
        self, layer: int, start: int, k_int: np.ndarray, k_scale: np.ndarray, v_int: np.ndarray
    ) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        """Store the keys and values of positions ``start..start + t`` (t = len(k_int)) and
        return ``(first, k_int, k_scale, v_int)``: what queries at those positions attend over,
        positions ``first..start + t`` in order (a local layer's window starts `sliding_window`
        - 1 positions before `start`)."""
        t = len(k_int)
        total = start + t
        first = max(0, start - self.window + 1) if self.local[layer] else 0
        ki, ks, vi = self.k_int[layer], self.k_scale[layer], self.v_int[layer]
        if not self.ring[layer]:
            ki[start:total], ks[start:total], vi[start:total] = k_int, k_scale, v_int
            return first, ki[first:total], ks[first:total], vi[first:total]
        if not self.held[first:start].all():
            raise NacrithError(
                f"the sliding-window cache let go of positions in [{first}, {start}) that a "
                f"shift brought back into view; build the model with a sink of at least the "
                f"shifts' start"
            )
        old = self.slots(layer, np.arange(first, start))
        window = (
            np.concatenate([ki[old], k_int.astype(np.float32)]),
            np.concatenate([ks[old], k_scale]),
            np.concatenate([vi[old], v_int.astype(np.int32)]),
        )
        new = np.arange(start, total)
        keep = (new < self.pin) | (new >= total - self.window)
        dst = self.slots(layer, new[keep])
        ki[dst], ks[dst], vi[dst] = k_int[keep], k_scale[keep], v_int[keep]
        return first, *window

    def stored(self, start: int, end: int) -> None:
        """Record that positions ``start..end`` were written to every layer."""
        self.held[start:end] = True
        if any(self.ring):
            self.held[self.pin : max(self.pin, end - self.window)] = False

    def moves(self, start: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        """For a shift dropping positions ``start..start + count`` of the `length` held: the
        positions the ring layers must move (destinations, sources), and `held` updated."""
        n, n_new = self.length, self.length - count
        dst = np.arange(start, n_new)
        src = dst + count
        held = self.held.copy()
        held[start:n_new] = self.held[start + count : n]
        held[self.pin : max(self.pin, n_new - self.window)] = False
        keep = held[dst] & ((dst < self.pin) | (dst >= n_new - self.window))
        self.held = held
        return dst[keep], src[keep]

    def keys(self, layer: int, positions: np.ndarray) -> np.ndarray:
        """Key values (float64, positions x heads x head_dim) of `layer` at `positions`."""
        s = self.slots(layer, positions)
        return self.k_int[layer][s] * self.k_scale[layer][s][..., None]
