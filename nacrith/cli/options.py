"""Options shared by the `ncz` commands, and the checks on how they combine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

SUFFIX = ".ncz"


@dataclass
class OutputChoices:
    """Where the outputs of one `ncz compress` or `ncz decompress` run go, and how it talks."""

    to_stdout: bool
    output: str | None
    remove: bool
    force: bool
    quiet: int
    verbose: int


file_args = click.argument("files", nargs=-1, type=click.Path(dir_okay=True, allow_dash=True))
to_stdout = click.option(
    "-c", "--stdout", "to_stdout", is_flag=True, help="Write to standard output."
)
output = click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Output file name (one input only; `-`: standard output).",
)
keep = click.option("-k", "--keep", is_flag=True, help="Keep input files (the default).")
gpu = click.option(
    "--gpu",
    is_flag=True,
    help="Run the llm codec's model on a GPU (needs the `llama` extra built for CUDA, see "
    "README). Archives made on a GPU decode where the same numerics are computed.",
)
decode_model = click.option(
    "--model",
    default=None,
    help="GGUF path for archives made with an unregistered model file.",
)
workers = click.option(
    "-T",
    "--workers",
    type=click.IntRange(min=0),
    default=0,
    help=(
        "Worker processes (0: one per CPU, the default). A file coded in one process gives the"
        " model all CPUs ($NACRITH_THREADS sets the count); N processes share them. Never"
        " changes the archive bytes."
    ),
)

cluster = click.option(
    "--cluster",
    metavar="ADDRESS",
    envvar="NACRITH_CLUSTER",
    default=None,
    help="Code on the Ray cluster at ADDRESS (host:port, ray://host:10001, auto, or local for "
    "a private instance on this machine; default $NACRITH_CLUSTER; needs nacrith[cluster]). -T "
    "then counts coder actors (0: one per CPU of the cluster). Never changes the archive bytes.",
)


def local_flags(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add a command's own -q/-v (added to the group's)."""
    for option in (
        click.option("-q", "--quiet", "quiet_local", count=True, help="Less output."),
        click.option("-v", "--verbose", "verbose_local", count=True, help="More output."),
    ):
        func = option(func)
    return func


def check_output_options(
    files: tuple[str, ...], stdout: bool, output: str | None, remove: bool, keep: bool
) -> None:
    """Usage errors: -o with -c or with several inputs; --rm with -k, -c or `-o -`."""
    if output is not None and stdout:
        raise click.UsageError("-o/--output and -c/--stdout cannot be combined")
    if output is not None and len(files) > 1:
        raise click.UsageError(f"-o/--output takes one input ({len(files)} given)")
    if remove and keep:
        raise click.UsageError("--rm and -k/--keep cannot be combined")
    if remove and stdout:
        raise click.UsageError("--rm cannot be used with -c")
    if remove and output == "-":
        raise click.UsageError("--rm cannot be used with -o - (standard output)")


def writes_stdout(name: str, stdout: bool, output: str | None) -> bool:
    """Whether the output of input `name` goes to standard output (-c, `-o -`, or stdin
    with no -o)."""
    return stdout or output == "-" or (name == "-" and output is None)
