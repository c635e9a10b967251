"""PPMd settings sweep: coded size and speed per model order and memory, per file.

Prints a Markdown table (one row per file and setting) for the `ppmd` section of BENCHMARKS.md,
from which the `ppmd` codec's order and memory rule are chosen. Speeds include the round-trip
check `nacrith.coders.ppmd.encode` makes, as the codec does.

    OPENBLAS_NUM_THREADS=1 python scripts/bench_ppmd.py FILE... [--orders 6,8,10] [--mults 8,16]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from nacrith.coders import ppmd


def _mem(size: int, mult: int, cap: int) -> int:
    """A power of two of at least `mult` bytes per input byte, within the module's limits."""
    want = max(ppmd.MIN_MEM, mult * max(size, 1))
    return min(cap, 1 << (want - 1).bit_length())


def main() -> None:
    """Run the sweep and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--orders", default="4,6,8,10,12")
    parser.add_argument("--mults", default="4,16", help="memory per input byte to try")
    parser.add_argument("--cap-mib", type=int, default=256, help="largest model memory")
    args = parser.parse_args()
    orders = [int(o) for o in args.orders.split(",")]
    mults = [int(m) for m in args.mults.split(",")]
    print(f"load: {os.getloadavg()[0]:.2f}")
    print("| file | bytes | order | MiB | coded | compress MB/s | decompress MB/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for path in args.files:
        data = path.read_bytes()
        for order in orders:
            for mult in mults:
                mem = _mem(len(data), mult, args.cap_mib << 20)
                t0 = time.perf_counter()
                coded = ppmd.encode(data, order, mem)
                t1 = time.perf_counter()
                if coded is None:
                    print(f"| {path.name} | {len(data)} | {order} | {mem >> 20} | fails | | |")
                    continue
                back = ppmd.decode(coded, order, mem, len(data))
                t2 = time.perf_counter()
                assert back == data
                mb = len(data) / 1e6
                print(
                    f"| {path.name} | {len(data):,} | {order} | {mem / (1 << 20):g} |"
                    f" {len(coded):,} | {mb / (t1 - t0):.2f} | {mb / (t2 - t1):.2f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
