"""Coding batches of chunks, in this process or in worker processes.

A batch is a list of independent chunks. Encoding a chunk means trying its candidate codecs
(in the order given) and keeping the smallest payload, or `stored` when nothing is smaller
than the raw bytes. Codecs that code many streams at once (the `llm` codec decodes them in
lockstep) receive all the batch's chunks in one `encode_many` / `decode_many` call.

Output bytes never depend on how chunks are grouped into batches or on the worker count:
each chunk is coded independently and the codecs are deterministic functions of their params.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from types import FrameType
from typing import Any, Protocol, TypeVar

from nacrith.codecs.base import Codec

__all__ = [
    "BATCH_BYTES",
    "BATCH_CHUNKS",
    "BatchRunner",
    "CodecSet",
    "Runner",
    "decode_batch",
    "default_workers",
    "encode_batch",
    "group_batches",
    "pool_runtime",
    "resolve_workers",
]

EncodeItem = tuple[tuple[str, ...], bytes]  # (candidate codec ids, raw bytes)
EncodeResult = tuple[str, bytes]  # (codec id, payload)
DecodeItem = tuple[str, bytes, int]  # (codec id, payload, raw size)
T = TypeVar("T")

#: the most bytes of chunks in one batch
BATCH_BYTES = 4 << 20
#: the most chunks in one batch
BATCH_CHUNKS = 64


def group_batches(
    items: Iterable[T],
    size_of: Callable[[T], int],
    remaining: int | None,
    workers: int,
    count_cap: int,
    shrink: bool = True,
) -> Iterator[list[T]]:
    """Consecutive items in groups of at most `count_cap` items, each closed once it holds
    its share of the `remaining` bytes (None: not known, groups of BATCH_BYTES).

    Bytes that fill fewer than one BATCH_BYTES group per worker are spread evenly, one group
    per worker. More are grouped by guided self-scheduling (unless `shrink` is false: `remaining`
    is then only the items' own bytes, with more to come): each group takes its worker's share
    of what is not yet grouped, at most BATCH_BYTES, so the groups shrink toward the end and the
    workers finish close together.
    """
    group: list[T] = []
    size = 0
    even = _byte_cap(remaining, workers)
    guided = shrink and remaining is not None and even == BATCH_BYTES
    byte_cap = even
    for item in items:
        group.append(item)
        size += size_of(item)
        if size >= byte_cap or len(group) >= count_cap:
            yield group
            if guided and remaining is not None:
                remaining -= size
                byte_cap = _byte_cap(remaining, workers)
            group, size = [], 0
    if group:
        yield group


def _byte_cap(total: int | None, workers: int) -> int:
    """Bytes per batch: `total` spread over the workers, never above BATCH_BYTES."""
    if total is None:
        return BATCH_BYTES
    return max(1, min(BATCH_BYTES, -(-total // workers)))


def default_workers() -> int:
    """Worker processes to use by default: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def resolve_workers(workers: int | None) -> int:
    """Processes to code with: None means this process only (no workers, so scripts need no
    ``if __name__ == "__main__":`` guard), 0 one per usable CPU, N that many."""
    if workers is None:
        return 1
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise TypeError(f"workers must be None or an integer, not {type(workers).__name__!r}")
    if workers < 0:
        raise ValueError(f"workers must be non-negative, got {workers}")
    return workers or default_workers()


class CodecSet:
    """Codec instances built on first use from (id -> params), shared by the batches of a run."""

    def __init__(
        self,
        params: Mapping[str, Mapping[str, Any]],
        prebuilt: Mapping[str, Codec] | None = None,
        shared: dict[tuple[str, str], Codec] | None = None,
        runtime: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.params = {k: dict(v) for k, v in params.items()}
        #: per codec id, machine-local keyword arguments for `from_params` (see Codec.runtime)
        self.runtime = {k: dict(v) for k, v in (runtime or {}).items() if v}
        self._codecs: dict[str, Codec] = dict(prebuilt or {})
        self._owned: set[str] = set()
        self._shared = shared

    def get(self, codec_id: str) -> Codec:
        """The codec for `codec_id`, built from its params on first use."""
        codec = self._codecs.get(codec_id)
        if codec is not None:
            return codec
        params = self.params.get(codec_id, {})
        key = (codec_id, json.dumps(params, sort_keys=True))
        if self._shared is not None and key in self._shared:
            codec = self._shared[key]
        else:
            extra = self.runtime.get(codec_id)
            from nacrith.codecs.registry import codec_class

            cls = codec_class(codec_id)
            codec = cls.from_params(params, **extra) if extra else cls.from_params(params)
            if self._shared is not None:
                self._shared[key] = codec
            else:
                self._owned.add(codec_id)
        self._codecs[codec_id] = codec
        return codec

    def close(self) -> None:
        """Close the codecs this set built (prebuilt ones belong to the caller)."""
        for codec_id in self._owned:
            self._codecs[codec_id].close()
        self._owned.clear()
        self._codecs.clear()


def encode_batch(codecs: CodecSet, items: list[EncodeItem]) -> list[EncodeResult]:
    """Encode each item with the best of its candidate codecs (falling back to `stored`)."""
    best: list[EncodeResult | None] = [None] * len(items)
    candidates: dict[str, list[int]] = {}
    for index, (ids, _raw) in enumerate(items):
        for codec_id in ids:
            if codec_id != "stored":
                candidates.setdefault(codec_id, []).append(index)
    for codec_id, indices in candidates.items():
        codec = codecs.get(codec_id)
        usable = [i for i in indices if codec.accepts(items[i][1])]
        if not usable:
            continue
        payloads = codec.encode_many([items[i][1] for i in usable])
        for i, payload in zip(usable, payloads):
            current = best[i]
            if current is None or len(payload) < len(current[1]):
                best[i] = (codec_id, payload)
    results: list[EncodeResult] = []
    for (_ids, raw), choice in zip(items, best):
        if choice is None or len(choice[1]) >= len(raw):
            choice = ("stored", bytes(raw))
        results.append(choice)
    return results


def decode_batch(codecs: CodecSet, items: list[DecodeItem]) -> list[bytes]:
    """Decode each (codec id, payload, raw size); same-codec chunks go in one `decode_many`."""
    out: list[bytes | None] = [None] * len(items)
    groups: dict[str, list[int]] = {}
    for index, (codec_id, _payload, _size) in enumerate(items):
        groups.setdefault(codec_id, []).append(index)
    for codec_id, indices in groups.items():
        decoded = codecs.get(codec_id).decode_many([(items[i][1], items[i][2]) for i in indices])
        for i, raw in zip(indices, decoded):
            out[i] = raw
    return [raw if raw is not None else b"" for raw in out]


# Per-process state of a worker.
_WORKER_CODECS: CodecSet | None = None


def _worker_init(
    params: dict[str, dict[str, Any]],
    runtime: dict[str, dict[str, Any]],
    parent_pid: int,
    death_signal: bool,
) -> None:
    # Ctrl-C is the parent's to handle; workers are stopped through the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent(parent_pid, death_signal)
    global _WORKER_CODECS
    _WORKER_CODECS = CodecSet(params, runtime=runtime)


_PR_SET_PDEATHSIG = 1


def _exit_with_parent(parent_pid: int, death_signal: bool) -> None:
    """End this worker as soon as the process that started it dies, however it dies.

    On Linux the kernel sends SIGKILL (prctl PR_SET_PDEATHSIG; only when the pool was started
    from the parent's main thread, since the signal follows the creating thread). Everywhere a
    daemon thread also waits on the parent's sentinel and exits the process when it fires.
    """
    if death_signal and sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the above took effect
        os._exit(1)
    parent = multiprocessing.parent_process()
    if parent is not None:
        sentinel = parent.sentinel

        def watch() -> None:
            multiprocessing.connection.wait([sentinel])
            os._exit(1)

        threading.Thread(target=watch, name="nacrith-parent-watch", daemon=True).start()


def _worker_encode(items: list[EncodeItem]) -> list[EncodeResult]:
    assert _WORKER_CODECS is not None
    return encode_batch(_WORKER_CODECS, items)


def _worker_decode(items: list[DecodeItem]) -> list[bytes]:
    assert _WORKER_CODECS is not None
    return decode_batch(_WORKER_CODECS, items)


class Runner(Protocol):
    """What runs a member's batches: `BatchRunner` here, `nacrith.cluster.ClusterRunner` on Ray."""

    #: how many batches run at once (batch sizes are spread over them)
    workers: int

    def run(self, batches: Iterable[list[Any]], kind: str) -> Iterator[list[Any]]:
        """Yield the results of `encode` or `decode` batches in input order."""
        ...

    def close(self) -> None:
        """Stop whatever runs the batches."""
        ...


def pool_runtime(
    runtime: Mapping[str, Mapping[str, Any]], workers: int
) -> dict[str, dict[str, Any]]:
    """`runtime` for the codecs of a pool of `workers` processes: a codec that sizes its model
    threads by `processes` (and was not told a count) learns that the workers share the CPUs."""
    out = {cid: dict(values) for cid, values in runtime.items()}
    for values in out.values():
        if "processes" in values and values["processes"] is None:
            values["processes"] = workers
    return out


class BatchRunner:
    """Runs batches in order, in-process or on `workers` processes, with bounded look-ahead.

    The process pool is started only when a second batch arrives, so small inputs never pay
    for starting processes (and loading a model in each). If a run does not finish (an error,
    Ctrl-C, SIGTERM), `close` kills the workers at once instead of waiting for their batches;
    while a pool is up, SIGTERM (left at its default) raises `SystemExit` so that callers
    clean up. Workers also exit when this process dies.
    """

    def __init__(self, codecs: CodecSet, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.codecs = codecs
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._finished = False
        self._sigterm_restore: Any = None

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            on_main_thread = threading.current_thread() is threading.main_thread()
            runtime = pool_runtime(self.codecs.runtime, self.workers)
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_init,
                initargs=(self.codecs.params, runtime, os.getpid(), on_main_thread),
            )
            if on_main_thread and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
                signal.signal(signal.SIGTERM, _exit_on_sigterm)
                self._sigterm_restore = signal.SIG_DFL
        return self._pool

    def run(self, batches: Iterable[list[Any]], kind: str) -> Iterator[list[Any]]:
        """Yield the results of `encode` or `decode` batches in input order."""
        local: Callable[[CodecSet, list[Any]], list[Any]]
        remote: Callable[[list[Any]], list[Any]]
        if kind == "encode":
            local, remote = encode_batch, _worker_encode
        elif kind == "decode":
            local, remote = decode_batch, _worker_decode
        else:
            raise ValueError(f"kind must be 'encode' or 'decode', got {kind!r}")
        iterator = iter(batches)
        first = next(iterator, None)
        if first is None:
            return
        second = next(iterator, None)
        if second is None or self.workers == 1:
            yield local(self.codecs, first)
            if second is not None:
                yield local(self.codecs, second)
                for batch in iterator:
                    yield local(self.codecs, batch)
            return
        pool = self._ensure_pool()
        self._finished = False
        pending: deque[Future[list[Any]]] = deque()
        limit = 2 * self.workers
        for batch in (first, second):
            pending.append(pool.submit(remote, batch))
        for batch in iterator:
            if len(pending) >= limit:
                yield pending.popleft().result()
            pending.append(pool.submit(remote, batch))
        while pending:
            yield pending.popleft().result()
        self._finished = True

    def close(self) -> None:
        """Stop the worker processes: politely after a finished run, at once otherwise."""
        pool, self._pool = self._pool, None
        try:
            if pool is not None:
                if self._finished:
                    pool.shutdown(wait=True)
                else:
                    _kill_pool(pool)
        finally:
            if self._sigterm_restore is not None:
                signal.signal(signal.SIGTERM, self._sigterm_restore)
                self._sigterm_restore = None


def _exit_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    """SIGTERM handler while workers run: unwind (closing pools, removing temporary files)."""
    raise SystemExit(128 + signum)


def _kill_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel queued batches and end the worker processes without waiting for running ones."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        with contextlib.suppress(OSError, ValueError):
            process.terminate()
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AssertionError):
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join(5)
    # A worker ended while writing a result leaves half a message in the result pipe, and the
    # pool's manager thread would wait for the rest forever. With every worker gone, closing
    # this process's own write end turns that wait into end-of-file, which the pool handles.
    result_queue = getattr(pool, "_result_queue", None)
    writer = getattr(result_queue, "_writer", None)
    if writer is not None:
        with contextlib.suppress(OSError):
            writer.close()
    pool.shutdown(wait=True, cancel_futures=True)
