"""Speed and cross-entropy of the portable engine against llama.cpp, on alice29.txt.

Usage: python scripts/bench_portable.py [--tokens N] [--steps M] [--streams B] [--model NAME]

Both run the same GGUF on this machine: llama.cpp through nacrith's backend (1 thread, as the
codec uses it), the portable engine through numpy. Prints a Markdown section for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np

from nacrith.models.llm.backend import LlamaBackend
from nacrith.models.llm.registry import pull
from nacrith.models.portable import PortableModel

REPO = Path(__file__).resolve().parent.parent


def bits_per_token(logits: np.ndarray, targets: list[int]) -> float:
    """Mean -log2 p(target) under softmax(logits) (float math: a measurement, not a codec)."""
    top = logits.max(axis=1, keepdims=True)
    log_z = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    return float(np.mean(log_z - logits[np.arange(len(targets)), targets]) / np.log(2.0))


def cpu_name() -> str:
    """The CPU's model name as lscpu reports it."""
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("Model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def timed(fn):
    """(result, seconds) of fn()."""
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> None:
    """Run the benchmark and print the Markdown section."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tokens", type=int, default=256, help="tokens of alice29.txt to score")
    ap.add_argument("--steps", type=int, default=32, help="single-token steps to time")
    ap.add_argument("--streams", type=int, default=4, help="streams stepped together")
    ap.add_argument("--model", default="smollm2-135m-q4_1")
    args = ap.parse_args()
    path = pull(args.model, quiet=True)
    n = args.tokens
    text = (REPO / "corpora" / "canterbury" / "alice29.txt").read_bytes()
    backend = LlamaBackend(path, n_seq=args.streams, n_ctx=max(n, args.steps) + 8)
    tokens = [backend.bos, *backend.tokenize(text[: n * 8])[:n].tolist()]
    n_bytes = len(backend.detokenize(tokens[1:]))

    llama_steps, llama_step_s = timed(
        lambda: np.array([backend.step([0], [t], [i])[0] for i, t in enumerate(tokens[:-1])])
    )
    _, llama_prefill_s = timed(lambda: backend.prefill(0, tokens[:-1]))
    llama_bits = bits_per_token(llama_steps.astype(np.float64), tokens[1:])
    backend.close()

    model, load_s = timed(lambda: PortableModel(path, n_seq=args.streams, n_ctx=n + 8))
    ours, prefill_s = timed(lambda: model.prefill(0, tokens[:-1], all_logits=True))
    ours_bits = bits_per_token(ours, tokens[1:])
    m = args.steps
    model.clear(0)
    _, step_s = timed(lambda: [model.step([0], [t], [i]) for i, t in enumerate(tokens[:m])])
    seqs = list(range(args.streams))
    for s in seqs:
        model.clear(s)
    _, multi_s = timed(
        lambda: [
            model.step(seqs, [t] * len(seqs), [i] * len(seqs)) for i, t in enumerate(tokens[:m])
        ]
    )

    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    threads = os.environ.get("OPENBLAS_NUM_THREADS")
    env = f"OPENBLAS_NUM_THREADS={threads} " if threads else ""
    cmd = f"{env}python scripts/bench_portable.py --tokens {n} --steps {m} --streams {args.streams}"
    b = args.streams
    print("## portable engine\n")
    print(f"Model {path.name}; first {n} tokens of canterbury/alice29.txt ({n_bytes} bytes) after")
    print("BOS. llama.cpp: nacrith's LlamaBackend, 1 thread; portable: PortableModel (numpy,")
    print(f"OpenBLAS threads {os.environ.get('OPENBLAS_NUM_THREADS', 'default')}).\n")
    print("| engine | bits/token | bits/byte | prefill tok/s | step tok/s (1 stream) |")
    print("|---|---|---|---|---|")
    print(
        f"| llama.cpp | {llama_bits:.4f} | {llama_bits * n / n_bytes:.4f} | "
        f"{n / llama_prefill_s:.1f} | {n / llama_step_s:.1f} |"
    )
    print(
        f"| portable | {ours_bits:.4f} | {ours_bits * n / n_bytes:.4f} | "
        f"{n / prefill_s:.1f} | {m / step_s:.2f} |"
    )
    print(
        f"\nPortable, {b} streams stepped together: {b * m / multi_s:.2f} tok/s in all. "
        f"Loading the GGUF into exact fixed-point weights: {load_s:.1f} s."
    )
    print(f"\n_Machine: {cpu_name()}, {os.cpu_count()} logical cores; Python ")
    print(f"{platform.python_version()}, numpy {np.__version__}; {date}. Command: `{cmd}`._")


if __name__ == "__main__":
    main()
