"""Benchmark the `fib` codec against xz, bzip2, zstd and QTC's published sizes.

Usage: python scripts/bench_fib.py [--files alice29.txt,...] [--repeat N] [--no-write]

Reads the corpora from corpora/ in the repository, then the folders of $NACRITH_CORPORA_PATH
and the user cache (files such as enwik8's first 3 MB are not committed), and says which file
it read. Every figure is measured here except the QTC column, which is copied
from the reference study (references/quasicryth-logzip.md): its world192 figure is for the
2,408,282-byte LF copy of the file, so only its bpb is comparable with the CRLF original used
here; its enwik8 figure is the README's 31.85% of the first 3 MB.
Writes the table into BENCHMARKS.md (section "fib") and prints it.
"""

from __future__ import annotations

import argparse
import bz2
import lzma
import os
import sys
import time
from pathlib import Path

import zstandard

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

from benchmd import update_section  # noqa: E402

from nacrith.codecs.fib import FibCodec  # noqa: E402

FILES = {
    "alice29.txt": "canterbury/alice29.txt",
    "asyoulik.txt": "canterbury/asyoulik.txt",
    "cp.html": "canterbury/cp.html",
    "fields.c": "canterbury/fields.c",
    "grammar.lsp": "canterbury/grammar.lsp",
    "xargs.1": "canterbury/xargs.1",
    "world192.txt": "canterbury_large/world192.txt",
    "enwik8_head3M": "enwik/enwik8_head3M",
}
# QTC 5.6.0 default (36 tilings): (bytes, bpb, note)
QTC = {
    "alice29.txt": (54_158, 2.849, ""),
    "asyoulik.txt": (50_468, 3.225, ""),
    "world192.txt": (619_830, 2.059, " (LF copy, 2,408,282 B)"),
    "enwik8_head3M": (955_500, 2.548, " (README: 31.85%)"),
}


def find(rel: str) -> Path | None:
    """The corpus file, from the repository's corpora/ or the other corpus folders."""
    from nacrith.corpora import local_path

    return local_path(rel)


def timed(fn, repeat: int) -> tuple[object, float, float]:
    """(result, best wall seconds, best CPU seconds) over `repeat` runs."""
    best_wall = best_cpu = float("inf")
    result = None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        result = fn()
        best_wall = min(best_wall, time.perf_counter() - w)
        best_cpu = min(best_cpu, time.process_time() - c)
    return result, best_wall, best_cpu


def bench_file(name: str, path: Path, repeat: int) -> dict[str, object]:
    """Measure ours and the peers on one file."""
    data = path.read_bytes()
    codec = FibCodec()
    payload, enc_wall, enc_cpu = timed(lambda: codec.encode(data), repeat)
    out, dec_wall, dec_cpu = timed(lambda: FibCodec().decode(payload, len(data)), repeat)
    if out != data:
        raise SystemExit(f"{name}: fib round trip FAILED")
    mb = len(data) / 1e6
    xz = lzma.compress(data, format=lzma.FORMAT_XZ, preset=9 | lzma.PRESET_EXTREME)
    return {
        "name": name,
        "size": len(data),
        "fib": len(payload),
        "enc_mbs": mb / enc_wall,
        "dec_mbs": mb / dec_wall,
        "enc_cpu_mbs": mb / enc_cpu,
        "dec_cpu_mbs": mb / dec_cpu,
        "xz": len(xz),
        "bzip2": len(bz2.compress(data, 9)),
        "zstd": len(zstandard.ZstdCompressor(level=19).compress(data)),
    }


def table(rows: list[dict[str, object]], sources: dict[str, Path], repeat: int, load: str) -> str:
    """The markdown table and its notes."""

    def cell(nbytes: int, size: int) -> str:
        return f"{nbytes:,} ({8 * nbytes / size:.3f})"

    lines = [
        "## fib codec (`--method fib`)",
        "",
        "Compressed bytes (bits per byte; smallest of ours and the peers rerun here in bold). "
        "MB/s: best wall-clock time of "
        f"{repeat} run{'s' if repeat > 1 else ''} on a shared,",
        f"busy 2-core machine (CPU-time MB/s in brackets; 1-minute load average {load}). xz is",
        "`lzma` preset 9|PRESET_EXTREME, bzip2 level 9, zstd level 19 (python-zstandard). QTC:",
        "published/reference figures, not rerun here (none for the small structured files).",
        "",
        "| file | bytes | fib (ours) | xz -9e | bzip2 -9 | zstd -19 | QTC | fib compress MB/s "
        "| fib decompress MB/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        size = int(r["size"])
        qtc = QTC.get(str(r["name"]))
        q_cell = "-" if qtc is None else f"{qtc[0]:,} ({qtc[1]:.3f}){qtc[2]}"
        sizes = [int(r[k]) for k in ("fib", "xz", "bzip2", "zstd")]
        cells = [cell(n, size) for n in sizes]
        cells = [f"**{c}**" if n == min(sizes) else c for c, n in zip(cells, sizes)]
        lines.append(
            f"| {r['name']} | {size:,} | {' | '.join(cells)} | {q_cell} "
            f"| {r['enc_mbs']:.2f} ({r['enc_cpu_mbs']:.2f}) "
            f"| {r['dec_mbs']:.2f} ({r['dec_cpu_mbs']:.2f}) |"
        )
    lines += ["", "Files read: " + ", ".join(f"`{p}`" for p in sources.values()) + "."]
    return "\n".join(lines)


def main() -> None:
    """Run the benchmark, print the table, write BENCHMARKS.md."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", default=",".join(FILES), help="comma-separated names")
    ap.add_argument("--repeat", type=int, default=1, help="timing runs per file (best kept)")
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args()
    rows = []
    sources: dict[str, Path] = {}
    loads = [os.getloadavg()[0]]
    for name in args.files.split(","):
        path = find(FILES[name])
        if path is None:
            print(f"{name}: not found, skipped", file=sys.stderr)
            continue
        print(f"{name}: reading {path}", file=sys.stderr)
        sources[name] = path
        rows.append(bench_file(name, path, max(1, args.repeat)))
        loads.append(os.getloadavg()[0])
    load = f"{min(loads):.1f} to {max(loads):.1f} during the runs"
    text = table(rows, sources, max(1, args.repeat), load)
    print(text)
    if not args.no_write and rows:
        update_section("fib", text)


if __name__ == "__main__":
    main()
