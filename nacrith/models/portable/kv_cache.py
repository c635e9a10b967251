"""The llama graph's KV cache: keys and values as exact integers, and the attention's two
products over them.

Two layouts hold the same numbers:

- wide: float64 integers, keys (layer, position, kv head, channel) and values (layer, position,
  kv head x channel), multiplied by numpy's BLAS;
- compact (where the compiled `kernels` run): int32 integers in tiles of `kernels.SPAN`
  positions, (layer, kv head, tile, channel, position in the tile), so one pass over the cache
  streams through memory. The attention of a few query rows (a decoder's step) runs in the
  kernels, reading half the bytes; larger batches widen the cache to float64 for BLAS.

Every product is an exact sum, so both layouts and both ways give the same bits.
"""

from __future__ import annotations

import numpy as np

from nacrith.models.portable import kernels

__all__ = ["KVCache"]

#: query rows (positions x heads of a group) up to which the compiled attention beats BLAS
#: (a decoder's step and up to 5 drafted rows; crossover at 18-24 rows in an ad-hoc timing on a
#: 2-core Xeon, session 14)
_KERNEL_ROWS = 18


class KVCache:
    """Keys and values of one stream, all layers, as exact integers with power-of-two scales
    (`k_scale` per position and kv head; the values' grid is the model's)."""

    def __init__(
        self, n_layer: int, n_ctx: int, n_head_kv: int, head_dim: int, compact: bool = False
    ) -> None:
        self.compact = compact
        self.head_dim = head_dim
        self.k_scale = np.zeros((n_layer, n_ctx, n_head_kv))
        if compact:
            shape = (n_layer, n_head_kv, -(-n_ctx // kernels.SPAN), head_dim, kernels.SPAN)
            self.k_int = np.zeros(shape, dtype=np.int32)
            self.v_int = np.zeros(shape, dtype=np.int32)
        else:
            self.k_int = np.zeros((n_layer, n_ctx, n_head_kv, head_dim))
            self.v_int = np.zeros((n_layer, n_ctx, n_head_kv * head_dim))
        self.length = 0

    def put(
        self,
        layer: int,
        positions: slice,
        k_int: np.ndarray,
        k_scale: np.ndarray,
        v_int: np.ndarray,
    ) -> None:
        """Store one layer's keys (position, kv head, channel), their scales (position, kv
        head) and values (position, kv head x channel) at `positions`."""
        self.k_scale[layer, positions] = k_scale
        if self.compact:
            tile, at = self._spots(positions)
            self.k_int[layer, :, tile, :, at] = k_int  # (position, kv head, channel)
            self.v_int[layer, :, tile, :, at] = v_int.reshape(k_int.shape)
        else:
            self.k_int[layer, positions] = k_int
            self.v_int[layer, positions] = v_int

    def keys(self, positions: slice) -> np.ndarray:
        """The key integers at `positions` of every layer, (layer, position, kv head, channel)."""
        if self.compact:
            tile, at = self._spots(positions)
            return np.moveaxis(self.k_int[:, :, tile, :, at], 0, 1)
        return self.k_int[:, positions]

    def move(self, src: slice, dst: slice, k_int: np.ndarray, k_scale: np.ndarray) -> None:
        """Put the entries of every layer at `src` to `dst`, with new keys (layer, position,
        kv head, channel) and scales; the values move unchanged."""
        self.k_scale[:, dst] = k_scale
        if self.compact:
            (src_tile, src_at), (dst_tile, dst_at) = self._spots(src), self._spots(dst)
            self.k_int[:, :, dst_tile, :, dst_at] = np.moveaxis(k_int, 1, 0)
            self.v_int[:, :, dst_tile, :, dst_at] = self.v_int[:, :, src_tile, :, src_at]
        else:
            self.k_int[:, dst] = k_int
            self.v_int[:, dst] = self.v_int[:, src]

    def dots(self, layer: int, q_int: np.ndarray, total: int) -> np.ndarray:
        """Exact dot products of query integers (kv head, rows, channel) with the keys of the
        first `total` positions: (kv head, rows, total) float64."""
        if not self.compact:
            return np.matmul(q_int, self.k_int[layer, :total].transpose(1, 2, 0))
        if q_int.shape[1] <= _KERNEL_ROWS:
            return kernels.attention_dots(q_int, self.k_int[layer], total)
        return np.matmul(q_int, self._by_channel(self.k_int[layer], total))

    def mix(self, layer: int, weights: np.ndarray) -> np.ndarray:
        """Exact sums of integer `weights` (kv head, rows, total) times the values of the first
        `total` positions: (kv head, rows, channel) float64."""
        total = weights.shape[-1]
        if not self.compact:
            n_kv = weights.shape[0]
            values = self.v_int[layer, :total].reshape(total, n_kv, self.head_dim)
            return np.matmul(weights, values.transpose(1, 0, 2))
        if weights.shape[1] <= _KERNEL_ROWS:
            return kernels.attention_mix(weights, self.v_int[layer], total)
        return np.matmul(weights, self._by_channel(self.v_int[layer], total).transpose(0, 2, 1))

    def _spots(self, positions: slice) -> tuple[np.ndarray, np.ndarray]:
        """(tile, place in the tile) of each of `positions`."""
        where = np.arange(positions.start, positions.stop)
        return where // kernels.SPAN, where % kernels.SPAN

    @staticmethod
    def _by_channel(tiles: np.ndarray, total: int) -> np.ndarray:
        """One layer's compact integers (kv head, tile, channel, place) as float64 (kv head,
        channel, position), the first `total` positions."""
        n_kv, n_tiles, hd, span = tiles.shape
        flat = tiles.transpose(0, 2, 1, 3).reshape(n_kv, hd, n_tiles * span)
        return flat[:, :, :total].astype(np.float64)
