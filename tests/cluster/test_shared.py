"""What shared-file ranges rely on, without a cluster: the chunks of a block are consecutive,
and a range is read back only when its bytes are the driver's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nacrith.cluster.shared import is_url, range_batch, read_range, shared_source
from nacrith.pipeline import Settings, _Plan
from tests.cluster.data import mixed


@pytest.mark.parametrize("method", ["fib", "logs", "zstd", "fast"])
def test_chunks_of_a_block_are_consecutive(method: str):
    block = mixed(300_000, seed=2)
    plan = _Plan(Settings(method=method, chunk_size=16 << 10), block[:65536], {})
    assert b"".join(raw for _ids, raw in plan.chunks(block)) == block


def test_a_range_reads_back_the_driver_bytes_or_nothing(tmp_path: Path):
    path = tmp_path / "input.bin"
    path.write_bytes(b"0123456789abcdef")
    items = [(("fib",), b"2345"), (("zstd",), b"678")]
    assert read_range(range_batch(str(path), 2, items)) == items
    assert read_range(range_batch(str(path), 3, items)) is None
    assert read_range(range_batch(str(tmp_path / "missing"), 2, items)) is None
    assert read_range(range_batch(str(path), 14, items)) is None


def test_only_named_files_are_shared(tmp_path: Path):
    path = tmp_path / "input.bin"
    path.write_bytes(b"abc")
    with path.open("rb") as handle:
        handle.read(1)
        source = shared_source(handle)
    assert source is not None
    assert (source.path, source.offset) == (str(path), 1)
    assert shared_source(object()) is None


def test_importing_nacrith_does_not_import_ray():
    code = "import sys, nacrith, nacrith.cluster, nacrith.cli; print('ray' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_a_range_of_a_url_reads_back_through_fsspec(tmp_path: Path):
    fsspec = pytest.importorskip("fsspec")
    items = [(("fib",), b"2345"), (("zstd",), b"678")]
    path = tmp_path / "input.bin"
    path.write_bytes(b"0123456789abcdef")
    assert read_range(range_batch(path.as_uri(), 2, items)) == items
    with fsspec.open("memory://nacrith-test/input.bin", "wb") as out:
        out.write(b"0123456789abcdef")
    assert read_range(range_batch("memory://nacrith-test/input.bin", 2, items)) == items
    assert read_range(range_batch("memory://nacrith-test/input.bin", 3, items)) is None
    assert read_range(range_batch("memory://nacrith-test/missing", 2, items)) is None
    assert read_range(range_batch("nosuchscheme://x/y", 2, items)) is None


def test_a_url_reader_is_shared_by_its_url(tmp_path: Path):
    pytest.importorskip("fsspec")
    path = tmp_path / "input.bin"
    path.write_bytes(b"abc")

    class Located:
        name = path.as_uri()

        @staticmethod
        def tell() -> int:
            return 2

    source = shared_source(Located())
    assert source is not None
    assert (source.path, source.offset) == (path.as_uri(), 2)
    assert is_url(path.as_uri()) and is_url("s3://bucket/key")
    assert not is_url(str(path)) and not is_url("C:\\data\\x") and not is_url("://x")
