"""PPMd settings sweep: coded size and speed per model order and memory, per file.

Prints a Markdown table (one row per file and setting), from which the `ppmd` codec's order and
memory rule are chosen, and with `--section NAME` writes it to that section of BENCHMARKS.md.
Speeds include the round-trip check `nacrith.coders.ppmd.encode` makes, as the codec does; the
last column is what the `ppmd` codec itself writes (its order chosen on a sample).

    OPENBLAS_NUM_THREADS=1 python scripts/bench_ppmd.py FILE... [--orders 6,8,10] [--mults 8,16]
        [--section ppmd]
"""

from __future__ import annotations

import argparse
import lzma
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmd import update_section

from nacrith.codecs.ppmd import PpmdCodec
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
    parser.add_argument("--section", help="BENCHMARKS.md section to write (default: print only)")
    args = parser.parse_args()
    orders = [int(o) for o in args.orders.split(",")]
    mults = [int(m) for m in args.mults.split(",")]
    lines = [
        "## PPMd settings (`scripts/bench_ppmd.py`)",
        "",
        "Coded bytes of PPMd var. I (pyppmd) per model order and model memory (MiB), with the"
        " round-trip check of `nacrith.coders.ppmd.encode` in the speeds (MB/s, a shared"
        " machine: 1-minute load average"
        f" {os.getloadavg()[0]:.1f} at the start). `fails`: pyppmd's stream does not decode."
        " Last columns: the `ppmd` codec (order chosen on a sample, memory 16 bytes per input"
        " byte rounded up to a power of two, at most 256 MiB) and xz -9e.",
        "",
        "| file | bytes | order | MiB | coded | compress MB/s | decompress MB/s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    summary = ["", "| file | ppmd codec | its order | xz -9e |", "|---|---:|---:|---:|"]
    for path in args.files:
        data = path.read_bytes()
        for order in orders:
            for mult in mults:
                lines.append(
                    _row(path.name, data, order, _mem(len(data), mult, args.cap_mib << 20))
                )
                print(lines[-1], flush=True)
        payload = PpmdCodec().encode(data)
        xz = lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)
        summary.append(f"| {path.name} | {len(payload):,} | {payload[0]} | {len(xz):,} |")
        print(summary[-1], flush=True)
    if args.section:
        update_section(args.section, "\n".join(lines + summary))


def _row(name: str, data: bytes, order: int, mem: int) -> str:
    """One table row: the coded size and speeds of `data` at `order` and `mem`."""
    t0 = time.perf_counter()
    coded = ppmd.encode(data, order, mem)
    t1 = time.perf_counter()
    if coded is None:
        return f"| {name} | {len(data):,} | {order} | {mem / (1 << 20):g} | fails | | |"
    back = ppmd.decode(coded, order, mem, len(data))
    t2 = time.perf_counter()
    if back != data:
        raise SystemExit(f"{name}: order {order} decoded to other bytes")
    mb = len(data) / 1e6
    return (
        f"| {name} | {len(data):,} | {order} | {mem / (1 << 20):g} |"
        f" {len(coded):,} | {mb / (t1 - t0):.2f} | {mb / (t2 - t1):.2f} |"
    )


if __name__ == "__main__":
    main()
