"""Time to read a GGUF header: nacrith's reader (`models.gguf_meta`) against `gguf.GGUFReader`.

Usage: OPENBLAS_NUM_THREADS=1 python scripts/bench_gguf_meta.py [--repeat 3]

For the registry's two models: the header with arrays left as lengths (what the portable
engine's support check and tensor index need), the header with the tokenizer's arrays decoded
(what the pure vocabulary needs), the tensor index with memory-mapped tensor views, and the
`gguf` package's reader (which decodes every array element into a numpy view). Best of
`--repeat` runs each (the gguf reader: one run). Prints a Markdown section for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import gguf

from nacrith.models.gguf_meta import read_gguf
from nacrith.models.llm.registry import pull
from nacrith.models.portable.gguf_index import GGUFIndex

MODELS = ("smollm2-135m", "gemma3-270m")


def best(fn: Callable[[], object], repeat: int) -> float:
    """Shortest wall time of `repeat` calls of `fn`, in seconds."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def timings(path: Path, repeat: int) -> tuple[float, float, float, float]:
    """Seconds of the four reads of the GGUF at `path`."""
    return (
        best(lambda: read_gguf(path), repeat),
        best(lambda: read_gguf(path, lambda k: k.startswith("tokenizer.")), repeat),
        best(lambda: GGUFIndex(path), repeat),
        best(lambda: gguf.GGUFReader(path), 1),
    )


def main() -> None:
    """Measure and print the Markdown section."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print("<!-- BEGIN gguf-meta -->")
    print("## GGUF header reading: nacrith's reader against gguf.GGUFReader\n")
    print(
        "Seconds to read each registry model's header (best of "
        f"{args.repeat}; gguf.GGUFReader: one run). `arrays as lengths`: what the portable "
        "engine's support check needs; `tokenizer arrays`: what the pure vocabulary decodes; "
        "`tensor index`: the header plus memory-mapped tensor views (the Gemma weight loader).\n"
    )
    print("| model | file MB | arrays as lengths | tokenizer arrays | tensor index | GGUFReader |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in MODELS:
        path = pull(name, quiet=True)
        plain, vocab, index, theirs = timings(path, args.repeat)
        size = os.path.getsize(path) / 1e6
        print(
            f"| {path.name} | {size:.0f} | {plain:.3f} | {vocab:.3f} | {index:.3f} | {theirs:.2f} |"
        )
    load = os.getloadavg()[1]
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"\n_Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical "
        f"cores (load average {load:.1f} over the last 5 minutes at the end); gguf "
        f"{importlib.metadata.version('gguf')}; {now}. Command: "
        f"`OPENBLAS_NUM_THREADS=1 python scripts/bench_gguf_meta.py --repeat {args.repeat}`._"
    )
    print("<!-- END gguf-meta -->")


if __name__ == "__main__":
    main()
