"""gzip/xz/zstd habits at the top level of `ncz`, turned into subcommands before click parses.

`ncz FILE...` compresses; `-z` compresses, `-d` decompresses, `-t` tests and `-l` lists
(`ncz info`), wherever they stand before `--`, also inside a cluster of short flags (`-dc`,
`-kt`). A first argument that names a subcommand keeps its meaning (`ncz bench --list`), so
a file named like a subcommand goes after a flag or `--` (`ncz -- compress`, `ncz -d info.ncz`).
"""

from __future__ import annotations

from collections.abc import Container

import click

__all__ = ["rewrite"]

#: mode flags and the subcommand each one stands for
_MODES = {
    "z": "compress",
    "d": "decompress",
    "t": "test",
    "l": "info",
}
_LONG_MODES = {
    "--compress": "compress",
    "--decompress": "decompress",
    "--uncompress": "decompress",
    "--test": "test",
    "--list": "info",
}
#: flags that take no value and may share a cluster with a mode flag (`-dc`, `-9kf`)
_CLUSTER_FLAGS = set("zdtlckfqv123456789")
#: the group's own options, which stay before the subcommand
_GROUP_FLAGS = {"--quiet", "--verbose"}
#: options that make the group answer by itself
_GROUP_ANSWERS = {"-h", "--help", "-V", "--version"}


def _is_group_flag(arg: str) -> bool:
    if arg in _GROUP_FLAGS:
        return True
    return len(arg) > 1 and arg[0] == "-" and arg[1] != "-" and set(arg[1:]) <= {"q", "v"}


def _split_mode(arg: str) -> tuple[str | None, str | None]:
    """(subcommand named by `arg`'s mode flags, what is left of `arg`, None if nothing)."""
    if arg in _LONG_MODES:
        return _LONG_MODES[arg], None
    if len(arg) < 2 or arg[0] != "-" or arg[1] == "-" or not set(arg[1:]) <= _CLUSTER_FLAGS:
        return None, arg
    modes = {_MODES[c] for c in arg[1:] if c in _MODES}
    if len(modes) > 1:
        raise click.UsageError(f"{arg}: only one of -z, -d, -t and -l may be given")
    rest = "".join(c for c in arg[1:] if c not in _MODES)
    return (modes.pop() if modes else None), (f"-{rest}" if rest else None)


def rewrite(argv: list[str], commands: Container[str]) -> list[str]:
    """`argv` with the gzip habits turned into an explicit subcommand (see the module doc)."""
    start = 0
    while start < len(argv) and _is_group_flag(argv[start]):
        start += 1
    rest = argv[start:]
    if not rest or rest[0] in _GROUP_ANSWERS or rest[0] in commands:
        return argv
    modes: set[str] = set()
    kept: list[str] = []
    for index, arg in enumerate(rest):
        if arg == "--":
            kept.extend(rest[index:])
            break
        mode, left = _split_mode(arg)
        if mode is not None:
            modes.add(mode)
        if left is not None:
            kept.append(left)
    if len(modes) > 1:
        raise click.UsageError("only one of -z, -d, -t and -l may be given")
    command = modes.pop() if modes else "compress"
    return [*argv[:start], command, *kept]
