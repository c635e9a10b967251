"""The default model derived from the Q4_1 wheel without llama.cpp (`requant`, `_derive`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType
from gguf.quants import dequantize

from nacrith.errors import FormatError, ModelNotFoundError
from nacrith.models.llm import registry
from nacrith.models.llm.requant import dequantize_q4_1, quantize_q8_0, requantize_q4_1_to_q8_0

BASE = "smollm2-135m-q4_1"
DERIVED = "smollm2-135m"


@pytest.fixture(scope="module")
def base_file() -> Path:
    """The Q4_1 base model in the user's cache (pulled once if missing)."""
    return registry.pull(BASE, quiet=True)


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty model cache, used by the registry for this test."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    registry.cache_dir().mkdir(parents=True)
    return registry.cache_dir()


def test_derivation_from_the_q4_1_base_has_the_pinned_sha256(
    base_file: Path, fresh_cache: Path
) -> None:
    shutil.copyfile(base_file, fresh_cache / base_file.name)
    path = registry.pull(DERIVED, quiet=True)
    assert path == fresh_cache / registry.MODELS[DERIVED].filename
    assert registry.file_sha256(path) == registry.MODELS[DERIVED].sha256
    assert sorted(p.name for p in fresh_cache.iterdir()) == sorted(
        [base_file.name, path.name]
    )  # no temporary file left behind


def test_a_corrupt_base_of_the_right_size_gives_a_clear_error(
    base_file: Path, fresh_cache: Path
) -> None:
    data = bytearray(base_file.read_bytes())
    data[-1000:] = bytes(1000)  # the last tensor's weights
    (fresh_cache / base_file.name).write_bytes(bytes(data))
    with pytest.raises(ModelNotFoundError, match="does not have the pinned sha256"):
        registry.pull(DERIVED, quiet=True)
    assert not (fresh_cache / registry.MODELS[DERIVED].filename).exists()


def test_a_base_that_is_not_gguf_gives_a_clear_error(fresh_cache: Path) -> None:
    size = registry.MODELS[BASE].size
    with open(fresh_cache / registry.MODELS[BASE].filename, "wb") as fh:
        fh.truncate(size)  # the right size, all zeros
    with pytest.raises(ModelNotFoundError, match=r"cannot derive it: .*not a GGUF file"):
        registry.pull(DERIVED, quiet=True)


def test_truncated_and_unsupported_inputs_raise_format_errors(
    base_file: Path, tmp_path: Path
) -> None:
    head = tmp_path / "head.gguf"
    head.write_bytes(base_file.read_bytes()[: 4 << 20])
    with pytest.raises(FormatError, match="runs past the end of the file"):
        requantize_q4_1_to_q8_0(head, tmp_path / "out.gguf")
    q8 = registry.pull(DERIVED, quiet=True)  # a GGUF whose weights are Q8_0 already
    with pytest.raises(FormatError, match=r"output_norm\.weight of type Q5_0 is not handled"):
        _gguf_with_type(q8, tmp_path, GGMLQuantizationType.Q5_0)
    with pytest.raises(FormatError, match="not a readable GGUF file"):
        requantize_q4_1_to_q8_0(tmp_path / "missing.gguf", tmp_path / "out.gguf")


def _gguf_with_type(src: Path, tmp_path: Path, qtype: GGMLQuantizationType) -> None:
    """Convert a copy of `src` whose first tensor claims the type `qtype`."""
    from nacrith.models.llm.requant import _read_header

    data = bytearray(src.read_bytes())
    header = _read_header(memoryview(bytes(data)))
    name = header.tensors[0].name.encode()
    at = data.index(name, 24) + len(name)
    n_dims = int.from_bytes(data[at : at + 4], "little")
    at += 4 + 8 * n_dims
    data[at : at + 4] = int(qtype).to_bytes(4, "little")
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(bytes(data))
    requantize_q4_1_to_q8_0(bad, tmp_path / "out.gguf")


def test_q4_1_dequantization_matches_gguf() -> None:
    rng = np.random.default_rng(1)
    blocks = rng.integers(0, 256, size=(500, 20), dtype=np.uint8)
    scales = rng.normal(scale=0.01, size=(500, 2)).astype(np.float16)
    blocks[:, 0:4] = scales.view(np.uint8)
    ours = dequantize_q4_1(blocks)
    theirs = dequantize(blocks.reshape(-1), GGMLQuantizationType.Q4_1).reshape(500, 32)
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours, theirs)


def test_q8_0_rounds_half_away_from_zero_as_roundf() -> None:
    x = np.zeros((3, 32), dtype=np.float32)
    # amax 127: d = 1, id = 1, so x * id is x itself
    x[0, :6] = [127.0, 2.5, -2.5, 0.5, -0.5, np.nextafter(np.float32(0.5), np.float32(0))]
    x[2, :2] = [-3.0, 1.0]  # amax 3 (negative): d = 3/127
    out = quantize_q8_0(x)
    q = out[:, 2:].view(np.int8)
    d = out[:, 0:2].copy().view(np.float16).astype(np.float32)[:, 0]
    assert list(q[0, :6]) == [127, 3, -3, 1, -1, 0]
    assert d[0] == 1.0
    assert d[1] == 0 and not q[1].any()  # an all-zero block: scale 0, no division
    assert q[2, 0] == -127
    inv = np.float32(1) / (np.float32(3) / np.float32(127))
    assert q[2, 1] == int(np.floor(np.float64(np.float32(1) * inv) + 0.5))
    assert d[2] == np.float16(np.float32(3) / np.float32(127))
