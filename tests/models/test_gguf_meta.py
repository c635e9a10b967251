"""The shared GGUF header reader against the `gguf` package's own reader."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
import pytest

from nacrith.errors import ModelNotFoundError
from nacrith.models.gguf_meta import read_gguf


def _write(path: Path) -> Path:
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_uint8("t.u8", 7)
    writer.add_int16("t.i16", -3)
    writer.add_uint64("t.u64", 2**40)
    writer.add_float64("t.f64", 0.1)
    writer.add_bool("t.bool", True)
    writer.add_string("t.str", "héllo")
    writer.add_array("tokenizer.ggml.tokens", ["a", "bé", ""])
    writer.add_array("tokenizer.ggml.scores", [0.5, -1.0, 2.0])
    writer.add_array("other.ids", [1, 2, 3, 4])
    writer.add_tensor("w", np.arange(64, dtype=np.float32).reshape(2, 32))
    writer.add_tensor("v", np.ones(32, dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_scalars_arrays_and_tensors_match_gguf(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.gguf")
    ref = gguf.GGUFReader(path)
    header = read_gguf(path, arrays=lambda key: key.startswith("tokenizer."))
    for key, field in ref.fields.items():
        if key.startswith("GGUF."):
            continue
        ours = header.fields[key]
        if field.types[0] != gguf.GGUFValueType.ARRAY:
            assert ours == field.contents(), key
        elif key.startswith("tokenizer."):
            expected = field.contents()
            if isinstance(expected[0], str):
                assert [s.decode() for s in ours] == expected  # type: ignore[union-attr]
            else:
                assert np.array_equal(ours, np.array(expected, dtype=np.float32))  # type: ignore[arg-type]
        else:
            assert ours == len(field.data), key
    assert [t.name for t in header.tensors] == [t.name for t in ref.tensors]
    raw = path.read_bytes()
    for info, t in zip(header.tensors, ref.tensors):
        assert info.dims == tuple(int(d) for d in t.shape)
        assert info.type_id == int(t.tensor_type)
        start = header.data_start + info.offset
        assert raw[start : start + t.n_bytes] == t.data.tobytes()


def test_all_arrays_decoded(tmp_path: Path) -> None:
    header = read_gguf(_write(tmp_path / "m.gguf"), arrays=True)
    assert header.fields["other.ids"].tolist() == [1, 2, 3, 4]  # type: ignore[attr-defined]
    assert read_gguf(tmp_path / "m.gguf").fields["other.ids"] == 4


def test_truncated_and_foreign_files_are_clear_errors(tmp_path: Path) -> None:
    raw = _write(tmp_path / "m.gguf").read_bytes()
    cut = tmp_path / "cut.gguf"
    for size in (0, 3, 24, 60, 200):
        cut.write_bytes(raw[:size])
        with pytest.raises(ModelNotFoundError, match="cannot read the GGUF file"):
            read_gguf(cut, arrays=True)
    cut.write_bytes(b"GGML" + raw[4:])
    with pytest.raises(ModelNotFoundError, match="cannot read the model: not a GGUF file"):
        read_gguf(cut, what="the model")
    with pytest.raises(ModelNotFoundError, match="cannot read the GGUF file"):
        read_gguf(tmp_path / "missing.gguf")
