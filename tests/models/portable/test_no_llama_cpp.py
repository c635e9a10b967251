"""Without llama-cpp-python (the optional extra `nacrith[llama]`): the default model is derived,
portable archives are made and decoded, and whatever needs llama.cpp fails with a clear message.

Each `ncz` runs in a process whose PYTHONPATH starts with a `llama_cpp` package that raises
ImportError when imported, so neither it nor any worker process it starts can load llama.cpp.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nacrith.models.llm.registry import MODELS, pull
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


@pytest.mark.slow  # a fresh cache: the portable engine converts its weights again
def test_a_fresh_cache_with_only_the_q4_1_base_derives_the_default_model(
    tmp_path: Path, blocked_env: dict[str, str]
) -> None:
    base = pull("smollm2-135m-q4_1", quiet=True)
    models = tmp_path / "cache" / "nacrith" / "models"
    models.mkdir(parents=True)
    shutil.copyfile(base, models / base.name)
    env = {**blocked_env, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    source = tmp_path / "alice.txt"
    source.write_bytes(TEXT)
    out = tmp_path / "alice.ncz"
    done = _run(["-m", "nacrith.cli", "compress", "-m", "llm", "-o", str(out), str(source)], env)
    assert done.returncode == 0, done.stderr[-3000:].decode(errors="replace")
    assert b"deriving 'smollm2-135m'" in done.stderr
    derived = models / MODELS["smollm2-135m"].filename
    assert derived.is_file()  # verified against its pinned sha256 by the registry
    back = _run(["-m", "nacrith.cli", "decompress", "-c", str(out)], env)
    assert back.returncode == 0, back.stderr[-3000:].decode(errors="replace")
    assert back.stdout == TEXT


def _assert_needs_the_extra(done: subprocess.CompletedProcess) -> None:
    assert done.returncode != 0
    err = done.stderr.decode(errors="replace")
    assert "pip install 'nacrith[llama]'" in err, err[-3000:]
    assert "Traceback" not in err, err[-3000:]


def test_the_llama_engine_fails_clearly_without_llama_cpp(
    tmp_path: Path, blocked_env: dict[str, str]
) -> None:
    source = tmp_path / "alice.txt"
    source.write_bytes(TEXT)
    for extra in (["--engine", "llama"], ["--gpu"]):
        out = tmp_path / "alice.ncz"
        args = ["compress", "-m", "llm", *extra, "-o", str(out), str(source)]
        done = _run(["-m", "nacrith.cli", *args], blocked_env)
        _assert_needs_the_extra(done)
        assert not out.exists()


def test_a_llama_engine_archive_fails_clearly_without_llama_cpp(
    tmp_path: Path, blocked_env: dict[str, str]
) -> None:
    source = tmp_path / "alice.txt"
    source.write_bytes(TEXT)
    out = tmp_path / "alice.ncz"
    args = ["compress", "-m", "llm", "--engine", "llama", "-o", str(out), str(source)]
    made = _run(["-m", "nacrith.cli", *args], dict(os.environ))
    assert made.returncode == 0, made.stderr[-3000:].decode(errors="replace")
    assert _engines(out.read_bytes()) == ["llama"]
    _assert_needs_the_extra(_run(["-m", "nacrith.cli", "decompress", "-c", str(out)], blocked_env))
    source.unlink()
    _assert_needs_the_extra(_run(["-m", "nacrith.cli", "decompress", "-k", str(out)], blocked_env))
    assert not source.exists()  # no partial output left behind
