"""Running `ncz` as a subprocess, and a snapshot of a folder to see what a run changed."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

NCZ = [sys.executable, "-m", "nacrith.cli"]

Entry = tuple[int, int, int, bytes | str | None]


def ncz(
    *args: str,
    cwd: Path,
    stdin: bytes | None = None,
    preexec_fn: Callable[[], None] | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run `ncz ARGS` in `cwd` (`env`: variables to add); a command that blocks fails the
    test by its timeout."""
    env = dict(os.environ, COLUMNS="120", **(env or {}))
    return subprocess.run(
        [*NCZ, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        env=env,
        timeout=300,
        preexec_fn=preexec_fn,
    )


def describe_entry(path: Path) -> Entry:
    """Kind, inode and mode of `path` (not followed), with its bytes or link text."""
    st = os.lstat(path)
    content: bytes | str | None = None
    if stat.S_ISREG(st.st_mode):
        content = path.read_bytes()
    elif stat.S_ISLNK(st.st_mode):
        content = os.readlink(path)
    return stat.S_IFMT(st.st_mode), st.st_ino, st.st_mode, content


def snapshot(root: Path) -> dict[str, Entry]:
    """Every entry under `root` (links not followed) by relative path."""
    entries = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            entries[str(path.relative_to(root))] = describe_entry(path)
    return entries


def device_entry(path: str) -> tuple[int, int, int]:
    """What must never change about a device node: mode, inode, device number."""
    st = os.lstat(path)
    return st.st_mode, st.st_ino, st.st_rdev
