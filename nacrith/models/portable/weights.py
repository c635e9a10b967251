"""GGUF weights of a llama-architecture model, as exact fixed-point matrices.

Each weight matrix is dequantized exactly into float64 (a Q4_1 or Q8_0 value is a half-precision
scale times a small integer, plus a half-precision offset for Q4_1) and then written as integers
times one power of two per output row (`FixedMatrix`). The integers are held in float64 arrays so
that products go through BLAS; the bit budget of the integers is chosen so that every partial sum
of a matrix product with activations of `ACT_BITS` bits stays below 2**53, where float64 holds
integers exactly. Such a product has one correct answer, whatever kernel, summation order or
thread count computes it. That is arithmetic revision 1; revision 2 keeps the GGUF's blocks
instead (`blocks.BlockMatrix`, exact float32 block products); `load_weights` builds either. The
file is read through `gguf_index.GGUFIndex` (the header parsed once, the tensors memory-mapped).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nacrith.errors import ModelNotFoundError, NacrithError
from nacrith.models.portable.blocks import BlockMatrix, block_tensor
from nacrith.models.portable.exact import fixed_point
from nacrith.models.portable.gguf_index import GGUFIndex, Tensor

__all__ = [
    "ACT_BITS",
    "REVISIONS",
    "FixedMatrix",
    "LayerWeights",
    "LlamaConfig",
    "ModelWeights",
    "dequantize",
    "load_weights",
    "matrix_revision",
]

#: activations enter a matrix product as integers of magnitude <= 2**ACT_BITS (revision 1)
ACT_BITS = 16
#: arithmetic revisions: 1 = per-row fixed point in float64 (`FixedMatrix`), 2 = the GGUF's own
#: quantization blocks with exact float32 block products (`BlockMatrix`), 3 = revision 2's
#: matrices with the attention softmax's exp taken from a table (`softmax`)
REVISIONS = (1, 2, 3)
EXACT_LIMIT = 2.0**53


@dataclass(frozen=True)
class LlamaConfig:
    """Hyperparameters of a llama-architecture GGUF, from its metadata."""

    n_vocab: int
    n_embd: int
    n_ff: int
    n_layer: int
    n_head: int
    n_head_kv: int
    head_dim: int
    rope_base: float
    rms_eps: float
    n_ctx_train: int
    bos: int


def _field(reader: GGUFIndex, key: str, default: object = None) -> object:
    value = reader.fields.get(key)
    if value is None:
        if default is None:
            raise ModelNotFoundError(f"GGUF metadata lacks {key}")
        return default
    return value


def _config(reader: GGUFIndex) -> LlamaConfig:
    arch = _field(reader, "general.architecture")
    if arch != "llama":
        raise ModelNotFoundError(f"the portable engine runs llama models, not {arch}")
    n_embd = int(_field(reader, "llama.embedding_length"))
    n_head = int(_field(reader, "llama.attention.head_count"))
    head_dim = n_embd // n_head
    if int(_field(reader, "llama.rope.dimension_count", head_dim)) != head_dim:
        raise ModelNotFoundError("partial RoPE is not supported by the portable engine")
    n_vocab = int(reader.fields.get("tokenizer.ggml.tokens", 0))  # type: ignore[call-overload]
    return LlamaConfig(
        n_vocab=int(_field(reader, "llama.vocab_size", n_vocab or None)),
        n_embd=n_embd,
        n_ff=int(_field(reader, "llama.feed_forward_length")),
        n_layer=int(_field(reader, "llama.block_count")),
        n_head=n_head,
        n_head_kv=int(_field(reader, "llama.attention.head_count_kv", n_head)),
        head_dim=head_dim,
        rope_base=float(_field(reader, "llama.rope.freq_base", 10000.0)),
        rms_eps=float(_field(reader, "llama.attention.layer_norm_rms_epsilon")),
        n_ctx_train=int(_field(reader, "llama.context_length")),
        bos=int(_field(reader, "tokenizer.ggml.bos_token_id", 1)),
    )


def _halves(raw: np.ndarray) -> np.ndarray:
    """Little-endian float16 from a (..., 2) uint8 array, as float64 (exact)."""
    return np.ascontiguousarray(raw).view("<f2")[..., 0].astype(np.float64)


def dequantize(type_name: str, data: np.ndarray, cols: int) -> np.ndarray:
    """Exact float64 values (rows, cols) of a GGUF tensor's raw data (F32, F16, Q8_0, Q4_1)."""
    if type_name == "F32":
        return np.asarray(data, dtype=np.float32).reshape(-1, cols).astype(np.float64)
    if type_name == "F16":
        return np.asarray(data, dtype=np.float16).reshape(-1, cols).astype(np.float64)
    raw = np.asarray(data, dtype=np.uint8)
    rows = raw.shape[0]
    if type_name == "Q8_0":
        blocks = raw.reshape(rows, cols // 32, 34)
        d = _halves(blocks[..., 0:2])
        q = blocks[..., 2:].view(np.int8).astype(np.float64)
        return (q * d[..., None]).reshape(rows, cols)
    if type_name == "Q4_1":
        blocks = raw.reshape(rows, cols // 32, 20)
        d = _halves(blocks[..., 0:2])
        m = _halves(blocks[..., 2:4])
        qs = blocks[..., 4:]
        q = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.float64)
        return (q * d[..., None] + m[..., None]).reshape(rows, cols)
    raise ModelNotFoundError(f"the portable engine cannot read {type_name} tensors")


class FixedMatrix:
    """A weight matrix as integers times a power of two per output row; exact products.

    :param values: float64 (rows, cols).
    """

    def __init__(self, values: np.ndarray) -> None:
        rows, cols = values.shape
        self.rows, self.cols = rows, cols
        self.bits = 52 - ACT_BITS - int(cols - 1).bit_length()
        ints, scale = fixed_point(values, self.bits)
        #: rows that the integers hold exactly (the rest lost bits below their budget)
        self.exact_rows = int(np.sum(np.all(ints * scale[:, None] == values, axis=1)))
        self._check_bound(ints)
        self.ints_t = np.ascontiguousarray(ints.T)
        self.scale = scale

    def _check_bound(self, ints: np.ndarray) -> None:
        peak = float(np.max(np.abs(ints))) if ints.size else 0.0
        if self.cols * 2.0**ACT_BITS * peak >= EXACT_LIMIT:
            raise NacrithError(
                f"a {self.rows}x{self.cols} matrix product could exceed 2**53: not exact"
            )

    @classmethod
    def restore(
        cls, ints_t: np.ndarray, scale: np.ndarray, bits: int, exact_rows: int
    ) -> FixedMatrix:
        """The matrix from its transposed integers and row scales, as `ints_t` and `scale` hold
        them (e.g. read back from a cache)."""
        out = cls.__new__(cls)
        out.cols, out.rows = ints_t.shape
        out.bits = bits
        out.exact_rows = exact_rows
        out.ints_t = np.ascontiguousarray(ints_t, dtype=np.float64)
        out.scale = np.asarray(scale, dtype=np.float64)
        out._check_bound(out.ints_t)
        return out

    @classmethod
    def stack(cls, parts: list[FixedMatrix]) -> FixedMatrix:
        """One matrix whose rows are those of `parts` (same columns), to share one product."""
        out = cls.__new__(cls)
        out.rows = sum(p.rows for p in parts)
        out.cols = parts[0].cols
        out.bits = parts[0].bits
        out.exact_rows = sum(p.exact_rows for p in parts)
        out.ints_t = np.concatenate([p.ints_t for p in parts], axis=1)
        out.scale = np.concatenate([p.scale for p in parts])
        return out

    def row_values(self, rows: np.ndarray) -> np.ndarray:
        """The float64 values of the given rows, (len(rows), cols) (exact)."""
        return self.ints_t[:, rows].T * self.scale[rows, None]

    def row_norm_bound(self) -> np.ndarray:
        """An upper bound on each row's Euclidean norm, computed with exact integer sums."""
        peak = np.max(np.abs(self.ints_t), axis=0)
        shift = np.maximum(np.frexp(peak)[1] - 15, 0)
        coarse = np.floor(np.ldexp(np.abs(self.ints_t), -shift[None, :])) + 1.0
        squares = (coarse * coarse).astype(np.int64).sum(axis=0)
        return np.ldexp(np.sqrt(squares.astype(np.float64)) * (1 + 2.0**-40), shift) * self.scale

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """x @ W.T for x of shape (n, cols), with x quantized per row to ACT_BITS bits."""
        ints, scale = fixed_point(x, ACT_BITS)
        acc = ints @ self.ints_t
        acc *= scale[:, None]
        acc *= self.scale[None, :]
        return acc


Matrix = FixedMatrix | BlockMatrix


@dataclass
class LayerWeights:
    """One transformer block: norms (float64 vectors) and fused exact projections."""

    attn_norm: np.ndarray
    qkv: Matrix
    out: Matrix
    ffn_norm: np.ndarray
    gate_up: Matrix
    down: Matrix


@dataclass
class ModelWeights:
    """All weights of the model; `embed` is the token embedding, tied to the output layer.
    `revision`: the arithmetic revision the matrices belong to (see `REVISIONS`)."""

    config: LlamaConfig
    embed: Matrix
    output: Matrix
    output_norm: np.ndarray
    layers: list[LayerWeights]
    revision: int = 1


def _tensor(tensors: dict[str, Tensor], name: str) -> tuple[str, np.ndarray, int]:
    tensor = tensors.get(name)
    if tensor is None:
        raise ModelNotFoundError(f"GGUF lacks tensor {name}")
    return tensor.type_name, tensor.data, int(tensor.shape[0])


def _values(tensors: dict[str, Tensor], name: str) -> np.ndarray:
    return dequantize(*_tensor(tensors, name))


def _matrix(tensors: dict[str, Tensor], name: str, revision: int) -> Matrix:
    if revision == 1:
        return FixedMatrix(_values(tensors, name))
    return block_tensor(*_tensor(tensors, name))


def _vector(tensors: dict[str, Tensor], name: str) -> np.ndarray:
    return _values(tensors, name).reshape(-1)


def _layer(tensors: dict[str, Tensor], i: int, revision: int) -> LayerWeights:
    p = f"blk.{i}."
    kind = FixedMatrix if revision == 1 else BlockMatrix
    qkv = [_matrix(tensors, p + f"attn_{n}.weight", revision) for n in "qkv"]
    gate_up = [_matrix(tensors, p + f"ffn_{n}.weight", revision) for n in ("gate", "up")]
    return LayerWeights(
        attn_norm=_vector(tensors, p + "attn_norm.weight"),
        qkv=kind.stack(qkv),  # type: ignore[arg-type]
        out=_matrix(tensors, p + "attn_output.weight", revision),
        ffn_norm=_vector(tensors, p + "ffn_norm.weight"),
        gate_up=kind.stack(gate_up),  # type: ignore[arg-type]
        down=_matrix(tensors, p + "ffn_down.weight", revision),
    )


def matrix_revision(revision: int) -> int:
    """The revision whose weight matrices arithmetic `revision` multiplies with: 1
    (`FixedMatrix`) for revision 1, else 2 (`BlockMatrix`); loaded weights record it."""
    if revision not in REVISIONS:
        raise ValueError(f"unknown arithmetic revision {revision}")
    return 1 if revision == 1 else 2


def load_weights(path: str | os.PathLike[str], revision: int = 1) -> ModelWeights:
    """Read a llama GGUF file into exact weights (the same integers on every machine), as
    arithmetic `revision` uses them (`matrix_revision`, which they record)."""
    revision = matrix_revision(revision)
    path = Path(path)
    if not path.is_file():
        raise ModelNotFoundError(f"model file {path} does not exist")
    reader = GGUFIndex(path)
    config = _config(reader)
    tensors = reader.tensors
    embed = _matrix(tensors, "token_embd.weight", revision)
    output = _matrix(tensors, "output.weight", revision) if "output.weight" in tensors else embed
    return ModelWeights(
        config=config,
        embed=embed,
        output=output,
        output_norm=_vector(tensors, "output_norm.weight"),
        layers=[_layer(tensors, i, revision) for i in range(config.n_layer)],
        revision=revision,
    )
