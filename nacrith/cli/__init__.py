"""The `ncz` command line: compress, decompress, test, info, models, grep and bench.

Conventions follow gzip/xz/zstd: FILE... or `-` for stdin/stdout, `-c` (or `-o -`) to write
to stdout, `-o` for an explicit output, inputs kept by default (`--rm` removes a regular
input only after its output was written, synced and re-read), `-f` to overwrite, outputs
written atomically (temporary file, then link or rename). Only regular files (and `-`) are
read; an output is never the input itself. Every error prints `ncz: FILE: message` on stderr
(unless -qq) and exits 1; usage errors too. `ncz grep` exits as grep does.

This module holds the group, the entry point and the exit status; each command lives in its
own module (`compress`, `decompress`, `info`, `models`, `logs`, and `nacrith.bench.command`).
"""

from __future__ import annotations

import contextlib
import os
import sys

import click

from nacrith import __version__
from nacrith.bench.command import bench_command
from nacrith.cli.compress import compress_command
from nacrith.cli.decompress import decompress_command, test_command
from nacrith.cli.habits import rewrite
from nacrith.cli.info import info_command
from nacrith.cli.logs import grep_command
from nacrith.cli.models import models_group
from nacrith.cli.report import ReaderGone, RunState, describe, report
from nacrith.errors import NacrithError

__all__ = ["cli", "main"]

# Commands whose exit status follows grep: 0 a line matched, 1 none did, 2 an error.
_GREP_LIKE = {"grep"}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="ncz")
@click.option("-q", "--quiet", count=True, help="Less output (-qq: no error messages either).")
@click.option("-v", "--verbose", count=True, help="Report sizes, ratio and speed per file.")
@click.pass_context
def cli(ctx: click.Context, quiet: int, verbose: int) -> None:
    """ncz: lossless neural compression for text and files.

    As with gzip: `ncz FILE...` compresses, `-d` decompresses, `-t` tests, `-l` lists,
    `-z` compresses, `-1` .. `-9` set the level (see `ncz compress --help`). A file named
    like a command goes after `--`.
    """
    state = ctx.ensure_object(RunState)
    state.quiet += quiet
    state.verbose += verbose
    state.command = ctx.invoked_subcommand


for _command in (
    compress_command,
    decompress_command,
    test_command,
    info_command,
    models_group,
    grep_command,
    bench_command,
):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `ncz`; returns the exit status (0 ok, 1 any error, usage errors too).

    `ncz grep` follows grep instead: 0 a line matched, 1 none did, 2 an error.
    """
    state = RunState()
    status = _run(sys.argv[1:] if argv is None else argv, state)
    if status == 1 and state.command in _GREP_LIKE and state.errors:
        return 2
    return status


def _run(argv: list[str], state: RunState) -> int:
    """Run the group on `argv`; report what escaped the commands; return the exit status."""
    try:
        argv = rewrite(argv, cli.commands)
        # With standalone_mode=False, click returns ctx.exit()'s code instead of raising.
        result = cli.main(args=argv, prog_name="ncz", standalone_mode=False, obj=state)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.format_message(), err=True)
        return 1
    except click.ClickException as exc:
        report(state, exc.format_message())
        return 1
    except click.exceptions.Abort as exc:  # click turns KeyboardInterrupt into Abort
        report(state, "interrupted")
        return 130 if isinstance(exc.__cause__, KeyboardInterrupt) else 1
    except KeyboardInterrupt:
        report(state, "interrupted")
        return 130
    except (BrokenPipeError, ReaderGone):
        return _reader_gone()
    except (NacrithError, OSError, ValueError) as exc:
        report(state, describe(exc, with_filename=True))
        return 1
    return result if isinstance(result, int) else 0


#: the status a shell reports for gzip killed by SIGPIPE when its reader goes away
SIGPIPE_STATUS = 141


def _reader_gone() -> int:
    """End quietly once the reader of standard output is gone, as gzip does (`ncz -dc big.ncz
    | head`): no message, status `SIGPIPE_STATUS`."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        # nothing more can reach the pipe; Python's final flush of stdout must not complain
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return SIGPIPE_STATUS
