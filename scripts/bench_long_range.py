"""The long-range pass on texts whose repeats lie farther apart than a chunk: `ncz --fast` and
`ncz -m xz` with and without the pass, against xz -9e and zstd -19 --long.

Files (generated with fixed seeds): `bench_fast.long_range_text` (12 MB, repeats 9 MB apart)
and `long_range_text_40m` below (40 MB, repeats 20-30 MiB apart). `ncz auto` is left out
unless `--auto` is given: on text it runs the neural codec, hours for these files on a CPU.
"Without the pass" is the same method with the pass switched off
(`nacrith.pipeline.NO_LONG_RANGE`), measured in the same run. Every round trip is checked byte
for byte; one timed run each (`--min-time` for more).

Results go to the `long-range` section of BENCHMARKS.md (`--no-write`: print only);
`--pass-only` measures the pass alone (no chunk codec), and its sampled probe, also on a text
without far repeats, into section `long-range-pass`.

Usage: OPENBLAS_NUM_THREADS=1 python scripts/bench_long_range.py [--no-write] [--quick]
       [--auto] [--workers N] [--min-time S] [--pass-only] [--file PART] [--skip NAME]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fast import SEED, _prose, _words, long_range_text
from benchmd import update_section

from nacrith import pipeline
from nacrith.bench.collect import BenchFile
from nacrith.bench.measure import Result, measure
from nacrith.bench.peers import PEERS, Contender

MB = 1_000_000
MiB = 1 << 20


def long_range_text_40m(size: int = 40 * MB) -> bytes:
    """Text of `size` bytes: 25 MB of prose, then 1 MB pieces each copied, with one changed
    letter every 4 KB, from 20 to 30 MiB earlier (a 16 MiB chunk never holds both copies)."""
    rng = random.Random(SEED + 40)
    vocab = _words(rng, 20000)
    fresh = 25 * MB
    out = bytearray(_prose(rng, vocab, fresh).encode()[:fresh])
    piece = 1 * MB
    while len(out) < size:
        distance = rng.randint(20 * MiB, min(30 * MiB, len(out) - piece))
        start = len(out) - distance
        copy = bytearray(out[start : start + min(piece, size - len(out))])
        for pos in range(rng.randrange(4096), len(copy), 4096):
            copy[pos] = ord(rng.choice("abcdefghij"))
        out += copy
    return bytes(out[:size])


GENERATED: dict[str, Callable[[], bytes]] = {
    "generated/long-range-12M.txt": long_range_text,
    "generated/long-range-40M.txt": long_range_text_40m,
}


@contextmanager
def _without_pass(method: str) -> Iterator[None]:
    saved = pipeline.NO_LONG_RANGE
    pipeline.NO_LONG_RANGE = saved | {method}
    try:
        yield
    finally:
        pipeline.NO_LONG_RANGE = saved


def ncz(method: str, workers: int | None, long_range: bool = True) -> Contender:
    """`method` through the library, with or without the long-range pass."""
    from nacrith.api import Compressor, Decompressor

    compressor = Compressor(method, workers=workers)
    decompressor = Decompressor(workers=workers)

    def compress(data: bytes) -> bytes:
        if long_range:
            return compressor.compress(data)
        with _without_pass(method):
            return compressor.compress(data)

    def close() -> None:
        compressor.close()
        decompressor.close()

    flag = "--fast" if method == "fast" else f"-m {method}"
    label = f"ncz {flag}" + ("" if long_range else " (no long range)")
    settings = f"nacrith.Compressor({method!r}, workers={workers})" + (
        "" if long_range else ", pass off"
    )
    return Contender(label, "ncz", compress, decompressor.decompress, settings, close=close)


def _cell(result: Result | None) -> tuple[str, str]:
    if result is None:
        return "-", "-"
    if result.error is not None or result.compressed is None:
        return "FAILED", "-"
    c = result.compress_kbps
    d = result.decompress_kbps
    speed = f"{c / 1000:.2f} / {d / 1000:.2f}" if c and d else "-"
    return f"{result.compressed:,}", speed


def markdown(
    files: Sequence[BenchFile], results: dict[str, dict[str, Result]], contenders: list[Contender]
) -> str:
    """The BENCHMARKS.md section."""
    names = [c.name for c in contenders]
    size_rows, speed_rows = [], []
    for bench_file in files:
        row = results[bench_file.label]
        cells = [_cell(row.get(name)) for name in names]
        size_rows.append(
            f"| {bench_file.label} | {bench_file.size:,} | "
            + " | ".join(size for size, _ in cells)
            + " |"
        )
        speed_rows.append(f"| {bench_file.label} | " + " | ".join(s for _, s in cells) + " |")
    head = " | ".join(names)
    return "\n".join(
        [
            "## Long range",
            "",
            "Texts whose repeats lie farther apart than a chunk (`nacrith.formats.long_range`): "
            "compressed bytes, with and without the long-range pass (same run), against xz -9e "
            "and zstd -19 --long. Every round trip was verified byte for byte.",
            "",
            f"| file | bytes | {head} |",
            "|---|---:|" + "---:|" * len(names),
            *size_rows,
            "",
            "Compress / decompress MB/s (10^6 bytes of input per second, best wall time; "
            f"1-minute load average {os.getloadavg()[0]:.1f} at the end, a shared 2-core "
            "machine):",
            "",
            f"| file | {head} |",
            "|---|" + "---:|" * len(names),
            *speed_rows,
            "",
            "Contenders: "
            + "; ".join(f"`{c.name}`: {c.settings}" for c in contenders)
            + ". Generated files: `bench_fast.long_range_text` and "
            f"`bench_long_range.long_range_text_40m` (seeds {SEED} and {SEED + 40}).",
        ]
    )


def _no_far_repeats() -> bytes:
    """The input of `bench_cluster.py` (lines of made-up words, 32 MiB): no far repeats."""
    from bench_cluster import make_text

    return make_text(32 * MiB)


def _probe(data: bytes) -> tuple[float, bool]:
    """Seconds of the sampled probe over `data` (frames of `pipeline.BLOCK_SIZE`, as the
    pipeline's look-ahead runs it) and whether it lets the full search run."""
    from nacrith.formats.long_range import LongRangeEncoder
    from nacrith.formats.long_range.reader import may_pay

    step = pipeline.BLOCK_SIZE
    start = time.perf_counter()
    probe = LongRangeEncoder(
        pipeline.LONG_RANGE_MIN_DISTANCE, pipeline.LONG_RANGE_WINDOW_LOG, sampled=True
    )
    for i in range(0, len(data), step):
        probe.scan(data[i : i + step])
    return time.perf_counter() - start, may_pay(probe.stats)


def pass_costs(quick: bool) -> str:
    """The pass alone (`formats.long_range`, frames of `pipeline.BLOCK_SIZE`): MB/s of the
    sampled probe, the encoder and the decoder, matched bytes and stream size, as a
    BENCHMARKS.md section."""
    from nacrith.formats.long_range import LongRangeDecoder, LongRangeEncoder

    rows = []
    inputs = {**GENERATED, "generated/no-far-repeats-32M.txt": _no_far_repeats}
    for name, make in inputs.items():
        if quick and "40M" in name:
            continue
        data = make()
        probe_s, may = _probe(data)
        step = pipeline.BLOCK_SIZE
        start = time.perf_counter()
        encoder = LongRangeEncoder(pipeline.LONG_RANGE_MIN_DISTANCE, pipeline.LONG_RANGE_WINDOW_LOG)
        frames = [encoder.header()]
        frames += [encoder.frame(data[i : i + step]) for i in range(0, len(data), step)]
        stream = b"".join([*frames, encoder.end()])
        encode_s = time.perf_counter() - start
        out: list[bytes] = []
        start = time.perf_counter()
        decoder = LongRangeDecoder(out.append)
        decoder.feed(stream)
        decoder.finish()
        decode_s = time.perf_counter() - start
        if b"".join(out) != data:
            raise SystemExit(f"{name}: the long-range stream does not expand to the input")
        stats = encoder.stats
        rows.append(
            f"| {name} | {len(data):,} | {len(data) / MB / probe_s:.1f} | "
            f"{'yes' if may else 'no'} | {stats.matched:,} | {stats.matches:,} | "
            f"{len(stream):,} | {len(data) / MB / encode_s:.1f} | {len(data) / MB / decode_s:.1f} |"
        )
    return "\n".join(
        [
            "### Long range: the pass alone",
            "",
            "The long-range stream of each file (minimum distance "
            f"{pipeline.LONG_RANGE_MIN_DISTANCE >> 20} MiB, window "
            f"2^{pipeline.LONG_RANGE_WINDOW_LOG}, frames of "
            f"{pipeline.BLOCK_SIZE >> 20} MiB), before any chunk codec: MB/s of the sampled "
            "probe over the whole file and whether it lets the full search run (the pipeline "
            "probes at most its look-ahead and codes the input without the pass where the "
            "probe says no), bytes covered by matches, stream size, and MB/s of the encoder "
            "(search included) and decoder "
            f"(1-minute load average {os.getloadavg()[0]:.1f}, a shared 2-core machine).",
            "",
            "| file | bytes | probe MB/s | probe: search | matched | matches | stream "
            "| encode MB/s | decode MB/s |",
            "|---|---:|---:|---|---:|---:|---:|---:|---:|",
            *rows,
        ]
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print, do not touch BENCHMARKS")
    parser.add_argument("--quick", action="store_true", help="the 12 MB text only")
    parser.add_argument("--auto", action="store_true", help="also `ncz auto` (the neural codec)")
    parser.add_argument("--workers", type=int, default=None, help="ncz workers (default: none)")
    parser.add_argument("--min-time", type=float, default=0.0, help="seconds of runs per timing")
    parser.add_argument(
        "--pass-only", action="store_true", help="the pass alone (section long-range-pass)"
    )
    parser.add_argument("--file", default="", help="only files whose name holds this")
    parser.add_argument(
        "--skip", action="append", default=[], metavar="NAME", help="leave a contender out"
    )
    args = parser.parse_args(argv)
    if args.pass_only:
        text = pass_costs(args.quick)
        print(text)
        if not args.no_write:
            update_section("long-range-pass", text)
        return
    contenders = [
        ncz("fast", args.workers),
        PEERS["xz"](),
        PEERS["zstd"](),
        ncz("xz", args.workers),
        *([ncz("auto", args.workers)] if args.auto else []),
        ncz("fast", args.workers, long_range=False),
        ncz("xz", args.workers, long_range=False),
    ]
    contenders = [c for c in contenders if c.name not in args.skip]
    results: dict[str, dict[str, Result]] = {}
    files = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench_long_range-") as tmp:
            for name, make in GENERATED.items():
                if (args.quick and "40M" in name) or args.file not in name:
                    continue
                path = Path(tmp) / Path(name).name
                path.write_bytes(make())
                bench_file = BenchFile(name, path, path.stat().st_size, "generated")
                files.append(bench_file)
                data = bench_file.read()
                row = results.setdefault(name, {})
                for contender in contenders:
                    row[contender.name] = result = measure(
                        contender, bench_file, data, args.min_time
                    )
                    print(
                        f"{name:32} {contender.name:28} {result.compressed or 0:>12,} "
                        f"{_cell(result)[1]:>14} {result.error or ''}",
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        for contender in contenders:
            contender.close()
    text = markdown(files, results, contenders)
    print(text)
    if not args.no_write:
        update_section("long-range", text)


if __name__ == "__main__":
    main()
