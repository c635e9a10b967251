"""Property: no `ncz` invocation removes or alters a file it did not create.

The only exceptions: an output named by the run (or the default output) that -f lets it
replace (a regular file, or a symbolic link to one, replaced as a whole), and with --rm a
regular input whose output was written and reads back to the right bytes.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import nacrith
from tests.cli.ncz import Entry, device_entry, ncz, snapshot

TEXT = b"some text to compress, twice over\n" * 50
OTHER = b"a different text in the archive\n" * 40
ARCHIVE = nacrith.compress(OTHER, method="zstd")

# The input of each kind, for compress and for decompress/test.
INPUTS = {
    "regular": ("plain.txt", "plain.txt.ncz"),
    "empty": ("empty.txt", "empty.txt.ncz"),
    "symlink": ("link.txt", "link.txt.ncz"),
    "hardlink": ("hard.txt", "hard.txt.ncz"),
    "fifo": ("fifo", "fifo.ncz"),
    "directory": ("dir", "dir.ncz"),
    "device": ("/dev/null", "/dev/null"),
    "stdin": ("-", "-"),
    "other": ("plain.txt.ncz", "plain.txt"),
}
OUTPUTS = [None, "same", "new.out", "victim", "victim_link", "hard.txt", "fifo", "/dev/null", "-"]


def _make_tree(root: Path) -> None:
    (root / "plain.txt").write_bytes(TEXT)
    (root / "empty.txt").write_bytes(b"")
    (root / "plain.txt.ncz").write_bytes(ARCHIVE)
    (root / "empty.txt.ncz").write_bytes(b"")
    (root / "link.txt").symlink_to("plain.txt")
    (root / "link.txt.ncz").symlink_to("plain.txt.ncz")
    os.link(root / "plain.txt", root / "hard.txt")
    os.link(root / "plain.txt.ncz", root / "hard.txt.ncz")
    os.mkfifo(root / "fifo")
    os.mkfifo(root / "fifo.ncz")
    (root / "dir").mkdir()
    (root / "dir.ncz").mkdir()
    (root / "victim").write_bytes(b"not yours")
    (root / "victim_link").symlink_to("victim")


def _default_output(command: str, name: str) -> str | None:
    if command == "compress":
        return name + ".ncz"
    return name[: -len(".ncz")] if name.endswith(".ncz") else None


def _replaceable(entry: Entry | None) -> bool:
    return entry is None or stat.S_ISREG(entry[0]) or stat.S_ISLNK(entry[0])


def _check_removal(command: str, name: str, out_name: str | None, root: Path, was: Entry) -> None:
    """A removed input must have been a regular file with a complete, correct output."""
    assert stat.S_ISREG(was[0]) and out_name is not None, (name, out_name)
    written = (root / out_name).read_bytes()
    if command == "compress":
        assert nacrith.decompress(written) == was[3]
    else:
        assert isinstance(was[3], bytes) and written == nacrith.decompress(was[3])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    command=st.sampled_from(["compress", "decompress", "test"]),
    kind=st.sampled_from(sorted(INPUTS)),
    force=st.booleans(),
    remove=st.booleans(),
    keep=st.booleans(),
    to_stdout=st.booleans(),
    output=st.sampled_from(OUTPUTS),
)
@example("compress", "regular", True, True, False, False, "same")
@example("compress", "regular", True, False, False, False, "same")
@example("compress", "hardlink", True, True, False, False, "hard.txt")
@example("compress", "regular", True, True, False, False, "hard.txt")
@example("decompress", "regular", True, True, False, False, "same")
@example("decompress", "hardlink", True, True, False, False, "same")
@example("compress", "regular", True, True, False, False, "/dev/null")
@example("decompress", "regular", True, True, False, False, "/dev/null")
@example("compress", "symlink", True, True, False, False, None)
@example("compress", "device", True, True, False, False, "new.out")
@example("compress", "fifo", True, True, False, True, None)
@example("decompress", "fifo", True, False, False, False, None)
@example("test", "fifo", False, False, False, False, None)
@example("compress", "regular", True, False, False, False, "fifo")
@example("compress", "regular", True, True, False, False, "victim_link")
@example("compress", "empty", True, True, False, False, None)
@example("compress", "stdin", True, False, False, False, "same")
def test_no_invocation_harms_a_file_it_did_not_create(
    command: str,
    kind: str,
    force: bool,
    remove: bool,
    keep: bool,
    to_stdout: bool,
    output: str | None,
) -> None:
    name = INPUTS[kind][command != "compress"]
    if name == "/dev/null" and command == "compress" and output in (None, "same"):
        output = "new.out"  # /dev/null is only ever read: never let /dev/null.ncz be made
    args = [command] + (["-m", "zstd"] if command == "compress" else [])
    if command != "test":
        args += ["-f"] * force + ["--rm"] * remove + ["-k"] * keep + ["-c"] * to_stdout
        if output is not None:
            args += ["-o", name if output == "same" else output]
    args.append(name)
    out_name = name if output == "same" else output
    if output is None:
        out_name = _default_output(command, name)
    null_before = device_entry("/dev/null")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _make_tree(root)
        before = snapshot(root)
        r = ncz(*args, cwd=root, stdin=TEXT if command == "compress" else ARCHIVE)
        assert b"Traceback" not in r.stderr, r.stderr.decode()
        assert device_entry("/dev/null") == null_before
        after = snapshot(root)
        for path, was in before.items():
            now = after.get(path)
            if now == was:
                continue
            if path == out_name and force and command != "test" and _replaceable(was):
                assert path != name, f"{args}: replaced its own input"
                assert now is not None and stat.S_ISREG(now[0]), f"{args}: {path} became {now}"
                continue
            assert now is None and remove and path == name, f"{args}: altered {path}"
            assert r.returncode == 0, f"{args}: removed {path} but failed"
            _check_removal(command, name, out_name, root, was)
