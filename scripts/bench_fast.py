"""`ncz --fast` and `ncz auto` against xz -9e, zstd -19 --long and brotli -q 11.

Files: every Canterbury and Canterbury-large file, enwik8's first 3 MB, the Loghub 2k samples
(all through `nacrith.corpora`: the repository's copies, then `$NACRITH_CORPORA_PATH`; a file
found nowhere is listed as missing, never fetched), and two generated inputs written by this
script with a fixed seed: a text whose blocks repeat about 9 MB later (`long_range_text`) and a
JSON document of records with random hex ids (`json_document`).

Contenders: `--fast` (the method the CLI flag maps to; `--fast-method` names it), `auto` only
on log and binary files (on text it runs the neural codec, which is not what this measures),
any method named by `--also` (e.g. `fib`, what `--fast` was before, for a same-run speed
comparison), and the peers of `nacrith.bench.peers`. Every round trip is checked byte for
byte; speeds are the best wall time of runs that together last at least `--min-time` seconds,
in MB/s of original bytes (1 MB = 10^6 bytes).

Results go to the `fast` section of BENCHMARKS.md (`--section` to write another one).

Usage: NACRITH_CORPORA_PATH=/path/to/corpora python scripts/bench_fast.py [--quick] [--no-write]
       [--also METHOD] [--workers N] [--files LABEL,...] [--section NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmd import update_section

from nacrith.bench.collect import BenchFile
from nacrith.bench.measure import Result, measure
from nacrith.bench.peers import PEERS, Contender

#: manifest names benchmarked, in table order, with their kind (text, log or binary)
CORPUS_FILES: tuple[tuple[str, str], ...] = (
    ("canterbury/alice29.txt", "text"),
    ("canterbury/asyoulik.txt", "text"),
    ("canterbury/cp.html", "text"),
    ("canterbury/fields.c", "text"),
    ("canterbury/grammar.lsp", "text"),
    ("canterbury/kennedy.xls", "binary"),
    ("canterbury/lcet10.txt", "text"),
    ("canterbury/plrabn12.txt", "text"),
    ("canterbury/ptt5", "binary"),
    ("canterbury/sum", "binary"),
    ("canterbury/xargs.1", "text"),
    ("canterbury-large/E.coli", "text"),
    ("canterbury-large/bible.txt", "text"),
    ("canterbury-large/world192.txt", "text"),
    ("enwik8-3M", "text"),
    *(
        (f"loghub/{name}_2k.log", "log")
        for name in (
            "Apache",
            "BGL",
            "HDFS",
            "HPC",
            "Hadoop",
            "Linux",
            "OpenSSH",
            "OpenStack",
            "Proxifier",
            "Spark",
            "Zookeeper",
        )
    ),
)
QUICK_FILES = ("canterbury/alice29.txt", "canterbury/sum", "loghub/HDFS_2k.log")
PEER_NAMES = ("xz", "zstd", "brotli")
SEED = 20261206
MB = 1_000_000
WARM_UP = 64 << 10


def _words(rng: random.Random, count: int) -> list[str]:
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    weights = [12, 9, 8, 8, 7, 7, 6, 6, 6, 4, 4, 3, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1]
    return ["".join(rng.choices(letters, weights, k=rng.randint(1, 9))) for _ in range(count)]


def _prose(rng: random.Random, vocab: list[str], size: int) -> str:
    """Sentences of Zipf-distributed words, about `size` characters."""
    weights = [1 / (rank + 1) for rank in range(len(vocab))]
    parts: list[str] = []
    total = 0
    while total < size:
        words = rng.choices(vocab, weights, k=rng.randint(6, 24))
        sentence = " ".join(words).capitalize() + rng.choice((". ", ". ", ", ", "? ", ".\n"))
        parts.append(sentence)
        total += len(sentence)
    return "".join(parts)[:size]


def long_range_text(size: int = 12 * MB, distance: int = 9 * MB) -> bytes:
    """Text of `size` bytes whose first `size - distance` bytes recur, lightly edited, at
    `distance`: a 4 MiB chunk never holds both copies, a 64 MiB window does."""
    rng = random.Random(SEED)
    vocab = _words(rng, 20000)
    head = _prose(rng, vocab, distance)
    repeat = list(head[: size - distance])
    for pos in range(0, len(repeat), 4096):  # one changed letter every 4 KB
        repeat[pos] = rng.choice("abcdefghij")
    return (head + "".join(repeat)).encode()[:size]


def json_document(records: int = 3000) -> bytes:
    """A pretty-printed JSON array of user records with random hex ids and UUIDs."""
    rng = random.Random(SEED + 1)
    vocab = _words(rng, 400)
    cities = [w.capitalize() for w in vocab[:40]]
    items = []
    for index in range(records):
        name = f"{rng.choice(vocab).capitalize()} {rng.choice(vocab).capitalize()}"
        items.append(
            {
                "id": index + 1,
                "request_id": f"{rng.getrandbits(64):016x}",
                "uuid": "-".join(f"{rng.getrandbits(b * 4):0{b}x}" for b in (8, 4, 4, 4, 12)),
                "name": name,
                "email": f"{name.replace(' ', '.').lower()}@example.com",
                "city": rng.choice(cities),
                "active": rng.random() < 0.7,
                "score": round(rng.uniform(0, 100), 2),
                "tags": rng.sample(vocab[:30], rng.randint(0, 4)),
                "created": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
                f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z",
            }
        )
    return (json.dumps(items, indent=2) + "\n").encode()


def long_range_text_40m() -> bytes:
    """scripts/bench_long_range.py's 40 MB text, repeats 20-30 MiB apart (imported lazily: that
    script imports this one)."""
    from bench_long_range import long_range_text_40m as make

    return make()


GENERATED = {
    "generated/long-range-12M.txt": ("text", long_range_text),
    "generated/long-range-40M.txt": ("text", long_range_text_40m),
    "generated/records.json": ("text", json_document),
}


def collect(
    quick: bool, folder: Path, only: Sequence[str] = ()
) -> tuple[list[tuple[BenchFile, str]], list[str]]:
    """The files to measure with their kinds (`only`: these labels), and the corpus files found
    nowhere."""
    from nacrith.corpora import Manifest, local_path

    manifest = Manifest.load()
    files: list[tuple[BenchFile, str]] = []
    missing = []
    for name, kind in CORPUS_FILES:
        if (quick and name not in QUICK_FILES) or (only and name not in only):
            continue
        entry = manifest.entry(name)
        path = local_path(entry.path, manifest)
        if path is None:
            missing.append(name)
            continue
        files.append((BenchFile(name, path, entry.bytes, entry.corpus), kind))
    for name, (kind, make) in GENERATED.items():
        if (quick and "json" not in name) or (only and name not in only):
            continue
        path = folder / Path(name).name
        path.write_bytes(make())
        files.append((BenchFile(name, path, path.stat().st_size, "generated"), kind))
    return files, missing


#: ncz contender name -> its last archive (payload sizes are read from it)
LAST_ARCHIVE: dict[str, bytes] = {}


def ncz_contender(label: str, method: str, workers: int | None) -> Contender:
    """Round trips through the library (what the CLI does, without process start-up)."""
    from nacrith.api import Compressor, Decompressor

    compressor = Compressor(method, workers=workers)
    decompressor = Decompressor(workers=workers)

    def close() -> None:
        compressor.close()
        decompressor.close()

    def compress(data: bytes) -> bytes:
        LAST_ARCHIVE[label] = blob = compressor.compress(data)
        return blob

    settings = f"nacrith.Compressor({method!r}, workers={workers})"
    return Contender(label, "ncz", compress, decompressor.decompress, settings, close=close)


def payload_summary(blob: bytes) -> str:
    """The chunks' coded bytes without the container's framing, and their codecs."""
    import io

    from nacrith.formats.container import iter_members

    coded: dict[str, int] = {}
    for member in iter_members(io.BytesIO(blob)):
        for record in member.chunks:
            coded[record.codec_id] = coded.get(record.codec_id, 0) + record.coded_size
    total = sum(coded.values())
    return f"{total:,} ({'+'.join(sorted(coded))}; framing {len(blob) - total:,})"


def default_fast_method() -> str:
    """What `--fast` maps to: the `fast` method where the registry has one, else `fib`."""
    from nacrith.codecs.registry import METHODS

    return "fast" if "fast" in METHODS else "fib"


def run(
    files: Sequence[tuple[BenchFile, str]], contenders: Sequence[Contender], min_time: float
) -> dict[str, dict[str, Result]]:
    """file label -> contender name -> result; `ncz auto` runs on log and binary files only."""
    results: dict[str, dict[str, Result]] = {}
    warmed: set[str] = set()
    for bench_file, kind in files:
        data = bench_file.read()
        row = results.setdefault(bench_file.label, {})
        for contender in contenders:
            if contender.name == "ncz auto" and kind == "text":
                continue
            if contender.kind == "ncz" or contender.name not in warmed:
                # untimed: load what a codec loads on first use (auto loads the model only
                # for a file with text regions, so ncz contenders warm up on every file)
                warmed.add(contender.name)
                contender.decompress(contender.compress(data[:WARM_UP]))
            result = measure(contender, bench_file, data, min_time)
            row[contender.name] = result
            if contender.kind == "ncz" and contender.name in LAST_ARCHIVE:
                PAYLOADS[(bench_file.label, contender.name)] = payload_summary(
                    LAST_ARCHIVE.pop(contender.name)
                )
            print(
                f"{bench_file.label:32} {contender.name:16} {result.compressed or 0:>10,}"
                f" {_rate(result, 'c'):>7} {_rate(result, 'd'):>7} {result.error or ''}",
                file=sys.stderr,
                flush=True,
            )
    return results


#: (file label, ncz contender) -> payload summary (`payload_summary`)
PAYLOADS: dict[tuple[str, str], str] = {}


def _rate(result: Result | None, way: str) -> str:
    if result is None:
        return "-"
    kbps = result.compress_kbps if way == "c" else result.decompress_kbps
    return "-" if kbps is None else f"{kbps / 1000:.2f}"


def _size(result: Result | None, best: int | None) -> str:
    if result is None:
        return "-"
    if result.error is not None or result.compressed is None:
        return "FAILED"
    text = f"{result.compressed:,}"
    return f"**{text}**" if result.compressed == best else text


def _versus(result: Result | None, xz: Result | None) -> str:
    if result is None or xz is None or not result.compressed or not xz.compressed:
        return "-"
    return f"{100 * (result.compressed / xz.compressed - 1):+.1f}%"


def render(
    files: Sequence[tuple[BenchFile, str]],
    results: dict[str, dict[str, Result]],
    names: Sequence[str],
    fast_label: str,
) -> tuple[list[str], list[str], tuple[int, int]]:
    """Rows of the size table and of the speed table, and (files where fast < xz, files)."""
    size_rows, speed_rows = [], []
    wins = total = 0
    for bench_file, kind in files:
        row = results[bench_file.label]
        sizes = [r.compressed for r in row.values() if r.compressed and r.error is None]
        best = min(sizes) if sizes else None
        fast, xz = row.get(fast_label), row.get("xz -9e")
        if fast is not None and xz is not None and fast.compressed and xz.compressed:
            total += 1
            wins += fast.compressed < xz.compressed
        cells = [_size(row.get(name), best) for name in names]
        size_rows.append(
            f"| {bench_file.label} | {kind} | {bench_file.size:,} | {' | '.join(cells)} | "
            f"{_versus(fast, xz)} | {_versus(row.get('ncz auto'), xz)} |"
        )
        speeds = [f"{_rate(row.get(n), 'c')} / {_rate(row.get(n), 'd')}" for n in names]
        speed_rows.append(f"| {bench_file.label} | {' | '.join(speeds)} |")
    return size_rows, speed_rows, (wins, total)


def payload_table(files: Sequence[tuple[BenchFile, str]], names: Sequence[str]) -> list[str]:
    """Lines of the payload table: what the codecs wrote, apart from the container's framing
    (so codec gains and framing gains can be told apart)."""
    rows = [
        f"| {f.label} | " + " | ".join(PAYLOADS.get((f.label, n), "-") for n in names) + " |"
        for f, _ in files
    ]
    return [
        "",
        "Payload bytes of the ncz archives: the chunks' coded bytes without the container "
        "(codecs used; the container's framing bytes):",
        "",
        f"| file | {' | '.join(names)} |",
        "|---|" + "---:|" * len(names),
        *rows,
    ]


def markdown(
    files: Sequence[tuple[BenchFile, str]],
    results: dict[str, dict[str, Result]],
    contenders: Sequence[Contender],
    missing: Sequence[str],
    title: str,
) -> str:
    """The BENCHMARKS.md section."""
    names = [c.name for c in contenders]
    fast_label = names[0]
    size_rows, speed_rows, (wins, total) = render(files, results, names, fast_label)
    head = " | ".join(names)
    lines = [
        f"## {title}",
        "",
        f"Compressed bytes (smallest in bold); `{fast_label}` and `ncz auto` against xz -9e in the "
        "last two columns. `ncz auto` runs on log and binary files only (on text it runs the "
        "neural codec). Every round trip was verified byte for byte.",
        "",
        f"| file | kind | bytes | {head} | fast vs xz | auto vs xz |",
        "|---|---|---:|" + "---:|" * len(names) + "---:|---:|",
        *size_rows,
        "",
        f"`{fast_label}` smaller than xz -9e on {wins} of {total} files.",
        "",
        "Compress / decompress MB/s (10^6 bytes of input per second, best wall time; a shared "
        "machine; 1-minute load average LOAD):",
        "",
        f"| file | {head} |",
        "|---|" + "---:|" * len(names),
        *speed_rows,
        *payload_table(files, [c.name for c in contenders if c.kind == "ncz"]),
        "",
        "Contenders: "
        + "; ".join(f"`{c.name}`: {c.settings}" for c in contenders)
        + ". Generated files: `scripts/bench_fast.py` (`long_range_text`, `json_document`, "
        f"seed {SEED}).",
    ]
    if missing:
        lines += ["", f"Not found here (skipped): {', '.join(missing)}."]
    return "\n".join(lines) + "\n"


def _load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="three small files and the JSON")
    parser.add_argument("--no-write", action="store_true", help="print, do not touch BENCHMARKS")
    parser.add_argument("--fast-method", default=None, help="method `--fast` maps to")
    parser.add_argument("--workers", type=int, default=None, help="ncz workers (default: none)")
    parser.add_argument("--min-time", type=float, default=0.3, help="seconds of runs per timing")
    parser.add_argument(
        "--also", action="append", default=[], metavar="METHOD", help="another ncz method to time"
    )
    parser.add_argument("--files", default="", help="comma-separated file labels (default: all)")
    parser.add_argument("--section", default="fast", help="BENCHMARKS.md section to write")
    parser.add_argument("--title", default="`--fast` and `auto` against xz, zstd and brotli")
    args = parser.parse_args(argv)
    fast_method = args.fast_method or default_fast_method()
    try:
        peers = [PEERS[name]() for name in PEER_NAMES]
    except ImportError as exc:
        parser.error(f"{exc.name} is not installed: pip install -e '.[bench]'")
    contenders = [
        ncz_contender(f"ncz --fast ({fast_method})", fast_method, args.workers),
        ncz_contender("ncz auto", "auto", args.workers),
        *(ncz_contender(f"ncz -m {m}", m, args.workers) for m in args.also),
        *peers,
    ]
    load_before = _load()
    try:
        with tempfile.TemporaryDirectory(prefix="bench_fast-") as tmp:
            only = [f for f in args.files.split(",") if f]
            files, missing = collect(args.quick, Path(tmp), only)
            results = run(files, contenders, args.min_time)
            text = markdown(files, results, contenders, missing, args.title)
    finally:
        for contender in contenders:
            contender.close()
    text = text.replace("LOAD", f"{load_before} at the start, {_load()} at the end")
    print(text)
    if not args.no_write:
        update_section(args.section, text)


if __name__ == "__main__":
    main()
