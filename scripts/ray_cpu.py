"""CPU seconds of this process and every process under it (Ray's GCS server, raylet, agents,
workers...) over a stretch of time, read from /proc (Linux only).

A `CpuSampler` thread reads /proc/<pid>/stat for the whole process tree at an interval; a
process that exits (an actor killed at the end of a run) keeps the CPU it had at its last
sample. The sampler's own CPU (its thread's) is reported apart from the driver's.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

TICK = os.sysconf("SC_CLK_TCK")

#: (what the command line's program or script ends with, role), first match wins
ROLES = (
    ("ray::ChunkCoder", "coder actor"),
    ("ray::IDLE", "idle worker"),
    ("ray::DashboardAgent", "dashboard agent"),
    ("ray::RuntimeEnvAgent", "runtime env agent"),
    ("default_worker.py", "idle worker"),
    ("gcs_server", "GCS server"),
    ("raylet", "raylet"),
    ("dashboard/dashboard.py", "dashboard (API server)"),
    ("dashboard/agent.py", "dashboard agent"),
    ("runtime_env/agent/main.py", "runtime env agent"),
    ("autoscaler/_private/monitor.py", "autoscaler monitor"),
    ("log_monitor.py", "log monitor"),
    ("ray_process_reaper.py", "process reaper"),
    ("ray.scripts.scripts", "ray start --block (the private head)"),
)
#: roles of processes that may become something else (a worker process takes an actor)
_CHANGING = ("idle worker", "coder actor")


def _stat(pid: int) -> tuple[int, float, float] | None:
    """(parent pid, CPU seconds of the process, CPU seconds of its reaped children)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (
        int(fields[1]),
        (int(fields[11]) + int(fields[12])) / TICK,
        (int(fields[13]) + int(fields[14])) / TICK,
    )


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def role_of(pid: int, root: int, cmdline: str, parent_role: str | None) -> str:
    """What the process `pid` is in a Ray run driven by `root`."""
    if pid == root:
        return "driver"
    words = cmdline.split(" ")
    program = [w for w in words[:3] if w and not w.startswith("-")]
    for tail, role in ROLES:
        if any(w.startswith(tail) or w.endswith(tail) for w in program):
            return role
    if parent_role is not None and parent_role.startswith("dashboard"):
        return f"{parent_role} modules"
    return "other: " + (cmdline.split(" ")[0].rsplit("/", 1)[-1] or "?")


def machine_busy() -> float:
    """CPU seconds all processors of the machine have spent busy since boot."""
    with open("/proc/stat") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / TICK


@dataclass
class ProcessCpu:
    """One process seen during the sampling."""

    pid: int
    role: str
    first: float  # CPU seconds at its first sample (0 when it started after the sampling)
    last: float


@dataclass
class CpuSampler:
    """Samples the CPU of `root`'s process tree every `interval` seconds while running."""

    root: int = field(default_factory=os.getpid)
    interval: float = 1.0
    seen: dict[int, ProcessCpu] = field(default_factory=dict)
    own_cpu: float = 0.0
    wall: float = 0.0
    machine: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _start_pids: set[int] = field(default_factory=set)

    def _tree(self) -> dict[int, tuple[int, float]]:
        stats = {}
        for name in os.listdir("/proc"):
            if name.isdigit():
                stat = _stat(int(name))
                if stat is not None:
                    stats[int(name)] = stat
        tree: dict[int, tuple[int, float]] = {}
        frontier = [self.root]
        while frontier:
            pid = frontier.pop()
            if pid in stats and pid not in tree:
                tree[pid] = (stats[pid][0], stats[pid][1])
                frontier += [p for p, s in stats.items() if s[0] == pid]
        return tree

    def sample(self, initial: bool = False) -> None:
        """Read the tree's CPU now."""
        for pid, (ppid, cpu) in self._tree().items():
            known = self.seen.get(pid)
            if known is None:
                parent = self.seen.get(ppid)
                role = role_of(pid, self.root, _cmdline(pid), parent.role if parent else None)
                self.seen[pid] = ProcessCpu(pid, role, cpu if initial else 0.0, cpu)
            else:
                known.last = cpu
                if known.role in _CHANGING:
                    role = role_of(pid, self.root, _cmdline(pid), None)
                    if role == "coder actor":  # a pooled worker that took an actor
                        known.role = role

    def _loop(self) -> None:
        start = time.thread_time()
        while not self._stop.wait(self.interval):
            self.sample()
        self.own_cpu = time.thread_time() - start

    def __enter__(self) -> CpuSampler:
        self.sample(initial=True)
        self.wall, self.machine = time.perf_counter(), machine_busy()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()
        self.wall = time.perf_counter() - self.wall
        self.machine = machine_busy() - self.machine

    def by_role(self) -> dict[str, tuple[int, float]]:
        """role -> (processes, CPU seconds during the sampling); the driver less the sampler."""
        out: dict[str, tuple[int, float]] = {}
        for proc in self.seen.values():
            used = proc.last - proc.first
            if proc.role == "driver":
                used -= self.own_cpu
            count, total = out.get(proc.role, (0, 0.0))
            out[proc.role] = (count + 1, total + used)
        return out

    def table(self) -> list[str]:
        """Markdown rows: CPU seconds per role, largest first, then the totals."""
        roles = sorted(self.by_role().items(), key=lambda kv: -kv[1][1])
        total = sum(cpu for _n, cpu in self.by_role().values()) + self.own_cpu
        rows = [
            "| process | count | CPU s | share of the run's CPU |",
            "| --- | ---: | ---: | ---: |",
        ]
        for role, (count, cpu) in roles:
            rows.append(f"| {role} | {count} | {cpu:.2f} | {100 * cpu / total:.1f}% |")
        rows.append(
            f"| (the sampler thread in the driver) | | {self.own_cpu:.2f} | "
            f"{100 * self.own_cpu / total:.1f}% |"
        )
        rows.append(f"| **all of the run** | | **{total:.2f}** | |")
        return rows
