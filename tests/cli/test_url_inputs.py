"""Inputs named by URL (`file://`, `s3://`...): read with fsspec, written to -o or -c only,
never removed; without fsspec, a clear error."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.cli.ncz import ncz, snapshot

pytest.importorskip("fsspec")

DATA = b"a line of text that repeats, with a number 12345\n" * 400


def test_a_file_url_compresses_and_decompresses(tmp_path: Path):
    (tmp_path / "in.txt").write_bytes(DATA)
    url = (tmp_path / "in.txt").as_uri()
    done = ncz("compress", "-m", "zstd", "-o", "out.ncz", url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    local = ncz("compress", "-m", "zstd", "-c", "in.txt", cwd=tmp_path)
    assert (tmp_path / "out.ncz").read_bytes() == local.stdout
    back = ncz("decompress", "-c", (tmp_path / "out.ncz").as_uri(), cwd=tmp_path)
    assert back.returncode == 0, back.stderr.decode()
    assert back.stdout == DATA


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compress", "-m", "zstd"], b"is a URL: give an output with -o FILE, or use -c"),
        (["compress", "-m", "zstd", "--rm", "-o", "x.ncz"], b"--rm removes only local"),
        (["decompress"], b"is a URL: give an output with -o FILE, or use -c"),
    ],
)
def test_a_url_is_never_an_output_nor_removed(tmp_path: Path, args: list[str], message: bytes):
    (tmp_path / "in.txt").write_bytes(DATA)
    (tmp_path / "in.txt.ncz").write_bytes(
        ncz("compress", "-m", "zstd", "-c", "in.txt", cwd=tmp_path).stdout
    )
    name = "in.txt.ncz" if args[0] == "decompress" else "in.txt"
    before = snapshot(tmp_path)
    done = ncz(*args, (tmp_path / name).as_uri(), cwd=tmp_path)
    assert done.returncode == 1
    assert message in done.stderr
    assert b"Traceback" not in done.stderr
    assert snapshot(tmp_path) == before


def test_a_missing_url_is_an_error_that_names_it(tmp_path: Path):
    url = (tmp_path / "missing.txt").as_uri()
    done = ncz("compress", "-m", "zstd", "-c", url, cwd=tmp_path)
    assert done.returncode == 1
    assert url.encode() in done.stderr and b"Traceback" not in done.stderr


def test_without_fsspec_a_url_asks_for_the_extra(tmp_path: Path):
    import subprocess

    (tmp_path / "in.txt").write_bytes(DATA)
    code = (
        "import sys; sys.modules['fsspec'] = None; sys.argv = ['ncz'] + sys.argv[1:]; "
        "from nacrith.cli import main; sys.exit(main())"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "compress",
            "-m",
            "zstd",
            "-c",
            (tmp_path / "in.txt").as_uri(),
        ],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert b"pip install 'nacrith[cluster]'" in done.stderr
