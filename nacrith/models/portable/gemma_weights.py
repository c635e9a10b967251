"""GGUF weights of a Gemma 3 model, as exact fixed-point matrices.

Tensors are dequantized exactly (`kquants`) and written as integers times one power of two per
output row (`weights.FixedMatrix`), the same integers on every machine. The token embedding,
which is also the output layer, is converted in row chunks so that only one copy of it is ever
held in memory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nacrith.errors import ModelNotFoundError
from nacrith.models.portable.blocks import BlockMatrix, block_tensor
from nacrith.models.portable.exact import fixed_point
from nacrith.models.portable.gguf_index import GGUFIndex, Tensor
from nacrith.models.portable.kquants import decompose, dequantize
from nacrith.models.portable.weights import ACT_BITS, FixedMatrix, matrix_revision

__all__ = ["GemmaConfig", "GemmaLayer", "GemmaWeights", "load_gemma_weights"]

_CHUNK_ROWS = 8192


@dataclass(frozen=True)
class GemmaConfig:
    """Hyperparameters of a Gemma 3 GGUF, from its metadata (and llama.cpp's fixed choices)."""

    n_vocab: int
    n_embd: int
    n_ff: int
    n_layer: int
    n_head: int
    n_head_kv: int
    head_dim: int
    rope_base: float
    rope_base_local: float
    sliding_window: int
    swa_pattern: int
    attention_scale: float
    final_softcap: float
    rms_eps: float
    n_ctx_train: int
    bos: int

    def is_local(self, layer: int) -> bool:
        """Whether `layer` attends over the sliding window (else over the whole context)."""
        return layer % self.swa_pattern < self.swa_pattern - 1


def _field(reader: GGUFIndex, key: str, default: object = None) -> object:
    value = reader.fields.get(key)
    if value is None:
        if default is None:
            raise ModelNotFoundError(f"GGUF metadata lacks {key}")
        return default
    return value


def _config(reader: GGUFIndex) -> GemmaConfig:
    arch = _field(reader, "general.architecture")
    if arch != "gemma3":
        raise ModelNotFoundError(f"the portable Gemma graph runs gemma3 models, not {arch}")
    a = "gemma3."
    n_embd = int(_field(reader, a + "embedding_length"))
    n_head = int(_field(reader, a + "attention.head_count"))
    head_dim = int(_field(reader, a + "attention.key_length", n_embd // n_head))
    if int(_field(reader, a + "attention.value_length", head_dim)) != head_dim:
        raise ModelNotFoundError("keys and values of different lengths are not supported")
    if int(_field(reader, a + "rope.dimension_count", head_dim)) != head_dim:
        raise ModelNotFoundError("partial RoPE is not supported by the portable engine")
    if float(_field(reader, a + "rope.scaling.factor", 1.0)) != 1.0:
        raise ModelNotFoundError("RoPE scaling is not supported by the portable Gemma graph")
    n_vocab = int(reader.fields.get("tokenizer.ggml.tokens", 0))  # type: ignore[call-overload]
    n_layer = int(_field(reader, a + "block_count"))
    return GemmaConfig(
        n_vocab=int(_field(reader, a + "vocab_size", n_vocab or None)),
        n_embd=n_embd,
        n_ff=int(_field(reader, a + "feed_forward_length")),
        n_layer=n_layer,
        n_head=n_head,
        n_head_kv=int(_field(reader, a + "attention.head_count_kv", n_head)),
        head_dim=head_dim,
        rope_base=float(_field(reader, a + "rope.freq_base", 1000000.0)),
        rope_base_local=10000.0,
        sliding_window=int(_field(reader, a + "attention.sliding_window")),
        swa_pattern=6,
        # Gemma 3's query_pre_attn_scalar is the head size except for the 27B model
        attention_scale=1.0 / np.sqrt(float(n_embd // n_head if n_layer == 62 else head_dim)),
        final_softcap=float(_field(reader, a + "final_logit_softcapping", 0.0)),
        rms_eps=float(_field(reader, a + "attention.layer_norm_rms_epsilon")),
        n_ctx_train=int(_field(reader, a + "context_length")),
        bos=int(_field(reader, "tokenizer.ggml.bos_token_id", 2)),
    )


Matrix = FixedMatrix | BlockMatrix


@dataclass
class GemmaLayer:
    """One Gemma 3 block: norms (float64 vectors) and fused fixed-point projections."""

    attn_norm: np.ndarray
    q_norm: np.ndarray
    k_norm: np.ndarray
    qkv: Matrix
    out: Matrix
    post_attn_norm: np.ndarray
    ffn_norm: np.ndarray
    gate_up: Matrix
    down: Matrix
    post_ffn_norm: np.ndarray


@dataclass
class GemmaWeights:
    """All weights; `embed` is the token embedding, tied to the output layer. `revision`: the
    arithmetic revision the matrices belong to (`weights.REVISIONS`)."""

    config: GemmaConfig
    embed: Matrix
    output_norm: np.ndarray
    layers: list[GemmaLayer]
    revision: int = 1


def _tensor(tensors: dict[str, Tensor], name: str) -> Tensor:
    tensor = tensors.get(name)
    if tensor is None:
        raise ModelNotFoundError(f"GGUF lacks tensor {name}")
    return tensor


def _values(tensors: dict[str, Tensor], name: str) -> np.ndarray:
    t = _tensor(tensors, name)
    return dequantize(t.type_name, t.data, t.shape[0])


def _vector(tensors: dict[str, Tensor], name: str) -> np.ndarray:
    return _values(tensors, name).reshape(-1)


def _matrix(tensors: dict[str, Tensor], name: str, revision: int) -> Matrix:
    """A tensor as revision 1's FixedMatrix, converted in row chunks (the same integers as
    converting it whole: every step of the conversion works row by row), or as revision 2's
    BlockMatrix keeping the GGUF's quantization blocks."""
    t = _tensor(tensors, name)
    kind, cols, rows, data = t.type_name, t.shape[0], t.data.shape[0], t.data
    if revision != 1:
        if kind in ("F32", "F16"):
            return block_tensor(kind, data, cols)
        b = decompose(kind, data, cols)
        mins = None if b.minimum is None else -b.minimum
        return BlockMatrix(b.q, b.scale, mins, block=b.block)
    if rows <= _CHUNK_ROWS:
        return FixedMatrix(dequantize(kind, data, cols))
    bits = 52 - ACT_BITS - int(cols - 1).bit_length()
    ints_t = np.empty((cols, rows))
    scale = np.empty(rows)
    exact_rows = 0
    for lo in range(0, rows, _CHUNK_ROWS):
        hi = min(rows, lo + _CHUNK_ROWS)
        values = dequantize(kind, data[lo:hi], cols)
        ints, s = fixed_point(values, bits)
        exact_rows += int(np.sum(np.all(ints * s[:, None] == values, axis=1)))
        ints_t[:, lo:hi] = ints.T
        scale[lo:hi] = s
    return FixedMatrix.restore(ints_t, scale, bits, exact_rows)


def _layer(tensors: dict[str, Tensor], i: int, revision: int) -> GemmaLayer:
    p = f"blk.{i}."
    kind = FixedMatrix if revision == 1 else BlockMatrix
    qkv = [_matrix(tensors, p + f"attn_{n}.weight", revision) for n in "qkv"]
    gate_up = [_matrix(tensors, p + f"ffn_{n}.weight", revision) for n in ("gate", "up")]
    return GemmaLayer(
        attn_norm=_vector(tensors, p + "attn_norm.weight"),
        q_norm=_vector(tensors, p + "attn_q_norm.weight"),
        k_norm=_vector(tensors, p + "attn_k_norm.weight"),
        qkv=kind.stack(qkv),  # type: ignore[arg-type]
        out=_matrix(tensors, p + "attn_output.weight", revision),
        post_attn_norm=_vector(tensors, p + "post_attention_norm.weight"),
        ffn_norm=_vector(tensors, p + "ffn_norm.weight"),
        gate_up=kind.stack(gate_up),  # type: ignore[arg-type]
        down=_matrix(tensors, p + "ffn_down.weight", revision),
        post_ffn_norm=_vector(tensors, p + "post_ffw_norm.weight"),
    )


def load_gemma_weights(path: str | os.PathLike[str], revision: int = 1) -> GemmaWeights:
    """Read a Gemma 3 GGUF file into exact weights (the same integers on every machine), as
    arithmetic `revision` uses them (`weights.matrix_revision`, which they record)."""
    revision = matrix_revision(revision)
    path = Path(path)
    if not path.is_file():
        raise ModelNotFoundError(f"model file {path} does not exist")
    reader = GGUFIndex(path)
    config = _config(reader)
    tensors = reader.tensors
    if "output.weight" in tensors:
        raise ModelNotFoundError("the portable Gemma graph expects a tied output layer")
    return GemmaWeights(
        config=config,
        embed=_matrix(tensors, "token_embd.weight", revision),
        output_norm=_vector(tensors, "output_norm.weight"),
        layers=[_layer(tensors, i, revision) for i in range(config.n_layer)],
        revision=revision,
    )
