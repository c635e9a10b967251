"""`ncz` never loses a user's file: same-file outputs, non-regular files, closed standard
streams, and messages that name the right file (each case a real subprocess)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import nacrith
from tests.cli.ncz import describe_entry, device_entry, ncz, snapshot

TEXT = b"alpha beta gamma delta\n" * 300


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "g.txt").write_bytes(TEXT)
    (tmp_path / "h.txt.ncz").write_bytes(nacrith.compress(TEXT, method="zstd"))
    return tmp_path


def _private_null(folder: Path) -> Path:
    """A character device node like /dev/null, made here so that a bug cannot harm /dev."""
    node = folder / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, AttributeError):
        pytest.skip("cannot create a device node here (needs root)")
    return node


# --- 1. the output is the input itself --------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["compress", "-m", "zstd", "-f", "--rm", "-o", "g.txt", "g.txt"],
        ["compress", "-m", "zstd", "-f", "-o", "g.txt", "g.txt"],
        ["compress", "-m", "zstd", "-f", "-o", "./g.txt", "g.txt"],
        ["decompress", "-f", "--rm", "-o", "h.txt.ncz", "h.txt.ncz"],
        ["decompress", "-f", "-o", "h.txt.ncz", "h.txt.ncz"],
        ["compress", "-m", "zstd", "-f", "--rm", "-o", "to_g", "g.txt"],
        ["compress", "-m", "zstd", "-f", "--rm", "-o", "hard", "g.txt"],
    ],
    ids=["rm", "plain", "other-spelling", "decompress-rm", "decompress", "symlink", "hardlink"],
)
def test_output_that_is_the_input_is_refused(workdir: Path, args: list[str]) -> None:
    (workdir / "to_g").symlink_to("g.txt")
    os.link(workdir / "g.txt", workdir / "hard")
    before = snapshot(workdir)
    r = ncz(*args, cwd=workdir)
    assert r.returncode == 1
    name = args[-1]
    assert (
        r.stderr.decode()
        == f"ncz: {name}: output {Path(args[-2])} is the input file itself - not overwritten\n"
    )
    assert snapshot(workdir) == before


# --- 3. files that are not regular files ------------------------------------------------


@pytest.mark.parametrize("command", ["compress", "decompress", "test", "info"])
def test_fifo_input_is_refused_without_blocking(workdir: Path, command: str) -> None:
    name = "pipe" if command == "compress" else "pipe.ncz"
    os.mkfifo(workdir / name)
    for extra in ([], ["-c"]) if command in ("compress", "decompress") else ([],):
        r = ncz(command, *extra, name, cwd=workdir)  # no writer: an open would block
        assert (r.returncode, r.stderr.decode()) == (
            1,
            f"ncz: {name}: not a regular file - ignored\n",
        )
    assert stat.S_ISFIFO(os.lstat(workdir / name).st_mode)
    assert sorted(p.name for p in workdir.iterdir()) == sorted(["g.txt", "h.txt.ncz", name])


@pytest.mark.parametrize("extra", [["-o", "out.ncz"], ["-c"], ["--rm", "-o", "out.ncz"]])
def test_device_input_is_refused(workdir: Path, extra: list[str]) -> None:
    before = device_entry("/dev/null")
    r = ncz("compress", "-m", "zstd", *extra, "/dev/null", cwd=workdir)
    assert (r.returncode, r.stderr) == (1, b"ncz: /dev/null: not a regular file - ignored\n")
    assert r.stdout == b""
    assert device_entry("/dev/null") == before
    assert not (workdir / "out.ncz").exists()


def test_rm_never_removes_a_device(workdir: Path) -> None:
    node = _private_null(workdir)
    before = device_entry(str(node))
    for command in ("compress", "decompress"):
        r = ncz(command, "-f", "--rm", "-o", "out", node.name, cwd=workdir)
        assert (r.returncode, r.stderr) == (1, b"ncz: null: not a regular file - ignored\n")
        assert device_entry(str(node)) == before


def test_device_as_output_is_written_into_never_replaced(workdir: Path) -> None:
    before = device_entry("/dev/null")
    for args in (
        ["compress", "-m", "zstd", "-o", "/dev/null", "g.txt"],
        ["compress", "-m", "zstd", "-f", "-o", "/dev/null", "g.txt"],
        ["compress", "-m", "zstd", "-f", "--rm", "-o", "/dev/null", "g.txt"],
        ["decompress", "-f", "--rm", "-o", "/dev/null", "h.txt.ncz"],
    ):
        r = ncz(*args, cwd=workdir)
        assert (r.returncode, r.stderr) == (0, b""), args
        assert device_entry("/dev/null") == before
    # --rm keeps an input whose output cannot be read back
    assert (workdir / "g.txt").read_bytes() == TEXT
    assert (workdir / "h.txt.ncz").exists()


def test_private_device_node_as_output_is_never_replaced(workdir: Path) -> None:
    node = _private_null(workdir)
    before = device_entry(str(node))
    r = ncz("compress", "-m", "zstd", "-f", "-o", "null", "g.txt", cwd=workdir)
    assert b"Traceback" not in r.stderr
    assert device_entry(str(node)) == before


@pytest.mark.parametrize("kind", ["proc-fd", "dev-stdout", "device", "fifo"])
def test_forced_output_onto_a_link_to_a_non_regular_file_is_refused(
    workdir: Path, kind: str
) -> None:
    if kind == "fifo":
        os.mkfifo(workdir / "pipe")
    target = {
        "proc-fd": "/proc/self/fd/1",
        "dev-stdout": "/dev/stdout",
        "device": "/dev/null",
        "fifo": "pipe",
    }[kind]
    (workdir / "out").symlink_to(target)
    before = snapshot(workdir)
    r = ncz("compress", "-m", "zstd", "-f", "-o", "out", "g.txt", cwd=workdir)
    assert (r.returncode, r.stdout) == (1, b"")
    assert r.stderr == (
        b"ncz: out: is a symbolic link to a file that is not regular - not overwritten\n"
    )
    assert snapshot(workdir) == before


def test_existing_link_as_output_needs_force_then_the_link_is_replaced(workdir: Path) -> None:
    (workdir / "victim").write_bytes(b"keep me")
    (workdir / "out").symlink_to("victim")
    before = snapshot(workdir)
    r = ncz("compress", "-m", "zstd", "-o", "out", "g.txt", cwd=workdir)
    assert (r.returncode, r.stderr) == (
        1,
        b"ncz: out: already exists; not overwritten (use -f to overwrite)\n",
    )
    assert snapshot(workdir) == before
    r = ncz("compress", "-m", "zstd", "-f", "-o", "out", "g.txt", cwd=workdir)
    assert r.returncode == 0, r.stderr
    assert not (workdir / "out").is_symlink()
    assert nacrith.decompress((workdir / "out").read_bytes()) == TEXT
    assert (workdir / "victim").read_bytes() == b"keep me"


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_fifo_or_directory_as_output_is_refused(workdir: Path, kind: str) -> None:
    if kind == "fifo":
        os.mkfifo(workdir / "out")
    else:
        (workdir / "out").mkdir()
    before = snapshot(workdir)
    r = ncz("compress", "-m", "zstd", "-f", "-o", "out", "g.txt", cwd=workdir)
    assert r.returncode == 1
    if kind == "fifo":
        assert r.stderr == b"ncz: out: not a regular file - not overwritten\n"
    else:  # click checks -o before the command runs
        assert r.stderr == b"ncz: Invalid value for '-o' / '--output': File 'out' is a directory.\n"
    assert snapshot(workdir) == before


def test_symlinked_input_needs_force_or_stdout(workdir: Path) -> None:
    (workdir / "link.txt").symlink_to("g.txt")
    before = snapshot(workdir)
    r = ncz("compress", "-m", "zstd", "link.txt", cwd=workdir)
    assert (r.returncode, r.stderr) == (
        1,
        b"ncz: link.txt: is a symbolic link - ignored (use -f or -c to follow it)\n",
    )
    r = ncz("compress", "-m", "zstd", "-f", "--rm", "link.txt", cwd=workdir)
    assert (r.returncode, r.stderr) == (
        1,
        b"ncz: link.txt: is a symbolic link; --rm removes only regular files\n",
    )
    assert snapshot(workdir) == before
    r = ncz("compress", "-m", "zstd", "-c", "link.txt", cwd=workdir)
    assert r.returncode == 0 and nacrith.decompress(r.stdout) == TEXT
    r = ncz("compress", "-m", "zstd", "-f", "link.txt", cwd=workdir)
    assert r.returncode == 0 and (workdir / "link.txt").is_symlink()
    assert nacrith.decompress((workdir / "link.txt.ncz").read_bytes()) == TEXT


def test_directory_input_is_refused(workdir: Path) -> None:
    (workdir / "sub").mkdir()
    r = ncz("compress", "--rm", "sub", cwd=workdir)
    assert (r.returncode, r.stderr) == (1, b"ncz: sub: is a directory -- ignored\n")
    assert (workdir / "sub").is_dir()


# --- 8. closed standard input or output -------------------------------------------------


def _close(fd: int):
    return lambda: os.close(fd)


@pytest.mark.parametrize(
    ("args", "closed", "message"),
    [
        (["compress", "-m", "zstd", "-"], 1, b"ncz: (stdout): standard output is closed\n"),
        (
            ["compress", "-m", "zstd", "-c", "g.txt"],
            1,
            b"ncz: (stdout): standard output is closed\n",
        ),
        (["decompress", "-c", "h.txt.ncz"], 1, b"ncz: (stdout): standard output is closed\n"),
        (["info", "h.txt.ncz"], 1, b"ncz: (stdout): standard output is closed\n"),
        (["compress", "-m", "zstd", "-f", "-"], 0, b"ncz: (stdin): standard input is closed\n"),
        (["decompress"], 0, b"ncz: (stdin): standard input is closed\n"),
        (["test", "-"], 0, b"ncz: (stdin): standard input is closed\n"),
    ],
)
def test_closed_standard_streams(
    workdir: Path, args: list[str], closed: int, message: bytes
) -> None:
    before = snapshot(workdir)
    r = ncz(*args, cwd=workdir, stdin=None if closed == 0 else TEXT, preexec_fn=_close(closed))
    assert (r.returncode, r.stderr) == (1, message)
    assert snapshot(workdir) == before


# --- 12. messages ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("nodir/out.ncz", "No such file or directory"),
        ("g.txt/out.ncz", "Not a directory"),
    ],
)
def test_output_errors_name_the_output(workdir: Path, output: str, message: str) -> None:
    for args in (["compress", "-m", "zstd", "g.txt"], ["decompress", "h.txt.ncz"]):
        r = ncz(*args[:-1], "-o", output, args[-1], cwd=workdir)
        assert (r.returncode, r.stderr.decode()) == (1, f"ncz: {output}: {message}\n")


def test_output_option_takes_one_input(workdir: Path) -> None:
    r = ncz("compress", "-o", "both.ncz", "g.txt", "h.txt.ncz", cwd=workdir)
    assert (r.returncode, r.stderr) == (1, b"ncz: -o/--output takes one input (2 given)\n")
    r = ncz("compress", "-c", "-o", "x.ncz", "g.txt", cwd=workdir)
    assert (r.returncode, r.stderr) == (1, b"ncz: -o/--output and -c/--stdout cannot be combined\n")
    assert sorted(p.name for p in workdir.iterdir()) == ["g.txt", "h.txt.ncz"]


def test_output_dash_is_stdout(workdir: Path) -> None:
    r = ncz("compress", "-m", "zstd", "-o", "-", "g.txt", cwd=workdir)
    assert r.returncode == 0 and nacrith.decompress(r.stdout) == TEXT
    r = ncz("decompress", "-o", "-", "h.txt.ncz", cwd=workdir)
    assert (r.returncode, r.stdout) == (0, TEXT)
    assert sorted(p.name for p in workdir.iterdir()) == ["g.txt", "h.txt.ncz"]


def test_double_quiet_silences_every_error_message(workdir: Path) -> None:
    r = ncz("-qq", "grep", "x", "missing.ncz", cwd=workdir)
    assert (r.returncode, r.stderr) == (2, b"")
    r = ncz("-qq", "grep", "-E", "(", "h.txt.ncz", cwd=workdir)
    assert (r.returncode, r.stderr) == (2, b"")
    r = ncz("-qq", "compress", "missing.txt", cwd=workdir)
    assert (r.returncode, r.stderr) == (1, b"")
    r = ncz("compress", "-qq", "--chunk-size", "1G", "g.txt", cwd=workdir)
    assert (r.returncode, r.stderr) == (1, b"")
    r = ncz("grep", "x", "missing.ncz", cwd=workdir)
    assert (r.returncode, r.stderr) == (2, b"ncz: missing.ncz: No such file or directory\n")


def test_messages_use_option_names(workdir: Path) -> None:
    r = ncz("compress", "-m", "zstd", "--chunk-size", "1G", "g.txt", cwd=workdir)
    assert r.returncode == 1
    assert r.stderr.startswith(b"ncz: --chunk-size must be an integer in 1..")
    assert b"chunk_size" not in r.stderr


def test_removed_input_only_after_a_verified_write(workdir: Path) -> None:
    r = ncz("compress", "-m", "zstd", "--rm", "g.txt", cwd=workdir)
    assert r.returncode == 0, r.stderr
    assert not (workdir / "g.txt").exists()
    assert nacrith.decompress((workdir / "g.txt.ncz").read_bytes()) == TEXT
    r = ncz("decompress", "--rm", "h.txt.ncz", cwd=workdir)
    assert r.returncode == 0, r.stderr
    assert describe_entry(workdir / "h.txt")[3] == TEXT
    assert not (workdir / "h.txt.ncz").exists()
