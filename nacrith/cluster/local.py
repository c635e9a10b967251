"""A private Ray instance on this machine, started as ``ray start --head --block`` in a child
process, for the address ``local``.

`ray.init` can start an instance itself, but it always adds a log monitor that polls the log
folder ten times a second, and on a machine whose every CPU runs a coder actor that CPU comes
out of a coder. `ray start` can leave it out; with it go the dashboard UI, usage statistics,
metrics collection and per-event statistics. The child runs with ``--block``, so ending it
(`PrivateInstance.stop`, at this process's exit, or on Linux when this process dies) ends
every process of the instance.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import IO

from nacrith.cluster.connect import ClusterError

__all__ = ["START_TIMEOUT", "PrivateInstance", "start_private"]

#: seconds the instance may take to start
START_TIMEOUT = 120.0
#: seconds its processes may take to end after SIGTERM before they are killed
STOP_TIMEOUT = 30.0
#: `ray start` options of the private instance, besides the CPU count and the port
OPTIONS = (
    "--head",
    "--block",
    "--port=0",
    "--include-dashboard=false",
    "--include-log-monitor=false",
    "--disable-usage-stats",
    "--system-config=" + json.dumps({"enable_metrics_collection": False, "event_stats": False}),
)


class PrivateInstance:
    """A running private instance: its GCS `address`, and `stop` to end it."""

    def __init__(self, process: subprocess.Popen[bytes], address: str) -> None:
        self.process = process
        self.address = address

    def stop(self) -> None:
        """End the instance and all its processes (a second call does nothing)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_private(num_cpus: int | None = None) -> PrivateInstance:
    """Start a private instance with `num_cpus` CPUs (None: this machine's) and return it once
    its GCS answers; it is stopped at this process's exit unless stopped before."""
    command = [sys.executable, "-m", "ray.scripts.scripts", "start", *OPTIONS]
    if num_cpus is not None:
        command.append(f"--num-cpus={num_cpus}")
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    # what it prints goes to an unnamed file that the child keeps writing to after this one
    # has found the address and closed it
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=_end_with_parent() if sys.platform == "linux" else None,
        )
        instance = PrivateInstance(process, _wait_for_address(process, log))
    atexit.register(instance.stop)
    return instance


def _wait_for_address(process: subprocess.Popen[bytes], log: IO[bytes]) -> str:
    """The GCS address `ray start` prints once the head runs; `ClusterError` (with what it
    printed) if it exits first or takes longer than `START_TIMEOUT`."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        log.seek(0)
        printed = log.read().decode(errors="replace")
        found = re.search(r"--address='([^']+)'", printed)
        if found is not None:
            return found.group(1)
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                process.kill()
                process.wait()
            raise ClusterError(f"could not start a private Ray instance:\n{printed[-2000:]}")
        time.sleep(0.1)


def _end_with_parent() -> Callable[[], None]:
    """What the child runs before exec (Linux): ask for SIGTERM when this process ends,
    however it ends (libc is looked up here, so the child only makes the call)."""
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1
    return lambda: prctl(pr_set_pdeathsig, signal.SIGTERM)
