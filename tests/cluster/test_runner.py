"""`ClusterRunner` on the two-node cluster: shared-file ranges read by the actors (and bytes for
actors that cannot read them), and a batch sent again when its actor is gone for good."""

from __future__ import annotations

from pathlib import Path

import pytest

from nacrith.cluster.runner import ClusterRunner
from nacrith.cluster.shared import SharedSource
from nacrith.codecs.registry import codec_class
from nacrith.workers import CodecSet, encode_batch
from tests.cluster.conftest import Killer
from tests.cluster.data import text

CHUNK = 32 << 10


def _fib_codecs() -> CodecSet:
    return CodecSet({"fib": codec_class("fib")().params()})


def _batches(data: bytes, per_batch: int) -> list[list[tuple[tuple[str, ...], bytes]]]:
    items = [(("fib",), data[i : i + CHUNK]) for i in range(0, len(data), CHUNK)]
    return [items[i : i + per_batch] for i in range(0, len(items), per_batch)]


def _local(batches: list[list[tuple[tuple[str, ...], bytes]]]) -> list[list[tuple[str, bytes]]]:
    codecs = _fib_codecs()
    try:
        return [encode_batch(codecs, batch) for batch in batches]
    finally:
        codecs.close()


def _on_cluster(runner: ClusterRunner, batches: list) -> list:
    try:
        return list(runner.run(batches, "encode"))
    finally:
        runner.close()


def test_actors_read_the_shared_file_themselves(cluster: str, tmp_path: Path):
    head = b"not part of the input\n"
    data = text(400_000)
    path = tmp_path / "input.txt"
    path.write_bytes(head + data)
    batches = _batches(data, 3)
    runner = ClusterRunner(_fib_codecs(), cluster, source=SharedSource(str(path), len(head)))
    assert _on_cluster(runner, batches) == _local(batches)
    assert runner.stats["ranges"] == len(batches)
    assert runner.stats["bytes"] == 0


def test_actors_that_read_other_bytes_get_the_bytes(cluster: str, tmp_path: Path):
    data = text(300_000)
    path = tmp_path / "other.txt"
    path.write_bytes(text(300_000, seed=99))
    batches = _batches(data, 3)
    runner = ClusterRunner(_fib_codecs(), cluster, source=SharedSource(str(path), 0))
    assert _on_cluster(runner, batches) == _local(batches)
    assert runner.stats["bytes"] == len(batches)
    assert runner.stats["ranges"] == 0


def test_a_batch_whose_actor_died_for_good_is_sent_to_a_fresh_one(cluster: str):
    batches = _batches(text(1 << 20, seed=5), 4)
    runner = ClusterRunner(_fib_codecs(), cluster, max_restarts=0)
    with Killer({place["pid"] for place in runner.places}) as killer:
        results = _on_cluster(runner, batches)
    assert killer.killed is not None, "no coder actor was seen running"
    assert results == _local(batches)
    assert runner.stats["resent"] >= 1


def test_actors_read_a_url_themselves_or_get_the_bytes(cluster: str, tmp_path: Path):
    fsspec = pytest.importorskip("fsspec")
    data = text(300_000, seed=4)
    path = tmp_path / "input.txt"
    path.write_bytes(data)
    batches = _batches(data, 3)
    runner = ClusterRunner(_fib_codecs(), cluster, source=SharedSource(path.as_uri(), 0))
    assert _on_cluster(runner, batches) == _local(batches)
    assert (runner.stats["ranges"], runner.stats["bytes"]) == (len(batches), 0)
    # memory:// lives in this process only: the actors cannot open it and get the bytes
    with fsspec.open("memory://nacrith-runner/input.txt", "wb") as out:
        out.write(data)
    runner = ClusterRunner(
        _fib_codecs(), cluster, source=SharedSource("memory://nacrith-runner/input.txt", 0)
    )
    assert _on_cluster(runner, batches) == _local(batches)
    assert (runner.stats["ranges"], runner.stats["bytes"]) == (0, len(batches))
