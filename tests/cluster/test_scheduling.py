"""How `ClusterRunner` hands out batches: an actor never idles behind a slower one (results that
come early are held, within a bound), and a private instance (address ``local``) runs
without a log monitor and ends with its driver."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

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


PROCESS_LIST = """
def descendants(root):
    children = {}
    for name in os.listdir('/proc'):
        if name.isdigit():
            try:
                with open(f'/proc/{name}/stat') as handle:
                    parent = int(handle.read().rsplit(')', 1)[1].split()[1])
                with open(f'/proc/{name}/cmdline', 'rb') as handle:
                    line = handle.read().replace(b'\\0', b' ').decode(errors='replace')
            except (OSError, IndexError):
                continue
            children.setdefault(parent, []).append((int(name), line))
    found, todo = [], [root]
    while todo:
        for pid, line in children.get(todo.pop(), []):
            found.append((pid, line))
            todo.append(pid)
    return found
"""


@pytest.mark.skipif(sys.platform != "linux", reason="reads the process tree from /proc")
@pytest.mark.parametrize("ending", ["exit", "kill"])
def test_a_private_instance_runs_without_log_monitor_and_ends_with_its_driver(ending: str):
    script = (
        "import json, os, signal, sys\n"
        "import nacrith\n"
        "from nacrith.cluster.connect import connect\n" + PROCESS_LIST + "ray = connect('local')\n"
        "data = bytes(range(256)) * 512\n"
        "assert nacrith.compress(data, 'fib', cluster='local', workers=1, chunk_size=16384) "
        "== nacrith.compress(data, 'fib', chunk_size=16384)\n"
        "print(json.dumps(descendants(os.getpid())), flush=True)\n"
        f"if {ending == 'kill'}:\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    env = dict(os.environ, **RAY_ENV)
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == (-signal.SIGKILL if ending == "kill" else 0), done.stderr
    processes = json.loads(done.stdout.strip().splitlines()[-1])
    lines = " ".join(line for _pid, line in processes)
    assert "gcs_server" in lines and "raylet" in lines
    assert "log_monitor.py" not in lines
    deadline = time.monotonic() + 60
    alive = [pid for pid, _line in processes if os.path.exists(f"/proc/{pid}")]
    while alive and time.monotonic() < deadline:
        time.sleep(0.5)
        alive = [pid for pid in alive if os.path.exists(f"/proc/{pid}")]
    assert alive == [], [line for pid, line in processes if pid in alive]


def test_a_private_instance_that_cannot_start_is_a_cluster_error():
    from nacrith.cluster.connect import ClusterError
    from nacrith.cluster.local import start_private

    with pytest.raises(ClusterError, match="could not start a private Ray instance"):
        start_private(num_cpus=-3)
