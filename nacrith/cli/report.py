"""How `ncz` speaks: `ncz: NAME: message` on stderr (silenced by -qq), and the run's state.

Every command reports a failed file through `run_files`; the group's entry point
(`nacrith.cli.main`) reports the rest. Both count the errors in the `RunState` that click
carries as the context object, which decides the exit status.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import click

from nacrith.errors import NacrithError

STDIN = "-"
STDOUT_NAME = "(stdout)"

# Library parameter names that leak into ValueError messages, and the options that set them.
_OPTION_NAMES = {
    "chunk_size": "--chunk-size",
    "n_ctx": "--context",
    "workers": "--workers",
}


class FileError(Exception):
    """An error about one file, reported as `ncz: FILE: message`."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


class ReaderGone(Exception):
    """The reader of standard output is gone (EPIPE): the whole run ends quietly, as gzip's
    does. Not an OSError, so that click does not handle it on its own."""


@dataclass
class RunState:
    """What one `ncz` run has seen: total -q/-v, the subcommand, and how many errors."""

    quiet: int = 0
    verbose: int = 0
    command: str | None = None
    errors: int = 0


def display(path: str) -> str:
    """The name of `path` in messages: `(stdin)` for `-`."""
    return "(stdin)" if path == STDIN else path


def describe(exc: BaseException, with_filename: bool = False) -> str:
    """A one-line description of `exc`: an OSError's strerror, else its message."""
    if isinstance(exc, OSError) and exc.strerror:
        if with_filename and exc.filename:
            return f"{os.fsdecode(exc.filename)}: {exc.strerror}"
        return exc.strerror
    return option_names(str(exc)) or type(exc).__name__


def option_names(message: str) -> str:
    """`message` with library parameter names replaced by the options that set them."""
    for internal, option in _OPTION_NAMES.items():
        message = message.replace(f"{internal} must", f"{option} must")
    return message


def state_of(ctx: click.Context) -> RunState:
    """The run's state (created on first use, e.g. when a test invokes the group directly)."""
    return ctx.find_root().ensure_object(RunState)


def report(state: RunState, message: str) -> None:
    """Count an error and print `ncz: message` on stderr unless quieted twice (-qq)."""
    state.errors += 1
    if state.quiet < 2:
        click.echo(f"ncz: {message}", err=True)


def warn(ctx: click.Context, message: str) -> None:
    """`report` for a command: count and print `ncz: message`."""
    report(state_of(ctx), message)


def add_verbosity(ctx: click.Context, quiet: int, verbose: int) -> tuple[int, int]:
    """Add a command's own -q/-v to the group's; return the totals (what `report` obeys)."""
    state = state_of(ctx)
    state.quiet += quiet
    state.verbose += verbose
    if state.quiet:
        from nacrith.models.llm import registry

        registry.announce_pulls(False)
    return state.quiet, state.verbose


def run_files(ctx: click.Context, files: tuple[str, ...], action: Callable[[str], None]) -> None:
    """Call `action` on each file (stdin when none), report failures, exit 1 if any failed."""
    failed = False
    for name in files or (STDIN,):
        try:
            action(name)
        except BrokenPipeError as exc:
            raise ReaderGone() from exc
        except FileError as exc:
            warn(ctx, f"{display(exc.name)}: {exc.message}")
            failed = True
        except (NacrithError, OSError, ValueError, TypeError) as exc:
            warn(ctx, f"{display(name)}: {describe(exc)}")
            failed = True
    if failed:
        ctx.exit(1)
