"""`ncz compress`: FILE... into FILE.ncz, or to standard output, or to `-o` NAME."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

import click

from nacrith.api import Compressor
from nacrith.cli import options
from nacrith.cli.inputs import OpenedInput, WholeFile, needs_named_output, reading
from nacrith.cli.levels import DEFAULT_LEVEL, LEVELS, Level, level_options
from nacrith.cli.output import OutputSink, stdout_sink
from nacrith.cli.report import FileError, add_verbosity, display, option_names, run_files
from nacrith.cli.targets import check_removable, plan_output, remove_input, write_output
from nacrith.codecs.registry import METHODS
from nacrith.formats.container import iter_members
from nacrith.sizes import ByteSize


def check_archive_on_disk(path: Path, _sink: OutputSink | None = None) -> None:
    """Re-read a written archive's structure and payload checksums (no decoding)."""
    with path.open("rb") as handle:
        for member in iter_members(handle):
            for _record in member.chunks:
                pass


#: what the estimate of a long job suggests
_FASTER = "-1 (--fast: no model) is much faster, at a lower ratio"


class _Located:
    """A reader of a regular file that tells the file's path and position, so that the
    cluster's actors can read the file themselves where it is shared."""

    def __init__(self, reader: IO[bytes], handle: IO[bytes], url: str | None = None) -> None:
        self._reader = reader
        self._handle = handle
        self.name = url or getattr(handle, "name", None)

    def read(self, n: int = -1) -> bytes:
        """Read through the wrapped reader."""
        return self._reader.read(n)

    def tell(self) -> int:
        """The position in the file."""
        return self._handle.tell()


@dataclass
class _Job(options.OutputChoices):
    """How to compress each input of one `ncz compress` run."""

    compressor: Compressor

    def one(self, name: str) -> None:
        """Compress input `name` (`-`: stdin) to its output; then remove it with --rm."""
        use_stdout = options.writes_stdout(name, self.to_stdout, self.output)
        stdout = stdout_sink() if use_stdout else None
        if use_stdout and sys.stdout.isatty() and not self.force:
            raise FileError(
                name, "compressed data cannot be written to a terminal (use -f to force)"
            )
        if name != "-" and name.endswith(options.SUFFIX) and not self.force and self.output is None:
            raise FileError(name, f"already has {options.SUFFIX} suffix -- unchanged")
        start = time.perf_counter()
        follow = self.force or use_stdout
        uses_model = self.compressor.settings.method in ("auto", "llm")
        with reading(
            name,
            self.quiet == 0,
            True,
            follow,
            explain=self.verbose > 0,
            hint=_FASTER if uses_model else None,
            watch_fd=stdout.fileno() if stdout is not None else None,
        ) as (source, progress):
            size = source.size
            reader = (
                source.handle
                if size is None
                else cast(IO[bytes], WholeFile(source.handle, name, size))
            )
            if size is not None and self.compressor.settings.cluster is not None:
                url = source.name if source.is_url else None
                reader = cast(IO[bytes], _Located(reader, source.handle, url))

            def write(sink: OutputSink) -> int:
                return self.compressor.compress_stream(reader, sink, size, progress)  # type: ignore[arg-type]

            if stdout is not None:
                out_size = write(stdout)
                stdout.flush()
            else:
                out_size = self._to_file(source, write)
        if self.verbose:
            self._tell(name, size or 0, out_size, time.perf_counter() - start)

    def _to_file(self, source: OpenedInput, write: Callable[[OutputSink], int]) -> int:
        if self.remove:
            check_removable(source)
        if not self.output:
            needs_named_output(source.name)
        path = Path(self.output) if self.output else Path(source.name + options.SUFFIX)
        target = plan_output(path, source, self.force)
        out_size = write_output(
            target, source, self.force, write, check_archive_on_disk, allow_terminal=self.force
        )
        if self.remove and not target.device and source.stat is not None:
            remove_input(source, target.path)
        return out_size

    @staticmethod
    def _tell(name: str, raw: int, out_size: int, elapsed: float) -> None:
        bpb = 8 * out_size / raw if raw else 0.0
        rate = raw / 1024 / elapsed if elapsed > 0 else 0.0
        click.echo(
            f"{display(name)}: {raw} -> {out_size} bytes, {bpb:.4f} bits/byte, {rate:.1f} KiB/s",
            err=True,
        )


def _compressor(
    level: Level,
    method: str | None,
    fast: bool,
    workers: int | None,
    model: str | None,
    gpu: bool,
    chunk_size: int | None,
    context: int | None,
    engine: str | None = None,
    cluster: str | None = None,
) -> Compressor:
    """The compressor for a level, where the explicit options override what it sets."""
    if fast:
        if method not in (None, "fast"):
            raise click.UsageError("--fast and --method cannot be combined")
        method = "fast"
    method = level.method if method is None else method
    model = level.model if model is None else model
    context = level.context if context is None else context
    llm = {k: v for k, v in (("n_ctx", context), ("engine", engine)) if v}
    try:
        return Compressor(
            method,
            workers=workers,
            model=model,
            gpu=gpu,
            chunk_size=chunk_size,
            options={"llm": llm} if llm else None,
            cluster=cluster,
        )
    except ValueError as exc:
        raise click.UsageError(option_names(str(exc))) from None


@click.command("compress")
@options.file_args
@options.to_stdout
@options.output
@options.keep
@click.option("--rm", "remove", is_flag=True, help="Remove inputs after a verified write.")
@click.option("-f", "--force", is_flag=True, help="Overwrite outputs; write to a terminal.")
@click.option(
    "-m",
    "--method",
    type=click.Choice(METHODS),
    default=None,
    help="auto (llm for text, logs for logs, zstd or xz for binary; the default), fast (per "
    "chunk the best of fib, logs, xz and zstd, no model), llm, fib, logs, zstd, xz, stored.",
)
@click.option("--fast", is_flag=True, help="Same as --method fast: no model, much faster.")
@click.option("--model", default=None, help="Model name or GGUF path for the llm codec.")
@click.option(
    "--context",
    type=click.IntRange(16, 131072),
    default=None,
    help="Tokens of context the llm codec's model sees (default: 2048 for smollm2-135m, "
    "8192 for gemma3-270m; SmolLM2 allows 8192: 1.0% smaller on alice29.txt, half the speed).",
)
@click.option(
    "--engine",
    type=click.Choice(["portable", "llama"]),
    default=None,
    help="What computes the llm codec's probabilities: portable (the default where the model "
    "allows: the archive decodes on any machine) or llama (llama.cpp, needs "
    "`pip install 'nacrith[llama]'`: decodes about 3x faster, GPU capable, but the archive decodes "
    "only on machines that compute the same floats).",
)
@click.option(
    "--chunk-size",
    type=ByteSize(),
    default=None,
    help="Bytes per independent chunk (e.g. 64k, 1M). Smaller chunks are coded in parallel "
    "(faster with -T) but compress somewhat worse. Default: the codec's own.",
)
@level_options
@options.gpu
@options.workers
@options.cluster
@options.local_flags
@click.pass_context
def compress_command(
    ctx: click.Context,
    files: tuple[str, ...],
    to_stdout: bool,
    output: str | None,
    keep: bool,
    remove: bool,
    force: bool,
    method: str | None,
    fast: bool,
    model: str | None,
    context: int | None,
    engine: str | None,
    chunk_size: int | None,
    level: int | None,
    gpu: bool,
    workers: int | None,
    cluster: str | None,
    quiet_local: int,
    verbose_local: int,
) -> None:
    """Compress FILE... into FILE.ncz (`-` or nothing: stdin to stdout).

    Levels -1 (fastest, no model) to -9 (best ratio, slowest; default -6) each set a method,
    a model and a context; --method, --model and --context override them. Each level's speed
    and ratio: BENCHMARKS.md, section "Levels".
    """
    quiet, verbose = add_verbosity(ctx, quiet_local, verbose_local)
    options.check_output_options(files, to_stdout, output, remove, keep)
    chosen = LEVELS[DEFAULT_LEVEL if level is None else level]
    compressor = _compressor(
        chosen, method, fast, workers, model, gpu, chunk_size, context, engine, cluster
    )
    job = _Job(to_stdout, output, remove, force, quiet, verbose, compressor)
    try:
        run_files(ctx, files, job.one)
    finally:
        compressor.close()
