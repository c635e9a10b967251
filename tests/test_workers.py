"""Worker processes: how many, and that they die with their parent (signals, parent death).

The signal tests run the real CLI with two workers on a multi-megabyte file, send a real signal
once the workers exist, and check that the command ends, that no descendant process survives
and that no output file is left. Timing bounds are hang guards, not benchmarks.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nacrith.workers import default_workers, resolve_workers
from tests.child import default_signals

NCZ = [sys.executable, "-m", "nacrith.cli"]
HANG_GUARD = 20.0


def _text(path: Path, size: int) -> None:
    rng = random.Random(7)
    words = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
        for _ in range(4000)
    ]
    with path.open("w") as f:
        written = 0
        while written < size:
            line = " ".join(rng.choices(words, k=12)) + "\n"
            written += f.write(line)


def _start_time(pid: int) -> str | None:
    """The process's start time (field 22 of /proc/PID/stat), or None once it is gone or a
    zombie (dead, waiting to be reaped)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def _descendants(pid: int) -> dict[int, str]:
    """PID -> start time of every live process below `pid`."""
    found: dict[int, str] = {}
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                text = Path(f"/proc/{parent}/task/{task}/children").read_text()
            except OSError:
                continue
            for child in map(int, text.split()):
                start = _start_time(child)
                if child not in found and start is not None:
                    found[child] = start
                    todo.append(child)
    return found


def _workers_of(pid: int) -> dict[int, str]:
    """The multiprocessing workers (spawned interpreters) below `pid`."""
    workers = {}
    for child, start in _descendants(pid).items():
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            workers[child] = start
    return workers


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
@pytest.mark.parametrize(
    ("signum", "status"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGKILL, None)],
    ids=["SIGINT", "SIGTERM", "SIGKILL"],
)
def test_a_signal_ends_ncz_and_its_workers(
    tmp_path: Path, signum: signal.Signals, status: int | None
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    src = work / "big.txt"
    _text(src, 8 << 20)
    args = ["compress", "-m", "fib", "-T", "2", "--chunk-size", "256k", src.name]
    children: dict[int, str] = {}
    with (tmp_path / "stderr").open("wb") as stderr:
        proc = subprocess.Popen(
            [*NCZ, *args],
            cwd=work,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            preexec_fn=default_signals,
        )
    try:
        deadline = time.monotonic() + 60
        while len(_workers_of(proc.pid)) < 2 and proc.poll() is None:
            assert time.monotonic() < deadline, "the workers never started"
            time.sleep(0.05)
        time.sleep(0.5)  # let them take up batches
        children = _descendants(proc.pid)
        assert proc.poll() is None, "finished before the signal: make the input larger"
        proc.send_signal(signum)
        proc.wait(HANG_GUARD)
        assert proc.returncode == (status if status is not None else -signum)
        alive = dict(children)
        deadline = time.monotonic() + HANG_GUARD
        while alive and time.monotonic() < deadline:
            alive = {pid: start for pid, start in alive.items() if _start_time(pid) == start}
            time.sleep(0.1)
        assert alive == {}, f"processes outlived ncz: {sorted(alive)}"
    finally:
        _kill_all(proc, children)
    assert len(children) >= 2
    assert sorted(p.name for p in work.iterdir()) == [src.name]


def _kill_all(proc: subprocess.Popen[bytes], children: dict[int, str]) -> None:
    """Leave nothing running whatever the outcome (only the processes this test started)."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    for pid, start in children.items():
        if _start_time(pid) == start:
            os.kill(pid, signal.SIGKILL)


UNGUARDED_SCRIPT = """\
import io
import nacrith
from nacrith.formats.container import iter_members

data = b"".join(b"line %d of a script without a main guard\\n" % i for i in range(20000))
for method in ("zstd", "fib"):
    archive = nacrith.compress(data, method=method, chunk_size=1000)
    chunks = 0
    member = next(iter_members(io.BytesIO(archive))).reader
    while member.next_chunk() is not None:
        chunks += 1
    assert chunks > 200, chunks
    assert nacrith.decompress(archive) == data
with nacrith.open("out.ncz", "wb", method="zstd") as f:
    f.write(data)
with nacrith.open("out.ncz", "rb") as f:
    assert f.read() == data
print("script ran")
"""


def test_a_script_without_a_main_guard_compresses_many_chunks(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(UNGUARDED_SCRIPT)
    r = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, timeout=300
    )
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout == b"script ran\n"


def test_resolve_workers() -> None:
    assert resolve_workers(None) == 1
    assert resolve_workers(0) == default_workers()
    assert resolve_workers(3) == 3
    with pytest.raises(ValueError, match="workers must be non-negative, got -1"):
        resolve_workers(-1)
    with pytest.raises(TypeError, match="workers must be None or an integer, not 'str'"):
        resolve_workers("2")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not 'bool'"):
        resolve_workers(True)


def test_workers_cut_off_mid_result_do_not_hang_the_parent(tmp_path: Path) -> None:
    """A reader that goes away ends `ncz -dc` at once, run after run: the workers it ends may be
    in the middle of sending a result, which must not leave the parent waiting for the rest."""
    import nacrith

    data = os.urandom(3 << 20) + bytes(6 << 20)
    (tmp_path / "big.ncz").write_bytes(nacrith.compress(data, method="zstd", chunk_size=1 << 20))
    for _ in range(12):
        proc = subprocess.Popen(
            [*NCZ, "-dc", "big.ncz"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=default_signals,
        )
        assert proc.stdout is not None
        assert proc.stdout.read(1) != b""
        proc.stdout.close()
        try:
            status = proc.wait(timeout=HANG_GUARD)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail("ncz -dc kept running after its reader went away")
        assert status == 141


def test_pool_workers_share_the_cpus_for_the_model_threads(monkeypatch) -> None:
    from nacrith.codecs.llm import LLMCodec
    from nacrith.codecs.llm_params import choose_threads
    from nacrith.workers import pool_runtime

    monkeypatch.delenv("NACRITH_THREADS", raising=False)
    told = LLMCodec(engine="portable", processes=3).runtime()
    runtime = pool_runtime({"llm": LLMCodec(engine="portable").runtime(), "zstd": {}}, 2)
    assert runtime["llm"]["processes"] == 2 and runtime["zstd"] == {}
    assert pool_runtime({"llm": told}, 2)["llm"]["processes"] == 3  # the caller's count stays
    rebuilt = LLMCodec(**{k: v for k, v in runtime["llm"].items() if k != "model"})
    assert rebuilt.threads == choose_threads(None, 2)
