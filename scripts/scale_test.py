"""Huge inputs through `ncz`: streaming round trips with peak memory measured.

    python scripts/scale_test.py --size 1G --method zstd --method fib --method logs
    python scripts/scale_test.py --size 10M --method llm

A deterministic synthetic input (log lines mixed with prose from the committed corpora, in
random proportions) is generated on the fly and piped into `ncz compress -c -`; the archive is
written to a temporary file, decoded with `ncz decompress -c`, and the output is hashed as it
streams, so neither side of the test needs the input on disk. Peak memory is the largest
resident set of any `ncz` process (workers included), from getrusage(RUSAGE_CHILDREN).

Writes the table to the `scale` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import resource
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


def _feed(proc: subprocess.Popen[bytes], size: int, digest: hashlib._Hash) -> None:
    assert proc.stdin is not None
    for piece in synthetic(size):
        digest.update(piece)
        proc.stdin.write(piece)
    proc.stdin.close()


def run(method: str, size: int, workers: int) -> dict[str, object]:
    """One round trip; returns sizes, times, peak RSS and whether the output matched."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "big.ncz"
        source_hash = hashlib.sha256()
        start = time.monotonic()
        with archive.open("wb") as sink:
            proc = subprocess.Popen(
                [*NCZ, "compress", "-q", "-m", method, "-T", str(workers), "-c", "-"],
                stdin=subprocess.PIPE,
                stdout=sink,
            )
            feeder = threading.Thread(target=_feed, args=(proc, size, source_hash))
            feeder.start()
            feeder.join()
            rc = proc.wait()
        compress_s = time.monotonic() - start
        peak_c = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if rc != 0:
            return {"method": method, "error": f"compress exit {rc}"}
        out_hash = hashlib.sha256()
        start = time.monotonic()
        proc = subprocess.Popen(
            [*NCZ, "decompress", "-q", "-T", str(workers), "-c", str(archive)],
            stdout=subprocess.PIPE,
        )
        assert proc.stdout is not None
        while chunk := proc.stdout.read(PIECE):
            out_hash.update(chunk)
        rc = proc.wait()
        decompress_s = time.monotonic() - start
        peak_d = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        return {
            "method": method,
            "bytes": size,
            "archive": archive.stat().st_size,
            "compress_s": compress_s,
            "decompress_s": decompress_s,
            "peak_mib": max(peak_c, peak_d) / 1024,
            "ok": rc == 0 and out_hash.digest() == source_hash.digest(),
        }


def main() -> int:
    """Command-line entry."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1G")
    parser.add_argument("--method", action="append", default=None)
    parser.add_argument("-T", "--workers", type=int, default=2)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    size = parse_size(args.size)
    rows = []
    for method in args.method or ["zstd", "fib", "logs"]:
        result = run(method, size, args.workers)
        print(result, flush=True)
        rows.append(result)
    lines = [
        "## Scale: huge inputs streamed through `ncz` (synthetic log/text mix)",
        "",
        "Peak memory is the largest resident set of any ncz process (getrusage of children, "
        "so the peak over all runs up to that row).",
        "",
        "| method | input bytes | archive bytes | ratio | compress s | decompress s "
        "| peak MiB | round trip |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['method']} | {size:,} | | | | | | {r['error']} |")
            continue
        lines.append(
            f"| {r['method']} | {r['bytes']:,} | {r['archive']:,} | "
            f"{r['bytes'] / r['archive']:.2f} | {r['compress_s']:.0f} | {r['decompress_s']:.0f} | "
            f"{r['peak_mib']:.0f} | {'byte-exact' if r['ok'] else 'MISMATCH'} |"
        )
    if not args.no_write:
        update_section("scale", "\n".join(lines))
    print("\n".join(lines))
    return 0 if all(r.get("ok") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
