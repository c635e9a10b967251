"""Archives made on a two-node Ray cluster are byte for byte the local ones, for every codec and
actor count; either side decodes the other's; a coder actor killed mid-job changes nothing."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import nacrith
from nacrith.errors import CorruptDataError
from tests.cluster.conftest import Killer
from tests.cluster.data import mixed, text
from tests.samples import synthetic_log

CHUNK = 64 << 10


@pytest.mark.parametrize("workers", [None, 1, 3])
def test_fib_archive_is_the_local_one_for_any_actor_count(cluster: str, workers: int | None):
    data = mixed(400_000)
    local = nacrith.compress(data, "fib", chunk_size=CHUNK)
    remote = nacrith.compress(data, "fib", chunk_size=CHUNK, workers=workers, cluster=cluster)
    assert remote == local
    assert nacrith.decompress(local, cluster=cluster, workers=workers) == data


def test_logs_archive_is_the_local_one_and_decodes_on_the_cluster(cluster: str):
    data = synthetic_log(6000)
    local = nacrith.compress(data, "logs", chunk_size=CHUNK)
    remote = nacrith.compress(data, "logs", chunk_size=CHUNK, cluster=cluster)
    assert remote == local
    assert nacrith.decompress(remote, cluster=cluster) == data
    assert nacrith.decompress(remote) == data


def test_zstd_archive_of_a_shared_file_is_the_local_one(cluster: str, tmp_path: Path):
    data = mixed(900_000, seed=3)
    path = tmp_path / "input.bin"
    path.write_bytes(data)
    local = nacrith.compress(data, "zstd", chunk_size=CHUNK)
    out = io.BytesIO()
    with (
        nacrith.Compressor("zstd", chunk_size=CHUNK, cluster=cluster) as compressor,
        path.open("rb") as reader,
    ):
        compressor.compress_stream(reader, out, len(data))
    assert out.getvalue() == local


def test_killed_actor_is_retried_and_the_archive_is_unchanged(cluster: str):
    data = text(1536 << 10, seed=11)
    local = nacrith.compress(data, "fib", chunk_size=CHUNK)
    with Killer() as killer:
        remote = nacrith.compress(data, "fib", chunk_size=CHUNK, cluster=cluster)
    assert killer.killed is not None, "no coder actor was seen running"
    assert remote == local


def test_a_codec_error_on_the_cluster_is_the_local_error(cluster: str):
    archive = bytearray(nacrith.compress(text(50_000), "fib", chunk_size=8 << 10))
    archive[len(archive) // 2] ^= 0x40
    with pytest.raises(CorruptDataError, match=r"\w") as local:
        nacrith.decompress(bytes(archive))
    with pytest.raises(CorruptDataError, match=r"\w") as remote:
        nacrith.decompress(bytes(archive), cluster=cluster)
    assert str(remote.value) == str(local.value)


@pytest.mark.llm
def test_llm_archive_is_the_local_one_and_decodes_on_the_cluster(cluster: str):
    data = b"The quick brown fox jumps over the lazy dog. " * 8
    local = nacrith.compress(data, "llm")
    remote = nacrith.compress(data, "llm", cluster=cluster)
    assert remote == local
    assert nacrith.decompress(local, cluster=cluster) == data
