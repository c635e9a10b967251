"""Throughput of `--cluster` against the number of Ray workers on this machine, a model of N
nodes from the measured per-chunk costs, and the driver's peak memory on a large input.

Usage: python scripts/bench_cluster.py [--size 8M] [--chunk-size 1M] [--workers 1,2]
       [--repeat 1] [--rss-size 1G] [--no-write] [--cpu]

Starts a private local Ray instance as `--cluster local` does (`nacrith.cluster.local`), with
one CPU per worker asked for, then:

1. codes a generated text of `--size` bytes with the `fib` codec in this process (no Ray),
   and on the Ray instance with each worker count (`--repeat` rounds of them in turn, and the
   median speedup); every archive must equal the local one;
2. models N actors (nodes x cores) from those runs: time(N) = startup + chunks x max(c / N, d),
   with c the coding time of one chunk (the local run), d the driver's CPU time per chunk in
   the cluster runs (segmenting, digests, Ray calls, writing, and the long-range look-ahead
   before the first chunk, also timed alone) and startup the actors' start;
3. in a fresh driver process, codes a generated file of `--rss-size` bytes (zstd, whose cost
   is mostly the driver's) on the same instance, the actors reading the shared file, and
   reports that process's peak RSS.

Writes the tables into BENCHMARKS.md (section "cluster") and prints them.

With `--cpu`, instead: one run of `--size` bytes on the largest worker count, with the CPU
seconds of every process of the run read from /proc (driver, actors, GCS server, raylet,
agents, monitors) and the driver under cProfile; into section "cluster-cpu".
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

from benchmd import machine_line, update_section  # noqa: E402
from ray_cpu import CpuSampler  # noqa: E402

from nacrith.api import Compressor  # noqa: E402
from nacrith.cluster.connect import connect  # noqa: E402
from nacrith.cluster.local import start_private  # noqa: E402
from nacrith.sizes import parse_size  # noqa: E402

MODEL_ACTORS = (1, 2, 8, 32, 128, 512)


def make_text(size: int, seed: int = 7) -> bytes:
    """`size` bytes of lines of made-up words."""
    rng = random.Random(seed)
    words = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
        for _ in range(3000)
    ]
    out = bytearray()
    while len(out) < size:
        out += (" ".join(rng.choice(words) for _ in range(rng.randint(4, 14))) + "\n").encode()
    return bytes(out[:size])


class _Count(io.RawIOBase):
    """A writer that keeps only the number of bytes written."""

    def __init__(self) -> None:
        self.n = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.n += len(data)
        return len(data)


def timed_compress(path: Path, size: int, **settings: object) -> tuple[bytes, float, float]:
    """(archive, wall seconds, this process's CPU seconds) of coding the file at `path`."""
    out = io.BytesIO()
    wall, cpu = time.perf_counter(), time.process_time()
    with Compressor("fib", **settings) as compressor, path.open("rb") as reader:  # type: ignore[arg-type]
        compressor.compress_stream(reader, out, size)
    return out.getvalue(), time.perf_counter() - wall, time.process_time() - cpu


def look_ahead_cost(path: Path, chunk: int) -> tuple[float, str]:
    """CPU seconds of the long-range look-ahead the driver runs on `path` before its first
    chunk (as `compress_stream` calls it for fib with `chunk`-byte chunks), and its verdict."""
    from nacrith import pipeline
    from nacrith.formats.long_range.lookahead import look_ahead
    from nacrith.formats.long_range.reader import may_pay

    distance = pipeline._long_range_distance(pipeline.Settings("fib", chunk_size=chunk))
    start = time.process_time()
    with path.open("rb") as reader:
        first = reader.read(pipeline.BLOCK_SIZE)
        ahead = look_ahead(
            first,
            reader,
            distance,
            pipeline.LONG_RANGE_WINDOW_LOG,
            pipeline.BLOCK_SIZE,
            pipeline.LONG_RANGE_LOOKAHEAD,
        )
    seconds = time.process_time() - start
    if ahead.encoder is not None:
        verdict = "the pass pays"
    elif may_pay(ahead.probe):
        verdict = "the probe let the full search run; it did not pay"
    else:
        verdict = "the probe found too few far repeats, no full search"
    return seconds, f"{verdict}; {sum(map(len, ahead.blocks)) / 1e6:.1f} MB read ahead"


def rss_child(path: str, address: str) -> None:
    """In a fresh process: code `path` on the cluster with zstd; print the peak RSS in MiB."""
    from nacrith.cluster.connect import connect

    connect(address)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = os.path.getsize(path)
    start = time.perf_counter()
    with Compressor("zstd", cluster=address) as compressor, open(path, "rb") as reader:
        written = compressor.compress_stream(reader, _Count(), size)  # type: ignore[arg-type]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{before:.0f} {peak:.0f} {time.perf_counter() - start:.1f} {written}")


def write_big(path: Path, size: int) -> None:
    """`size` bytes of text blocks, each a little different (so no block repeats whole)."""
    block = make_text(1 << 20, seed=3)
    with path.open("wb") as out:
        for i in range(-(-size // len(block))):
            out.write((b"%08d" % i + block[8:])[: size - i * len(block)])


def profile_top(profile: cProfile.Profile, count: int) -> list[str]:
    """Markdown rows: the driver's `count` functions of most own time."""
    stats = pstats.Stats(profile)
    rows = [
        "| function | calls | own s | with callees s |",
        "| --- | ---: | ---: | ---: |",
    ]
    entries = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])  # type: ignore[attr-defined]
    for (filename, line, name), (_cc, calls, own, cumulative, _callers) in entries[:count]:
        where = filename.replace(str(REPO) + "/", "").rsplit("site-packages/", 1)[-1]
        rows.append(f"| `{name}` ({where}:{line}) | {calls} | {own:.3f} | {cumulative:.3f} |")
    return rows


def cpu_run(args: argparse.Namespace, address: str, workers: int) -> str:
    """The `--cpu` report: CPU per process and the driver's profile over one cluster run."""
    size, chunk = parse_size(args.size), parse_size(args.chunk_size)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.txt"
        path.write_bytes(make_text(size))
        warm = Path(tmp) / "warm.txt"
        warm.write_bytes(make_text(1000))
        timed_compress(warm, 1000, cluster=address, workers=workers)  # Ray's worker pool warm
        profile = cProfile.Profile(time.process_time)  # CPU time: waits on the actors are free
        with CpuSampler() as sampler:
            profile.enable()
            _archive, wall, cpu = timed_compress(
                path, size, chunk_size=chunk, cluster=address, workers=workers
            )
            profile.disable()
    lines = [
        machine_line(),
        "",
        f"`python scripts/bench_cluster.py --cpu --size {args.size} --chunk-size "
        f"{args.chunk_size} --workers {args.workers}`: fib on {size / 1e6:.1f} MB, "
        f"{-(-size // chunk)} chunks, {workers} Ray workers: {wall:.1f} s wall. CPU seconds "
        f"each process spent during the run, read from /proc (the driver under cProfile; "
        f"load average {os.getloadavg()[0]:.2f} at the end; the whole machine was busy "
        f"{sampler.machine:.1f} CPU s of {os.cpu_count()} x {sampler.wall:.1f} s):",
        "",
        *sampler.table(),
        "",
        f"The driver's profile ({cpu:.2f} CPU s under cProfile, functions of most own CPU time):",
        "",
        *profile_top(profile, 15),
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="8M")
    ap.add_argument("--chunk-size", default="1M")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--rss-size", default="1G")
    ap.add_argument("--repeat", type=int, default=1, help="rounds of the worker counts")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--cpu", action="store_true", help="CPU per process and driver profile")
    ap.add_argument("--rss-child", nargs=2, metavar=("PATH", "ADDRESS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rss_child:
        rss_child(*args.rss_child)
        return
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    counts = [int(n) for n in args.workers.split(",")]
    # a private instance, whatever cluster this machine also runs, as `--cluster local` starts
    instance = start_private(num_cpus=max(counts))
    address = instance.address
    ray = connect(address)
    if args.cpu:
        body = cpu_run(args, address, max(counts))
        ray.shutdown()
        print(body)
        if not args.no_write:
            update_section("cluster-cpu", body)
        return
    size, chunk = parse_size(args.size), parse_size(args.chunk_size)
    chunks = -(-size // chunk)
    lines = [machine_line(), ""]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.txt"
        path.write_bytes(make_text(size))
        local, local_s, _ = timed_compress(path, size, chunk_size=chunk)
        tiny = Path(tmp) / "tiny.txt"
        tiny.write_bytes(make_text(1000))
        startup = max(timed_compress(tiny, 1000, cluster=address, workers=n)[1] for n in counts)
        repeat = f" --repeat {args.repeat}" if args.repeat > 1 else ""
        lines += [
            f"`python scripts/bench_cluster.py --size {args.size} --chunk-size "
            f"{args.chunk_size}{repeat}`: fib on {size / 1e6:.1f} MB of generated text, "
            f"{chunks} chunks; the worker counts in turn, {args.repeat} round(s).",
            "",
            "| run | seconds | MB/s | speedup over 1 Ray worker (same round) | archive = local |",
            "| --- | ---: | ---: | ---: | --- |",
            f"| in-process (no Ray) | {local_s:.1f} | {size / 1e6 / local_s:.3f} | | |",
        ]
        driver_per_chunk = 0.0
        speedups: dict[int, list[float]] = {n: [] for n in counts}
        for round_ in range(1, args.repeat + 1):
            one = None
            for n in counts:
                archive, wall, cpu = timed_compress(
                    path, size, chunk_size=chunk, cluster=address, workers=n
                )
                one = one or wall
                speedups[n].append(one / wall)
                driver_per_chunk = max(driver_per_chunk, cpu / chunks)
                label = f"{n} Ray worker{'s' if n > 1 else ''}"
                if args.repeat > 1:
                    label += f", round {round_}"
                lines.append(
                    f"| {label} | {wall:.1f} | {size / 1e6 / wall:.3f} "
                    f"| {one / wall:.2f}x | {'yes' if archive == local else 'NO'} |"
                )
        if args.repeat > 1:
            lines += [
                "",
                "Median speedup over 1 Ray worker: "
                + ", ".join(
                    f"{n} workers {statistics.median(speedups[n]):.2f}x" for n in counts[1:]
                )
                + ".",
            ]
        per_chunk = local_s / chunks
        ahead_s, verdict = look_ahead_cost(path, chunk)
        lines += [
            "",
            f"Model of N actors (nodes x cores) from these costs: a chunk codes in "
            f"{per_chunk:.2f} s, the driver spends {driver_per_chunk * 1000:.1f} ms of CPU per "
            f"chunk, actors start in {startup:.1f} s; time(N) = startup + chunks x max(c / N, d). "
            f"Of the driver's CPU, the long-range look-ahead it runs before the first chunk "
            f"takes {ahead_s:.2f} s ({verdict}). "
            f"For 1 GB ({-(-(10**9) // chunk)} chunks of {args.chunk_size}):",
            "",
            "| actors | hours | MB/s |",
            "| ---: | ---: | ---: |",
        ]
        big_chunks = -(-(10**9) // chunk)
        for n in MODEL_ACTORS:
            seconds = startup + big_chunks * max(per_chunk / n, driver_per_chunk)
            lines.append(f"| {n} | {seconds / 3600:.2f} | {1000 / seconds:.2f} |")
        big = Path(tmp) / "big.txt"
        rss_size = parse_size(args.rss_size)
        write_big(big, rss_size)
        out = subprocess.run(
            [sys.executable, __file__, "--rss-child", str(big), address],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        before, peak, seconds, written = out[-4:]
        lines += [
            "",
            f"Driver memory: zstd on a {rss_size / 2**30:.2f} GiB generated file through "
            f"{max(counts)} Ray workers reading the shared file: peak RSS {peak} MiB "
            f"({before} MiB once connected, before coding), {seconds} s, archive {written} bytes.",
        ]
    ray.shutdown()
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        update_section("cluster", body)


if __name__ == "__main__":
    main()
