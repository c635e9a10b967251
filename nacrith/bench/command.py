"""`ncz bench`: the click command, its argument parsing, and `bench()`, one whole run.

Only this module of the package knows click: the library modules raise `BenchUsageError` (a
`ValueError` and a `NacrithError`) for an argument they cannot use, and `bench_command` shows it
as a usage error.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Sequence

import click

from nacrith import corpora
from nacrith.bench.collect import collect_files
from nacrith.bench.contenders import make_contenders
from nacrith.bench.errors import BenchUsageError
from nacrith.bench.measure import run_bench
from nacrith.bench.peers import PEERS
from nacrith.bench.plot import save_plot
from nacrith.bench.report import (
    Report,
    machine_info,
    render_corpora,
    render_json,
    render_markdown,
    render_text,
)
from nacrith.errors import NacrithError
from nacrith.sizes import ByteSize

__all__ = ["bench", "bench_command", "peer_list"]


def _split(values: Iterable[str]) -> list[str]:
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def peer_list(text: str) -> list[str]:
    """Peer names from `--peers` text: a comma-separated list, `all` or `none`.

    An unknown name raises `BenchUsageError`.
    """
    if text.strip().lower() == "all":
        return list(PEERS)
    if text.strip().lower() == "none":
        return []
    chosen = _split([text])
    unknown = [p for p in chosen if p not in PEERS]
    if unknown:
        raise BenchUsageError(
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
    """Run a whole benchmark (the library form of `ncz bench`) and return its report.

    A target, method or peer that cannot be used raises `BenchUsageError`; a corpus file that
    cannot be fetched or fails its checksum raises `NacrithError`.
    """
    targets = list(targets) or ["canterbury"]
    files = collect_files(targets, manifest, limit=limit, download=download, progress=progress)
    if not files:
        raise BenchUsageError("no input files")
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
        click.echo(render_corpora(loaded), nl=False)  # type: ignore[arg-type]
        return
    quiet = (ctx.obj or {}).get("quiet", 0) if isinstance(ctx.obj, dict) else 0
    try:
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
    except BenchUsageError as exc:
        raise click.UsageError(str(exc)) from None
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
