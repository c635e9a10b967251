"""End to end: an archive made with the default settings (the portable engine) decodes
byte-exactly under every machine variant, each in its own `ncz decompress` process; the llama
engine is still there (`--engine llama`) and `ncz info -v` says which engine made an archive."""

from __future__ import annotations

import io
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.machine_settings import machine_env, machine_settings
from tests.paths import CANTERBURY, REPO

pytestmark = pytest.mark.llm

TEXT = (CANTERBURY / "alice29.txt").read_bytes()[5000:5300]


def _ncz(args: list[str], extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "nacrith.cli", *args],
        env=machine_env(extra or {}),
        cwd=REPO,
        capture_output=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:].decode(errors="replace")
    return done


def _llm_params(archive: bytes) -> list[dict]:
    from nacrith.formats.container import iter_members

    return [m.codec_params["llm"] for m in iter_members(io.BytesIO(archive))]


def test_default_archive_decodes_bit_exactly_under_every_machine_variant(tmp_path: Path) -> None:
    import nacrith

    archive = nacrith.compress(TEXT)  # made here, under this process's settings
    assert [p["engine"] for p in _llm_params(archive)] == ["portable"]
    path = tmp_path / "alice.ncz"
    path.write_bytes(archive)
    variants = machine_settings()
    with ThreadPoolExecutor(2) as pool:
        outputs = dict(
            zip(
                variants,
                pool.map(
                    lambda env: _ncz(["decompress", "-c", str(path)], env).stdout,
                    variants.values(),
                ),
            )
        )
    for name, out in outputs.items():
        assert out == TEXT, f"decoded bytes differ under {name}"


def test_llama_engine_on_the_command_line_and_info_names_the_engine(tmp_path: Path) -> None:
    source = tmp_path / "alice.txt"
    source.write_bytes(TEXT[:200])
    llama = tmp_path / "llama.ncz"
    _ncz(["compress", "-m", "llm", "--engine", "llama", "-o", str(llama), str(source)])
    params = _llm_params(llama.read_bytes())[0]
    assert params["version"] == 6 and "engine" in params and "revision" not in params
    assert _ncz(["decompress", "-c", str(llama)]).stdout == TEXT[:200]
    info = _ncz(["info", "-v", str(llama)]).stdout.decode()
    assert "engine: llama (machine-bound" in info
    portable = tmp_path / "portable.ncz"
    _ncz(["compress", "-m", "llm", "-o", str(portable), str(source)])
    info = _ncz(["info", "-v", str(portable)]).stdout.decode()
    assert "engine: portable (decodes bit-exactly on any machine)" in info
