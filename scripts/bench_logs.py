"""Benchmark the `logs` codec and log-archive search; writes the "logs" section of BENCHMARKS.md.

1. Ratio on each Loghub 2k sample (one chunk per file), with the geometric mean, beside
   gzip -9, xz -9, xz -9e, zstd -19 and PPMd var. I order 8 (pyppmd, the `[bench]` extra);
   "before" is the codec with identifier columns off (`LogsCodec(identifiers=False)`: the
   version-1 payloads of earlier builds), measured in the same run; every payload of ours is
   decoded and compared byte for byte.
2. Compress and decompress speed of the codec on those samples.
3. A log of about `--size-mb` MB built from the ten samples of `SYSTEMS` like an aggregated log (see
   `build_big_log`: 1,000 lines of each system in turn, every pass over a sample with its
   timestamps moved on and its long numbers redrawn), appended through
   `nacrith.logs.LogArchive` in 4 MiB chunks; then each query answered by `search` against
   decompress-then-grep (single-process decompression to a file, then `grep -c`). Every count
   is checked: against grep, or for the time-range query against a line-by-line filter of the
   decoded chunks.

4. With ``--ids`` (only this, into the "logs-ids" section): an archive of about `--size-mb` MB
   of the OpenStack sample repeated (`build_id_log`, version-2 chunks), each query searched
   with version-2 chunks decoded in full (before) and through their templates (after).

Usage: python scripts/bench_logs.py [--quick] [--ids] [--size-mb N] [--no-write]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import lzma
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import zstandard

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

from benchmd import update_section  # noqa: E402

from nacrith.api import Decompressor  # noqa: E402
from nacrith.codecs import logs as logs_format  # noqa: E402
from nacrith.codecs.logs import LogsCodec  # noqa: E402
from nacrith.formats.logs.timestamps import (  # noqa: E402
    FORMATS,
    MAX_EPOCH,
    detect_format,
    mark_times,
    parse_bound,
)
from nacrith.logs import LogArchive  # noqa: E402
from nacrith.logs import search as search_module  # noqa: E402
from nacrith.logs.matcher import Matcher  # noqa: E402
from nacrith.logs.search import TimeWindow, filter_lines  # noqa: E402

SYSTEMS = ["Apache", "BGL", "HDFS", "HPC", "Hadoop", "Linux", "OpenSSH", "Proxifier", "Spark"]
SYSTEMS += ["Zookeeper"]
#: the ratio table's samples: the ten above, and OpenStack (random request ids and UUIDs)
RATIO_SYSTEMS = [*SYSTEMS, "OpenStack"]
QUERIES = [
    ("rare message text", "Failed password for invalid user", {}),
    ("frequent message text", "PacketResponder", {}),
    ("IP address (digits only)", "173.234.31.186", {}),
    ("block id (digits)", "blk_-8775602795571523802", {}),
    ("regex", r"Connection (refused|reset)", {"regex": True}),
    ("regex with digits", r"Invalid user [a-z]+ from 1[0-9]{2}\.", {"regex": True}),
    ("text + time range", "PacketResponder", {"since": "2008-11-20", "until": "2008-11-21 12:00"}),
]


def sample_dir() -> Path:
    """The Loghub samples: the repository's copy (or one on $NACRITH_CORPORA_PATH)."""
    from nacrith.corpora import local_path

    return local_path("loghub") or REPO / "corpora" / "loghub"


def peers() -> dict[str, object]:
    """Compressors to compare with: name -> bytes -> compressed bytes."""
    out: dict[str, object] = {
        "gzip -9": lambda d: gzip.compress(d, 9, mtime=0),
        "xz -9": lambda d: lzma.compress(d, preset=9),
        "xz -9e": lambda d: lzma.compress(d, preset=9 | lzma.PRESET_EXTREME),
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
    before = LogsCodec(effort, identifiers=False)
    others = peers()
    names = ["before", "ours", *others]
    ratios: dict[str, list[float]] = {n: [] for n in names}
    rows = []
    total = enc_s = dec_s = 0.0
    beats_xz = beats_xz9e = 0
    for system in RATIO_SYSTEMS:
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
        old = before.encode(data)
        if before.decode(old, len(data)) != data:
            raise SystemExit(f"{system}: round trip of the version-1 payload FAILED")
        sizes = {"before": len(old), "ours": len(payload)}
        sizes |= {n: len(f(data)) for n, f in others.items()}
        for n in names:
            ratios[n].append(len(data) / sizes[n])
        beats_xz += sizes["ours"] < sizes["xz -9"]
        beats_xz9e += sizes["ours"] < sizes["xz -9e"]
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
        "beats_xz9e": beats_xz9e,
        "enc_mbs": total / enc_s / 1e6,
        "dec_mbs": total / dec_s / 1e6,
    }
    return "\n".join([head, sep, *rows]), stats


def _vary(data: bytes, rep: int, rng: random.Random) -> bytes:
    """Repetition `rep` of a sample: timestamps (of its detected format) moved `rep` times its
    time span later, and the low half of every other number of 5+ digits redrawn at random
    (rep 0 is the sample itself)."""
    if rep == 0:
        return data
    fmt = detect_format(data.split(b"\n"))
    shift = 0
    text = data
    if fmt is not None:
        text, span = mark_times(data, fmt)
        if span is not None:
            shift = rep * (span[1] - span[0] + 1)
    render = FORMATS[fmt].render if fmt is not None else None

    def one(m: re.Match[bytes]) -> bytes:
        if m.group(1) is not None:
            assert render is not None
            return render(min(int(m.group(1)) + shift, MAX_EPOCH))
        run = m.group(2)
        keep = len(run) - len(run) // 2
        low = rng.randrange(10 ** (len(run) - keep))
        return run[:keep] + b"%0*d" % (len(run) - keep, low)

    return re.sub(rb"\x03(\d+)|(\d{5,})", one, text)


def build_big_log(size: int, block_lines: int = 1000) -> bytes:
    """About `size` bytes mixing the samples like an aggregated log: `block_lines` lines of
    each system in turn (first half of its sample, then the second half on the next round),
    every full pass over a sample varied by `_vary` so nothing repeats exactly."""
    folder = sample_dir()
    lines = {s: (folder / s / f"{s}_2k.log").read_bytes().split(b"\n")[:2000] for s in SYSTEMS}
    rng = random.Random(7)
    varied: dict[tuple[str, int], list[bytes]] = {}
    out: list[bytes] = []
    total = 0
    rnd = 0
    while total < size:
        for system in SYSTEMS:
            rep, half = divmod(rnd * block_lines, len(lines[system]))
            key = (system, rep)
            if key not in varied:
                varied[key] = _vary(b"\n".join(lines[system]), rep, rng).split(b"\n")
            block = b"\n".join(varied[key][half : half + block_lines]) + b"\n"
            out.append(block)
            total += len(block)
        rnd += 1
    return b"".join(out)


def grep_count(pattern: str, path: Path, regex: bool) -> int:
    """Matching lines per the system grep (or Python when there is none)."""
    exe = shutil.which("grep")
    if exe is not None:
        flag = "-E" if regex else "-F"
        r = subprocess.run([exe, "-c", flag, "--", pattern, str(path)], capture_output=True)
        return int(r.stdout or 0)
    rx = re.compile(pattern.encode() if regex else re.escape(pattern.encode()))
    with open(path, "rb") as f:
        return sum(1 for line in f if rx.search(line))


def time_query_count(archive: LogArchive, pattern: str, opts: dict) -> int:
    """Lines a time-range query must find, by the documented rule, from the decoded chunks
    (each chunk's time format detected from its lines, each line's time parsed from its text)
    rather than from the codec's time columns."""
    m = Matcher(pattern, bool(opts.get("regex")), False)
    since, until = opts.get("since"), opts.get("until")
    window = TimeWindow(
        parse_bound(since) if since is not None else None,
        parse_bound(until) if until is not None else None,
    )
    n = 0
    for chunk in archive._raw_chunks():
        lines = chunk.split(b"\n")
        if not lines[-1]:
            lines.pop()
        n += sum(1 for _ in filter_lines(lines, m, window, -1))
    return n


def table_cost(data: bytes, effort: str, chunks: int = 3) -> float:
    """How much larger (in %) the first `chunks` 4 MiB chunks of `data` get with the template
    table in xz (the default for big tables, see `LogsCodec._backends`) than in PPMd."""
    pieces, pos = [], 0
    while len(pieces) < chunks and pos < len(data):
        end = data.rfind(b"\n", pos, pos + (4 << 20)) + 1 or pos + (4 << 20)
        pieces.append(data[pos:end])
        pos = end
    codec = LogsCodec(effort)
    fast = sum(len(codec.encode(p)) for p in pieces)
    saved, logs_format.FAST_TABLE = logs_format.FAST_TABLE, 1 << 62
    try:
        small = sum(len(codec.encode(p)) for p in pieces)
    finally:
        logs_format.FAST_TABLE = saved
    return 100 * (fast - small) / small


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
            if n_grep is None:
                n_want = time_query_count(LogArchive(archive_path, "r"), pattern, opts)
                if n_want != n_ours:
                    raise SystemExit(f"{label}: search found {n_ours} lines, expected {n_want}")
            elif n_grep != n_ours:
                raise SystemExit(f"{label}: search found {n_ours} lines, grep {n_grep}")
            speedups.append(t_grep / t_ours)
            grep_cell = f"{t_grep:.2f}" + ("" if n_grep is not None else " (decompress only)")
            shown = pattern.replace("|", "\\|")
            rows.append(
                f"| {label} | `{shown}`{' ' + str(opts) if opts else ''} | {n_ours:,} | "
                f"{t_ours:.2f} | {grep_cell} | {t_grep / t_ours:.1f}x |"
            )
        stats["min_speedup"] = min(speedups)
        stats["table_cost"] = table_cost(data, effort)
    head = "| query | pattern | lines | search s | decompress + grep s | speedup |"
    return "\n".join([head, "|---|---|---|---|---|---|", *rows]), stats


ID_QUERIES = [
    ("message text, few lines", "Terminating instance"),
    ("message text, many lines", "status: 200"),
    ("one instance UUID", None),  # picked from the log: see `ids_search_table`
    ("request id prefix", None),
    ("short hex fragment", "e-4"),
]
_UUID_RE = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def build_id_log(size: int) -> bytes:
    """About `size` bytes of the OpenStack sample repeated, each pass varied by `_vary`
    (timestamps moved on, long numbers redrawn) and with every UUID (request and instance
    ids) replaced by a fresh random one, the same within the pass; the 32-digit tenant ids
    stay, as in a real deployment."""
    sample = (sample_dir() / "OpenStack" / "OpenStack_2k.log").read_bytes().rstrip(b"\n") + b"\n"
    rng = random.Random(11)
    out, total, rep = [], 0, 0
    while total < size:
        fresh: dict[bytes, bytes] = {}

        def new_id(m: re.Match[bytes], fresh: dict[bytes, bytes] = fresh) -> bytes:
            if m.group() not in fresh:
                x = f"{rng.getrandbits(128):032x}"
                fresh[m.group()] = f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}".encode()
            return fresh[m.group()]

        block = _UUID_RE.sub(new_id, _vary(sample, rep, rng) if rep else sample)
        out.append(block)
        total += len(block)
        rep += 1
    return b"".join(out)


def ids_search_table(size_mb: int, effort: str) -> tuple[str, dict[str, float]]:
    """Search an archive of `build_id_log` (version-2 chunks) with the identifier-template
    search (after) and with it off, each such chunk decoded in full (before), in one run."""
    data = build_id_log(size_mb * 1_000_000)
    lines = data.split(b"\n")
    middle = len(lines) // 2
    at = next(i for i in range(middle, len(lines)) if b"[instance: " in lines[i])
    instance = re.search(rb"\[instance: (" + _UUID_RE.pattern + rb")", lines[at])
    assert instance is not None
    request = _UUID_RE.findall(lines[middle])[0]
    picked = [instance.group(1).decode(), "req-" + request[:8].decode()]
    queries = [(label, pattern or picked[i - 2]) for i, (label, pattern) in enumerate(ID_QUERIES)]
    rows, stats = [], {"mb": len(data) / 1e6}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ids.log.ncz"
        t0 = time.perf_counter()
        with LogArchive(path, "w", effort=effort, fsync=False) as archive:
            for i in range(0, len(data), 1 << 20):
                archive.write(data[i : i + (1 << 20)])
        stats["enc_mbs"] = len(data) / (time.perf_counter() - t0) / 1e6
        stats["ratio"] = len(data) / path.stat().st_size
        reader = LogArchive(path, "r")
        kinds = [payload[:1] == b"\x02" for _, _, payload, _ in _payloads(reader)]
        stats["v2"], stats["chunks"] = sum(kinds), len(kinds)
        plain = Path(tmp) / "ids.log"
        t0 = time.perf_counter()
        with open(path, "rb") as src, open(plain, "wb") as dst:
            Decompressor(workers=1).decompress_stream(src, dst)
        t_dec = time.perf_counter() - t0
        if plain.read_bytes() != data:
            raise SystemExit("OpenStack archive round trip FAILED")
        for label, pattern in queries:
            t0 = time.perf_counter()
            n_grep = grep_count(pattern, plain, False)
            t_grep = t_dec + time.perf_counter() - t0
            times = {}
            for mode in ("before", "after"):
                t0 = time.perf_counter()
                with _ident_search(mode == "after"):
                    n = sum(1 for _ in LogArchive(path, "r").search(pattern))
                times[mode] = time.perf_counter() - t0
                if n != n_grep:
                    raise SystemExit(f"{label} ({mode}): search found {n} lines, grep {n_grep}")
            rows.append(
                f"| {label} | `{pattern}` | {n_grep:,} | {times['before']:.2f} | "
                f"{times['after']:.2f} | {t_grep:.2f} | {times['before'] / times['after']:.1f}x |"
            )
    head = (
        "| query | pattern | lines | search before s | search after s | decompress + grep s "
        "| after vs before |"
    )
    return "\n".join([head, "|---|---|---|---|---|---|---|", *rows]), stats


def _payloads(reader: LogArchive) -> list[tuple]:
    """Every chunk of `reader` as `LogArchive._chunks` yields it, contents skipped."""
    out = []
    for codec, record, payload, member in reader._chunks():
        member.skip_content(record)
        out.append((codec, record, payload, member))
    return out


@contextlib.contextmanager
def _ident_search(on: bool) -> Iterator[None]:
    """With `on` False, a search decodes version-2 chunks in full (the earlier behaviour)."""
    saved = search_module.ident_chunk
    if not on:
        search_module.ident_chunk = lambda *_: None
    try:
        yield
    finally:
        search_module.ident_chunk = saved


def ids_main(args: argparse.Namespace) -> None:
    """The "logs-ids" section: search over identifier-column chunks, before and after."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    table, st = ids_search_table(args.size_mb, args.effort)
    markdown = "\n".join(
        [
            f"## Log search over identifier columns ({st['mb']:.0f} MB OpenStack archive)",
            "",
            "The OpenStack 2k sample repeated to the size above, each pass with its timestamps "
            "moved on, long numbers redrawn and every UUID (request and instance ids) replaced "
            "by a fresh random one. Appended through `LogArchive` in 4 MiB chunks: "
            f"{st['v2']} of {st['chunks']} chunks are logs payload version 2 (identifier "
            f"columns); compress {st['enc_mbs']:.2f} MB/s, ratio {st['ratio']:.1f}. Before = "
            "version-2 chunks decoded in full for a search (the earlier behaviour, "
            "`nacrith.logs.search.ident_chunk` off); after = searched through their templates, "
            "a placeholder standing for any identifier (`nacrith.logs.idsearch`); both in this "
            "run, one process. Decompress + grep = single-process decompression to a file, "
            "then `grep -c -F`; every count equals grep's. Load average at the start: "
            f"{load}.",
            "",
            table,
        ]
    )
    print(markdown)
    if not args.no_write:
        update_section("logs-ids", markdown)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 100 MB search benchmark")
    parser.add_argument("--size-mb", type=int, default=100, help="size of the search log")
    parser.add_argument("--effort", default="fast", choices=["fast", "max"])
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    parser.add_argument(
        "--ids", action="store_true", help="only the identifier-column search (logs-ids)"
    )
    args = parser.parse_args()
    if args.ids:
        ids_main(args)
        return

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    table, st = ratio_table(args.effort)
    parts = [
        "## Logs codec (`logs`, effort " + args.effort + ")",
        "",
        "Ratio = raw / compressed on the Loghub 2k samples, one chunk per file; every payload "
        "of ours was decoded and compared byte for byte. before = the same codec with "
        "identifier columns off (`LogsCodec(identifiers=False)`, the version-1 payloads of "
        "earlier builds), ours = with them (version 2 where hex ids, UUIDs or hashes make it "
        "at least 1/32 smaller), both in this run. gzip/xz/zstd via Python's gzip, lzma "
        "(preset 9, and 9 | PRESET_EXTREME for xz -9e) and python-zstandard (level 19); PPMd "
        "var. I order 8, 64 MiB (pyppmd).",
        "",
        table,
        "",
        f"Ours beats xz -9 on {st['beats_xz']} and xz -9e on {st['beats_xz9e']} of "
        f"{len(RATIO_SYSTEMS)} samples. Codec speed on these samples (one process, ours): "
        f"compress {st['enc_mbs']:.2f} MB/s, decompress {st['dec_mbs']:.2f} MB/s. Load average "
        f"at the start: {load}.",
    ]
    if not args.quick:
        search, ss = search_table(args.size_mb, args.effort)
        parts += [
            "",
            f"### Search in a {ss['big_mb']:.0f} MB log archive",
            "",
            "An aggregated log built from the ten samples: 1,000 lines of each system in turn "
            "(half a sample; the other half on the next round), and from the second pass over a "
            "sample on, its timestamps moved on by the sample's time span and the low half of "
            "every other number of 5+ digits redrawn at random, so nothing repeats exactly. "
            "Appended through `LogArchive` in 4 MiB chunks, each holding lines of all ten "
            f"systems: compress {ss['big_enc_mbs']:.2f} MB/s, ratio {ss['big_ratio']:.1f}, "
            f"decompress {ss['big_dec_mbs']:.2f} MB/s (one process). Template tables of 64 KiB "
            "or more are coded with xz rather than PPMd, as a search decodes the table of every "
            f"chunk: that makes these chunks {ss['table_cost']:.1f}% larger (the samples' tables "
            "are smaller and keep PPMd). No search index is stored: a query is aligned with the "
            "templates, and the numbers it pins down are checked against the residual streams "
            "of those columns. Decompress + grep = single-process `ncz -d`-equivalent to a "
            "file, then `grep -c -F/-E`; every count below equals grep's. A time range applies to "
            "each chunk's one timestamp format, detected from its first lines (here that of the "
            "system opening the chunk), so the time-range query finds only the HDFS lines of "
            "chunks opened by HDFS lines; its count is checked against a line-by-line filter of "
            "the decoded chunks.",
            "",
            search,
        ]
    markdown = "\n".join(parts)
    print(markdown)
    if not args.no_write:
        update_section("logs", markdown)


if __name__ == "__main__":
    main()
