"""Huge inputs through `ncz`: streaming round trips with peak memory measured.

    python scripts/scale_test.py --size 1G --method zstd --method fib --method logs
    python scripts/scale_test.py --size 1G --method zstd --method logs --method fib@512M
    python scripts/scale_test.py --size 10M --method llm

A deterministic synthetic input (log lines mixed with prose from the committed corpora, in
random proportions) is generated on the fly and piped into `ncz compress -c -`; the archive is
written to a temporary file, decoded with `ncz decompress -c`, and the output is hashed as it
streams, so neither side of the test needs the input on disk. `METHOD@SIZE` overrides the size
for one method (for slow methods).

Peak memory is sampled from /proc every 0.1 s while each command runs: the sum of the resident
sets of the `ncz` process and all its descendants (worker processes included), and the largest
single process among them. Linux only.

Writes the table to the `scale` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmd import update_section

REPO = Path(__file__).resolve().parent.parent
NCZ = [sys.executable, "-m", "nacrith.cli"]
PIECE = 1 << 20


def parse_size(text: str) -> int:
    """'1G', '10M', '500k' or a plain number of bytes."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    text = text.strip().lower()
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def synthetic(size: int, seed: int = 7) -> Iterator[bytes]:
    """Deterministic log/text mix, `size` bytes, in pieces of about 1 MiB."""
    rng = random.Random(seed)
    prose = (REPO / "corpora" / "canterbury" / "alice29.txt").read_bytes()
    prose += (REPO / "corpora" / "canterbury" / "lcet10.txt").read_bytes()
    logs = [p.read_bytes() for p in sorted((REPO / "corpora" / "loghub").glob("*/*_2k.log"))]
    produced = 0
    while produced < size:
        parts = []
        length = 0
        while length < PIECE:
            if rng.random() < 0.6:
                source = rng.choice(logs)
                lines = source.splitlines(keepends=True)
                start = rng.randrange(len(lines))
                block = b"".join(lines[start : start + rng.randint(20, 400)])
                # vary the numbers so the stream is not one long repeat
                block = block.replace(b"2015", str(2015 + rng.randint(0, 9)).encode())
            else:
                start = rng.randrange(len(prose))
                block = prose[start : start + rng.randint(2_000, 60_000)]
            parts.append(block)
            length += len(block)
        piece = b"".join(parts)[: size - produced]
        produced += len(piece)
        yield piece


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _tree_rss(root: int) -> tuple[int, int]:
    """(sum, largest) resident bytes of process `root` and all its descendants, from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: fields start after the last ')'
        fields = stat[stat.rfind(b")") + 2 :].split()
        parents[int(entry)] = int(fields[1])
    members = {root}
    grew = True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in members and pid not in members:
                members.add(pid)
                grew = True
    total = largest = 0
    for pid in members:
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                rss = int(f.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue
        total += rss
        largest = max(largest, rss)
    return total, largest


class PeakRSS:
    """Samples `_tree_rss(pid)` in a thread until stopped; keeps the peaks (bytes)."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.total = 0
        self.largest = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            total, largest = _tree_rss(self.pid)
            self.total = max(self.total, total)
            self.largest = max(self.largest, largest)
            self._stop.wait(self.interval)

    def stop(self) -> PeakRSS:
        """Stop sampling; returns self."""
        self._stop.set()
        self._thread.join()
        return self


def _feed(proc: subprocess.Popen[bytes], size: int, digest: hashlib._Hash) -> None:
    assert proc.stdin is not None
    for piece in synthetic(size):
        digest.update(piece)
        proc.stdin.write(piece)
    proc.stdin.close()


def run(method: str, size: int, workers: int, gpu: bool = False) -> dict[str, object]:
    """One round trip; returns sizes, times, peak RSS and whether the output matched.

    `gpu` passes `--gpu` to both commands (the `llm` codec's model on a GPU)."""
    device = ["--gpu"] if gpu else []
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "big.ncz"
        source_hash = hashlib.sha256()
        start = time.monotonic()
        with archive.open("wb") as sink:
            proc = subprocess.Popen(
                [*NCZ, "compress", "-q", "-m", method, "-T", str(workers), *device, "-c", "-"],
                stdin=subprocess.PIPE,
                stdout=sink,
            )
            peak_c = PeakRSS(proc.pid)
            feeder = threading.Thread(target=_feed, args=(proc, size, source_hash))
            feeder.start()
            feeder.join()
            rc = proc.wait()
            peak_c.stop()
        compress_s = time.monotonic() - start
        if rc != 0:
            return {"method": method, "bytes": size, "error": f"compress exit {rc}"}
        out_hash = hashlib.sha256()
        start = time.monotonic()
        proc = subprocess.Popen(
            [*NCZ, "decompress", "-q", "-T", str(workers), *device, "-c", str(archive)],
            stdout=subprocess.PIPE,
        )
        peak_d = PeakRSS(proc.pid)
        assert proc.stdout is not None
        while chunk := proc.stdout.read(PIECE):
            out_hash.update(chunk)
        rc = proc.wait()
        peak_d.stop()
        decompress_s = time.monotonic() - start
        return {
            "method": method,
            "bytes": size,
            "archive": archive.stat().st_size,
            "compress_s": compress_s,
            "decompress_s": decompress_s,
            "peak_c_mib": peak_c.total / (1 << 20),
            "peak_d_mib": peak_d.total / (1 << 20),
            "peak_single_mib": max(peak_c.largest, peak_d.largest) / (1 << 20),
            "ok": rc == 0 and out_hash.digest() == source_hash.digest(),
        }


def main() -> int:
    """Command-line entry."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1G", help="input size, e.g. 1G, 512M, 10M")
    parser.add_argument(
        "--method", action="append", default=None, help="METHOD or METHOD@SIZE (repeatable)"
    )
    parser.add_argument("-T", "--workers", type=int, default=2)
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--gpu", action="store_true", help="pass --gpu to ncz (llm on a GPU)")
    args = parser.parse_args()
    rows = []
    for spec in args.method or ["zstd", "fib", "logs"]:
        method, _, size_text = spec.partition("@")
        size = parse_size(size_text or args.size)
        result = run(method, size, args.workers, args.gpu)
        print(result, flush=True)
        rows.append(result)
    mb = 1e6
    lines = [
        "## Scale: huge inputs streamed through `ncz` (synthetic log/text mix)",
        "",
        "Round trip `ncz compress -c -` then `ncz decompress -c`, verified by sha256 of the "
        "streamed input and output. Peak RSS is sampled from /proc every 0.1 s: the sum over "
        "the ncz process and all its descendants (workers), for compress (C) and decompress "
        "(D), and the largest single process. MB/s counts input bytes (10^6).",
        "",
        "| method | input bytes | archive bytes | ratio | compress s | MB/s | decompress s "
        "| MB/s | peak RSS C MiB | peak RSS D MiB | largest process MiB | round trip |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['method']} | {r['bytes']:,} | | | | | | | | | | {r['error']} |")
            continue
        n = r["bytes"]
        lines.append(
            f"| {r['method']} | {n:,} | {r['archive']:,} | {n / r['archive']:.2f} | "
            f"{r['compress_s']:.0f} | {n / mb / r['compress_s']:.2f} | "
            f"{r['decompress_s']:.0f} | {n / mb / r['decompress_s']:.2f} | "
            f"{r['peak_c_mib']:.0f} | {r['peak_d_mib']:.0f} | {r['peak_single_mib']:.0f} | "
            f"{'byte-exact' if r['ok'] else 'MISMATCH'} |"
        )
    if not args.no_write:
        update_section("scale", "\n".join(lines))
    print("\n".join(lines))
    return 0 if all(r.get("ok") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
