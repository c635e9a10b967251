"""Timing: every (file, contender) round trip, its best wall time and a byte-for-byte check."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from nacrith.bench.collect import BenchFile
from nacrith.bench.peers import Contender

__all__ = ["KB", "MAX_RUNS", "Result", "measure", "run_bench"]

KB = 1000
MAX_RUNS = 20
WARM_UP = 4096


@dataclass
class Result:
    """One file through one contender."""

    file: str
    size: int
    method: str
    kind: str
    compressed: int | None = None
    compress_s: float | None = None
    decompress_s: float | None = None
    runs: int = 0
    verified: bool = False
    error: str | None = None

    @property
    def bpb(self) -> float | None:
        """Bits per input byte."""
        if self.compressed is None or not self.size:
            return None
        return 8 * self.compressed / self.size

    @property
    def compress_kbps(self) -> float | None:
        """Compression speed in KB/s (1 KB = 1000 bytes)."""
        return _rate(self.size, self.compress_s)

    @property
    def decompress_kbps(self) -> float | None:
        """Decompression speed in KB/s (output bytes)."""
        return _rate(self.size, self.decompress_s)


def _rate(size: int, seconds: float | None) -> float | None:
    if seconds is None or seconds <= 0:
        return None
    return size / KB / seconds


def _timed(
    func: Callable[[bytes], bytes], data: bytes, min_time: float
) -> tuple[float, bytes, int]:
    """Best wall time of `func(data)`, repeated until `min_time` seconds have passed."""
    best, spent, runs = math.inf, 0.0, 0
    while True:
        start = time.perf_counter()
        out = func(data)
        elapsed = time.perf_counter() - start
        best, spent, runs = min(best, elapsed), spent + elapsed, runs + 1
        if spent >= min_time or runs >= MAX_RUNS:
            return best, out, runs


def measure(contender: Contender, bench_file: BenchFile, data: bytes, min_time: float) -> Result:
    """Round-trip `data` through `contender`, timing both ways and comparing the output."""
    result = Result(bench_file.label, len(data), contender.name, contender.kind)
    try:
        result.compress_s, blob, runs = _timed(contender.compress, data, min_time)
        result.compressed = len(blob)
        result.decompress_s, out, runs2 = _timed(contender.decompress, blob, min_time)
    except Exception as exc:  # a compressor failing is a result to report, not a crash
        result.error = f"{type(exc).__name__}: {exc}"
        return result
    result.runs = min(runs, runs2)
    result.verified = out == data
    if not result.verified:
        result.error = f"round trip changed the data ({len(out)} bytes back for {len(data)})"
    return result


def run_bench(
    files: Sequence[BenchFile],
    contenders: Sequence[Contender],
    *,
    min_time: float = 0.1,
    progress: bool = True,
) -> list[Result]:
    """Measure every applicable (file, contender) pair, one file in memory at a time."""
    from nacrith.progress import progress_bar

    results: list[Result] = []
    warmed: set[str] = set()
    with progress_bar(len(files) * len(contenders), "bench", unit="run", enabled=progress) as bar:
        for bench_file in files:
            data = bench_file.read()
            for contender in contenders:
                bar.set_postfix_str(f"{bench_file.label} {contender.name}", refresh=False)
                if contender.applies(bench_file, data):
                    if contender.name not in warmed:  # load models, start pools: untimed
                        warmed.add(contender.name)
                        with contextlib.suppress(Exception):  # the measured run reports it
                            contender.decompress(contender.compress(data[:WARM_UP]))
                    results.append(measure(contender, bench_file, data, min_time))
                bar.update(1)
    return results
