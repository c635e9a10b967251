"""A two-node Ray cluster on this machine (a head and a worker node, one CPU each), started
once for the tests of this folder and stopped after them, and the kill switch for its actors."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

RAY = str(Path(sys.executable).parent / "ray")
#: per node: small, so that two nodes fit beside the rest of the test suite
NODE_OPTIONS = [
    "--num-cpus=1",
    "--object-store-memory=150000000",
    "--disable-usage-stats",
]
#: what Ray calls a coder actor's process (its title while running a method adds `.method`)
ACTOR_TITLE = "ray::ChunkCoder"


def _ray(*args: str) -> str:
    done = subprocess.run([RAY, *args], capture_output=True, text=True, timeout=120, env=_ray_env())
    if done.returncode != 0:
        raise RuntimeError(f"ray {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout + done.stderr


#: a cluster reachable only from this machine needs no token (and makes none in ~/.ray)
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


def _ray_env() -> dict[str, str]:
    return dict(os.environ, **RAY_ENV)


@pytest.fixture(scope="package")
def cluster() -> Iterator[str]:
    """The address of a running two-node cluster; this process is connected to it."""
    saved = {name: os.environ.get(name) for name in RAY_ENV}
    os.environ.update(RAY_ENV)
    try:
        started = _ray("start", "--head", "--port=0", "--include-dashboard=false", *NODE_OPTIONS)
        address = re.search(r"--address='([^']+)'", started)
        assert address is not None, started
        _ray("start", f"--address={address.group(1)}", *NODE_OPTIONS)
        _wait_for_nodes(address.group(1), 2)
        yield address.group(1)
    finally:
        import ray

        ray.shutdown()
        subprocess.run([RAY, "stop", "--force"], capture_output=True, timeout=120)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _wait_for_nodes(address: str, count: int) -> None:
    from nacrith.cluster.connect import connect

    ray = connect(address)
    deadline = time.monotonic() + 60
    while sum(1 for node in ray.nodes() if node["Alive"]) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the cluster did not reach {count} nodes: {ray.nodes()}")
        time.sleep(0.5)


def coder_processes(busy: bool = False) -> list[int]:
    """PIDs of the coder actors on this machine (`busy`: only those running a method)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if title.startswith(ACTOR_TITLE) and (not busy or title.startswith(ACTOR_TITLE + ".")):
            found.append(int(entry.name))
    return found


class Killer:
    """A thread that SIGKILLs the first coder actor it sees running a method: one of `pids`
    when given, else one that was not running when the killer started."""

    def __init__(self, pids: set[int] | None = None) -> None:
        self.pids = pids
        self.killed: int | None = None
        self._old = set(coder_processes())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> Killer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _wanted(self, pid: int) -> bool:
        return pid in self.pids if self.pids is not None else pid not in self._old

    def _watch(self) -> None:
        while not self._stop.is_set():
            for pid in filter(self._wanted, coder_processes(busy=True)):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue
                self.killed = pid
                return
            time.sleep(0.02)
