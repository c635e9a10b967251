"""Which GGUF files the portable engine runs, from the header alone, and the engine the `llm`
codec picks for them (no model is loaded)."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
import pytest

from nacrith.errors import ModelNotFoundError
from nacrith.models.portable.support import gguf_summary, unsupported_reason


def _gguf(path: Path, arch: str, tensors: dict[str, np.ndarray], raw_type=None) -> Path:
    writer = gguf.GGUFWriter(path, arch)
    writer.add_block_count(1)
    writer.add_array("tokenizer.ggml.tokens", ["a", "b", "c"])  # an array of strings to skip
    writer.add_float32("general.some_float", 0.5)
    for name, data in tensors.items():
        writer.add_tensor(name, data, raw_dtype=raw_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_the_header_names_architecture_and_tensor_types(tmp_path: Path) -> None:
    ok = _gguf(tmp_path / "ok.gguf", "llama", {"a": np.zeros((4, 32), np.float32)})
    assert gguf_summary(ok) == ("llama", {0})
    assert unsupported_reason(ok) is None
    half = _gguf(tmp_path / "half.gguf", "llama", {"a": np.zeros((4, 32), np.float16)})
    assert gguf_summary(half) == ("llama", {1})
    gemma = _gguf(tmp_path / "gemma.gguf", "gemma3", {"a": np.zeros((4, 32), np.float32)})
    assert unsupported_reason(gemma) is None
    other = _gguf(tmp_path / "qwen.gguf", "qwen2", {"a": np.zeros((4, 32), np.float32)})
    assert unsupported_reason(other) == "the portable engine runs llama, gemma3 models, not qwen2"
    q4k = np.zeros((4, 144), np.uint8)  # one Q4_K block (256 values) per row
    kquant = _gguf(tmp_path / "q4k.gguf", "llama", {"a": q4k}, gguf.GGMLQuantizationType.Q4_K)
    assert (
        unsupported_reason(kquant) == "the portable engine cannot read tensors of GGML types [12]"
    )


def test_a_file_that_is_not_gguf_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGML" + bytes(40))
    with pytest.raises(ModelNotFoundError, match="cannot read the GGUF header"):
        gguf_summary(bad)
    bad.write_bytes(b"GGUF")
    with pytest.raises(ModelNotFoundError, match="cannot read the GGUF header"):
        gguf_summary(bad)


def test_the_codec_picks_llama_cpp_for_models_the_portable_engine_cannot_run(
    tmp_path: Path,
) -> None:
    from nacrith.codecs.llm import LLMCodec

    qwen = _gguf(tmp_path / "qwen.gguf", "qwen2", {"a": np.zeros((4, 32), np.float32)})
    assert LLMCodec(str(qwen)).engine == "llama"
    with pytest.raises(ValueError, match="portable engine runs llama, gemma3 models, not qwen2"):
        LLMCodec(str(qwen), engine="portable")
    gemma = _gguf(tmp_path / "gemma.gguf", "gemma3", {"a": np.zeros((4, 32), np.float32)})
    assert LLMCodec(str(gemma)).engine == "portable"
    llama = _gguf(tmp_path / "llama.gguf", "llama", {"a": np.zeros((4, 32), np.float32)})
    assert LLMCodec(str(llama)).engine == "portable"
    assert LLMCodec(str(llama), gpu=True).engine == "llama"  # a GPU is llama.cpp's
