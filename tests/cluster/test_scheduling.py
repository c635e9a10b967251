"""How `ClusterRunner` hands out batches: an actor never idles behind a slower one (results that
come early are held, within a bound), and a private instance started with `--cluster local`
runs with `LOCAL_OPTIONS`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from nacrith.cluster.runner import HELD_PER_ACTOR, IN_FLIGHT_PER_ACTOR, ClusterRunner
from nacrith.codecs.registry import codec_class
from nacrith.workers import CodecSet, encode_batch
from tests.cluster.conftest import RAY_ENV
from tests.cluster.data import text

CHUNK = 16 << 10
#: seconds to wait for the free actor to do its share (a bound on a wait, not a timing check)
PATIENCE = 300.0


def _fib_codecs() -> CodecSet:
    return CodecSet({"fib": codec_class("fib")().params()})


def test_a_stalled_actor_does_not_hold_back_the_others(cluster: str):
    data = text(24 * CHUNK, seed=11)
    batches = [[(("fib",), data[i : i + CHUNK])] for i in range(0, len(data), CHUNK)]
    local = [encode_batch(_fib_codecs(), batch) for batch in batches]
    runner = ClusterRunner(_fib_codecs(), cluster, workers=2)
    stalled = runner.places[0]["pid"]  # the first batch goes to the first actor
    results: list = []
    failure: list[BaseException] = []

    def consume() -> None:
        try:
            results.extend(runner.run(batches, "encode"))
        except BaseException as exc:  # re-raised by the test below
            failure.append(exc)

    os.kill(stalled, signal.SIGSTOP)
    consumer = threading.Thread(target=consume, daemon=True)
    try:
        consumer.start()
        # the stalled actor holds its batches; the other one codes until the bound is reached
        share = HELD_PER_ACTOR * runner.workers - IN_FLIGHT_PER_ACTOR
        deadline = time.monotonic() + PATIENCE
        while runner.stats["bytes"] < share and time.monotonic() < deadline:
            time.sleep(0.05)
        assert runner.stats["bytes"] == share
        assert results == []  # nothing is yielded before the first batch's result
    finally:
        os.kill(stalled, signal.SIGCONT)
        consumer.join(PATIENCE)
        runner.close()
    assert not failure, failure
    assert results == local


def test_a_private_instance_starts_with_the_local_options():
    script = (
        "import nacrith\n"
        "from nacrith.cluster.connect import connect\n"
        "ray = connect('local')\n"
        "data = bytes(range(256)) * 512\n"
        "assert nacrith.compress(data, 'fib', cluster='local', workers=1, chunk_size=16384) "
        "== nacrith.compress(data, 'fib', chunk_size=16384)\n"
        "print(ray.get_runtime_context().gcs_address)\n"
    )
    env = dict(os.environ, **RAY_ENV)
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr
