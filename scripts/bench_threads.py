"""Threads for one file: llama.cpp threads and the portable engine's GEMM threads, one stream
against two streams in lockstep, in the same run.

    python scripts/bench_threads.py
    python scripts/bench_threads.py --tokens 400 --portable-tokens 80

Each row times the model's steps alone (no predictors, no coder) over the first tokens of
alice29.txt, after a warm-up, model load not timed: one token per stream per step, as the codec
runs. The portable engine's rows run in a subprocess each, since OpenBLAS reads its thread count
at start-up. Results go to the `threads` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmd import update_section

REPO = Path(__file__).resolve().parent.parent
TEXT = REPO / "corpora" / "canterbury" / "alice29.txt"


def time_steps(engine: str, streams: int, threads: int, tokens: int) -> float:
    """Model tokens per second (all streams together) of `tokens` steps."""
    from nacrith.models.llm import registry

    path = registry.resolve_model(None)
    if engine == "llama":
        from nacrith.models.llm.backend import LlamaBackend

        be = LlamaBackend(path, n_seq=streams, n_ctx=2048, n_threads=threads)
    else:
        from nacrith.models.portable.backend import PortableBackend

        be = PortableBackend(path, n_seq=streams, n_ctx=2048)
    toks = be.tokenize(TEXT.read_bytes()[: tokens * 8]).tolist()[: tokens + 8]
    seqs = list(range(streams))
    for s in seqs:
        be.prefill(s, [be.bos])
    for i in range(4):  # warm-up
        be.step(seqs, [toks[i]] * streams, [i + 1] * streams)
    start = time.perf_counter()
    for i in range(4, 4 + tokens):
        be.step(seqs, [toks[i]] * streams, [i + 1] * streams)
    elapsed = time.perf_counter() - start
    be.close()
    return streams * tokens / elapsed


def _child(engine: str, streams: int, threads: int, tokens: int) -> float:
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    code = (
        "import sys, json; sys.path.insert(0, 'scripts'); from bench_threads import time_steps; "
        f"print(json.dumps(time_steps({engine!r}, {streams}, {threads}, {tokens})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, check=True
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> int:
    """Command-line entry."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=300, help="steps per llama row")
    parser.add_argument("--portable-tokens", type=int, default=60, help="steps per portable row")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    rows = []
    for engine, n in (("llama", args.tokens), ("portable", args.portable_tokens)):
        for streams, threads in ((1, 1), (1, 2), (2, 1), (2, 2)):
            tps = _child(engine, streams, threads, n)
            rows.append((engine, streams, threads, n, tps))
            print(rows[-1], flush=True)
    load_after = os.getloadavg()[0]
    lines = [
        "## Threads for one file: llama.cpp threads, GEMM threads, lockstep streams",
        "",
        "Model steps alone (no predictors, no coder), one token per stream per step, over the "
        "first tokens of alice29.txt, SmolLM2-135M Q4_1, model load and 4 warm-up steps not "
        "timed. Threads: llama.cpp's `n_threads` for the llama engine, OpenBLAS threads "
        "(`OPENBLAS_NUM_THREADS`) for the portable engine. Tokens/s counts every stream's tokens.",
        "",
        "| engine | streams | threads | steps | tokens/s (all streams) | tokens/s per stream |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for engine, streams, threads, n, tps in rows:
        lines.append(
            f"| {engine} | {streams} | {threads} | {n} | {tps:.1f} | {tps / streams:.1f} |"
        )
    lines += [
        "",
        f"Load (1-minute average) before: `{load_before:.1f}`, after: `{load_after:.1f}` "
        "(the machine is shared: compare rows of one run only).",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        update_section(
            "threads", text, " ".join(["python scripts/bench_threads.py", *sys.argv[1:]])
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
