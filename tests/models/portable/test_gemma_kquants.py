"""Exact dequantization (kquants) against gguf's own numpy dequantizer, bit for bit, and against
exact rational arithmetic; the GGUF index against gguf's reader on the Gemma file."""

from __future__ import annotations

from fractions import Fraction

import gguf
import numpy as np
import pytest
from gguf.quants import dequantize as gguf_dequantize

from nacrith.errors import ModelNotFoundError
from nacrith.models.portable.blocks import BlockMatrix
from nacrith.models.portable.gguf_index import GGUFIndex
from nacrith.models.portable.kquants import BLOCK_BYTES, decompose, dequantize
from tests.models.portable import gemma_fixtures

gemma_model_path = gemma_fixtures.gemma_model_path

#: byte offsets of the float16 scale fields in each type's block
HALVES = {"Q8_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208]}


def _random_blocks(
    kind: str, n: int, seed: int, exponents: tuple[int, int] = (-26, 12)
) -> np.ndarray:
    """Random blocks of `kind` whose half-precision fields are finite, of magnitudes 2**e for e
    in `exponents` (by default subnormal halves included)."""
    rng = np.random.default_rng(seed)
    size, _ = BLOCK_BYTES[kind]
    raw = rng.integers(0, 256, (n, size), dtype=np.uint8)
    for offset in HALVES[kind]:
        scale = 2.0 ** rng.integers(*exponents, n)
        halves = (rng.uniform(-2, 2, n) * scale).astype(np.float16)
        raw[:, offset : offset + 2] = halves.view(np.uint8).reshape(n, 2)
    return raw


def _same_float32(ours: np.ndarray, ref: np.ndarray) -> bool:
    """Our exact float64 values rounded once to float32 have gguf's bits (gguf rounds once)."""
    a = ours.astype(np.float32).view(np.uint32)
    b = np.asarray(ref, dtype=np.float32).reshape(ours.shape).view(np.uint32)
    return bool(np.array_equal(a, b))


@pytest.mark.parametrize("kind", sorted(BLOCK_BYTES))
def test_random_blocks_match_gguf_bit_for_bit(kind):
    _, per_block = BLOCK_BYTES[kind]
    raw = _random_blocks(kind, 96, seed=len(kind) + ord(kind[1]))
    ours = dequantize(kind, raw, per_block * 4)
    assert ours.shape == (24, per_block * 4)
    ref = gguf_dequantize(raw.reshape(-1), gguf.GGMLQuantizationType[kind])
    assert _same_float32(ours, ref)


@pytest.mark.parametrize("kind", sorted(BLOCK_BYTES))
def test_values_are_exact_rationals(kind):
    """scale * q - minimum in exact rational arithmetic equals the float64 value."""
    _, per_block = BLOCK_BYTES[kind]
    raw = _random_blocks(kind, 4, seed=7)
    b = decompose(kind, raw, per_block)
    values = b.values()
    for r in range(values.shape[0]):
        for c in range(0, values.shape[1], 7):
            j = c // b.block
            exact = Fraction(float(b.scale[r, j])) * int(b.q[r, c])
            if b.minimum is not None:
                exact -= Fraction(float(b.minimum[r, j]))
            assert Fraction(float(values[r, c])) == exact


def test_decompose_maps_onto_a_block_matrix():
    raw = _random_blocks("Q4_K", 8, seed=3, exponents=(-12, -8))
    b = decompose("Q4_K", raw, 512)
    m = BlockMatrix(b.q, b.scale, -b.minimum, block=b.block)
    assert np.array_equal(m.row_values(np.arange(4)), b.values())


def test_partial_blocks_and_unknown_types_are_refused():
    with pytest.raises(ModelNotFoundError, match="partial block"):
        decompose("Q6_K", np.zeros(210, np.uint8), 128)
    with pytest.raises(ModelNotFoundError, match="cannot read Q3_K tensors"):
        dequantize("Q3_K", np.zeros(110, np.uint8), 256)


@pytest.mark.llm
def test_every_tensor_of_the_gemma_file_matches_gguf(gemma_model_path):
    index = GGUFIndex(gemma_model_path)
    reader = gguf.GGUFReader(gemma_model_path)
    checked = set()
    for t in reader.tensors:
        ours = index.tensors[t.name]
        assert ours.shape == tuple(int(d) for d in t.shape)
        assert ours.type_name == t.tensor_type.name
        if t.name == "token_embd.weight":
            rows = slice(0, 4096)  # the whole embedding is large; its first rows
        elif ours.type_name in checked and not t.name.startswith("blk.0."):
            continue
        else:
            rows = slice(None)
        checked.add(ours.type_name)
        values = dequantize(ours.type_name, ours.data[rows], ours.shape[0])
        ref = gguf_dequantize(np.asarray(t.data)[rows], t.tensor_type)
        assert _same_float32(values, ref), t.name
    assert checked >= {"F32", "Q5_0", "Q8_0", "Q4_K", "Q6_K"}


@pytest.mark.llm
def test_the_index_reads_the_scalar_metadata(gemma_model_path):
    index = GGUFIndex(gemma_model_path)
    reader = gguf.GGUFReader(gemma_model_path)
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or field.types[0] == gguf.GGUFValueType.ARRAY:
            continue  # the header's own fields, and arrays (the index keeps their length)
        assert index.fields[key] == field.contents(), key
    assert index.fields["tokenizer.ggml.tokens"] == len(reader.fields["tokenizer.ggml.tokens"].data)


def test_a_file_that_is_not_gguf_is_refused(tmp_path):
    path = tmp_path / "x.gguf"
    path.write_bytes(b"GGML" + bytes(60))
    with pytest.raises(ModelNotFoundError, match="not a GGUF file"):
        GGUFIndex(path)
