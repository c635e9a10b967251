"""`ncz decompress` (FILE.ncz... into FILE) and `ncz test` (decode fully, write nothing)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import click

from nacrith.api import Decompressor
from nacrith.cli import options
from nacrith.cli.inputs import OpenedInput, Progress, needs_named_output, reading, stdin_handle
from nacrith.cli.output import OutputSink, check_written, stdout_sink
from nacrith.cli.report import FileError, add_verbosity, display, run_files
from nacrith.cli.targets import check_removable, plan_output, remove_input, write_output


def decompressed_name(name: str) -> Path:
    """FILE for FILE.ncz; a `FileError` for any other name."""
    if not name.endswith(options.SUFFIX) or len(name) == len(options.SUFFIX):
        raise FileError(name, f"unknown suffix (expected {options.SUFFIX}) -- ignored")
    return Path(name[: -len(options.SUFFIX)])


@dataclass
class _Job(options.OutputChoices):
    """How to decompress each input of one `ncz decompress` run."""

    decompressor: Decompressor

    def one(self, name: str) -> None:
        """Decompress archive `name` (`-`: stdin) to its output; then remove it with --rm."""
        if name == "-" and stdin_handle().isatty() and not self.force:
            raise FileError(name, "compressed data cannot be read from a terminal (use -f)")
        use_stdout = options.writes_stdout(name, self.to_stdout, self.output)
        stdout = stdout_sink() if use_stdout else None
        path = None
        if not use_stdout:
            if not self.output:
                needs_named_output(name)
            path = Path(self.output) if self.output else decompressed_name(name)
        start = time.perf_counter()
        with reading(
            name,
            self.quiet == 0,
            False,
            self.force or use_stdout,
            watch_fd=stdout.fileno() if stdout is not None else None,
        ) as (source, progress):
            if stdout is not None:
                written = self.decompressor.decompress_stream(source.handle, stdout, progress)  # type: ignore[arg-type]
                stdout.flush()
            else:
                assert path is not None
                written = self._to_file(source, path, progress)
        if self.verbose:
            elapsed = time.perf_counter() - start
            rate = written / 1024 / elapsed if elapsed > 0 else 0.0
            click.echo(
                f"{display(name)}: {source.size} -> {written} bytes, {rate:.1f} KiB/s", err=True
            )

    def _to_file(self, source: OpenedInput, path: Path, progress: Progress) -> int:
        if self.remove:
            check_removable(source)
        target = plan_output(path, source, self.force)

        def write(sink: OutputSink) -> int:
            return self.decompressor.decompress_stream(source.handle, sink, progress)  # type: ignore[arg-type]

        verify = check_written if self.remove else None
        written = write_output(target, source, self.force, write, verify)
        if self.remove and not target.device and source.stat is not None:
            remove_input(source, target.path)
        return written


@click.command("decompress")
@options.file_args
@options.to_stdout
@options.output
@options.keep
@click.option("--rm", "remove", is_flag=True, help="Remove archives after a verified write.")
@click.option("-f", "--force", is_flag=True, help="Overwrite existing outputs.")
@options.decode_model
@options.gpu
@options.workers
@options.cluster
@options.local_flags
@click.pass_context
def decompress_command(
    ctx: click.Context,
    files: tuple[str, ...],
    to_stdout: bool,
    output: str | None,
    keep: bool,
    remove: bool,
    force: bool,
    model: str | None,
    gpu: bool,
    workers: int | None,
    cluster: str | None,
    quiet_local: int,
    verbose_local: int,
) -> None:
    """Decompress FILE.ncz... into FILE (`-` or nothing: stdin to stdout)."""
    quiet, verbose = add_verbosity(ctx, quiet_local, verbose_local)
    options.check_output_options(files, to_stdout, output, remove, keep)
    decompressor = Decompressor(workers=workers, model=model, gpu=gpu, cluster=cluster)
    job = _Job(to_stdout, output, remove, force, quiet, verbose, decompressor)
    try:
        run_files(ctx, files, job.one)
    finally:
        decompressor.close()


class _NullSink:
    def write(self, data: bytes) -> int:
        return len(data)


@click.command("test")
@options.file_args
@options.decode_model
@options.gpu
@options.workers
@options.cluster
@options.local_flags
@click.pass_context
def test_command(
    ctx: click.Context,
    files: tuple[str, ...],
    model: str | None,
    gpu: bool,
    workers: int | None,
    cluster: str | None,
    quiet_local: int,
    verbose_local: int,
) -> None:
    """Decode FILE.ncz... fully and check every checksum; write nothing."""
    quiet, verbose = add_verbosity(ctx, quiet_local, verbose_local)
    decompressor = Decompressor(workers=workers, model=model, gpu=gpu, cluster=cluster)

    def one(name: str) -> None:
        with reading(name, quiet == 0, size_known=False) as (source, progress):
            written = decompressor.decompress_stream(source.handle, _NullSink(), progress)  # type: ignore[arg-type]
        if verbose:
            click.echo(f"{display(name)}: OK ({written} bytes)", err=True)

    try:
        run_files(ctx, files, one)
    finally:
        decompressor.close()
