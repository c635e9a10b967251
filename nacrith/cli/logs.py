"""``ncz grep``: search log archives without decompressing them first.

Prints the matching lines of each archive (prefixed with ``FILE:`` when there are several
files), or with ``-c`` their count. Exit status as grep: 0 when a line matched, 1 when none
did; an archive error propagates as a `NacrithError` of the same type whose message starts
with the file name, for the CLI to report. Time bounds are compared exactly, fractions of a
second included, both inclusive (see `nacrith.logs.search` for a line's time).
"""

from __future__ import annotations

import re
import sys

import click

from nacrith.errors import NacrithError
from nacrith.formats.logs.timestamps import parse_bound
from nacrith.logs import LogArchive

__all__ = ["grep_command"]


def _time_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        try:
            parse_bound(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from exc
    return value


_GREP_HELP = """Print the lines of log archives that contain PATTERN (or match it, with -E).

\b
With --since/--until, a line's time is its first timestamp in the format most
lines of its chunk use, with the fraction of a second written after it; a line
without one (a stack trace, or a line stamped in another format) takes the time
of the line before it. A line matches when SINCE <= its time <= UNTIL."""

_SINCE_HELP = (
    "Only lines at or after TIME: ISO 8601 (2024-03-01 01:31:03.5) or the log's own time "
    "format, fractions of a second included. Stamps without a year (syslog "
    "'Mar  1 01:31:03') are read as year 2000: give TIME in the log's own spelling "
    "(no year) or with year 2000."
)


@click.command("grep", help=_GREP_HELP)
@click.option("-E", "--regex", "regex", is_flag=True, help="PATTERN is a regular expression.")
@click.option("-i", "--ignore-case", is_flag=True, help="Fold ASCII case.")
@click.option("-c", "--count", is_flag=True, help="Print only the number of matching lines.")
@click.option(
    "--since",
    metavar="TIME",
    callback=_time_option,
    help=_SINCE_HELP,
)
@click.option(
    "--until",
    metavar="TIME",
    callback=_time_option,
    help="Only lines at or before TIME (inclusive; the same forms as --since).",
)
@click.argument("pattern")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.pass_context
def grep_command(
    ctx: click.Context,
    regex: bool,
    ignore_case: bool,
    count: bool,
    since: str | None,
    until: str | None,
    pattern: str,
    files: tuple[str, ...],
) -> None:
    """Search each FILE for PATTERN."""
    out = sys.stdout.buffer
    needle = pattern.encode("utf-8", "surrogateescape")
    if regex:
        try:
            re.compile(needle)
        except re.error as exc:
            raise click.BadParameter(
                f"bad regular expression: {exc}", param_hint="PATTERN"
            ) from exc
    matched = False
    for path in files:
        prefix = path.encode("utf-8", "surrogateescape") + b":" if len(files) > 1 else b""
        n = 0
        try:
            with LogArchive(path, "r") as archive:
                hits = archive.search(
                    needle, regex=regex, ignore_case=ignore_case, since=since, until=until
                )
                for line in hits:
                    n += 1
                    if not count:
                        out.write(prefix + line + b"\n")
        except NacrithError as exc:
            out.flush()
            raise type(exc)(f"{path}: {exc}") from exc
        if count:
            out.write(prefix + b"%d\n" % n)
        matched = matched or n > 0
    out.flush()
    ctx.exit(0 if matched else 1)
