"""Measure `ncz compress -1` .. `-9`: each level's compress/decompress speed and bits per byte.

Usage: python scripts/bench_levels.py [--file canterbury/alice29.txt] [--llm-limit 4000]
       [--levels 1,6,9] [--no-write]

Levels that use no model code the whole file; the levels that run the `llm` codec code its
first `--llm-limit` bytes, so the run takes minutes on a small CPU (a sample that short holds
fewer tokens than any context, so it shows the model's effect, not the context's). Each
distinct level is run once, in this process, through `nacrith.api` with the settings
`ncz compress -N` uses, one fresh compressor and decompressor per level: model load and
probe are included in the times. Every round trip is checked byte for byte. Writes the table
into BENCHMARKS.md (section "levels") and prints it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

from benchmd import update_section  # noqa: E402

from nacrith.api import Compressor, Decompressor  # noqa: E402
from nacrith.cli.levels import DEFAULT_LEVEL, LEVELS, Level  # noqa: E402


def compressor_for(level: Level) -> Compressor:
    """The compressor `ncz compress -N` builds for `level` (no other option given)."""
    options = {"llm": {"n_ctx": level.context}} if level.context else None
    return Compressor(level.method, model=level.model, options=options)


def uses_model(level: Level) -> bool:
    """Whether the level runs the `llm` codec on text."""
    return level.method in ("auto", "llm")


def measure(level: Level, data: bytes) -> dict[str, float]:
    """Compress and decompress `data` at `level`; sizes, seconds and bits per byte."""
    start = time.perf_counter()
    with compressor_for(level) as compressor:
        archive = compressor.compress(data)
    compress_s = time.perf_counter() - start
    start = time.perf_counter()
    with Decompressor() as decompressor:
        restored = decompressor.decompress(archive)
    decompress_s = time.perf_counter() - start
    if restored != data:
        raise SystemExit(f"level {level}: round trip FAILED")
    return {
        "bytes": len(data),
        "archive": len(archive),
        "bpb": 8 * len(archive) / len(data),
        "compress_kbs": len(data) / 1000 / compress_s,
        "decompress_kbs": len(data) / 1000 / decompress_s,
    }


def table(rows: list[tuple[list[int], Level, dict[str, float]]], name: str) -> str:
    """The markdown section."""
    lines = [
        "## Levels: `ncz compress -1` .. `-9`",
        "",
        f"What each level sets, and its speed and ratio on {name} (whole calls of "
        "`nacrith.api` with the level's settings, model load and probe included; KB = 1,000 "
        "bytes; bpb = bits per byte of the whole archive, header included). Levels with a "
        "model code only the first bytes of the file (the *bytes* column): that sample holds "
        "fewer tokens than any level's context, so it cannot show what a longer context "
        'gains; for that see the whole-file runs in "Ratio: the `llm` codec" '
        '(smollm2-135m at n_ctx 2048 and 8192, gemma3-270m at 2048 and 8192) and "Model '
        'speed by context length", which rank the levels. On so short a sample the archive '
        "header (model fingerprints and settings) is a large share of the archive and the "
        "larger model has not caught up yet; the times were taken while other jobs shared "
        f"the CPU. The default is -{DEFAULT_LEVEL}.",
        "",
        "| levels | settings | bytes | archive | bpb | compress KB/s | decompress KB/s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for numbers, level, r in rows:
        names = ", ".join(f"-{n}" for n in numbers)
        lines.append(
            f"| {names} | `{level.describe()}` | {r['bytes']:,} | {r['archive']:,} | "
            f"{r['bpb']:.4f} | {r['compress_kbs']:.2f} | {r['decompress_kbs']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run the levels and write the section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", default="canterbury/alice29.txt")
    parser.add_argument("--llm-limit", type=int, default=4000)
    parser.add_argument("--levels", default=",".join(str(n) for n in sorted(LEVELS)))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    from nacrith.corpora import local_path

    path = local_path(args.file)
    if path is None:
        raise SystemExit(f"{args.file}: not found in the corpora folders")
    data = Path(path).read_bytes()
    wanted = [int(n) for n in args.levels.split(",")]
    groups: dict[Level, list[int]] = {}
    for number in wanted:
        groups.setdefault(LEVELS[number], []).append(number)
    rows = []
    for level, numbers in groups.items():
        sample = data[: args.llm_limit] if uses_model(level) else data
        print(f"levels {numbers}: {level.describe()} on {len(sample):,} bytes", flush=True)
        result = measure(level, sample)
        print(f"  {result}", flush=True)
        rows.append((numbers, level, result))
    body = table(rows, Path(args.file).name)
    print(body)
    if not args.no_write:
        update_section("levels", body)


if __name__ == "__main__":
    main()
