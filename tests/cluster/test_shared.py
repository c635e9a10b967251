"""What shared-file ranges rely on, without a cluster: the chunks of a block are consecutive,
and a range is read back only when its bytes are the driver's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nacrith.cluster.shared import range_batch, read_range, shared_source
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
