"""`ncz` run as a subprocess: exit codes, messages, inputs kept, nothing half-written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli.ncz import ncz


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "a.txt").write_bytes(b"alpha beta gamma\n" * 400)
    (tmp_path / "b.bin").write_bytes(bytes(range(256)) * 64)
    return tmp_path


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_compress_decompress_keeps_input(workdir: Path) -> None:
    original = (workdir / "a.txt").read_bytes()
    r = ncz("compress", "-m", "zstd", "a.txt", "b.bin", cwd=workdir)
    assert r.returncode == 0, r.stderr
    assert _listing(workdir) == ["a.txt", "a.txt.ncz", "b.bin", "b.bin.ncz"]
    (workdir / "a.txt").rename(workdir / "a.orig")
    r = ncz("decompress", "a.txt.ncz", cwd=workdir)
    assert r.returncode == 0, r.stderr
    assert (workdir / "a.txt").read_bytes() == original
    assert (workdir / "a.txt.ncz").exists()


def test_output_keeps_permission_bits(workdir: Path) -> None:
    os.chmod(workdir / "a.txt", 0o640)
    assert ncz("compress", "-m", "zstd", "a.txt", cwd=workdir).returncode == 0
    assert (workdir / "a.txt.ncz").stat().st_mode & 0o777 == 0o640


def test_test_and_info(workdir: Path) -> None:
    ncz("compress", "-m", "zstd", "a.txt", cwd=workdir)
    r = ncz("test", "-v", "a.txt.ncz", cwd=workdir)
    assert r.returncode == 0 and b"OK" in r.stderr
    r = ncz("info", "a.txt.ncz", cwd=workdir)
    assert r.returncode == 0 and b"6800 bytes" in r.stdout and b"zstd" in r.stdout


def test_refuses_to_overwrite_without_force(workdir: Path) -> None:
    ncz("compress", "-m", "zstd", "a.txt", cwd=workdir)
    before = (workdir / "a.txt.ncz").read_bytes()
    r = ncz("compress", "-m", "stored", "a.txt", cwd=workdir)
    assert r.returncode == 1
    assert r.stderr.decode() == (
        "ncz: a.txt.ncz: already exists; not overwritten (use -f to overwrite)\n"
    )
    assert (workdir / "a.txt.ncz").read_bytes() == before
    assert ncz("compress", "-f", "-m", "stored", "a.txt", cwd=workdir).returncode == 0
    assert (workdir / "a.txt.ncz").read_bytes() != before


def test_rm_removes_input_only_after_success(workdir: Path) -> None:
    r = ncz("compress", "--rm", "-m", "zstd", "a.txt", cwd=workdir)
    assert r.returncode == 0
    assert _listing(workdir) == ["a.txt.ncz", "b.bin"]
    r = ncz("decompress", "--rm", "a.txt.ncz", cwd=workdir)
    assert r.returncode == 0
    assert _listing(workdir) == ["a.txt", "b.bin"]


def test_stdin_to_stdout(workdir: Path) -> None:
    r = ncz("compress", "-m", "zstd", "-", cwd=workdir, stdin=b"piped data\n")
    assert r.returncode == 0
    r2 = ncz("decompress", cwd=workdir, stdin=r.stdout)
    assert r2.returncode == 0 and r2.stdout == b"piped data\n"
    r3 = ncz("compress", "-c", "-m", "zstd", "a.txt", cwd=workdir)
    assert (
        ncz("decompress", "-c", "-", cwd=workdir, stdin=r3.stdout).stdout
        == (workdir / "a.txt").read_bytes()
    )


def test_missing_file_and_usage_errors_exit_1(workdir: Path) -> None:
    r = ncz("compress", "nope.txt", cwd=workdir)
    assert r.returncode == 1
    assert r.stderr.decode() == "ncz: nope.txt: No such file or directory\n"
    r = ncz("compress", "--bogus", cwd=workdir)
    assert r.returncode == 1 and r.stderr.startswith(b"ncz: No such option")
    r = ncz("frobnicate", cwd=workdir)
    assert r.returncode == 1 and b"Traceback" not in r.stderr
    r = ncz("compress", "-m", "nosuch", "a.txt", cwd=workdir)
    assert r.returncode == 1 and r.stderr.startswith(b"ncz: ")


def test_one_bad_file_does_not_stop_the_others(workdir: Path) -> None:
    r = ncz("compress", "-m", "zstd", "missing", "a.txt", cwd=workdir)
    assert r.returncode == 1
    assert (workdir / "a.txt.ncz").exists()


@pytest.mark.parametrize(
    "damage",
    [
        "truncate",
        "flip_header",
        "flip_early",
        "flip_middle",
        "flip_late",
        "junk",
        "magic",
        "version",
    ],
)
def test_hostile_archives_exit_1_leave_nothing(workdir: Path, damage: str) -> None:
    ncz("compress", "-m", "zstd", "a.txt", cwd=workdir)
    good = (workdir / "a.txt.ncz").read_bytes()
    data = bytearray(good)
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip_header":
        data[5] ^= 0x40
    elif damage == "flip_early":
        data[len(data) // 4] ^= 0x01
    elif damage == "flip_middle":
        data[len(data) // 2] ^= 0x10
    elif damage == "flip_late":
        data[-3] ^= 0x80
    elif damage == "junk":
        data += b"garbage"
    elif damage == "magic":
        data[1] = ord("X")
    elif damage == "version":
        data[4] = 0x90
    bad = workdir / "bad.txt.ncz"
    bad.write_bytes(bytes(data))
    for command in ("decompress", "test"):
        r = ncz(command, "bad.txt.ncz", cwd=workdir)
        assert r.returncode == 1, (command, r.stderr)
        lines = r.stderr.decode().splitlines()
        assert len(lines) == 1 and lines[0].startswith("ncz: bad.txt.ncz: "), lines
        assert not (workdir / "bad.txt").exists()
        assert not [p for p in workdir.iterdir() if p.name.endswith(".tmp")]
    assert bad.read_bytes() == bytes(data)


def test_unknown_suffix_and_double_compress(workdir: Path) -> None:
    r = ncz("decompress", "a.txt", cwd=workdir)
    assert r.returncode == 1 and b"unknown suffix" in r.stderr
    ncz("compress", "-m", "zstd", "a.txt", cwd=workdir)
    r = ncz("compress", "a.txt.ncz", cwd=workdir)
    assert r.returncode == 1 and b"already has .ncz suffix" in r.stderr


def test_output_option(workdir: Path) -> None:
    assert ncz("compress", "-m", "zstd", "-o", "x.ncz", "a.txt", cwd=workdir).returncode == 0
    assert ncz("decompress", "-o", "y.txt", "x.ncz", cwd=workdir).returncode == 0
    assert (workdir / "y.txt").read_bytes() == (workdir / "a.txt").read_bytes()
    r = ncz("compress", "-o", "z.ncz", "a.txt", "b.bin", cwd=workdir)
    assert r.returncode == 1


def test_directory_input(workdir: Path) -> None:
    (workdir / "sub").mkdir()
    r = ncz("compress", "sub", cwd=workdir)
    assert r.returncode == 1 and b"is a directory" in r.stderr


def test_version_and_help(workdir: Path) -> None:
    assert ncz("--version", cwd=workdir).stdout.startswith(b"ncz, version")
    r = ncz("--help", cwd=workdir)
    assert r.returncode == 0 and b"compress" in r.stdout


def test_grep_exit_codes_follow_grep(workdir: Path) -> None:
    (workdir / "app.log").write_bytes(
        b"".join(b"2024-01-01 12:00:%02d INFO request %d done\n" % (i % 60, i) for i in range(300))
    )
    assert ncz("compress", "-m", "logs", "app.log", cwd=workdir).returncode == 0
    r = ncz("grep", "request 17 done", "app.log.ncz", cwd=workdir)
    assert r.returncode == 0 and r.stdout == b"2024-01-01 12:00:17 INFO request 17 done\n"
    assert ncz("grep", "no such text", "app.log.ncz", cwd=workdir).returncode == 1
    r = ncz("grep", "x", "missing.ncz", cwd=workdir)
    assert r.returncode == 2
    assert r.stderr == b"ncz: missing.ncz: No such file or directory\n"


def test_chunk_size_and_context_options(workdir: Path) -> None:
    original = (workdir / "a.txt").read_bytes()
    r = ncz("compress", "-m", "zstd", "--chunk-size", "1k", "-o", "c.ncz", "a.txt", cwd=workdir)
    assert r.returncode == 0, r.stderr
    info = ncz("info", "c.ncz", cwd=workdir)
    assert b"7 chunk(s)" in info.stdout, info.stdout
    r = ncz("decompress", "-c", "c.ncz", cwd=workdir)
    assert r.returncode == 0 and r.stdout == original
    for bad in (["--chunk-size", "lots"], ["--chunk-size", "1G"], ["--context", "8"]):
        r = ncz("compress", "-m", "zstd", *bad, "-o", "d.ncz", "a.txt", cwd=workdir)
        assert r.returncode == 1 and b"Traceback" not in r.stderr, (bad, r.stderr)
        assert not (workdir / "d.ncz").exists()


def test_gpu_flag_on_a_cpu_build_is_a_clear_error(workdir: Path) -> None:
    import llama_cpp

    if llama_cpp.llama_supports_gpu_offload():
        pytest.skip("this llama-cpp-python build has a GPU backend")
    r = ncz("compress", "--gpu", "-m", "llm", "-o", "g.ncz", "a.txt", cwd=workdir)
    assert r.returncode == 1, r.stderr
    assert b"cannot offload to a GPU" in r.stderr and b"Traceback" not in r.stderr
    assert not (workdir / "g.ncz").exists()
