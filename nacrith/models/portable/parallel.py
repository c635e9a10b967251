"""Threads for the portable engine's matrix products: each product's output columns are split
into contiguous ranges, one per thread (numpy and BLAS release the GIL while they compute).

Every output column is computed by the same operations whichever range holds it, and a
column's value is an exact sum, so the thread count never changes a bit. `using(k)` sets the
count for the products the calling thread runs; `for_ranges` runs one product's ranges.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

__all__ = ["MAX_THREADS", "current", "for_ranges", "using"]

#: the most threads one product is split over
MAX_THREADS = 64

_threads: contextvars.ContextVar[int] = contextvars.ContextVar("portable_threads", default=1)
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_pool_pid = 0
_pool_lock = threading.Lock()


@contextlib.contextmanager
def using(threads: int) -> Iterator[None]:
    """Split the products the calling thread runs inside this block over `threads` threads."""
    if not 1 <= threads <= MAX_THREADS:
        raise ValueError(f"threads must lie in [1, {MAX_THREADS}], got {threads}")
    token = _threads.set(threads)
    try:
        yield
    finally:
        _threads.reset(token)


def current() -> int:
    """The thread count the calling thread's products use now."""
    return _threads.get()


def _executor(workers: int) -> ThreadPoolExecutor:
    global _pool, _pool_size, _pool_pid
    with _pool_lock:
        forked = _pool_pid != os.getpid()  # a forked child has the pool but not its threads
        if _pool is None or _pool_size < workers or forked:
            old = _pool
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nacrith-slab")
            _pool_size, _pool_pid = workers, os.getpid()
            if old is not None and not forked:
                old.shutdown(wait=False)
        return _pool


def for_ranges(total: int, work: Callable[[int, int], None], min_size: int = 1) -> None:
    """Call ``work(lo, hi)`` over contiguous ranges covering [0, total), one per thread (the
    calling thread takes the first); a range holds at least `min_size` unless there is one."""
    k = min(current(), max(1, total // max(1, min_size)))
    if k <= 1:
        work(0, total)
        return
    bounds = [total * i // k for i in range(k + 1)]
    pool = _executor(k - 1)
    futures = [pool.submit(work, bounds[i], bounds[i + 1]) for i in range(1, k)]
    try:
        work(bounds[0], bounds[1])
    finally:
        for f in futures:
            f.result()
