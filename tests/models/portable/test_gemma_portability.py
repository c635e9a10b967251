"""The Gemma graph's logits (every arithmetic revision, with append and shift) have the same bits
under other numpy dispatch paths, another OpenBLAS kernel and other thread counts, each setting
in its own process."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.machine_settings import machine_env, machine_settings
from tests.models.portable import gemma_fixtures
from tests.paths import REPO

pytestmark = [pytest.mark.llm, pytest.mark.slow]

gemma_model_path = gemma_fixtures.gemma_model_path

PROBE = Path(__file__).with_name("gemma_portability_probe.py")


def _probe(model: Path, extra: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, str(PROBE), str(model)],
        env=machine_env(extra),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_gemma_logits_have_the_same_bits_under_every_setting(gemma_model_path):
    # the first probe fills the disk cache of converted weights; the others read it
    results = {name: _probe(gemma_model_path, env) for name, env in machine_settings().items()}
    default = results["default"]
    for name, got in results.items():
        for key in ("revision1", "revision2", "revision3", "gelu"):
            assert got[key] == default[key], f"{key} differs under {name}"
    for name in ("no-avx512", "sse-prescott"):
        disabled = machine_settings()[name]["NPY_DISABLE_CPU_FEATURES"].split()
        assert not any(results[name]["features"].get(f) for f in disabled)
    # the compiled kernels ran by default where numba imports, and not in the numpy variant
    assert default["kernels"] == (importlib.util.find_spec("numba") is not None)
    assert results["numpy-kernels"]["kernels"] is False
