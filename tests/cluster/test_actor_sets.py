"""How many coder actors a run starts on the cluster: one set per member, never one per
candidate method (a tiny `auto` input once started three sets)."""

from __future__ import annotations

import random

import pytest

import nacrith
from tests.cluster.data import mixed
from tests.samples import synthetic_log


def _coder_actors() -> set[str]:
    """Ids of every coder actor the cluster has seen (alive or dead). Ray's state API needs
    the dashboard, which the test cluster runs without; the GCS actor table does not."""
    from ray._private import state

    table = state.actors()
    return {actor_id for actor_id, info in table.items() if info["ActorClassName"] == "ChunkCoder"}


@pytest.mark.parametrize(
    "data",
    [random.Random(5).randbytes(5000), synthetic_log(200)],
    ids=["binary", "logs"],
)
def test_tiny_auto_input_starts_one_set_of_actors(cluster: str, data: bytes) -> None:
    before = _coder_actors()
    archive = nacrith.compress(data, "auto", cluster=cluster, workers=2)
    assert len(_coder_actors() - before) == 2
    assert archive == nacrith.compress(data, "auto")


def test_a_member_starts_one_set_of_actors(cluster: str) -> None:
    data = mixed(300_000)
    before = _coder_actors()
    archive = nacrith.compress(data, "fib", chunk_size=64 << 10, cluster=cluster, workers=2)
    assert len(_coder_actors() - before) == 2
    assert nacrith.decompress(archive) == data
