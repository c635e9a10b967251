"""Throughput of the `llm` codec against the raw llama.cpp decode speed, in the same run.

    python scripts/bench_speed.py                      # alice29 + first 1 MB of enwik8, CPU
    python scripts/bench_speed.py --limit 200000 --workers 1 --workers 2
    python scripts/bench_speed.py --gpu --workers 1    # on a CUDA build of llama-cpp-python

For each file and worker count: compress and decompress through `nacrith` (method llm, default
settings), check the round trip byte for byte, and report KB/s and tokens/s. Then measure what
llama.cpp alone does with the same model, the same number of processes and the same number of
lockstep streams per process (one `llama_decode` per step, positions sweeping the context like
the codec's), so that pipeline efficiency = our tokens/s / raw tokens/s is a measured ratio.

Results go to the `speed` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmd import update_section

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "corpora"
FILES = {
    "alice29.txt": ["canterbury/alice29.txt"],
    "enwik8[:1MB]": ["enwik/enwik6"],
}


def find(name: str) -> Path:
    """A corpus file from the repo's corpora/ or ../shared/corpora."""
    for rel in FILES[name]:
        for root in (REPO / "corpora", SHARED):
            if (root / rel).is_file():
                return root / rel
    raise SystemExit(f"bench_speed: cannot find {name}")


def llm_token_counts(archive: bytes) -> tuple[int, int, int]:
    """(tokens, llm chunks, largest number of chunks) read from an archive's llm payloads."""
    from nacrith.formats.container import iter_members
    from nacrith.models.text_front import Reader

    tokens = chunks = 0
    for member in iter_members(io.BytesIO(archive)):
        for record in member.chunks:
            payload = record.read_payload()
            if record.codec_id != "llm" or not payload or payload[0] != 0:
                continue
            reader = Reader(payload, 1)
            side = reader.varint()
            reader.pos += side
            tokens += reader.varint()
            chunks += 1
    return tokens, chunks, chunks


def _raw_worker(
    model: str, n_streams: int, n_ctx: int, seconds: float, gpu: bool, queue: Any
) -> None:
    import numpy as np
    from nacrith.models import registry
    from nacrith.models.llama_backend import LlamaBackend

    backend = LlamaBackend(
        registry.resolve_model(model),
        n_seq=n_streams,
        n_ctx=n_ctx,
        n_threads=1,
        n_gpu_layers=999 if gpu else 0,
    )
    rng = np.random.default_rng(0)
    seqs = list(range(n_streams))
    for s in seqs:
        backend.prefill(s, [backend.bos])
    pos = 1
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        if pos >= n_ctx:
            for s in seqs:
                backend.prefill(s, [backend.bos])
            pos = 1
        tokens = rng.integers(0, backend.n_vocab, size=n_streams)
        backend.step(seqs, tokens, [pos] * n_streams)
        pos += 1
        done += n_streams
    queue.put(done / (time.perf_counter() - start))
    backend.close()


def raw_throughput(
    model: str, processes: int, n_streams: int, n_ctx: int, seconds: float, gpu: bool
) -> float:
    """Tokens/s of bare llama.cpp lockstep decoding, summed over `processes` processes."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_raw_worker, args=(model, n_streams, n_ctx, seconds, gpu, queue))
        for _ in range(processes)
    ]
    for p in procs:
        p.start()
    rates = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    return sum(rates)


def bench_file(
    name: str, data: bytes, workers: int, opts: dict[str, Any], chunk_size: int | None
) -> dict[str, Any]:
    """Compress and decompress `data` once with the llm codec; timings and token counts."""
    import nacrith

    start = time.perf_counter()
    archive = nacrith.compress(
        data, method="llm", workers=workers, chunk_size=chunk_size, options={"llm": opts}
    )
    compress_s = time.perf_counter() - start
    start = time.perf_counter()
    restored = nacrith.decompress(archive, workers=workers)
    decompress_s = time.perf_counter() - start
    tokens, chunks, _ = llm_token_counts(archive)
    return {
        "file": name,
        "bytes": len(data),
        "archive": len(archive),
        "workers": workers,
        "chunks": chunks,
        "tokens": tokens,
        "compress_s": compress_s,
        "decompress_s": decompress_s,
        "ok": restored == data,
    }


def main() -> int:
    """Command-line entry."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", action="append", choices=sorted(FILES), default=None)
    parser.add_argument("--limit", type=int, default=None, help="first N bytes of each file")
    parser.add_argument("--workers", action="append", type=int, default=None)
    parser.add_argument("--gpu", action="store_true", help="offload the model to the GPU")
    parser.add_argument("--model", default=None)
    parser.add_argument("--raw-seconds", type=float, default=20.0)
    parser.add_argument("--max-streams", type=int, default=None)
    parser.add_argument("--chunk-size", type=int, default=None, help="bytes per stream")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    from nacrith.models.llm_codec import LLMCodec

    opts: dict[str, Any] = {}
    if args.gpu:
        opts["gpu"] = True
    if args.model:
        opts["model"] = args.model
    if args.max_streams:
        opts["max_streams"] = args.max_streams
    probe_codec = LLMCodec(**opts)
    model = args.model or probe_codec.model_name
    n_ctx = probe_codec.n_ctx
    max_streams = probe_codec.max_streams
    probe_codec.close()

    rows = []
    for name in args.file or list(FILES):
        data = find(name).read_bytes()[: args.limit]
        for workers in args.workers or [1, 2]:
            row = bench_file(name, data, workers, opts, args.chunk_size)
            per_proc = max(1, min(max_streams, -(-row["chunks"] // workers)))
            procs = min(workers, max(1, row["chunks"]))
            row["raw_tps"] = raw_throughput(
                model, procs, per_proc, n_ctx, args.raw_seconds, args.gpu
            )
            row["streams"] = per_proc
            row["procs"] = procs
            print(row, flush=True)
            rows.append(row)

    device = "GPU (n_gpu_layers=all)" if args.gpu else "CPU, 1 llama.cpp thread per process"
    lines = [
        f"## Speed: `llm` codec vs raw llama.cpp ({device})",
        "",
        "Ours: whole `nacrith.compress` / `decompress` calls (model load, probe and process "
        "start-up included). Raw: bare `llama_decode` steps with the same model, processes and "
        "lockstep streams per process, no predictors or coding. Efficiency = our tokens/s / raw "
        "tokens/s.",
        "",
        "| file | bytes | workers | chunks | streams/proc | tokens | compress KB/s | "
        "decompress KB/s | compress tok/s | decompress tok/s | raw tok/s | efficiency "
        "(comp/dec) | bpb | round trip |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for r in rows:
        ctps = r["tokens"] / r["compress_s"]
        dtps = r["tokens"] / r["decompress_s"]
        lines.append(
            f"| {r['file']} | {r['bytes']:,} | {r['workers']} | {r['chunks']} | {r['streams']} | "
            f"{r['tokens']:,} | {r['bytes'] / 1000 / r['compress_s']:.2f} | "
            f"{r['bytes'] / 1000 / r['decompress_s']:.2f} | {ctps:.0f} | {dtps:.0f} | "
            f"{r['raw_tps']:.0f} | {ctps / r['raw_tps']:.0%} / {dtps / r['raw_tps']:.0%} | "
            f"{8 * r['archive'] / r['bytes']:.4f} | {'byte-exact' if r['ok'] else 'MISMATCH'} |"
        )
    if args.chunk_size:
        lines.append("")
        lines.append(f"Chunk size (bytes per independent stream): {args.chunk_size:,}.")
    if args.limit:
        lines.append("")
        lines.append(f"Each file was cut to its first {args.limit:,} bytes.")
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        update_section("speed-gpu" if args.gpu else "speed", text)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
