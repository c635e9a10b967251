"""A portable archive decodes where llama-cpp-python cannot be imported at all.

Each `ncz` runs in a process whose PYTHONPATH starts with a `llama_cpp` package that raises
ImportError when imported, so neither it nor any worker process it starts can load llama.cpp.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import CANTERBURY, REPO

pytestmark = pytest.mark.llm

TEXT = (CANTERBURY / "alice29.txt").read_bytes()[7000:7300]


@pytest.fixture(scope="module")
def blocked_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment in which `import llama_cpp` fails in every Python process."""
    shadow = tmp_path_factory.mktemp("no_llama_cpp")
    (shadow / "llama_cpp").mkdir()
    (shadow / "llama_cpp" / "__init__.py").write_text(
        'raise ImportError("llama_cpp is blocked in this test")\n'
    )
    path = os.pathsep.join(p for p in (str(shadow), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path}


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=REPO, capture_output=True, timeout=900
    )


def _engines(archive: bytes) -> list[str]:
    from nacrith.formats.container import iter_members

    return [m.codec_params["llm"]["engine"] for m in iter_members(io.BytesIO(archive))]


def test_the_block_works(blocked_env: dict[str, str]) -> None:
    code = "import nacrith.models.llm.backend as b; b.LlamaVocab(__import__('sys').argv[1])"
    from nacrith.models.llm.registry import pull

    done = _run(["-c", code, str(pull("smollm2-135m", quiet=True))], blocked_env)
    assert done.returncode != 0
    assert b"llama_cpp is blocked in this test" in done.stderr


def test_default_archive_decodes_and_info_works_without_llama_cpp(
    tmp_path: Path, blocked_env: dict[str, str]
) -> None:
    import nacrith

    archive = nacrith.compress(TEXT)  # made here, with llama.cpp's tokenizer
    assert _engines(archive) == ["portable"]
    path = tmp_path / "alice.ncz"
    path.write_bytes(archive)
    done = _run(["-m", "nacrith.cli", "decompress", "-c", str(path)], blocked_env)
    assert done.returncode == 0, done.stderr[-3000:].decode(errors="replace")
    assert done.stdout == TEXT
    info = _run(["-m", "nacrith.cli", "info", "-v", str(path)], blocked_env)
    assert info.returncode == 0, info.stderr[-3000:].decode(errors="replace")
    assert "engine: portable" in info.stdout.decode()


def test_compress_without_llama_cpp_decodes_with_it(
    tmp_path: Path, blocked_env: dict[str, str]
) -> None:
    import nacrith

    source = tmp_path / "alice.txt"
    source.write_bytes(TEXT)
    out = tmp_path / "alice.ncz"
    done = _run(
        ["-m", "nacrith.cli", "compress", "-m", "llm", "-o", str(out), str(source)], blocked_env
    )
    assert done.returncode == 0, done.stderr[-3000:].decode(errors="replace")
    archive = out.read_bytes()
    assert _engines(archive) == ["portable"]
    assert nacrith.decompress(archive) == TEXT
