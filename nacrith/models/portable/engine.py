"""Forward pass of a llama model whose logits have the same bits on every machine.

Matrix products are exact integer products (see `weights`). Everything between them is either an
elementwise IEEE operation in a fixed order (correctly rounded, so machine-independent), an exact
function from `exact`, or an exact integer sum:

- RMSNorm takes its sum of squares over the residual written as 21-bit integers (exact sum);
- attention scores are exact dot products of RoPE-rotated q and k written as 22-bit integers
  with a power-of-two scale per head vector; the softmax weights are integers (`softmax`: exp as
  38-bit fixed point, exact row sums, then `P_BITS`-bit normalized weights), and the weighted
  sum of values is an exact product with V written as integers on a fixed power-of-two grid per
  channel. That grid comes from a proven bound on |V| (row norm of W_v x max |norm weight| x
  sqrt(n_embd)), computed at load, so the grid does not depend on which positions are in the
  cache;
- SiLU and the RoPE tables use `exact.exp`, `exact.sin`, `exact.cos`.

A batch of tokens therefore gives the same bits as the same tokens fed one at a time. Where the
compiled `kernels` run, the KV cache is compact (`kv_cache`: int32 integers) and a decoder's
attention runs in them, and `layer_kernels` computes RMSNorm, RoPE and SiLU; the numbers are the
same.

Arithmetic revisions (`weights.REVISIONS`): revision 1 holds the weight matrices as per-row fixed
point in float64 (`FixedMatrix`), revision 2 keeps the GGUF's quantization blocks and multiplies
in exact float32 blocks (`BlockMatrix`; half the bytes read per token), revision 3 has revision
2's matrices and takes the softmax's exp from a table (`softmax`).

`shift` drops cache positions and moves the later keys down: each moved key is rotated back by
the distance moved (the RoPE tables' exact cos and sin of that distance, fixed operation order)
and written again as 22-bit integers, so a shift costs one pass over the moved keys and no
re-evaluation.
"""

from __future__ import annotations

import os

import numpy as np

from nacrith import exact
from nacrith.errors import NacrithError
from nacrith.models.portable import kernels, layer_kernels
from nacrith.models.portable.kv_cache import KVCache
from nacrith.models.portable.softmax import P_BITS, attention_weights
from nacrith.models.portable.streams import Streams, checked_setup
from nacrith.models.portable.weights import ModelWeights, load_weights

__all__ = ["PortableModel"]

QK_BITS = 22  # q and k per head vector; 64 products of 2**44 stay far below 2**53
V_BITS = 26  # values on their fixed grid; (2**26 + n_ctx) * 2**26 < 2**53
_ATTN_CHUNK = 1 << 18  # attention scores computed in one pass (query rows x cache positions)


def _rope_tables(n_ctx: int, head_dim: int, base: float) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of pos * base**(-2i/head_dim), shape (n_ctx, head_dim/2), exact functions."""
    half = head_dim // 2
    inv_freq = exact.exp(-(np.arange(half, dtype=np.float64) * (2.0 / head_dim)) * exact.log(base))
    angles = np.arange(n_ctx, dtype=np.float64)[:, None] * inv_freq[None, :]
    return exact.cos(angles), exact.sin(angles)


class PortableModel(Streams):
    """A llama GGUF evaluated with machine-independent arithmetic, `n_seq` streams of `n_ctx`.

    :param path: GGUF file (llama architecture, F32/F16/Q8_0/Q4_1 tensors).
    :param n_seq: number of independent streams (KV caches).
    :param n_ctx: context length of each stream, in tokens.
    :param weights: already loaded weights (shared between models), instead of reading `path`;
        their revision must be `revision`.
    :param revision: arithmetic revision (see `weights.REVISIONS`); archives record it,
        since each revision computes other (equally portable) logits.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        n_seq: int = 1,
        n_ctx: int = 2048,
        weights: ModelWeights | None = None,
        revision: int = 1,
    ) -> None:
        weights = checked_setup(path, weights, revision, n_seq, n_ctx, load_weights)
        self.revision = revision
        cfg = weights.config
        self.weights = weights
        self.config = cfg
        self.n_vocab = cfg.n_vocab
        self.n_embd = cfg.n_embd
        self.n_ctx = n_ctx
        self.n_seq = n_seq
        self.bos = cfg.bos
        self._group = cfg.n_head // cfg.n_head_kv
        self._rms_bits = (52 - int(cfg.n_embd - 1).bit_length()) // 2
        self._cos, self._sin = _rope_tables(n_ctx, cfg.head_dim, cfg.rope_base)
        self._v_scale = [self._value_grid(i) for i in range(cfg.n_layer)]
        compact = kernels.available()
        self._caches = [
            KVCache(cfg.n_layer, n_ctx, cfg.n_head_kv, cfg.head_dim, compact) for _ in range(n_seq)
        ]
        self._hidden = np.zeros((0, cfg.n_embd))

    def _value_grid(self, layer: int) -> np.ndarray:
        """Power-of-two grid per V channel such that |V| < 2**V_BITS grid steps, proven."""
        cfg = self.config
        lw = self.weights.layers[layer]
        kv = cfg.n_head_kv * cfg.head_dim
        v_rows = np.arange(cfg.n_embd + kv, cfg.n_embd + 2 * kv)
        norms = lw.qkv.row_norm_bound()[v_rows]
        # |x_norm|_2 <= sqrt(n) * max|g|; factor 2 covers rounding and activation quantization
        bound = norms * (float(np.max(np.abs(lw.attn_norm))) * np.sqrt(float(cfg.n_embd)) * 2.0)
        _, e = np.frexp(bound)
        return np.ldexp(1.0, e - V_BITS)

    # -- streams ---------------------------------------------------------------------------------

    def shift(self, seq: int, start: int, count: int) -> None:
        """Drop positions [start, start + count) of stream `seq`; later entries move down by
        `count`, their keys rotated to their new positions (exact tables, fixed operation
        order: the same bits everywhere). The stream then holds `count` tokens fewer."""
        cache = self._caches[seq]
        n = cache.length
        if count < 0 or start < 0 or start + count > n:
            raise ValueError(f"cannot drop [{start}, {start + count}) of {n} positions")
        if count == 0:
            return
        src, dst = slice(start + count, n), slice(start, n - count)
        if start + count == n:
            cache.length = start
            return
        moved = cache.keys(src) * cache.k_scale[:, src, :, None]
        pairs = moved.reshape(*moved.shape[:-1], -1, 2)
        a, b = pairs[..., 0], pairs[..., 1]
        c, s = self._cos[count], self._sin[count]
        rotated = np.empty_like(pairs)
        rotated[..., 0] = a * c + b * s
        rotated[..., 1] = b * c - a * s
        k_int, k_scale = self._fixed_point(rotated.reshape(moved.shape), QK_BITS)
        cache.move(src, dst, k_int, k_scale)
        cache.length = n - count

    # -- forward pass ----------------------------------------------------------------------------

    def _forward(self, segments: list[tuple[int, np.ndarray]], all_rows: bool) -> np.ndarray:
        vocab = self.n_vocab
        starts = []
        for seq, toks in segments:
            start = self._caches[seq].length
            if start + len(toks) > self.n_ctx:
                raise ValueError(f"stream {seq} would exceed its context of {self.n_ctx}")
            if toks.size and (toks.min() < 0 or toks.max() >= vocab):
                raise ValueError(f"token ids must lie in [0, {vocab})")
            starts.append(start)
        tokens = np.concatenate([t for _, t in segments])
        positions = np.concatenate(
            [np.arange(s, s + len(t)) for s, (_, t) in zip(starts, segments)]
        )
        h = self.weights.embed.row_values(tokens)
        for layer in range(self.config.n_layer):
            h = self._block(layer, h, segments, starts, positions)
        for (seq, toks), start in zip(segments, starts):
            self._caches[seq].length = start + len(toks)
        ends = np.cumsum([len(t) for _, t in segments]) - 1
        rows = np.arange(len(tokens)) if all_rows else ends
        x = self._rms_norm(h[rows], self.weights.output_norm)
        self._hidden = x
        return self.weights.output(x)

    @staticmethod
    def _fixed_point(x: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
        """`exact.fixed_point`, compiled where the kernels run (the same bits)."""
        if kernels.available():
            return kernels.fixed_point(x, bits)
        return exact.fixed_point(x, bits)

    def _rms_norm(self, h: np.ndarray, gain: np.ndarray) -> np.ndarray:
        if layer_kernels.available():
            out = layer_kernels.rms_norm(h, gain, self._rms_bits, self.config.rms_eps)
            if out is not None:
                return out
        ints, scale = self._fixed_point(h, self._rms_bits)
        squares = np.sum(ints * ints, axis=-1)  # integers below 2**52: exact in any order
        mean = squares * (scale * scale) / float(h.shape[-1])
        inv = 1.0 / np.sqrt(mean + self.config.rms_eps)
        return h * inv[:, None] * gain

    def _rope(self, x: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Rotate adjacent pairs (llama.cpp's "normal" RoPE, which GGUF llama weights expect)."""
        if layer_kernels.available():
            return layer_kernels.rope(x, self._cos, self._sin, positions)
        n, heads, dim = x.shape
        pairs = x.reshape(n, heads, dim // 2, 2)
        a, b = pairs[..., 0], pairs[..., 1]
        c = self._cos[positions][:, None, :]
        s = self._sin[positions][:, None, :]
        out = np.empty_like(pairs)
        out[..., 0] = a * c - b * s
        out[..., 1] = a * s + b * c
        return out.reshape(n, heads, dim)

    def _block(
        self,
        layer: int,
        h: np.ndarray,
        segments: list[tuple[int, np.ndarray]],
        starts: list[int],
        positions: np.ndarray,
    ) -> np.ndarray:
        cfg = self.config
        lw = self.weights.layers[layer]
        n = h.shape[0]
        hd, kv = cfg.head_dim, cfg.n_head_kv * cfg.head_dim
        qkv = lw.qkv(self._rms_norm(h, lw.attn_norm))
        q = self._rope(qkv[:, : cfg.n_embd].reshape(n, cfg.n_head, hd), positions)
        k = self._rope(
            qkv[:, cfg.n_embd : cfg.n_embd + kv].reshape(n, cfg.n_head_kv, hd), positions
        )
        v_int = np.rint(qkv[:, cfg.n_embd + kv :] / self._v_scale[layer])
        if not np.all(np.abs(v_int) <= 2.0**V_BITS):
            raise NacrithError(f"layer {layer}: a value left its proven range (NaN or overflow?)")
        k_int, k_scale = self._fixed_point(k, QK_BITS)
        attn = np.empty((n, cfg.n_embd))
        row = 0
        for (seq, toks), start in zip(segments, starts):
            t = len(toks)
            cache = self._caches[seq]
            rows = slice(row, row + t)
            cache.put(layer, slice(start, start + t), k_int[rows], k_scale[rows], v_int[rows])
            attn[row : row + t] = self._attend(layer, cache, q[row : row + t], start)
            row += t
        h = h + lw.out(attn)
        gate_up = lw.gate_up(self._rms_norm(h, lw.ffn_norm))
        if layer_kernels.available():
            act = layer_kernels.silu_mul(gate_up[:, : cfg.n_ff], gate_up[:, cfg.n_ff :])
        else:
            act = exact.silu(gate_up[:, : cfg.n_ff]) * gate_up[:, cfg.n_ff :]
        return h + lw.down(act)

    def _attend(self, layer: int, cache: KVCache, q: np.ndarray, start: int) -> np.ndarray:
        """Causal attention of `q` (t, n_head, hd) at positions start.. over the cache, a few
        positions at a time (each row's result depends on its own row only)."""
        t = q.shape[0]
        step = max(1, _ATTN_CHUNK // ((start + t) * self.config.n_head))
        if t <= step:
            return self._attend_rows(layer, cache, q, start)
        out = np.empty((t, self.n_embd))
        for lo in range(0, t, step):
            out[lo : lo + step] = self._attend_rows(layer, cache, q[lo : lo + step], start + lo)
        return out

    def _attend_rows(self, layer: int, cache: KVCache, q: np.ndarray, start: int) -> np.ndarray:
        """Causal attention of `q` (t, n_head, hd) at positions start.. over the cache up to its
        last position, all kv heads in one batched product."""
        cfg = self.config
        t, hd, group, n_kv = q.shape[0], cfg.head_dim, self._group, cfg.n_head_kv
        total = start + t
        q_int, q_scale = self._fixed_point(q, QK_BITS)
        q_scale = q_scale * (1.0 / np.sqrt(float(hd)))
        # rows of each kv head: (position, head of the group), position-major
        q_int = q_int.reshape(t, n_kv, group, hd).transpose(1, 0, 2, 3).reshape(n_kv, -1, hd)
        q_scale = q_scale.reshape(t, n_kv, group).transpose(1, 0, 2).reshape(n_kv, -1, 1)
        dots = cache.dots(layer, q_int, total)  # integers below 2**53: exact
        scores = dots * q_scale * cache.k_scale[layer, :total].T[:, None, :]
        if t > 1:  # row i sees the cache up to its own position start + i
            later = np.arange(start + 1, total)[None, :] > (start + np.arange(t))[:, None]
            scores[:, :, start + 1 :][:, np.repeat(later, group, axis=0)] = -np.inf
        weights = attention_weights(scores, self.revision)
        mixed = cache.mix(layer, weights)  # (n_kv, t * group, hd), exact
        mixed *= self._v_scale[layer].reshape(n_kv, 1, hd) * 2.0**-P_BITS
        mixed += 0.0  # -0.0 -> +0.0: masked terms must not change a zero's sign
        return mixed.reshape(n_kv, t, group, hd).transpose(1, 0, 2, 3).reshape(t, cfg.n_embd)
