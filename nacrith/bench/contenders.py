"""The nacrith side of a bench run: which methods run here, and the contenders to measure."""

from __future__ import annotations

from collections.abc import Sequence

from nacrith.bench.collect import BenchFile
from nacrith.bench.errors import BenchUsageError
from nacrith.bench.peers import PEERS, Contender
from nacrith.errors import FormatError

__all__ = [
    "ALWAYS_AVAILABLE",
    "FAST_METHODS",
    "default_methods",
    "make_contenders",
    "method_problem",
]

SAMPLE = 64 << 10
FAST_METHODS = ("zstd", "fast", "fib", "logs")
ALWAYS_AVAILABLE = ("auto", "stored", "zstd")


def method_problem(method: str) -> str | None:
    """Why nacrith `method` cannot run here, or None when it can."""
    from nacrith.codecs.registry import METHODS, PICKING_METHODS, codec_class, known_codecs

    if method in ALWAYS_AVAILABLE or method in PICKING_METHODS:
        return None
    if method not in METHODS and method not in known_codecs():
        return f"unknown method {method!r} (choose from {', '.join(METHODS)})"
    try:
        codec_class(method)
    except FormatError as exc:
        return str(exc)
    return None


def default_methods() -> tuple[list[str], dict[str, str]]:
    """The fast nacrith methods available here, and why the others are left out."""
    chosen, missing = [], {}
    for method in FAST_METHODS:
        problem = method_problem(method)
        if problem is None:
            chosen.append(method)
        else:
            missing[f"ncz {method}"] = problem
    return chosen, missing


def _looks_like_logs(bench_file: BenchFile, data: bytes) -> bool:
    try:
        from nacrith.formats.logs.detect import looks_like_logs
    except ImportError:
        return bench_file.corpus == "loghub"
    try:
        return bool(looks_like_logs(data[:SAMPLE]))
    except Exception:
        return bench_file.corpus == "loghub"


def _ncz_contender(method: str, workers: int | None, only_logs: bool) -> Contender:
    from nacrith.api import Compressor, Decompressor

    compressor = Compressor(method, workers=workers)
    decompressor = Decompressor(workers=workers)

    def close() -> None:
        compressor.close()
        decompressor.close()

    return Contender(
        f"ncz {method}",
        "ncz",
        compressor.compress,
        decompressor.decompress,
        f"nacrith.Compressor({method!r}, workers={workers})"
        + (" on files that look like logs" if only_logs else ""),
        applies=_looks_like_logs if only_logs else (lambda _file, _data: True),
        close=close,
    )


def make_contenders(
    methods: Sequence[str] | None, peers: Sequence[str], workers: int | None = 1
) -> tuple[list[Contender], dict[str, str]]:
    """Build the contenders; `methods=None` means the fast defaults (logs only on logs).

    Returns them with the ones left out and why (a peer whose package is missing, a default
    method whose codec is not available here). An explicit method that cannot run raises
    `BenchUsageError`.
    """
    skipped: dict[str, str] = {}
    if methods is None:
        chosen, skipped = default_methods()
        only_logs = {"logs"}
    else:
        chosen, only_logs = list(methods), set()
        for method in chosen:
            problem = method_problem(method)
            if problem is not None:
                raise BenchUsageError(f"method {method!r} cannot run here: {problem}")
    contenders = [_ncz_contender(m, workers, m in only_logs) for m in chosen]
    for peer in peers:
        try:
            contenders.append(PEERS[peer]())
        except ImportError as exc:
            skipped[peer] = f"not installed ({exc.name or exc}); pip install 'nacrith[bench]'"
    return contenders, skipped
