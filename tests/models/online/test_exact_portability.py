"""The exact ensemble and quantizer give the same bits under other numpy dispatch paths (what an
AVX2-only or an SSE-only CPU runs), another OpenBLAS kernel and other thread counts. Each setting
runs in its own process: numpy and OpenBLAS read them when they load."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from tests.machine_settings import machine_env, machine_settings
from tests.paths import REPO

PROBE = Path(__file__).with_name("exact_probe.py")
SETTINGS = machine_settings()


@cache
def _probe(name: str) -> dict:
    done = subprocess.run(
        [sys.executable, str(PROBE)],
        env=machine_env(SETTINGS[name]),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_exact_mode_has_the_same_bits_under_every_setting() -> None:
    default = _probe("default")
    for name, extra in SETTINGS.items():
        got = _probe(name)
        assert got["exact"] == default["exact"], f"exact mode differs under {name}"
        disabled = extra.get("NPY_DISABLE_CPU_FEATURES", "").split()
        assert not any(got["features"].get(f) for f in disabled), f"{name} did not take effect"


def test_float_mode_is_not_portable_here() -> None:
    """A demonstration of what the exact mode is for: it passes where this machine's numpy
    gives the float mode other bits under another dispatch path, and is skipped where not."""
    default = _probe("default")
    differ = [n for n in SETTINGS if _probe(n)["float"] != default["float"]]
    if not differ:
        pytest.skip("the float mode gives the same bits under every setting on this machine")
    assert set(differ) <= {"no-avx512", "sse-prescott"}, f"float mode differs under {differ}"
