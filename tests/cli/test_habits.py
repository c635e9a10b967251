"""gzip/xz/zstd habits of `ncz` (safety issue, item 13): `ncz FILE`, -d/-t/-l/-z, levels,
times and permission bits kept, `--rm` with `-c` refused, `auto` without the model for
input it does not give to the model. Each case is a real subprocess on real files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import nacrith
from nacrith.cli.habits import rewrite
from tests.cli.ncz import ncz

TEXT = b"alpha beta gamma delta\n" * 300
BINARY = bytes(range(256)) * 400 + os.urandom(3000)
#: a model setting that fails whenever the llm codec is built
NO_MODEL = {"NACRITH_MODEL": "/nonexistent/no-model.gguf"}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "a.txt").write_bytes(TEXT)
    return tmp_path


def test_bare_file_compresses_and_mode_flags_pick_the_command(workdir: Path) -> None:
    r = ncz("-1", "a.txt", cwd=workdir)
    assert r.returncode == 0, r.stderr
    assert (workdir / "a.txt.ncz").is_file()
    assert (workdir / "a.txt").read_bytes() == TEXT  # kept, as ncz always does

    assert ncz("-t", "a.txt.ncz", cwd=workdir).returncode == 0
    listed = ncz("-l", "a.txt.ncz", cwd=workdir)
    assert listed.returncode == 0 and b"1 member(s)" in listed.stdout
    out = ncz("-dc", "a.txt.ncz", cwd=workdir)
    assert out.returncode == 0 and out.stdout == TEXT

    (workdir / "a.txt").unlink()
    r = ncz("-d", "a.txt.ncz", cwd=workdir)
    assert r.returncode == 0, r.stderr
    assert (workdir / "a.txt").read_bytes() == TEXT

    r = ncz("-z1", "-c", "a.txt", cwd=workdir)
    assert r.returncode == 0 and nacrith.decompress(r.stdout) == TEXT


def test_subcommands_help_and_version_still_work(workdir: Path) -> None:
    assert ncz("compress", "--fast", "a.txt", cwd=workdir).returncode == 0
    assert ncz("decompress", "-c", "a.txt.ncz", cwd=workdir).stdout == TEXT
    top = ncz("--help", cwd=workdir)
    assert top.returncode == 0 and b"Commands:" in top.stdout
    assert ncz("-V", cwd=workdir).stdout.startswith(b"ncz, version")
    assert b"BENCHMARKS.md" in ncz("compress", "--help", cwd=workdir).stdout


def test_a_file_named_like_a_command_goes_after_double_dash(workdir: Path) -> None:
    (workdir / "info").write_bytes(TEXT)
    r = ncz("-1", "--", "info", cwd=workdir)
    assert r.returncode == 0, r.stderr
    assert nacrith.decompress((workdir / "info.ncz").read_bytes()) == TEXT
    r = ncz("-d", "-c", "--", "info.ncz", cwd=workdir)
    assert r.stdout == TEXT


def test_two_modes_are_a_usage_error(workdir: Path) -> None:
    r = ncz("-d", "-t", "a.txt", cwd=workdir)
    assert r.returncode == 1
    assert b"only one of -z, -d, -t and -l" in r.stderr


def test_rewrite_leaves_group_options_in_front() -> None:
    commands = {"compress", "decompress", "test", "info", "grep"}
    assert rewrite(["-q", "-dk", "x.ncz"], commands) == ["-q", "decompress", "-k", "x.ncz"]
    assert rewrite(["grep", "-n", "x"], commands) == ["grep", "-n", "x"]
    assert rewrite(["info", "--list"], commands) == ["info", "--list"]
    assert rewrite(["-d", "info"], commands) == ["decompress", "info"]
    assert rewrite(["info", "x.ncz"], commands) == ["info", "x.ncz"]
    assert rewrite(["x.txt"], commands) == ["compress", "x.txt"]
    assert rewrite(["-c9", "x.txt"], commands) == ["compress", "-c9", "x.txt"]
    assert rewrite(["-l", "--", "-d"], commands) == ["info", "--", "-d"]
    assert rewrite(["--help"], commands) == ["--help"]
    assert rewrite([], commands) == []


def test_levels_map_to_their_settings(workdir: Path) -> None:
    (workdir / "b.bin").write_bytes(BINARY)
    fast = ncz("compress", "--fast", "-c", "a.txt", cwd=workdir).stdout
    for level in ("-1", "-2", "-3"):
        assert ncz(level, "-c", "a.txt", cwd=workdir).stdout == fast
    listed = ncz("-l", "-v", "-", cwd=workdir, stdin=fast)
    assert b"llm" not in listed.stdout
    assert any(codec in listed.stdout for codec in (b"fib", b"logs", b"xz", b"zstd"))
    # the default level is today's default (binary input: no model needed to compare)
    default = ncz("-c", "b.bin", cwd=workdir, env=NO_MODEL)
    assert default.returncode == 0, default.stderr
    assert ncz("-6", "-c", "b.bin", cwd=workdir, env=NO_MODEL).stdout == default.stdout
    # an explicit method overrides the level's
    zstd = ncz("compress", "-m", "zstd", "-c", "a.txt", cwd=workdir).stdout
    assert ncz("-9", "-m", "zstd", "-c", "a.txt", cwd=workdir).stdout == zstd


@pytest.mark.parametrize("command", ["compress", "decompress"])
def test_times_and_permission_bits_are_kept_whatever_the_umask(workdir: Path, command: str) -> None:
    source = workdir / ("a.txt" if command == "compress" else "a.txt.ncz")
    if command == "decompress":
        source.write_bytes(nacrith.compress(TEXT, method="zstd"))
        (workdir / "a.txt").unlink()
    source.chmod(0o664)
    os.utime(source, ns=(1_000_000_000_123_456_789, 1_100_000_000_987_654_321))
    r = ncz(command, "-m", "zstd", source.name, cwd=workdir, preexec_fn=lambda: os.umask(0o077))
    if command == "decompress":
        r = ncz(command, source.name, cwd=workdir, preexec_fn=lambda: os.umask(0o077))
    assert r.returncode == 0, r.stderr
    made = workdir / ("a.txt.ncz" if command == "compress" else "a.txt")
    st = made.stat()
    assert st.st_mode & 0o777 == 0o664
    assert st.st_mtime_ns == 1_100_000_000_987_654_321
    assert st.st_atime_ns == 1_000_000_000_123_456_789


def test_symlinked_input_is_refused_unless_forced(workdir: Path) -> None:
    (workdir / "link.txt").symlink_to("a.txt")
    r = ncz("-1", "link.txt", cwd=workdir)
    assert r.returncode == 1 and b"symbolic link" in r.stderr
    assert not (workdir / "link.txt.ncz").exists()
    assert ncz("-1", "-f", "link.txt", cwd=workdir).returncode == 0
    assert nacrith.decompress((workdir / "link.txt.ncz").read_bytes()) == TEXT


@pytest.mark.parametrize("args", [["-c"], ["-o", "-"]])
@pytest.mark.parametrize("command", ["compress", "decompress"])
def test_rm_with_stdout_is_a_usage_error(workdir: Path, command: str, args: list[str]) -> None:
    name = "a.txt" if command == "compress" else "a.txt.ncz"
    (workdir / "a.txt.ncz").write_bytes(nacrith.compress(TEXT, method="zstd"))
    r = ncz(command, "--rm", *args, name, cwd=workdir)
    assert r.returncode == 1
    assert b"--rm cannot be used with" in r.stderr
    assert r.stdout == b""
    assert (workdir / name).is_file()


@pytest.mark.parametrize("content", [BINARY, b""], ids=["binary", "empty"])
def test_auto_does_not_load_the_model_for_input_it_does_not_give_it(
    workdir: Path, content: bytes
) -> None:
    (workdir / "in.bin").write_bytes(content)
    r = ncz("in.bin", cwd=workdir, env=NO_MODEL)
    assert r.returncode == 0, r.stderr
    listed = ncz("-l", "-v", "in.bin.ncz", cwd=workdir, env=NO_MODEL)
    assert b"llm" not in listed.stdout
    assert ncz("-dc", "in.bin.ncz", cwd=workdir, env=NO_MODEL).stdout == content


def test_auto_still_needs_the_model_for_text(workdir: Path) -> None:
    r = ncz("a.txt", cwd=workdir, env=NO_MODEL)
    assert r.returncode == 1
    assert b"no-model.gguf" in r.stderr
