"""Benchmark the `logs` codec and log-archive search; writes the "logs" section of BENCHMARKS.md.

1. Ratio on each Loghub 2k sample (one chunk per file), with the geometric mean, beside
   gzip -9, xz -9, zstd -19 and PPMd var. I order 8 (pyppmd, the `[bench]` extra); every
   payload of ours is decoded and compared byte for byte.
2. Compress and decompress speed of the codec on those samples.
3. A log of about `--size-mb` MB built from the samples (each sample repeated in a block of
   its own, so every system's lines stay together as in a real archive), appended through
   `nacrith.logs.LogArchive` in 4 MiB chunks; then each query answered by `search` against
   decompress-then-grep (single-process decompression to a file, then `grep -c`).

Usage: python scripts/bench_logs.py [--quick] [--size-mb N] [--no-write]
"""

from __future__ import annotations

import argparse
import gzip
import lzma
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import zstandard

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

from benchmd import update_section  # noqa: E402
from nacrith.formats.logs import LogsCodec  # noqa: E402

from nacrith.api import Decompressor  # noqa: E402
from nacrith.logs import LogArchive  # noqa: E402

SYSTEMS = ["Apache", "BGL", "HDFS", "HPC", "Hadoop", "Linux", "OpenSSH", "Proxifier", "Spark"]
SYSTEMS += ["Zookeeper"]
QUERIES = [
    ("rare message text", "Failed password for invalid user", {}),
    ("frequent message text", "PacketResponder", {}),
    ("IP address (digits only)", "173.234.31.186", {}),
    ("regex", r"Connection (refused|reset)", {"regex": True}),
    ("text + time range", "PacketResponder", {"since": "2008-11-10", "until": "2008-11-10 12:00"}),
]


def sample_dir() -> Path:
    """../shared/corpora/loghub when present (the lead's machine), else the repo's copy."""
    shared = REPO.parent / "shared" / "corpora" / "loghub"
    return shared if shared.is_dir() else REPO / "corpora" / "loghub"


def peers() -> dict[str, object]:
    """Compressors to compare with: name -> bytes -> compressed bytes."""
    out: dict[str, object] = {
        "gzip -9": lambda d: gzip.compress(d, 9, mtime=0),
        "xz -9": lambda d: lzma.compress(d, preset=9),
        "zstd -19": zstandard.ZstdCompressor(level=19).compress,
    }
    try:
        import pyppmd

        out["PPMd o8"] = lambda d: pyppmd.compress(d, max_order=8, mem_size=64 << 20)
    except ImportError:
        print("pyppmd not installed: PPMd column skipped", file=sys.stderr)
    return out


def geomean(values: list[float]) -> float:
    return math.exp(sum(map(math.log, values)) / len(values))


def ratio_table(effort: str) -> tuple[str, dict[str, float]]:
    """Markdown table of ratios per sample, and the speeds."""
    folder = sample_dir()
    codec = LogsCodec(effort)
    others = peers()
    names = ["ours", *others]
    ratios: dict[str, list[float]] = {n: [] for n in names}
    rows = []
    total = enc_s = dec_s = 0.0
    beats_xz = 0
    for system in SYSTEMS:
        data = (folder / system / f"{system}_2k.log").read_bytes()
        t0 = time.perf_counter()
        payload = codec.encode(data)
        t1 = time.perf_counter()
        back = codec.decode(payload, len(data))
        t2 = time.perf_counter()
        if back != data:
            raise SystemExit(f"{system}: round trip FAILED")
        total += len(data)
        enc_s += t1 - t0
        dec_s += t2 - t1
        sizes = {"ours": len(payload)} | {n: len(f(data)) for n, f in others.items()}
        for n in names:
            ratios[n].append(len(data) / sizes[n])
        beats_xz += sizes["ours"] < sizes["xz -9"]
        cells = " | ".join(f"{sizes[n]:,} ({len(data) / sizes[n]:.1f})" for n in names)
        rows.append(f"| {system} | {len(data):,} | {cells} |")
    head = "| sample | bytes | " + " | ".join(f"{n}: bytes (ratio)" for n in names) + " |"
    sep = "|---" * (len(names) + 2) + "|"
    means = " | ".join(f"**{geomean(ratios[n]):.2f}**" for n in names)
    rows.append(f"| **geometric mean ratio** | | {means} |")
    stats = {
        "geomean": geomean(ratios["ours"]),
        "geomean_xz": geomean(ratios["xz -9"]),
        "beats_xz": beats_xz,
        "enc_mbs": total / enc_s / 1e6,
        "dec_mbs": total / dec_s / 1e6,
    }
    return "\n".join([head, sep, *rows]), stats


def build_big_log(size: int) -> bytes:
    """About `size` bytes: each sample repeated in its own contiguous block."""
    folder = sample_dir()
    per_system = size // len(SYSTEMS)
    parts = []
    for system in SYSTEMS:
        data = (folder / system / f"{system}_2k.log").read_bytes()
        if not data.endswith(b"\n"):
            data += b"\n"
        parts.append(data * max(1, per_system // len(data)))
    return b"".join(parts)


def grep_count(pattern: str, path: Path, regex: bool) -> int:
    """Matching lines per the system grep (or Python when there is none)."""
    exe = shutil.which("grep")
    if exe is not None:
        flag = "-E" if regex else "-F"
        r = subprocess.run([exe, "-c", flag, "--", pattern, str(path)], capture_output=True)
        return int(r.stdout or 0)
    import re

    rx = re.compile(pattern.encode() if regex else re.escape(pattern.encode()))
    with open(path, "rb") as f:
        return sum(1 for line in f if rx.search(line))


def search_table(size_mb: int, effort: str) -> tuple[str, dict[str, float]]:
    """Build the big archive, then time each query both ways."""
    data = build_big_log(size_mb * 1_000_000)
    rows = []
    stats: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        archive_path = Path(tmp) / "big.log.ncz"
        t0 = time.perf_counter()
        with LogArchive(archive_path, "w", effort=effort, fsync=False) as archive:
            view = memoryview(data)
            step = 1 << 20
            for i in range(0, len(data), step):
                archive.write(bytes(view[i : i + step]))
        t_comp = time.perf_counter() - t0
        coded = archive_path.stat().st_size
        plain = Path(tmp) / "big.log"
        t0 = time.perf_counter()
        with open(archive_path, "rb") as src, open(plain, "wb") as dst:
            Decompressor(workers=1).decompress_stream(src, dst)
        t_dec = time.perf_counter() - t0
        if plain.read_bytes() != data:
            raise SystemExit("100 MB archive round trip FAILED")
        stats.update(
            {"big_mb": len(data) / 1e6, "big_ratio": len(data) / coded, "big_enc_mbs": 0.0}
        )
        stats["big_enc_mbs"] = len(data) / t_comp / 1e6
        stats["big_dec_mbs"] = len(data) / t_dec / 1e6
        speedups = []
        for label, pattern, opts in QUERIES:
            regex = bool(opts.get("regex"))
            t0 = time.perf_counter()
            n_grep = grep_count(pattern, plain, regex) if "since" not in opts else None
            t_grep = t_dec + time.perf_counter() - t0
            t0 = time.perf_counter()
            n_ours = sum(1 for _ in LogArchive(archive_path, "r").search(pattern, **opts))
            t_ours = time.perf_counter() - t0
            if n_grep is not None and n_grep != n_ours:
                raise SystemExit(f"{label}: search found {n_ours} lines, grep {n_grep}")
            speedups.append(t_grep / t_ours)
            grep_cell = f"{t_grep:.2f}" + ("" if n_grep is not None else " (decompress only)")
            rows.append(
                f"| {label} | `{pattern}`{' ' + str(opts) if opts else ''} | {n_ours:,} | "
                f"{t_ours:.2f} | {grep_cell} | {t_grep / t_ours:.1f}x |"
            )
        stats["min_speedup"] = min(speedups)
    head = "| query | pattern | lines | search s | decompress + grep s | speedup |"
    return "\n".join([head, "|---|---|---|---|---|---|", *rows]), stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 100 MB search benchmark")
    parser.add_argument("--size-mb", type=int, default=100, help="size of the search log")
    parser.add_argument("--effort", default="fast", choices=["fast", "max"])
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()

    table, st = ratio_table(args.effort)
    parts = [
        "## Logs codec (`logs`, effort " + args.effort + ")",
        "",
        "Ratio = raw / compressed on the Loghub 2k samples, one chunk per file; every payload "
        "of ours was decoded and compared byte for byte. gzip/xz/zstd via Python's gzip, lzma "
        "(preset 9) and python-zstandard (level 19); PPMd var. I order 8, 64 MiB (pyppmd).",
        "",
        table,
        "",
        f"Ours beats xz -9 on {st['beats_xz']} of {len(SYSTEMS)} samples. Codec speed on these "
        f"samples (one process): compress {st['enc_mbs']:.2f} MB/s, decompress "
        f"{st['dec_mbs']:.2f} MB/s.",
    ]
    if not args.quick:
        search, ss = search_table(args.size_mb, args.effort)
        parts += [
            "",
            f"### Search in a {ss['big_mb']:.0f} MB log archive",
            "",
            "Each sample repeated in its own block (so each system's lines are contiguous), "
            f"appended through `LogArchive` in 4 MiB chunks: compress {ss['big_enc_mbs']:.2f} "
            f"MB/s, ratio {ss['big_ratio']:.1f} (inflated by the repetition), decompress "
            f"{ss['big_dec_mbs']:.2f} MB/s (one process). Decompress + grep = single-process "
            "`ncz -d`-equivalent to a file, then `grep -c -F/-E`.",
            "",
            search,
        ]
    markdown = "\n".join(parts)
    print(markdown)
    if not args.no_write:
        update_section("logs", markdown)


if __name__ == "__main__":
    main()
