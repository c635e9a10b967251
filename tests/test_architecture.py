"""The layout holds: import contracts, codecs only in nacrith/codecs, no file over 600 lines."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import REPO

PACKAGE = REPO / "nacrith"
MAX_LINES = 600


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_import_contracts_are_kept() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("import-linter is not installed (it is part of the [test] extra)")
    r = subprocess.run([exe, "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "broken" in r.stdout and " 0 broken" in r.stdout, r.stdout


def _codec_subclasses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                base_name = (
                    base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
                )
                if base_name == "Codec":
                    names.append(node.name)
    return names


def test_only_nacrith_codecs_defines_codecs() -> None:
    outside = {
        str(path.relative_to(REPO)): _codec_subclasses(path)
        for path in _sources()
        if PACKAGE / "codecs" not in path.parents
    }
    assert {k: v for k, v in outside.items() if v} == {}
    inside = [
        name for path in (PACKAGE / "codecs").rglob("*.py") for name in _codec_subclasses(path)
    ]
    assert {"LLMCodec", "FibCodec", "LogsCodec", "ZstdCodec", "StoredCodec"} <= set(inside)


def test_no_source_file_is_over_600_lines() -> None:
    long = {}
    for path in [*_sources(), *sorted((REPO / "scripts").glob("*.py"))]:
        lines = path.read_text(encoding="utf-8").count("\n")
        if lines > MAX_LINES:
            long[str(path.relative_to(REPO))] = lines
    assert long == {}


def test_every_package_folder_is_a_package() -> None:
    folders = {p.parent for p in _sources()}
    assert [str(f) for f in folders if not (f / "__init__.py").exists()] == []
