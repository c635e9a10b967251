"""A long-range member made on the cluster is the local one (the look-ahead and its probe run
on the driver and depend only on the bytes), and decodes there."""

from __future__ import annotations

import io
from pathlib import Path

import nacrith
from nacrith.formats.container import iter_members
from tests.cluster.data import text

CHUNK = 256 << 10


def _long_range(archive: bytes) -> list[bool]:
    flags = []
    for member in iter_members(io.BytesIO(archive)):
        flags.append(member.long_range)
        for _record in member.chunks:
            pass
    return flags


def test_long_range_member_is_the_local_one(cluster: str, tmp_path: Path) -> None:
    head = text(700_000, seed=11)
    data = head + head[:300_000] + text(100_000, seed=12)
    local = nacrith.compress(data, "zstd", chunk_size=CHUNK)
    assert _long_range(local) == [True]
    remote = nacrith.compress(data, "zstd", chunk_size=CHUNK, cluster=cluster, workers=2)
    assert remote == local
    path = tmp_path / "input.txt"
    path.write_bytes(data)
    with nacrith.Compressor("zstd", chunk_size=CHUNK, cluster=cluster) as compressor:
        out = io.BytesIO()
        with path.open("rb") as reader:
            compressor.compress_stream(reader, out, len(data))
    assert out.getvalue() == local
    assert nacrith.decompress(local, cluster=cluster, workers=2) == data


def test_input_without_far_repeats_is_the_local_one(cluster: str) -> None:
    data = text(1_200_000, seed=13)
    local = nacrith.compress(data, "zstd", chunk_size=CHUNK)
    assert _long_range(local) == [False]
    assert nacrith.compress(data, "zstd", chunk_size=CHUNK, cluster=cluster, workers=2) == local
