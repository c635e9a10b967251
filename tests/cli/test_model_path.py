"""`--model PATH` of a registered model's file names the registered model (safety issue,
item 14): the archive decodes without `--model`, and has the bytes `--model NAME` gives."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nacrith.models.llm import registry
from tests.cli.ncz import ncz

TEXT = b"Alice was beginning to get very tired of sitting by her sister on the bank.\n" * 3


@pytest.mark.llm
def test_model_path_of_a_registered_file_records_its_name(tmp_path: Path) -> None:
    name = registry.DEFAULT_MODEL
    copy = tmp_path / "renamed-model.gguf"
    shutil.copyfile(registry.resolve_model(name), copy)  # elsewhere, under another name
    (tmp_path / "a.txt").write_bytes(TEXT)

    by_path = ncz("compress", "-m", "llm", "--model", str(copy), "-c", "a.txt", cwd=tmp_path)
    assert by_path.returncode == 0, by_path.stderr
    by_name = ncz("compress", "-m", "llm", "--model", name, "-c", "a.txt", cwd=tmp_path)
    assert by_path.stdout == by_name.stdout

    listed = ncz("-l", "-v", "-", cwd=tmp_path, stdin=by_path.stdout)
    assert f"'model': '{name}'".encode() in listed.stdout
    decoded = ncz("-dc", cwd=tmp_path, stdin=by_path.stdout)
    assert decoded.returncode == 0, decoded.stderr
    assert decoded.stdout == TEXT
