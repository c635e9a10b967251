"""Deriving the default model (Q8_0) from the Q4_1 wheel: nacrith's numpy conversion against
llama.cpp's quantizer.

Usage: OPENBLAS_NUM_THREADS=1 python scripts/bench_derive.py [--repeat 3]

Each run is a fresh Python process that converts the cached Q4_1 base into a temporary file and
reports its wall time and peak resident memory (`ru_maxrss`, which counts any pages of the base a
converter memory-maps and reads); the output's sha256 is checked against the registry's pin.
Best time and largest peak of `--repeat` runs each. The llama.cpp rows need llama-cpp-python
(the `llama` extra) and are left out without it. Results go to the `derive` section of
BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmd import command_line, update_section

from nacrith.models.llm.registry import MODELS, file_sha256, pull

DERIVED = "smollm2-135m"
BASE, FTYPE = MODELS[DERIVED].derived_from  # type: ignore[misc]

CHILD = """
import json, resource, sys, time
engine, src, dst, ftype = sys.argv[1:5]
t = time.perf_counter()
if engine == "numpy":
    from nacrith.models.llm.requant import requantize_q4_1_to_q8_0
    requantize_q4_1_to_q8_0(src, dst)
else:
    from nacrith.models.llm.backend import requantize
    requantize(src, dst, int(ftype))
seconds = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "rss_kib": peak}))
"""


def run_once(engine: str, base: Path, workdir: Path) -> tuple[float, float, bool]:
    """Seconds, peak RSS in MiB and whether the output has the pinned sha256, for one run."""
    out = workdir / f"{engine}.gguf"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, engine, str(base), str(out), str(FTYPE)],
        capture_output=True,
        text=True,
        check=True,
    )
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    ok = file_sha256(out) == MODELS[DERIVED].sha256
    out.unlink()
    return stats["seconds"], stats["rss_kib"] / 1024, ok


def llama_cpp_imports() -> bool:
    """Whether llama-cpp-python is installed here."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    """Measure and write the section."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    base = pull(BASE, quiet=True)
    engines = ["numpy"] + (["llama.cpp"] if llama_cpp_imports() else [])
    load_before = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-derive-") as tmp:
        for engine in engines:
            runs = [run_once(engine, base, Path(tmp)) for _ in range(args.repeat)]
            rows.append(
                f"| {engine} | {min(r[0] for r in runs):.2f} | "
                f"{max(r[1] for r in runs):.0f} | {'yes' if all(r[2] for r in runs) else 'NO'} |"
            )
    load_after = os.getloadavg()[0]
    body = "\n".join(
        [
            "## Deriving the default model: Q4_1 wheel -> Q8_0 file",
            "",
            f"`{MODELS[DERIVED].filename}` from `{base.name}` ({base.stat().st_size:,} bytes), "
            f"one fresh process per run, best time and largest peak RSS of {args.repeat} runs. "
            "Peak RSS (`ru_maxrss`) counts any pages of the base a converter memory-maps and "
            "reads. `pinned sha256`: every run's output equals the registry's pin.",
            "",
            "| converter | seconds | peak RSS MiB | pinned sha256 |",
            "|---|---:|---:|---|",
            *rows,
            "",
            f"Load average (1 min): {load_before:.1f} before, {load_after:.1f} after.",
        ]
    )
    print(body)
    update_section("derive", body, "OPENBLAS_NUM_THREADS=1 " + command_line())


if __name__ == "__main__":
    main()
