"""Forward pass of a Gemma 3 model whose logits have the same bits on every machine.

The same exactness rules as the llama graph of `engine`: matrix products are exact integer
products (`weights.FixedMatrix`), RMSNorm takes its sum of squares over integers, attention
scores are exact integer dot products, the softmax weights and the weighted sum of values are
exact integer work, and every nonlinearity is built from ``+ - * / sqrt`` and `exact.exp`,
`exact.sin`, `exact.cos` in a fixed order.

Gemma 3 on top of the llama graph (as llama.cpp's gemma3 graph computes it): the token embedding
scaled by sqrt(n_embd); RMSNorm of each query and key head (`q_norm`, `k_norm`); RMSNorm of the
attention and feed-forward outputs before they join the residual; a GELU-gated feed-forward
layer (tanh approximation); queries scaled by 1/sqrt(query_pre_attn_scalar); NEOX RoPE (halves
of a head rotated together) with a local base on sliding-window layers and the global base on
every `swa_pattern`-th layer; the token embedding as output layer. The GGUF's norm weights
already include Gemma's ``1 +``.
"""

from __future__ import annotations

import os

import numpy as np

from nacrith import exact
from nacrith.errors import NacrithError
from nacrith.models.portable.gemma_kv import StreamKV
from nacrith.models.portable.gemma_weights import GemmaConfig, GemmaWeights, load_gemma_weights
from nacrith.models.portable.softmax import P_BITS, attention_weights
from nacrith.models.portable.streams import Streams, checked_setup

__all__ = ["GemmaModel", "gelu_tanh"]

QK_BITS = 22  # q and k per head vector: head_dim <= 512 products of 2**44 stay below 2**53
V_BITS = 26  # values on their fixed grid; (2**26 + n_ctx) * 2**26 < 2**53
_SQRT_2_OVER_PI = 0.7978845608028654  # the float64 nearest sqrt(2/pi)
_GELU_C = 0.044715


def gelu_tanh(x: np.ndarray) -> np.ndarray:
    """GELU, tanh approximation: x * (1 + tanh(u)) / 2 = x / (1 + e**(-2u)) with
    u = sqrt(2/pi) * (x + 0.044715 x**3); same bits on every machine, no subnormal results."""
    u = _SQRT_2_OVER_PI * (x + _GELU_C * (x * x * x))
    return exact.flush_subnormals(x / (exact.exp(-2.0 * u) + 1.0))


def _rope_tables(n_ctx: int, head_dim: int, base: float) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of pos * base**(-2i/head_dim), shape (n_ctx, head_dim/2), exact functions."""
    half = head_dim // 2
    inv_freq = exact.exp(-(np.arange(half, dtype=np.float64) * (2.0 / head_dim)) * exact.log(base))
    angles = np.arange(n_ctx, dtype=np.float64)[:, None] * inv_freq[None, :]
    return exact.cos(angles), exact.sin(angles)


class GemmaModel(Streams):
    """A Gemma 3 GGUF evaluated with machine-independent arithmetic, `n_seq` streams of `n_ctx`.

    The same interface as `engine.PortableModel`.

    :param path: GGUF file (gemma3 architecture).
    :param n_seq: number of independent streams (KV caches).
    :param n_ctx: context length of each stream, in tokens.
    :param weights: already loaded weights (shared between models), instead of reading `path`.
    :param revision: the arithmetic revision (`weights.REVISIONS`) of the matrix products.
    :param sink: positions each stream keeps for `shift`s that start at most there, with a ring
        of the last `sliding_window` positions for the local layers beyond them (`gemma_kv`);
        None: every layer keeps the whole context. The logits are the same bits either way.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        n_seq: int = 1,
        n_ctx: int = 2048,
        weights: GemmaWeights | None = None,
        revision: int = 1,
        sink: int | None = None,
    ) -> None:
        weights = checked_setup(path, weights, revision, n_seq, n_ctx, load_gemma_weights)
        self.revision = revision
        if revision != 1:
            weights.embed.widen()  # type: ignore[union-attr]  # several output rows: one GEMM
        cfg: GemmaConfig = weights.config
        if cfg.head_dim > 512:
            raise NacrithError(f"head size {cfg.head_dim} is beyond the exact attention's budget")
        self.weights = weights
        self.config = cfg
        self.n_vocab = cfg.n_vocab
        self.n_embd = cfg.n_embd
        self.n_ctx = n_ctx
        self.n_seq = n_seq
        self.bos = cfg.bos
        self._q = cfg.n_head * cfg.head_dim
        self._kv = cfg.n_head_kv * cfg.head_dim
        self._group = cfg.n_head // cfg.n_head_kv
        self._embd_scale = float(np.sqrt(float(cfg.n_embd)))
        self._rope_tables = {
            True: _rope_tables(n_ctx, cfg.head_dim, cfg.rope_base_local),
            False: _rope_tables(n_ctx, cfg.head_dim, cfg.rope_base),
        }
        self._v_scale = [self._value_grid(i) for i in range(cfg.n_layer)]
        self._caches = [StreamKV(cfg, n_ctx, sink) for _ in range(n_seq)]
        self._hidden = np.zeros((0, cfg.n_embd))

    def _value_grid(self, layer: int) -> np.ndarray:
        """Power-of-two grid per V channel such that |V| < 2**V_BITS grid steps, proven."""
        cfg = self.config
        lw = self.weights.layers[layer]
        v_rows = np.arange(self._q + self._kv, self._q + 2 * self._kv)
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
        ring_dst, ring_src = cache.moves(start, count)
        for layer in range(self.config.n_layer):
            if cache.ring[layer]:
                dst, src = cache.slots(layer, ring_dst), cache.slots(layer, ring_src)
            elif start + count < n:
                src, dst = slice(start + count, n), slice(start, n - count)  # type: ignore[assignment]
            else:
                continue
            cos, sin = self._rope_tables[self.config.is_local(layer)]
            c, s = cos[count], sin[count]
            k_int, k_scale, v_int = cache.k_int[layer], cache.k_scale[layer], cache.v_int[layer]
            moved = k_int[src] * k_scale[src][..., None]
            half = moved.shape[-1] // 2
            a, b = moved[..., :half], moved[..., half:]
            rotated = np.concatenate([a * c + b * s, b * c - a * s], axis=-1)
            k_int[dst], k_scale[dst] = exact.fixed_point(rotated, QK_BITS)
            v_int[dst] = v_int[src]
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
        h = self.weights.embed.row_values(tokens) * self._embd_scale
        for layer in range(self.config.n_layer):
            h = self._block(layer, h, segments, starts, positions)
        for (seq, toks), start in zip(segments, starts):
            self._caches[seq].stored(start, start + len(toks))
            self._caches[seq].length = start + len(toks)
        ends = np.cumsum([len(t) for _, t in segments]) - 1
        rows = np.arange(len(tokens)) if all_rows else ends
        x = self._rms_norm(h[rows], self.weights.output_norm)
        self._hidden = x
        logits = self.weights.embed(x)
        cap = self.config.final_softcap
        if cap:
            logits = cap * _tanh(logits * (1.0 / cap))
        return logits

    def _rms_norm(self, h: np.ndarray, gain: np.ndarray) -> np.ndarray:
        """RMSNorm along the last axis, its sum of squares over integers (exact)."""
        bits = (52 - int(h.shape[-1] - 1).bit_length()) // 2
        ints, scale = exact.fixed_point(h, bits)
        squares = np.sum(ints * ints, axis=-1)  # integers below 2**52: exact in any order
        mean = squares * (scale * scale) / float(h.shape[-1])
        inv = 1.0 / np.sqrt(mean + self.config.rms_eps)
        return h * inv[..., None] * gain

    def _rope(self, x: np.ndarray, positions: np.ndarray, local: bool) -> np.ndarray:
        """Rotate the two halves of each head together (llama.cpp's NEOX RoPE, Gemma's)."""
        half = x.shape[-1] // 2
        cos, sin = self._rope_tables[local]
        c = cos[positions][:, None, :]
        s = sin[positions][:, None, :]
        a, b = x[..., :half], x[..., half:]
        return np.concatenate([a * c - b * s, a * s + b * c], axis=-1)

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
        local = cfg.is_local(layer)
        n, hd, nq, kv = h.shape[0], cfg.head_dim, self._q, self._kv
        qkv = lw.qkv(self._rms_norm(h, lw.attn_norm))
        q = self._rms_norm(qkv[:, :nq].reshape(n, cfg.n_head, hd), lw.q_norm)
        q = self._rope(q, positions, local)
        k = self._rms_norm(qkv[:, nq : nq + kv].reshape(n, cfg.n_head_kv, hd), lw.k_norm)
        k = self._rope(k, positions, local)
        v_int = np.rint(qkv[:, nq + kv :] / self._v_scale[layer])
        if not np.all(np.abs(v_int) <= 2.0**V_BITS):
            raise NacrithError(f"layer {layer}: a value left its proven range (NaN or overflow?)")
        k_int, k_scale = exact.fixed_point(k, QK_BITS)
        attn = np.empty((n, nq))
        row = 0
        for (seq, toks), start in zip(segments, starts):
            t = len(toks)
            rows = slice(row, row + t)
            window = self._caches[seq].window_of(
                layer, start, k_int[rows], k_scale[rows], v_int[rows]
            )
            attn[rows] = self._attend(layer, window, q[rows], start, local)
            row += t
        h = h + self._rms_norm(lw.out(attn), lw.post_attn_norm)
        gate_up = lw.gate_up(self._rms_norm(h, lw.ffn_norm))
        act = gelu_tanh(gate_up[:, : cfg.n_ff]) * gate_up[:, cfg.n_ff :]
        return h + self._rms_norm(lw.down(act), lw.post_ffn_norm)

    def _attend(
        self,
        layer: int,
        window: tuple[int, np.ndarray, np.ndarray, np.ndarray],
        q: np.ndarray,
        start: int,
        local: bool,
    ) -> np.ndarray:
        """Causal attention of `q` (t, n_head, hd) at positions start.. over `window` (first
        position, keys, key scales, values of positions first..start + t); a local layer sees
        only the keys less than `sliding_window` positions back."""
        cfg = self.config
        t, hd, group = q.shape[0], cfg.head_dim, self._group
        total = start + t
        first, k_held, k_scales, v_held = window
        q_int, q_scale = exact.fixed_point(q, QK_BITS)
        q_scale = q_scale * cfg.attention_scale
        key_pos = np.arange(first, total)[None, :]
        query_pos = (start + np.arange(t))[:, None]
        hidden = key_pos > query_pos
        if local:
            hidden |= query_pos - key_pos >= cfg.sliding_window
        hidden = np.repeat(hidden, group, axis=0)
        out = np.empty((t, cfg.n_head, hd))
        v_grid = self._v_scale[layer] * 2.0**-P_BITS
        for g in range(cfg.n_head_kv):
            heads = slice(g * group, (g + 1) * group)
            keys = k_held[:, g].astype(np.float64)
            dots = q_int[:, heads].reshape(t * group, hd) @ keys.T
            scores = dots * q_scale[:, heads].reshape(-1, 1) * k_scales[:, g]
            scores[hidden] = -np.inf
            weights = attention_weights(scores, self.revision)
            chans = slice(g * hd, (g + 1) * hd)
            mixed = weights @ v_held[:, chans].astype(np.float64)
            mixed *= v_grid[chans]
            mixed += 0.0  # -0.0 -> +0.0: masked terms must not change a zero's sign
            out[:, heads] = mixed.reshape(t, group, hd)
        return out.reshape(t, cfg.n_head * hd)


def _tanh(x: np.ndarray) -> np.ndarray:
    """tanh from `exact.exp`: 1 - 2 / (e**(2x) + 1), same bits on every machine."""
    return 1.0 - 2.0 / (exact.exp(2.0 * x) + 1.0)
