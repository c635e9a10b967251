"""Run by test_exact_portability in a subprocess: hashes of the exact and the float ensemble's
distributions and frequency tables over the fixed sample, under this process's numpy dispatch
and OpenBLAS settings, printed as one JSON line.

Usage: python exact_probe.py
"""

from __future__ import annotations

import json

from numpy._core._multiarray_umath import __cpu_features__

from tests.models.online.exact_sample import load_sample, table_hashes


def main() -> None:
    """Print the hashes of both modes and the CPU features numpy uses, as JSON."""
    sample = load_sample()
    features = {k: bool(v) for k, v in __cpu_features__.items() if k.startswith(("X86", "AVX512_"))}
    result = {
        "exact": table_hashes(sample, exact_mode=True),
        "float": table_hashes(sample, exact_mode=False),
        "features": features,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
