"""The `ncz` command line: compress, decompress, test, info (and models, grep, bench).

Conventions follow gzip/xz/zstd: FILE... or `-` for stdin/stdout, `-c` to write to stdout, `-o`
for an explicit output, inputs kept by default (`--rm` removes an input only after its output
was written, synced and re-read), `-f` to overwrite, output written atomically (temporary file
then rename). Every error prints `ncz: FILE: message` on stderr and exits 1; usage errors too.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, cast

import click

from nacrith import __version__
from nacrith.api import Compressor, Decompressor
from nacrith.codecs.registry import METHODS
from nacrith.errors import NacrithError
from nacrith.formats.container import iter_members
from nacrith.progress import progress_bar
from nacrith.sizes import ByteSize

SUFFIX = ".ncz"


class FileError(Exception):
    """An error about one file, reported as `ncz: FILE: message`."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


def _display(path: str) -> str:
    return "(stdin)" if path == "-" else path


def _describe(exc: BaseException, with_filename: bool = False) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        if with_filename and exc.filename:
            return f"{os.fsdecode(exc.filename)}: {exc.strerror}"
        return exc.strerror
    return str(exc) or type(exc).__name__


def _warn(ctx: click.Context, message: str) -> None:
    _ERRORS_SEEN.append(message)
    if ctx.obj.get("quiet", 0) < 2:
        click.echo(f"ncz: {message}", err=True)


class _Progress:
    """A tqdm bar on stderr when stderr is a terminal and not quieted; otherwise nothing."""

    def __init__(self, enabled: bool, total: int | None, desc: str) -> None:
        self.bar = None
        if enabled and sys.stderr.isatty():
            self.bar = progress_bar(total, desc)

    def __call__(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update(done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def _atomic_output(target: Path, force: bool, mode: int | None = None) -> Iterator[IO[bytes]]:
    """Write to an unnamed temporary file beside `target`, linked in place only on success.

    On Linux the file is created with O_TMPFILE, so a killed process (even SIGKILL) leaves no
    file behind; elsewhere a hidden temporary file is removed on any exception. The output gets
    permission bits `mode` (default: 0o666 less the umask), like gzip's.
    """
    if target.exists() and not force:
        raise FileError(str(target), "already exists; not overwritten (use -f to overwrite)")
    if target.is_dir():
        raise FileError(str(target), "is a directory")
    directory = target.parent if str(target.parent) else Path(".")
    mode = _default_mode() if mode is None else mode
    fd, tmp_name = _temporary_file(directory, target.name, mode)
    try:
        with os.fdopen(fd, "wb") as tmp:
            yield tmp
            tmp.flush()
            os.fsync(tmp.fileno())
            if tmp_name is None:
                tmp_name = _link_unnamed(tmp.fileno(), directory, target.name)
        os.replace(tmp_name, target)
    except BaseException:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
        raise


_AT_FDCWD = -100
_AT_SYMLINK_FOLLOW = 0x400


def _linkat() -> Callable[..., int] | None:
    """libc's linkat, which can give an O_TMPFILE file a name (os.link cannot on Python < 3.13)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).linkat
    except (OSError, AttributeError):
        return None


def _temporary_file(directory: Path, name: str, mode: int) -> tuple[int, str | None]:
    """An open fd for the output: unnamed (O_TMPFILE) when possible, else a hidden file."""
    flag = getattr(os, "O_TMPFILE", 0)
    if flag and _linkat() is not None:
        try:
            return os.open(directory, flag | os.O_WRONLY, mode), None
        except OSError:
            pass  # filesystem without O_TMPFILE support
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    os.fchmod(fd, mode)
    return fd, tmp_name


def _link_unnamed(fd: int, directory: Path, name: str) -> str:
    """Give an O_TMPFILE file a hidden temporary name (then renamed over the target)."""
    import ctypes

    linkat = _linkat()
    assert linkat is not None
    source = f"/proc/self/fd/{fd}".encode()
    for attempt in range(100):
        tmp_name = str(directory / f".{name}.{os.getpid()}.{attempt}.tmp")
        if linkat(_AT_FDCWD, source, _AT_FDCWD, os.fsencode(tmp_name), _AT_SYMLINK_FOLLOW) == 0:
            return tmp_name
        err = ctypes.get_errno()
        if err != errno.EEXIST:
            raise OSError(err, os.strerror(err), tmp_name)
    raise FileExistsError(f"cannot create a temporary name for {name}")


def _open_input(path: str) -> tuple[IO[bytes], int | None]:
    if path == "-":
        return sys.stdin.buffer, None
    p = Path(path)
    if p.is_dir():
        raise FileError(path, "is a directory -- ignored")
    handle = p.open("rb")
    stat = os.fstat(handle.fileno())
    return handle, stat.st_size if os.path.isfile(path) else None


class _WholeFile:
    """A reader of a regular file that must hold `size` bytes from start to end.

    The archive header declares the size taken when the file was opened, so a file that
    grows or shrinks while it is read raises `FileError` instead of making an archive that
    cannot be trusted (the partial output is then discarded).
    """

    def __init__(self, raw: IO[bytes], name: str, size: int) -> None:
        self._raw = raw
        self._name = name
        self._size = size
        self._done = 0

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self._done += len(data)
        if self._done > self._size or (not data and n != 0 and self._done < self._size):
            raise FileError(
                self._name,
                f"changed while being read ({self._size} bytes when opened, "
                f"{'at least ' if data else ''}{self._done} read) -- not compressed",
            )
        return data


@contextlib.contextmanager
def _reading(
    name: str, show_progress: bool, size_known: bool
) -> Iterator[tuple[IO[bytes], int | None, _Progress]]:
    """Open an input (or stdin) with a progress bar; close both afterwards.

    `size_known`: the bar's total is the input size (compression) or unknown (decompression,
    where the input size says nothing about the output's).
    """
    reader, size = _open_input(name)
    progress = _Progress(show_progress, size if size_known else None, _display(name))
    try:
        yield reader, size, progress
    finally:
        progress.close()
        if reader is not sys.stdin.buffer:
            reader.close()


def _input_mode(path: str) -> int | None:
    """Permission bits of a regular input file, to give its output the same."""
    if path == "-" or not os.path.isfile(path):
        return None
    return os.stat(path).st_mode & 0o777


def _check_archive_on_disk(path: Path) -> None:
    """Re-read a written archive's structure and payload checksums (no decoding)."""
    with path.open("rb") as handle:
        for member in iter_members(handle):
            for _record in member.chunks:
                pass


def _run_files(ctx: click.Context, files: tuple[str, ...], action: Callable[[str], None]) -> None:
    failed = False
    for name in files or ("-",):
        try:
            action(name)
        except FileError as exc:
            _warn(ctx, f"{_display(exc.name)}: {exc.message}")
            failed = True
        except (NacrithError, OSError, ValueError, TypeError) as exc:
            _warn(ctx, f"{_display(name)}: {_describe(exc)}")
            failed = True
    if failed:
        ctx.exit(1)


def _common_output_checks(files: tuple[str, ...], stdout: bool, output: str | None) -> None:
    if output is not None and (stdout or len(files) > 1):
        raise click.UsageError("-o/--output takes a single input and cannot be used with -c")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="ncz")
@click.option("-q", "--quiet", count=True, help="Less output (-qq: no error messages either).")
@click.option("-v", "--verbose", count=True, help="Report sizes, ratio and speed per file.")
@click.pass_context
def cli(ctx: click.Context, quiet: int, verbose: int) -> None:
    """ncz: lossless neural compression for text and files."""
    ctx.ensure_object(dict)
    ctx.obj["quiet"] = quiet
    ctx.obj["verbose"] = verbose


def _verbosity(ctx: click.Context, quiet: int, verbose: int) -> tuple[int, int]:
    """Combine the group's and the command's -q/-v; the total -q is what `_warn` obeys."""
    ctx.obj["quiet"] += quiet
    ctx.obj["verbose"] += verbose
    if ctx.obj["quiet"]:
        from nacrith.models.llm import registry

        registry.announce_pulls(False)
    return ctx.obj["quiet"], ctx.obj["verbose"]


_file_args = click.argument("files", nargs=-1, type=click.Path(dir_okay=True, allow_dash=True))
_gpu = click.option(
    "--gpu",
    is_flag=True,
    help="Run the llm codec's model on a GPU (needs a CUDA build of llama-cpp-python, see "
    "README). Archives made on a GPU decode where the same numerics are computed.",
)
_decode_model = click.option(
    "--model",
    default=None,
    help="GGUF path for archives made with an unregistered model file.",
)
_workers = click.option(
    "-T",
    "--workers",
    type=click.IntRange(min=0),
    default=None,
    help="Worker processes (0: one per CPU, the default). Never changes the archive bytes.",
)


def _local_flags(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in (
        click.option("-q", "--quiet", "quiet_local", count=True, help="Less output."),
        click.option("-v", "--verbose", "verbose_local", count=True, help="More output."),
    ):
        func = option(func)
    return func


@cli.command()
@_file_args
@click.option("-c", "--stdout", "to_stdout", is_flag=True, help="Write to standard output.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Output file name.")
@click.option("-k", "--keep", is_flag=True, help="Keep input files (the default).")
@click.option("--rm", "remove", is_flag=True, help="Remove inputs after a verified write.")
@click.option("-f", "--force", is_flag=True, help="Overwrite outputs; write to a terminal.")
@click.option(
    "-m",
    "--method",
    type=click.Choice(METHODS),
    default="auto",
    show_default=True,
    help="Codec for text: auto (llm for text, logs for logs, zstd for binary), llm, fib "
    "(fast, no model), logs, zstd, stored.",
)
@click.option("--fast", is_flag=True, help="Same as --method fib: no model, much faster.")
@click.option("--model", default=None, help="Model name or GGUF path for the llm codec.")
@click.option(
    "--context",
    type=click.IntRange(16, 131072),
    default=None,
    help="Tokens of context the llm codec's model sees (default: 2048 for smollm2-135m, "
    "8192 for gemma3-270m; SmolLM2 allows 8192: 1.0% smaller on alice29.txt, half the speed).",
)
@click.option(
    "--chunk-size",
    type=ByteSize(),
    default=None,
    help="Bytes per independent chunk (e.g. 64k, 1M). Smaller chunks are coded in parallel "
    "(faster with -T) but compress somewhat worse. Default: the codec's own.",
)
@_gpu
@_workers
@_local_flags
@click.pass_context
def compress(
    ctx: click.Context,
    files: tuple[str, ...],
    to_stdout: bool,
    output: str | None,
    keep: bool,
    remove: bool,
    force: bool,
    method: str,
    fast: bool,
    model: str | None,
    context: int | None,
    chunk_size: int | None,
    gpu: bool,
    workers: int | None,
    quiet_local: int,
    verbose_local: int,
) -> None:
    """Compress FILE... into FILE.ncz (`-` or nothing: stdin to stdout)."""
    quiet, verbose = _verbosity(ctx, quiet_local, verbose_local)
    _common_output_checks(files, to_stdout, output)
    if fast:
        if method not in ("auto", "fib"):
            raise click.UsageError("--fast and --method cannot be combined")
        method = "fib"
    if remove and keep:
        raise click.UsageError("--rm and -k/--keep cannot be combined")
    try:
        compressor = Compressor(
            method,
            workers=workers,
            model=model,
            gpu=gpu,
            chunk_size=chunk_size,
            options={"llm": {"n_ctx": context}} if context else None,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None

    def one(name: str) -> None:
        use_stdout = to_stdout or (name == "-" and output is None)
        if use_stdout and sys.stdout.isatty() and not force:
            raise FileError(
                name, "compressed data cannot be written to a terminal (use -f to force)"
            )
        if name != "-" and name.endswith(SUFFIX) and not force and output is None:
            raise FileError(name, f"already has {SUFFIX} suffix -- unchanged")
        start = time.perf_counter()
        with _reading(name, quiet == 0, size_known=True) as (handle, size, progress):
            reader = handle if size is None else cast(IO[bytes], _WholeFile(handle, name, size))
            if use_stdout:
                out_size = compressor.compress_stream(reader, sys.stdout.buffer, size, progress)
                sys.stdout.buffer.flush()
                target = None
            else:
                target = Path(output) if output else Path(name + SUFFIX)
                with _atomic_output(target, force, _input_mode(name)) as sink:
                    out_size = compressor.compress_stream(reader, sink, size, progress)
                _check_archive_on_disk(target)
        elapsed = time.perf_counter() - start
        if verbose:
            raw = size if size is not None else 0
            bpb = 8 * out_size / raw if raw else 0.0
            rate = raw / 1024 / elapsed if elapsed > 0 else 0.0
            click.echo(
                f"{_display(name)}: {raw} -> {out_size} bytes, {bpb:.4f} bits/byte, "
                f"{rate:.1f} KiB/s",
                err=True,
            )
        if remove and name != "-" and target is not None:
            os.unlink(name)

    try:
        _run_files(ctx, files, one)
    finally:
        compressor.close()


def _decompressed_name(name: str) -> Path:
    if not name.endswith(SUFFIX) or len(name) == len(SUFFIX):
        raise FileError(name, f"unknown suffix (expected {SUFFIX}) -- ignored")
    return Path(name[: -len(SUFFIX)])


@cli.command()
@_file_args
@click.option("-c", "--stdout", "to_stdout", is_flag=True, help="Write to standard output.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Output file name.")
@click.option("-k", "--keep", is_flag=True, help="Keep input files (the default).")
@click.option("--rm", "remove", is_flag=True, help="Remove archives after a verified write.")
@click.option("-f", "--force", is_flag=True, help="Overwrite existing outputs.")
@_decode_model
@_gpu
@_workers
@_local_flags
@click.pass_context
def decompress(
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
    quiet_local: int,
    verbose_local: int,
) -> None:
    """Decompress FILE.ncz... into FILE (`-` or nothing: stdin to stdout)."""
    quiet, verbose = _verbosity(ctx, quiet_local, verbose_local)
    _common_output_checks(files, to_stdout, output)
    if remove and keep:
        raise click.UsageError("--rm and -k/--keep cannot be combined")
    decompressor = Decompressor(workers=workers, model=model, gpu=gpu)

    def one(name: str) -> None:
        if name == "-" and sys.stdin.isatty() and not force:
            raise FileError(name, "compressed data cannot be read from a terminal (use -f)")
        use_stdout = to_stdout or (name == "-" and output is None)
        target = None if use_stdout else (Path(output) if output else _decompressed_name(name))
        start = time.perf_counter()
        with _reading(name, quiet == 0, size_known=False) as (reader, size, progress):
            if target is None:
                written = decompressor.decompress_stream(reader, sys.stdout.buffer, progress)
                sys.stdout.buffer.flush()
            else:
                with _atomic_output(target, force, _input_mode(name)) as sink:
                    written = decompressor.decompress_stream(reader, sink, progress)
        if verbose:
            elapsed = time.perf_counter() - start
            rate = written / 1024 / elapsed if elapsed > 0 else 0.0
            click.echo(f"{_display(name)}: {size} -> {written} bytes, {rate:.1f} KiB/s", err=True)
        if remove and name != "-" and target is not None:
            os.unlink(name)

    try:
        _run_files(ctx, files, one)
    finally:
        decompressor.close()


class _NullSink:
    def write(self, data: bytes) -> int:
        return len(data)


@cli.command()
@_file_args
@_decode_model
@_gpu
@_workers
@_local_flags
@click.pass_context
def test(
    ctx: click.Context,
    files: tuple[str, ...],
    model: str | None,
    gpu: bool,
    workers: int | None,
    quiet_local: int,
    verbose_local: int,
) -> None:
    """Decode FILE.ncz... fully and check every checksum; write nothing."""
    quiet, verbose = _verbosity(ctx, quiet_local, verbose_local)
    decompressor = Decompressor(workers=workers, model=model, gpu=gpu)

    def one(name: str) -> None:
        with _reading(name, quiet == 0, size_known=False) as (reader, _size, progress):
            written = decompressor.decompress_stream(reader, _NullSink(), progress)  # type: ignore[arg-type]
        if verbose:
            click.echo(f"{_display(name)}: OK ({written} bytes)", err=True)

    try:
        _run_files(ctx, files, one)
    finally:
        decompressor.close()


@cli.command()
@_file_args
@_local_flags
@click.pass_context
def info(ctx: click.Context, files: tuple[str, ...], quiet_local: int, verbose_local: int) -> None:
    """List the members and chunks of FILE.ncz... (sizes, codecs, ratio); decodes nothing."""
    _quiet, verbose = _verbosity(ctx, quiet_local, verbose_local)

    def one(name: str) -> None:
        reader, size = _open_input(name)
        try:
            lines = []
            raw_total = 0
            by_codec: dict[str, list[int]] = {}
            members = 0
            for member in iter_members(reader):
                members += 1
                for index, record in enumerate(member.chunks):
                    raw_total += record.raw_size
                    stats = by_codec.setdefault(record.codec_id, [0, 0, 0])
                    stats[0] += 1
                    stats[1] += record.raw_size
                    stats[2] += record.coded_size
                    if verbose:
                        lines.append(
                            f"  member {members} chunk {index}: {record.codec_id:7s} "
                            f"{record.raw_size:>12} -> {record.coded_size:>12}"
                        )
                if verbose:
                    for codec_id, params in sorted(member.codec_params.items()):
                        lines.append(f"  member {members} {codec_id} params: {params}")
        finally:
            if reader is not sys.stdin.buffer:
                reader.close()
        archive_size = size if size is not None else 0
        bpb = 8 * archive_size / raw_total if raw_total and archive_size else 0.0
        click.echo(
            f"{_display(name)}: {members} member(s), {raw_total} bytes -> {archive_size} bytes"
            + (f", {bpb:.4f} bits/byte" if bpb else "")
        )
        for codec_id, (count, raw, coded) in sorted(by_codec.items()):
            click.echo(f"  {codec_id:7s} {count:>6} chunk(s) {raw:>12} -> {coded:>12} bytes")
        for line in lines:
            click.echo(line)

    _run_files(ctx, files, one)


def _register_optional_commands() -> None:
    """Attach commands that live in other modules (when those modules are present)."""
    for module_name, attr in (
        ("nacrith.cli.models", "models_group"),
        ("nacrith.cli.logs", "grep_command"),
        ("nacrith.bench", "bench_command"),
    ):
        try:
            module = __import__(module_name, fromlist=[attr])
        except ImportError:
            continue
        command = getattr(module, attr, None)
        if isinstance(command, click.Command):
            cli.add_command(command)


_register_optional_commands()


def main(argv: list[str] | None = None) -> int:
    """Entry point of `ncz`; returns the exit status (0 ok, 1 any error, usage errors too).

    `ncz grep` follows grep instead: 0 a line matched, 1 none did, 2 an error.
    """
    args = sys.argv[1:] if argv is None else argv
    status = _run(args)
    if status == 1 and _is_grep(args) and _ERRORS_SEEN:
        return 2
    return status


_ERRORS_SEEN: list[str] = []


def _is_grep(args: list[str]) -> bool:
    words = [a for a in args if not a.startswith("-")]
    return bool(words) and words[0] == "grep"


def _report(message: str) -> None:
    _ERRORS_SEEN.append(message)
    click.echo(message, err=True)


def _run(argv: list[str]) -> int:
    try:
        # With standalone_mode=False, click returns ctx.exit()'s code instead of raising.
        result = cli.main(args=argv, prog_name="ncz", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.format_message(), err=True)
        return 1
    except click.ClickException as exc:
        _report(f"ncz: {exc.format_message()}")
        return 1
    except click.exceptions.Abort as exc:  # click turns KeyboardInterrupt into Abort
        _report("ncz: interrupted")
        return 130 if isinstance(exc.__cause__, KeyboardInterrupt) else 1
    except KeyboardInterrupt:
        _report("ncz: interrupted")
        return 130
    except BrokenPipeError:
        with contextlib.suppress(OSError):
            sys.stderr.close()
        return 1
    except (NacrithError, OSError, ValueError) as exc:
        _report(f"ncz: {_describe(exc, with_filename=True)}")
        return 1
    return result if isinstance(result, int) else 0
