"""Where an output of `ncz` may go, and when an input may be removed.

The rules that keep `ncz` from destroying a file it did not create:

- the output is never the input itself (same device and inode, through symbolic and hard
  links): refused, as zstd does;
- an existing output is replaced only with -f, and only when it is a regular file or a
  symbolic link to a regular file (or to nothing): the link itself is then replaced, as gzip
  does. A link to anything else (a device, a FIFO) or through /proc (`/dev/stdout`,
  `/proc/self/fd/1`, whatever they lead to) is refused: never written through nor replaced;
- an existing character device (`-o /dev/null`) is written into, never replaced or removed;
  a directory, block device, FIFO or socket is refused;
- `--rm` removes only a regular input file, after its output was verified, and only while
  its name still refers to the file that was read.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nacrith.cli.inputs import OpenedInput
from nacrith.cli.output import EXISTS, OutputSink, atomic_file, device_output, named_errors
from nacrith.cli.report import FileError


@dataclass(frozen=True)
class Target:
    """Where one output goes: a file created (or replacing one) at `path`, or, with
    `device`, the existing character device at `path`, written into in place."""

    path: Path
    device: bool = False


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _refuse_the_input(path: Path, source: OpenedInput) -> None:
    if source.stat is None:
        return
    try:
        existing = os.stat(path)
    except OSError:
        return
    if _same_file(existing, source.stat):
        raise FileError(source.name, f"output {path} is the input file itself - not overwritten")


def _through_proc(link: Path) -> bool:
    """Whether following `link` passes through /proc (e.g. /dev/stdout, /proc/self/fd/1),
    whose links name open files rather than paths; too long a chain counts as such."""
    try:
        proc = os.stat("/proc").st_dev
    except OSError:
        return False
    current = os.path.abspath(link)
    for _ in range(40):
        try:
            text = os.readlink(current)
            directory = os.path.realpath(os.path.dirname(current))
            if os.stat(directory).st_dev == proc:
                return True
        except OSError:
            return False
        current = os.path.join(directory, text)
    return True


def _replaceable_link(link: Path) -> bool:
    """A symbolic link that -f may replace: one to a regular file (or to nothing), and not
    through /proc."""
    if _through_proc(link):
        return False
    try:
        return stat.S_ISREG(os.stat(link).st_mode)
    except FileNotFoundError:
        return True


def plan_output(path: Path, source: OpenedInput, force: bool) -> Target:
    """Check that the output of `source` may go to `path`; say how to write it."""
    name = str(path)
    with named_errors(name):
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return Target(path)
    _refuse_the_input(path, source)
    if stat.S_ISDIR(mode):
        raise FileError(name, "is a directory")
    if stat.S_ISCHR(mode):
        return Target(path, device=True)
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise FileError(name, "not a regular file - not overwritten")
    if not force:
        raise FileError(name, EXISTS)
    if stat.S_ISLNK(mode) and not _replaceable_link(path):
        raise FileError(name, "is a symbolic link to a file that is not regular - not overwritten")
    return Target(path)


def check_removable(source: OpenedInput) -> None:
    """Refuse `--rm` up front for an input that is not a regular file named directly."""
    if source.is_url:
        raise FileError(source.name, "is a URL; --rm removes only local regular files")
    if source.stat is None:
        return
    if source.is_link:
        raise FileError(source.name, "is a symbolic link; --rm removes only regular files")


def remove_input(source: OpenedInput, output: Path) -> None:
    """Remove the regular input file `source` once its verified output is at `output`.

    Refused when the name no longer refers to the file that was read, or refers to the output.
    """
    if source.stat is None or source.is_link:
        raise FileError(source.name, "not a regular file - not removed")
    with named_errors(source.name):
        now = os.lstat(source.name)
    if not stat.S_ISREG(now.st_mode) or not _same_file(now, source.stat):
        raise FileError(source.name, "was replaced during the run - not removed")
    with named_errors(str(output)):
        written = os.stat(output)
    if _same_file(now, written):
        raise FileError(source.name, "is the output file itself - not removed")
    with named_errors(source.name):
        os.unlink(source.name)


def write_output(
    target: Target,
    source: OpenedInput,
    force: bool,
    write: Callable[[OutputSink], int],
    verify: Callable[[Path, OutputSink], None] | None = None,
    allow_terminal: bool = True,
) -> int:
    """Write the output of `source` to `target` with `write` (which returns a byte count).

    A file is linked in place only when complete, after `plan_output` agrees once more, then
    checked with `verify`, and given the permission bits and the access and modification
    times of `source` (a regular file), as gzip does; a character device is written into
    (`allow_terminal`: even a terminal). Returns what `write` returned.
    """
    if target.device:
        with device_output(target.path, allow_terminal) as sink:
            return write(sink)

    def still_allowed() -> None:
        if plan_output(target.path, source, force).device:
            raise FileError(str(target.path), "was replaced by a device - not overwritten")

    with atomic_file(target.path, source.mode, force, still_allowed) as sink:
        count = write(sink)
    if verify is not None:
        verify(target.path, sink)
    if source.times is not None:
        with named_errors(str(target.path)):
            os.utime(target.path, ns=source.times, follow_symlinks=False)
    return count
