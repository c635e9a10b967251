"""The machine variants portability tests run under, each in its own process: numpy's dispatch
with CPU features switched off (what an AVX2-only or an SSE-only CPU runs), another OpenBLAS
kernel, other OpenBLAS thread counts, the portable engine's numpy path instead of its compiled
kernels. The settings are read when numpy, OpenBLAS and the engine load."""

from __future__ import annotations

import os

from tests.paths import REPO

__all__ = ["VARIABLES", "machine_env", "machine_settings"]

#: the environment variables the variants set
VARIABLES = (
    "NPY_DISABLE_CPU_FEATURES",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_NUM_THREADS",
    "NACRITH_KERNELS",
)


def _features(*names: str) -> str:
    """Those of `names` this numpy may be told to disable (known to it, not in its baseline)."""
    from numpy._core._multiarray_umath import __cpu_dispatch__

    known = set(__cpu_dispatch__)
    return " ".join(n for n in names if n in known)


def machine_settings() -> dict[str, dict[str, str]]:
    """Variant name -> the environment variables it sets (an empty value: unset)."""
    return {
        "default": {},
        "no-avx512": {"NPY_DISABLE_CPU_FEATURES": _features("X86_V4", "AVX512_ICL", "AVX512_SPR")},
        "sse-prescott": {
            "NPY_DISABLE_CPU_FEATURES": _features("X86_V3", "X86_V4", "AVX512_ICL", "AVX512_SPR"),
            "OPENBLAS_CORETYPE": "Prescott",
        },
        "1-thread": {"OPENBLAS_NUM_THREADS": "1"},
        "2-threads": {"OPENBLAS_NUM_THREADS": "2"},
        "numpy-kernels": {"NACRITH_KERNELS": "numpy"},
    }


def machine_env(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment without the variant variables, plus `extra`, with the
    repository on the import path."""
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    env.update({k: v for k, v in extra.items() if v})
    env["PYTHONPATH"] = str(REPO)
    return env
