"""`ncz bench`: round-trip files through nacrith and the usual compressors, and tabulate them.

Every file is compressed and decompressed by each selected nacrith method and by gzip -9,
bzip2 -9, xz -9e, zstd -19 --long, brotli -q 11 and PPMd (their Python bindings, in this
process, on the same bytes); each output is compared byte for byte with the input. The report
gives compressed size, bits per byte and compress / decompress speed per file and in total, as a
terminal table, Markdown, JSON or a PNG chart.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
import platform
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import click

from nacrith import corpora
from nacrith.errors import FormatError, NacrithError
from nacrith.sizes import ByteSize

__all__ = [
    "PEERS",
    "BenchFile",
    "Contender",
    "Report",
    "Result",
    "bench_command",
    "collect_files",
    "default_methods",
    "make_contenders",
    "peer_list",
    "render_json",
    "render_markdown",
    "render_text",
    "run_bench",
    "save_plot",
]

KB = 1000
MAX_RUNS = 20
SAMPLE = 64 << 10
FAST_METHODS = ("zstd", "fib", "logs")
ALWAYS_AVAILABLE = ("auto", "stored", "zstd")


@dataclass
class BenchFile:
    """One input: a corpus file (verified against the manifest) or a file given by path."""

    label: str
    path: Path
    size: int
    corpus: str | None = None
    limit: int | None = None
    note: str | None = None

    def read(self) -> bytes:
        """The bytes benchmarked (the first `limit` bytes when a limit applies)."""
        with self.path.open("rb") as handle:
            return handle.read(self.limit) if self.limit is not None else handle.read()


@dataclass
class Contender:
    """A way to compress: one nacrith method, or one peer compressor at fixed settings."""

    name: str
    kind: str  # "ncz" or "peer"
    compress: Callable[[bytes], bytes]
    decompress: Callable[[bytes], bytes]
    settings: str = ""
    applies: Callable[[BenchFile, bytes], bool] = lambda _file, _data: True
    close: Callable[[], None] = lambda: None


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


@dataclass
class Report:
    """Everything one bench run measured, with what is needed to reproduce it."""

    files: list[BenchFile]
    contenders: list[Contender]
    results: list[Result]
    command: str
    skipped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=dict)
    date: str = ""

    def totals(self) -> list[Result]:
        """One summed result per contender (over the files it ran on)."""
        out = []
        for contender in self.contenders:
            rows = [r for r in self.results if r.method == contender.name]
            if not rows:
                continue
            ok = [r for r in rows if r.error is None]
            total = Result(
                file="TOTAL",
                size=sum(r.size for r in ok),
                method=contender.name,
                kind=contender.kind,
                compressed=sum(r.compressed or 0 for r in ok) if ok else None,
                compress_s=sum(r.compress_s or 0.0 for r in ok) if ok else None,
                decompress_s=sum(r.decompress_s or 0.0 for r in ok) if ok else None,
                runs=len(ok),
                verified=all(r.verified for r in rows),
                error=None if len(ok) == len(rows) else f"{len(rows) - len(ok)} failed",
            )
            out.append(total)
        return out

    def failures(self) -> list[Result]:
        """Results whose round trip failed or did not run."""
        return [r for r in self.results if r.error is not None or not r.verified]


# --- contenders -------------------------------------------------------------------------------


def _peer_gzip() -> Contender:
    import gzip

    return Contender(
        "gzip -9",
        "peer",
        lambda data: gzip.compress(data, compresslevel=9, mtime=0),
        gzip.decompress,
        "Python gzip module (zlib), level 9",
    )


def _peer_bzip2() -> Contender:
    import bz2

    return Contender(
        "bzip2 -9",
        "peer",
        lambda data: bz2.compress(data, 9),
        bz2.decompress,
        "Python bz2 module (libbzip2), 900k blocks",
    )


def _peer_xz() -> Contender:
    import lzma

    preset = 9 | lzma.PRESET_EXTREME
    return Contender(
        "xz -9e",
        "peer",
        lambda data: lzma.compress(data, format=lzma.FORMAT_XZ, preset=preset),
        lzma.decompress,
        "Python lzma module (liblzma), preset 9 extreme, CRC64",
    )


def _peer_zstd() -> Contender:
    import zstandard

    params = zstandard.ZstdCompressionParameters.from_level(19, window_log=27, enable_ldm=True)
    compressor = zstandard.ZstdCompressor(compression_params=params)
    decompressor = zstandard.ZstdDecompressor(max_window_size=1 << 27)
    return Contender(
        "zstd -19 --long",
        "peer",
        compressor.compress,
        decompressor.decompress,
        f"python-zstandard {zstandard.__version__}, level 19, window_log 27, "
        "long-distance matching",
    )


def _peer_brotli() -> Contender:
    import brotli

    return Contender(
        "brotli -q 11",
        "peer",
        lambda data: brotli.compress(data, quality=11, lgwin=24),
        brotli.decompress,
        f"brotli {_version('brotli')}, quality 11, lgwin 24 (the brotli tool's defaults)",
    )


PPMD_ORDER = 8
PPMD_MEMORY = 256 << 20


def _peer_ppmd() -> Contender:
    import pyppmd

    def compress(data: bytes) -> bytes:
        return pyppmd.compress(data, max_order=PPMD_ORDER, mem_size=PPMD_MEMORY, variant="I")

    def decompress(data: bytes) -> bytes:
        return pyppmd.decompress(data, max_order=PPMD_ORDER, mem_size=PPMD_MEMORY, variant="I")

    return Contender(
        "ppmd",
        "peer",
        compress,
        decompress,
        f"pyppmd {_version('pyppmd')}, PPMd var. I rev. 1, order {PPMD_ORDER}, "
        f"{PPMD_MEMORY >> 20} MiB",
    )


PEERS: dict[str, Callable[[], Contender]] = {
    "gzip": _peer_gzip,
    "bzip2": _peer_bzip2,
    "xz": _peer_xz,
    "zstd": _peer_zstd,
    "brotli": _peer_brotli,
    "ppmd": _peer_ppmd,
}


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


def method_problem(method: str) -> str | None:
    """Why nacrith `method` cannot run here, or None when it can."""
    from nacrith.codecs.registry import METHODS, codec_class, known_codecs

    if method in ALWAYS_AVAILABLE:
        return None
    if method not in METHODS and method not in known_codecs():
        return f"unknown method {method!r} (choose from {', '.join(METHODS)})"
    try:
        codec_class(method)
    except FormatError as exc:
        return str(exc)
    return None


def default_methods() -> tuple[list[str], dict[str, str]]:
    """The fast nacrith methods available here, and why the others are left out."""
    chosen, missing = [], {}
    for method in FAST_METHODS:
        problem = method_problem(method)
        if problem is None:
            chosen.append(method)
        else:
            missing[f"ncz {method}"] = problem
    return chosen, missing


def _looks_like_logs(bench_file: BenchFile, data: bytes) -> bool:
    try:
        from nacrith.formats.logs.detect import looks_like_logs
    except ImportError:
        return bench_file.corpus == "loghub"
    try:
        return bool(looks_like_logs(data[:SAMPLE]))
    except Exception:
        return bench_file.corpus == "loghub"


def _ncz_contender(method: str, workers: int | None, only_logs: bool) -> Contender:
    from nacrith.api import Compressor, Decompressor

    compressor = Compressor(method, workers=workers)
    decompressor = Decompressor(workers=workers)

    def close() -> None:
        compressor.close()
        decompressor.close()

    return Contender(
        f"ncz {method}",
        "ncz",
        compressor.compress,
        decompressor.decompress,
        f"nacrith.Compressor({method!r}, workers={workers})"
        + (" on files that look like logs" if only_logs else ""),
        applies=_looks_like_logs if only_logs else (lambda _file, _data: True),
        close=close,
    )


def make_contenders(
    methods: Sequence[str] | None, peers: Sequence[str], workers: int | None = 1
) -> tuple[list[Contender], dict[str, str]]:
    """Build the contenders; `methods=None` means the fast defaults (logs only on logs).

    Returns them with the ones left out and why (a peer whose package is missing, a default
    method whose codec is not available here). An explicit method that cannot run is an error.
    """
    skipped: dict[str, str] = {}
    if methods is None:
        chosen, skipped = default_methods()
        only_logs = {"logs"}
    else:
        chosen, only_logs = list(methods), set()
        for method in chosen:
            problem = method_problem(method)
            if problem is not None:
                raise click.UsageError(f"method {method!r} cannot run here: {problem}")
    contenders = [_ncz_contender(m, workers, m in only_logs) for m in chosen]
    for peer in peers:
        try:
            contenders.append(PEERS[peer]())
        except ImportError as exc:
            skipped[peer] = f"not installed ({exc.name or exc}); pip install 'nacrith[bench]'"
    return contenders, skipped


# --- running ----------------------------------------------------------------------------------


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
                            contender.decompress(contender.compress(data[:4096]))
                    results.append(measure(contender, bench_file, data, min_time))
                bar.update(1)
    return results


# --- inputs -----------------------------------------------------------------------------------


def _walk(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def collect_files(
    targets: Iterable[str],
    manifest: corpora.Manifest | None,
    *,
    limit: int | None = None,
    download: bool = True,
    progress: bool = True,
) -> list[BenchFile]:
    """Turn corpus names, files and folders into verified inputs (corpus files are checked)."""
    files: list[BenchFile] = []
    for target in targets:
        path = Path(target)
        if path.is_file():
            files.append(BenchFile(target, path, path.stat().st_size))
        elif path.is_dir():
            files.extend(BenchFile(str(p), p, p.stat().st_size) for p in _walk(path))
        else:
            if manifest is None:
                manifest = corpora.Manifest.load()
            try:
                selected = manifest.select(target)
            except NacrithError as exc:
                raise click.UsageError(
                    f"{target}: no such file, folder or corpus ({exc})"
                ) from None
            for entry in selected:
                where = corpora.resolve_entry(manifest, entry, download=download, progress=progress)
                note = None
                if entry.prefix_of is not None:
                    parent, count = entry.prefix_of
                    note = f"{entry.name} is the first {count:,} bytes of {parent}, not all of it"
                files.append(BenchFile(entry.name, where, entry.bytes, entry.corpus, note=note))
    if limit is not None:
        for bench_file in files:
            if bench_file.size > limit:
                bench_file.note = (
                    f"{bench_file.label}[:{limit}] is the first {limit:,} bytes of "
                    f"{bench_file.label} (--limit), not all of it"
                )
                bench_file.label = f"{bench_file.label}[:{limit}]"
                bench_file.limit = limit
                bench_file.size = limit
    return files


# --- output -----------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    """The machine, Python and library versions the figures come from."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "nacrith": _version("nacrith"),
    }


def _fmt_bytes(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _fmt_bpb(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _fmt_rate(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _verified(result: Result) -> str:
    if result.verified:
        return "yes"
    return "FAILED" if result.error is not None else "NO"


_HEADERS = (
    "file",
    "bytes",
    "method",
    "compressed",
    "bits/byte",
    "comp KB/s",
    "dec KB/s",
    "verified",
)
_RIGHT = (False, True, False, True, True, True, True, False)


def _row(result: Result, first: bool) -> list[str]:
    return [
        result.file if first else "",
        _fmt_bytes(result.size) if first else "",
        result.method,
        _fmt_bytes(result.compressed),
        _fmt_bpb(result.bpb),
        _fmt_rate(result.compress_kbps),
        _fmt_rate(result.decompress_kbps),
        _verified(result),
    ]


def _detail_rows(report: Report) -> list[list[str]]:
    rows, previous = [], None
    for result in report.results:
        rows.append(_row(result, result.file != previous))
        previous = result.file
    return rows


def _total_rows(report: Report) -> list[list[str]]:
    rows = []
    for total in report.totals():
        row = _row(total, True)
        row[0] = f"{total.runs} file(s)" if total.error is None else f"{total.runs} ({total.error})"
        rows.append(row)
    return rows


def _text_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]
) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)
        ).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *map(line, rows)])


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> str:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|")

    out = ["| " + " | ".join(map(esc, headers)) + " |"]
    out.append("|" + "|".join("---:" if r else "---" for r in right) + "|")
    out.extend("| " + " | ".join(map(esc, row)) + " |" for row in rows)
    return "\n".join(out)


def _footnotes(report: Report) -> list[str]:
    checked = [r for r in report.results if r.error is None]
    lines = [
        f"verified: each of the {len(report.results)} archives was decompressed in this process "
        f"and compared byte for byte with its input ({sum(r.verified for r in checked)} identical"
        + (f", {len(report.failures())} FAILED" if report.failures() else "")
        + ").",
        "bits/byte = 8 x compressed / input bytes; KB/s = input bytes / 1000 / seconds, "
        "best of up to 20 runs, one process, wall clock.",
    ]
    lines += [note for note in (f.note for f in report.files) if note]
    ran = {r.method for r in report.results}
    lines += [f"{c.name}: {c.settings}" for c in report.contenders if c.name in ran]
    lines += [f"left out: {name}: {why}" for name, why in report.skipped.items()]
    lines += [f"FAILED: {r.file} with {r.method}: {r.error}" for r in report.failures()]
    lines += report.notes
    return lines


def render_text(report: Report) -> str:
    """The report as aligned terminal tables with footnotes."""
    parts = [
        _text_table(_HEADERS, _detail_rows(report), _RIGHT),
        "",
        "Totals per method:",
        _text_table(("files", *_HEADERS[1:]), _total_rows(report), _RIGHT),
        "",
        *_footnotes(report),
    ]
    return "\n".join(parts) + "\n"


def _matrix(report: Report) -> str:
    names = [c.name for c in report.contenders if any(r.method == c.name for r in report.results)]
    by_key = {(r.file, r.method): r for r in report.results}
    lines: list[tuple[str, dict[str, Result]]] = [
        (f.label, {m: by_key[f.label, m] for m in names if (f.label, m) in by_key})
        for f in report.files
    ]
    lines.append(("**total**", {t.method: t for t in report.totals()}))
    rows = []
    for label, cells in lines:
        values = {m: r.bpb for m, r in cells.items() if r.error is None and r.bpb is not None}
        best = min(values.values(), default=None)
        row = [label]
        for name in names:
            text = _fmt_bpb(values.get(name))
            row.append(f"**{text}**" if best is not None and values.get(name) == best else text)
        rows.append(row)
    return _md_table(("bits per byte", *names), rows, (False, *[True] * len(names)))


def render_markdown(report: Report) -> str:
    """The report as Markdown: a bits-per-byte matrix, totals, and the per-file details."""
    notes = "\n".join(f"- {line}" for line in _footnotes(report))
    return (
        f"{_matrix(report)}\n\n"
        f"Totals (lowest bits per byte in bold above):\n\n"
        f"{_md_table(('files', *_HEADERS[1:]), _total_rows(report), _RIGHT)}\n\n"
        f"<details><summary>Per file</summary>\n\n"
        f"{_md_table(_HEADERS, _detail_rows(report), _RIGHT)}\n\n"
        f"</details>\n\n{notes}\n\n"
        f"Command: `{report.command}`; {report.machine.get('cpu', '?')}, "
        f"{report.machine.get('logical_cores', '?')} logical cores, Python "
        f"{report.machine.get('python', '?')}, {report.date}.\n"
    )


def _result_dict(result: Result) -> dict[str, Any]:
    out = asdict(result)
    out.update(
        bits_per_byte=result.bpb,
        compress_kb_per_s=result.compress_kbps,
        decompress_kb_per_s=result.decompress_kbps,
    )
    return out


def render_json(report: Report) -> str:
    """The report as JSON (every measurement, totals, settings, machine, command)."""
    payload = {
        "command": report.command,
        "date": report.date,
        "machine": report.machine,
        "units": {"speed": "KB/s, 1 KB = 1000 bytes", "bits_per_byte": "8*compressed/size"},
        "files": [
            {
                "label": f.label,
                "path": str(f.path),
                "bytes": f.size,
                "corpus": f.corpus,
                "note": f.note,
            }
            for f in report.files
        ],
        "methods": [
            {"name": c.name, "kind": c.kind, "settings": c.settings} for c in report.contenders
        ],
        "results": [_result_dict(r) for r in report.results],
        "totals": [_result_dict(t) for t in report.totals()],
        "skipped": report.skipped,
        "notes": report.notes,
        "all_verified": not report.failures(),
    }
    return json.dumps(payload, indent=2) + "\n"


def save_plot(report: Report, path: str | os.PathLike[str]) -> None:
    """Write a PNG bar chart of bits per byte per file and method."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise NacrithError("--plot needs matplotlib: pip install 'nacrith[bench]'") from None
    labels = [f.label for f in report.files]
    names = [c.name for c in report.contenders if any(r.method == c.name for r in report.results)]
    by_key = {(r.file, r.method): r.bpb for r in report.results if r.error is None}
    width = 0.8 / max(1, len(names))
    fig, ax = plt.subplots(figsize=(min(18.0, max(6.0, 0.12 * len(labels) * len(names) + 2)), 5))
    for index, name in enumerate(names):
        xs = [i + (index - (len(names) - 1) / 2) * width for i in range(len(labels))]
        ys = [by_key.get((label, name)) or 0.0 for label in labels]
        ax.bar(xs, ys, width, label=name)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("bits per byte (lower is better)")
    ax.set_title("ncz bench: " + report.command.removeprefix("ncz bench").strip(), fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --- the command ------------------------------------------------------------------------------


def _split(values: Iterable[str]) -> list[str]:
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def peer_list(text: str) -> list[str]:
    """Peer names from `--peers` text: a comma-separated list, `all` or `none`."""
    if text.strip().lower() == "all":
        return list(PEERS)
    if text.strip().lower() == "none":
        return []
    chosen = _split([text])
    unknown = [p for p in chosen if p not in PEERS]
    if unknown:
        raise click.UsageError(
            f"unknown peer(s) {', '.join(unknown)} (choose from {', '.join(PEERS)}, all, none)"
        )
    return chosen


def _command_line(
    targets: Sequence[str],
    methods: Sequence[str] | None,
    peers: Sequence[str],
    limit: int | None,
    workers: int | None,
) -> str:
    parts = ["ncz bench", *targets]
    if methods is not None:
        parts.append("--method " + ",".join(methods))
    if list(peers) != list(PEERS):
        parts.append("--peers " + (",".join(peers) or "none"))
    if limit is not None:
        parts.append(f"--limit {limit}")
    if workers != 1:
        parts.append(f"--workers {workers}")
    return " ".join(parts)


def _list_corpora(manifest: corpora.Manifest) -> str:
    rows = []
    for entry in manifest:
        where = corpora.locate(manifest, entry)
        rows.append(
            [
                entry.name,
                _fmt_bytes(entry.bytes),
                entry.availability,
                str(where) if where else f"(not here; from {entry.source_url})",
            ]
        )
    table = _text_table(
        ("name", "bytes", "availability", "location"), rows, (False, True, False, False)
    )
    groups = ", ".join(f"{name} ({len(files)})" for name, files in manifest.corpora().items())
    return f"{table}\n\ncorpora: {groups}\nmanifest: {manifest.source}\n"


def bench(
    targets: Sequence[str],
    *,
    methods: Sequence[str] | None = None,
    peers: Sequence[str] = tuple(PEERS),
    limit: int | None = None,
    workers: int | None = 1,
    min_time: float = 0.1,
    manifest: corpora.Manifest | None = None,
    download: bool = True,
    progress: bool = True,
) -> Report:
    """Run a whole benchmark (the library form of `ncz bench`) and return its report."""
    targets = list(targets) or ["canterbury"]
    files = collect_files(targets, manifest, limit=limit, download=download, progress=progress)
    if not files:
        raise click.UsageError("no input files")
    contenders, skipped = make_contenders(methods, peers, workers)
    try:
        results = run_bench(files, contenders, min_time=min_time, progress=progress)
    finally:
        for contender in contenders:
            contender.close()
    return Report(
        files=files,
        contenders=contenders,
        results=results,
        command=_command_line(targets, methods, peers, limit, workers),
        skipped=skipped,
        machine=machine_info(),
        date=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )


@click.command("bench")
@click.argument("targets", nargs=-1, metavar="[CORPUS|FILE|DIR]...")
@click.option(
    "-m",
    "--method",
    "methods",
    multiple=True,
    help="nacrith method(s) to run, repeated or comma-separated (zstd, fib, logs, llm, auto, "
    "stored). Default: the fast ones available here (zstd, fib; logs on log files).",
)
@click.option(
    "--peers",
    default="all",
    show_default=True,
    help="Compressors to compare with: comma-separated from gzip, bzip2, xz, zstd, brotli, "
    "ppmd; or all, none.",
)
@click.option(
    "--limit",
    type=ByteSize(),
    default=None,
    help="Use only the first BYTES of each file (1M = 10^6, 1MiB = 2^20); such files are "
    "labelled NAME[:BYTES].",
)
@click.option("--markdown", is_flag=True, help="Print Markdown tables instead of text.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option(
    "--plot",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write a PNG chart of bits per byte per file and method (needs matplotlib).",
)
@click.option(
    "-T",
    "--workers",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Worker processes for nacrith methods (0: one per CPU); the peers use one.",
)
@click.option(
    "--min-time",
    type=click.FloatRange(min=0),
    default=0.1,
    show_default=True,
    help="Repeat each timing until it has run this long (seconds); the best run counts.",
)
@click.option(
    "--manifest",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Corpus manifest to use (default: corpora/MANIFEST.tsv of the repository).",
)
@click.option("--no-download", is_flag=True, help="Never download; fail if a file is missing.")
@click.option("--list", "list_only", is_flag=True, help="List the corpora and where they are.")
@click.pass_context
def bench_command(
    ctx: click.Context,
    targets: tuple[str, ...],
    methods: tuple[str, ...],
    peers: str,
    limit: int | None,
    markdown: bool,
    as_json: bool,
    plot: str | None,
    workers: int,
    min_time: float,
    manifest: str | None,
    no_download: bool,
    list_only: bool,
) -> None:
    """Compress CORPUS|FILE|DIR... (default: canterbury) with nacrith and other compressors,
    check every round trip, and print size, bits per byte and speed.

    A CORPUS is a name from the manifest (`ncz bench --list`): canterbury, canterbury-large,
    loghub, enwik6, enwik8-3M, enwik8, enwik9, or one file such as canterbury/alice29.txt.
    Corpus files are verified by checksum before use; missing ones are downloaded into
    $XDG_CACHE_HOME/nacrith/corpora (folders in $NACRITH_CORPORA_PATH are searched first).
    Exits 1 if any round trip fails.
    """
    if markdown and as_json:
        raise click.UsageError("--markdown and --json cannot be combined")
    loaded = corpora.Manifest.load(manifest) if manifest or list_only else None
    if list_only:
        click.echo(_list_corpora(loaded), nl=False)  # type: ignore[arg-type]
        return
    quiet = (ctx.obj or {}).get("quiet", 0) if isinstance(ctx.obj, dict) else 0
    report = bench(
        targets,
        methods=_split(methods) or None,
        peers=peer_list(peers),
        limit=limit,
        workers=workers,
        min_time=min_time,
        manifest=loaded,
        download=not no_download,
        progress=not quiet,
    )
    if as_json:
        click.echo(render_json(report), nl=False)
    elif markdown:
        click.echo(render_markdown(report), nl=False)
    else:
        click.echo(render_text(report), nl=False)
    if plot:
        save_plot(report, plot)
    failures = report.failures()
    if failures:
        listed = "; ".join(f"{r.file} with {r.method}: {r.error}" for r in failures[:5])
        raise NacrithError(f"{len(failures)} round trip(s) failed: {listed}")
