"""The engine's logits (both arithmetic revisions, revision 2 with append and shift, with one
and two threads per product) have the same bits under other numpy dispatch paths (what an
AVX2-only or an SSE-only CPU runs), another OpenBLAS kernel and other thread counts: each setting
runs in its own process (the settings are read when numpy and OpenBLAS load)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.machine_settings import machine_env, machine_settings
from tests.paths import REPO

pytestmark = pytest.mark.llm

PROBE = Path(__file__).with_name("portability_probe.py")


def _probe(model: Path, extra: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, str(PROBE), str(model)],
        env=machine_env(extra),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_logits_have_the_same_bits_under_every_setting(portable_model_path):
    results = {name: _probe(portable_model_path, env) for name, env in machine_settings().items()}
    default = results["default"]
    for name, got in results.items():
        assert got["logits"] == default["logits"], f"logits differ under {name}"
        assert got["revision2"] == default["revision2"], f"revision 2 differs under {name}"
        assert got["revision2_threads"] == default["revision2"], f"2 threads differ under {name}"
        assert got["revision3"] == default["revision3"], f"revision 3 differs under {name}"
        assert got["functions"] == default["functions"], f"exact functions differ under {name}"
    # the settings took effect: features switched off, another kernel, other thread counts
    for name in ("no-avx512", "sse-prescott"):
        disabled = machine_settings()[name]["NPY_DISABLE_CPU_FEATURES"].split()
        assert not any(results[name]["features"].get(f) for f in disabled)
    # the compiled kernels ran by default where numba imports, and not in the numpy variant
    assert default["kernels"] == (importlib.util.find_spec("numba") is not None)
    assert results["numpy-kernels"]["kernels"] is False
    assert results["1-thread"]["openblas"].get("threads", 1) == 1
    blas = results["sse-prescott"]["openblas"]
    if blas and blas["core"] != default["openblas"]["core"]:
        # float64 BLAS itself changes bits with the kernel: the test exercises a real difference
        assert results["sse-prescott"]["float_blas"] != default["float_blas"]
