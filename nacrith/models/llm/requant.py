"""Q4_1 -> Q8_0 GGUF requantization in numpy, bit-exact with llama.cpp's `llama_model_quantize`.

The output is the file llama.cpp writes for ``LLAMA_FTYPE_MOSTLY_Q8_0`` from a Q4_1 GGUF:

- metadata: every key of the source in its order, except that ``general.quantization_version``
  and ``general.file_type`` are (re)set, which moves them to the end in that order (gguf's
  ``gguf_set_val_*`` removes an existing key and appends it);
- tensors: ordered by layer number (``blk.N.``, other names first), then by name, as in
  llama.cpp's ``weight_name_comparer``; each data block starts at a multiple of the alignment
  and is zero-padded to the next one;
- Q4_1 tensors become Q8_0: dequantized as ``dequantize_row_q4_1`` does (``q * d + m`` in
  float32; ``q * d`` is exact, so fused or not the result is the same) and quantized as
  ``quantize_row_q8_0_ref`` does (``d = amax / 127``, ``id = 1 / d``, ``roundf(x * id)``, all
  in float32, ``d`` stored as float16 rounded to nearest even);
- every other tensor (float32 norms, a token embedding already in Q8_0) is copied byte for byte.

Only what this conversion meets is supported; anything else raises `FormatError`.
"""

from __future__ import annotations

import math
import os
import struct
from typing import BinaryIO, NamedTuple

import numpy as np
from gguf import GGMLQuantizationType, GGUFValueType
from gguf.constants import GGML_QUANT_SIZES

from nacrith.errors import FormatError

__all__ = ["dequantize_q4_1", "quantize_q8_0", "requantize_q4_1_to_q8_0"]

#: llama.h's LLAMA_FTYPE_MOSTLY_Q8_0, the value written to ``general.file_type``
FTYPE_MOSTLY_Q8_0 = 7
#: ggml.h's GGML_QNT_VERSION, written to ``general.quantization_version``
QNT_VERSION = 2

_QK = 32
_Q4_1_BYTES = GGML_QUANT_SIZES[GGMLQuantizationType.Q4_1][1]
_Q8_0_BYTES = GGML_QUANT_SIZES[GGMLQuantizationType.Q8_0][1]
#: blocks converted at a time, which bounds the working memory of one tensor
_CHUNK_BLOCKS = 1 << 15
_GGUF_MAGIC = b"GGUF"
_GGUF_VERSION = 3
_SCALARS = {
    GGUFValueType.UINT8: "B",
    GGUFValueType.INT8: "b",
    GGUFValueType.UINT16: "H",
    GGUFValueType.INT16: "h",
    GGUFValueType.UINT32: "I",
    GGUFValueType.INT32: "i",
    GGUFValueType.FLOAT32: "f",
    GGUFValueType.BOOL: "?",
    GGUFValueType.UINT64: "Q",
    GGUFValueType.INT64: "q",
    GGUFValueType.FLOAT64: "d",
}


def dequantize_q4_1(blocks: np.ndarray) -> np.ndarray:
    """Float32 values of Q4_1 blocks given as a (n, 20) uint8 array, shape (n, 32)."""
    d = blocks[:, 0:2].copy().view(np.float16).astype(np.float32)
    m = blocks[:, 2:4].copy().view(np.float16).astype(np.float32)
    qs = blocks[:, 4:20]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32)
    return q * d + m


def quantize_q8_0(x: np.ndarray) -> np.ndarray:
    """Q8_0 blocks, as a (n, 34) uint8 array, of float32 values given as shape (n, 32)."""
    x = np.asarray(x, dtype=np.float32)
    d = np.max(np.abs(x), axis=1, keepdims=True) / np.float32(127)
    inv = np.zeros_like(d)
    np.divide(np.float32(1), d, out=inv, where=d != 0)
    v = x * inv
    q = np.trunc(v)
    # roundf, half away from zero: `v - q` is exact, so comparing it with 0.5 decides exactly
    q += np.copysign(np.abs(v - q) >= 0.5, v)
    out = np.empty((x.shape[0], _Q8_0_BYTES), dtype=np.uint8)
    out[:, 0:2] = d.astype(np.float16).view(np.uint8)
    out[:, 2:] = q.astype(np.int8).view(np.uint8)
    return out


def _layer(name: str) -> int:
    if name.startswith("blk."):
        head = name[4:].split(".", 1)[0]
        if head.isdigit():
            return int(head)
    return -1


def _gguf_string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack("<Q", len(raw)) + raw


def _pad(n: int, alignment: int) -> int:
    return -n % alignment


class _TensorInfo(NamedTuple):
    name: str
    dims: tuple[int, ...]
    qtype: GGMLQuantizationType
    offset: int
    n_bytes: int


class _Header(NamedTuple):
    kv: list[tuple[str, bytes]]  # key, the key-value record's raw bytes
    tensors: list[_TensorInfo]
    alignment: int
    data_start: int


def _read_header(buf: memoryview) -> _Header:
    """The metadata records (raw) and tensor infos of a GGUF file; array values are skipped
    over, never decoded."""
    pos = 0

    def unpack(fmt: str) -> tuple:
        nonlocal pos
        values = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return values

    def string() -> str:
        nonlocal pos
        (n,) = unpack("Q")
        pos += n
        if pos > len(buf):
            raise FormatError("a string runs past the end of the file")
        return bytes(buf[pos - n : pos]).decode("utf-8")

    def skip(kind: int) -> object:
        nonlocal pos
        if kind == GGUFValueType.STRING:
            return string()
        if kind == GGUFValueType.ARRAY:
            inner, count = unpack("IQ")
            if inner in (GGUFValueType.STRING, GGUFValueType.ARRAY):
                for _ in range(count):
                    skip(inner)
            else:
                pos += count * struct.calcsize("<" + _scalar(inner))
            return None
        return unpack(_scalar(kind))[0]

    magic, version, n_tensors, n_kv = unpack("4sIQQ")
    if magic != _GGUF_MAGIC or version != _GGUF_VERSION:
        raise FormatError(f"not a GGUF file of version {_GGUF_VERSION}")
    kv = []
    alignment = 32
    for _ in range(n_kv):
        begin = pos
        key = string()
        (kind,) = unpack("I")
        value = skip(kind)
        if key == "general.alignment":
            alignment = int(value)  # type: ignore[call-overload]
        kv.append((key, bytes(buf[begin:pos])))
    tensors = []
    for _ in range(n_tensors):
        name = string()
        (n_dims,) = unpack("I")
        dims = tuple(int(d) for d in unpack("Q" * n_dims))
        kind, offset = unpack("IQ")
        qtype = GGMLQuantizationType(kind)
        block, size = GGML_QUANT_SIZES[qtype]
        n_bytes = math.prod(dims) // block * size
        tensors.append(_TensorInfo(name, dims, qtype, int(offset), n_bytes))
    data_start = pos + _pad(pos, alignment)
    for t in tensors:
        if data_start + t.offset + t.n_bytes > len(buf):
            raise FormatError(f"tensor {t.name} runs past the end of the file")
    return _Header(kv, tensors, alignment, data_start)


def _scalar(kind: int) -> str:
    try:
        return _SCALARS[GGUFValueType(kind)]
    except (KeyError, ValueError):
        raise FormatError(f"unknown GGUF value type {kind}") from None


def requantize_q4_1_to_q8_0(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Write to `dst` the Q8_0 GGUF llama.cpp's quantizer makes from the Q4_1 GGUF `src`."""
    try:
        raw = np.memmap(src, dtype=np.uint8, mode="r")
        head = _read_header(raw.data)
    except (OSError, ValueError, KeyError, struct.error) as exc:
        raise FormatError(f"{src}: not a readable GGUF file: {exc}") from exc
    except FormatError as exc:
        raise FormatError(f"{src}: {exc}") from exc
    reset = ("general.quantization_version", "general.file_type")
    kv = [record for key, record in head.kv if key not in reset]
    for key, value in zip(reset, (QNT_VERSION, FTYPE_MOSTLY_Q8_0)):
        kv.append(_gguf_string(key) + struct.pack("<II", GGUFValueType.UINT32, value))

    plan = []  # (tensor, output type, output bytes)
    for t in sorted(head.tensors, key=lambda t: (_layer(t.name), t.name)):
        if t.qtype == GGMLQuantizationType.Q4_1 and len(t.dims) >= 2:
            plan.append((t, GGMLQuantizationType.Q8_0, t.n_bytes // _Q4_1_BYTES * _Q8_0_BYTES))
        elif t.qtype in (GGMLQuantizationType.F32, GGMLQuantizationType.Q8_0):
            plan.append((t, t.qtype, t.n_bytes))
        else:
            raise FormatError(f"{src}: tensor {t.name} of type {t.qtype.name} is not handled")

    infos = bytearray()
    offset = 0
    for t, out_type, size in plan:
        infos += _gguf_string(t.name) + struct.pack(f"<I{len(t.dims)}Q", len(t.dims), *t.dims)
        infos += struct.pack("<IQ", int(out_type), offset)
        offset += size + _pad(size, head.alignment)

    header = _GGUF_MAGIC + struct.pack("<IQQ", _GGUF_VERSION, len(plan), len(kv))
    header += b"".join(kv) + bytes(infos)
    del raw  # tensors are read in chunks below, so the base never stays resident
    with open(src, "rb") as inp, open(dst, "wb") as out:
        out.write(header + bytes(_pad(len(header), head.alignment)))
        for t, out_type, size in plan:
            inp.seek(head.data_start + t.offset)
            _write_tensor(inp, out, t.n_bytes, t.qtype != out_type)
            out.write(bytes(_pad(size, head.alignment)))


def _write_tensor(inp: BinaryIO, out: BinaryIO, n_bytes: int, convert: bool) -> None:
    """Copy `n_bytes` of tensor data from `inp` to `out`, as Q8_0 when `convert` (from Q4_1)."""
    step = _CHUNK_BLOCKS * _Q4_1_BYTES
    for start in range(0, n_bytes, step):
        data = inp.read(min(step, n_bytes - start))
        if not convert:
            out.write(data)
            continue
        blocks = np.frombuffer(data, dtype=np.uint8).reshape(-1, _Q4_1_BYTES)
        out.write(quantize_q8_0(dequantize_q4_1(blocks)).tobytes())
