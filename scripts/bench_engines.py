"""Whole-file ratio of the `llm` codec per engine, as a user gets it from the command line.

Each run is `ncz compress` with default settings except the engine (and `-T`), in a subprocess;
the archive's whole size counts (container, settings, checksums). `--verify` also runs
`ncz decompress` and compares the bytes. Results are kept per (file, engine) in a JSON file of
the work directory, so the engines can run as separate processes (one core each) and any run
rewrites the table with every stored row.

Usage: python scripts/bench_engines.py [--file alice29.txt] [--engine portable --engine llama]
       [--workers 1] [--verify] [--work DIR] [--no-write] [--merge RESULTS.json] [--render-only]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from benchmd import command_line, machine_line, update_section  # noqa: E402

FILES = {
    "alice29.txt": "canterbury/alice29.txt",
    "asyoulik.txt": "canterbury/asyoulik.txt",
    "xargs.1": "canterbury/xargs.1",
    "enwik6": "enwik/enwik6",
}
SECTION = "engines-whole-file"


def corpus(rel: str) -> Path:
    """Path of a corpus file: the repository's corpora/, $NACRITH_CORPORA_PATH, the cache."""
    from nacrith.corpora import local_path

    path = local_path(rel)
    if path is None:
        raise SystemExit(f"corpus file {rel} not found")
    return path


def ncz(*args: str) -> list[str]:
    """Command line of the `ncz` entry point of this interpreter."""
    return [sys.executable, "-c", "from nacrith.cli import main; main()", *args]


def run_one(path: Path, engine: str, workers: int, verify: bool) -> dict:
    """Compress (and optionally decompress) one file with one engine; sizes and times."""
    with tempfile.TemporaryDirectory(prefix="bench-engines-") as tmp:
        archive = Path(tmp) / (path.name + ".ncz")
        start = time.perf_counter()
        subprocess.run(
            ncz("compress", "-q", "-T", str(workers), "--engine", engine, "-o", str(archive),
                str(path)),
            check=True,
        )  # fmt: skip
        compress_s = time.perf_counter() - start
        row = {
            "bytes": path.stat().st_size,
            "archive": archive.stat().st_size,
            "compress_s": round(compress_s, 1),
            "workers": workers,
            "verified": False,
        }
        if verify:
            start = time.perf_counter()
            out = subprocess.run(
                ncz("decompress", "-q", "-c", "-T", str(workers), str(archive)),
                check=True,
                stdout=subprocess.PIPE,
            ).stdout
            row["decompress_s"] = round(time.perf_counter() - start, 1)
            if out != path.read_bytes():
                raise SystemExit(f"{path.name} ({engine}): decompressed bytes differ")
            row["verified"] = True
    return row


def render(results: dict) -> str:
    """Markdown table of every stored row, engines side by side per file."""
    lines = [
        "`ncz compress` with default settings and `--engine E`; the whole archive file counts.",
        "Times are the wall clock of each row's own run, which may have shared the machine with",
        "other jobs (speed comparisons live in the speed sections). *verified*: the row's run",
        "also decompressed the archive and compared the bytes (`--verify`).",
        "",
        "| file | engine | bytes | archive | bits/byte | vs llama | compress s | decompress s"
        " | verified |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name in sorted(results):
        rows = results[name]
        base = rows.get("llama")
        for engine in sorted(rows):
            r = rows[engine]
            bpb = 8 * r["archive"] / r["bytes"]
            rel = f"{100 * (r['archive'] / base['archive'] - 1):+.2f}%" if base else "-"
            lines.append(
                f"| {name} | {engine} | {r['bytes']:,} | {r['archive']:,} | {bpb:.4f} | {rel} "
                f"| {r['compress_s']} (-T {r['workers']}) | {r.get('decompress_s', '-')} "
                f"| {'yes' if r['verified'] else 'no'} |"
            )
    lines += ["", "Machine and date of each row: " + "; ".join(
        f"{name}/{engine}: {r['machine']}" for name in sorted(results)
        for engine, r in sorted(results[name].items())
    )]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    """Command-line entry."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--file", action="append", choices=sorted(FILES), default=None)
    ap.add_argument("--engine", action="append", choices=["portable", "llama"], default=None)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--verify", action="store_true", help="decompress and compare too")
    ap.add_argument("--work", type=Path, default=ROOT / ".bench" / "engines")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument(
        "--merge",
        type=Path,
        action="append",
        default=[],
        help="also take the rows stored in this results.json (a run in another work directory)",
    )
    ap.add_argument("--render-only", action="store_true", help="write the stored rows, run none")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    store = args.work / "results.json"
    results = json.loads(store.read_text()) if store.exists() else {}
    for other in args.merge:
        for name, rows in json.loads(other.read_text()).items():
            results.setdefault(name, {}).update(rows)
    store.write_text(json.dumps(results, indent=1))
    for name in [] if args.render_only else args.file or ["alice29.txt"]:
        for engine in args.engine or ["portable", "llama"]:
            row = run_one(corpus(FILES[name]), engine, args.workers, args.verify)
            row["machine"] = machine_line() + f"; load {os.getloadavg()[0]:.1f}"
            print(name, engine, json.dumps(row), flush=True)
            results = json.loads(store.read_text()) if store.exists() else {}
            results.setdefault(name, {})[engine] = row
            store.write_text(json.dumps(results, indent=1))
    body = render(json.loads(store.read_text()))
    print(body)
    if not args.no_write:
        update_section(SECTION, body, command_line())


if __name__ == "__main__":
    main()
