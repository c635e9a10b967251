"""Write one benchmark script's results into its own section of BENCHMARKS.md.

Each script owns the text between `<!-- BEGIN name -->` and `<!-- END name -->`, so scripts can
be rerun independently without clobbering each other's figures.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
HEADER = (
    "# Benchmarks\n\nEvery figure here is written by a script in `scripts/`; rerun it to check.\n"
)


def machine_line() -> str:
    """One line naming the machine, Python, date and git commit the figures come from."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            cwd=BENCHMARKS.parent,
        ).stdout.strip()
    except OSError:
        commit = "?"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    date = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"Machine: {cpu}, {os.cpu_count()} logical cores; Python {platform.python_version()}; "
        f"date {date}; commit {commit or '?'}"
    )


def command_line() -> str:
    """The running script's command line, as it is quoted under its figures."""
    return "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]])


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"<!-- BEGIN {re.escape(name)} -->(.*?)<!-- END {re.escape(name)} -->", re.S)


def read_section(name: str) -> str | None:
    """The body of section `name` of BENCHMARKS.md without its closing machine line; None if
    there is no such section."""
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else ""
    m = _pattern(name).search(text)
    if m is None:
        return None
    return re.sub(r"\n_Machine: [^\n]*\n*$", "\n", m.group(1).strip("\n") + "\n")


def update_section(name: str, body: str, command: str | None = None) -> None:
    """Replace (or append) section `name` of BENCHMARKS.md with `body`, stamped with the machine."""
    command = command or command_line()
    block = (
        f"<!-- BEGIN {name} -->\n{body.rstrip()}\n\n"
        f"_{machine_line()}. Command: `{command}`._\n<!-- END {name} -->"
    )
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else HEADER
    pattern = _pattern(name)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    BENCHMARKS.write_text(text if text.endswith("\n") else text + "\n")
