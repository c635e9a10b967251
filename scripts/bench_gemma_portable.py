"""Cross-entropy and speed of the portable Gemma 3 graph against llama.cpp, on alice29.txt.

Usage: OPENBLAS_NUM_THREADS=1 python scripts/bench_gemma_portable.py [--tokens N] [--steps M]

Both run the registry's gemma3-270m GGUF on this machine: llama.cpp through nacrith's backend
(1 thread, as the codec uses it), the portable graph (`nacrith.models.portable.gemma`) in both
arithmetic revisions through numpy. Bits per token of the same N tokens after BOS (one batch
with every row's logits, which is also the prefill that is timed), then M single-stream steps.
Prints a Markdown section for BENCHMARKS.md.
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
from nacrith.models.portable.gemma import GemmaModel
from nacrith.models.portable.gemma_cache import cached_gemma_weights

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


def measure(engine, tokens: list[int], steps: int) -> dict[str, float]:
    """Bits per token and bits per byte of `tokens`, prefill and step tokens per second."""
    engine.clear(0)
    logits, prefill_s = timed(lambda: engine.append(0, tokens, all_logits=True))
    logits = np.asarray(logits, dtype=np.float64)
    engine.clear(0)
    engine.append(0, tokens[:1])
    _, step_s = timed(
        lambda: [engine.step([0], [t], [i + 1]) for i, t in enumerate(tokens[1 : steps + 1])]
    )
    return {
        "bits": bits_per_token(logits[:-1], tokens[1:]),
        "prefill": len(tokens) / prefill_s,
        "step": steps / step_s,
    }


def main() -> None:
    """Run the benchmark and print the Markdown section."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tokens", type=int, default=256, help="tokens of alice29.txt to score")
    ap.add_argument("--steps", type=int, default=16, help="single-stream steps to time")
    args = ap.parse_args()
    path = pull("gemma3-270m", quiet=True)
    text = (REPO / "corpora" / "canterbury" / "alice29.txt").read_bytes()
    ctx = args.tokens + args.steps + 8
    rows = {}
    with LlamaBackend(path, n_ctx=ctx) as llama:
        body = llama.tokenize(text[: args.tokens * 8])[: args.tokens].tolist()
        tokens = [llama.bos, *body]
        n_bytes = len(llama.detokenize(body))
        rows["llama.cpp"] = measure(llama, tokens, args.steps)
    for revision in (1, 2):
        cached_gemma_weights(path, revision)  # convert once if the disk cache lacks it
        weights, load_s = timed(lambda r=revision: cached_gemma_weights(path, r))
        model = GemmaModel(n_ctx=ctx, weights=weights, revision=revision)
        rows[f"portable rev {revision}"] = measure(model, tokens, args.steps)
        rows[f"portable rev {revision}"]["load"] = load_s
        del model, weights
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    threads = os.environ.get("OPENBLAS_NUM_THREADS")
    env = f"OPENBLAS_NUM_THREADS={threads} " if threads else ""
    ref = rows["llama.cpp"]["bits"]
    print(f"Model {path.name}; the first {args.tokens} tokens of canterbury/alice29.txt")
    print(f"({n_bytes} bytes) after BOS, scored in one batch (the timed prefill, every row's")
    print(f"logits); then {args.steps} single-stream steps. llama.cpp: nacrith's LlamaBackend,")
    print("1 thread; portable: GemmaModel (numpy), arithmetic revisions 1 and 2.\n")
    print(
        "| engine | bits/token | vs llama.cpp | bits/byte | prefill tok/s | step tok/s | load s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in rows.items():
        load = f"{r['load']:.1f}" if "load" in r else "-"
        print(
            f"| {name} | {r['bits']:.4f} | {100 * (r['bits'] / ref - 1):+.2f}% | "
            f"{r['bits'] * args.tokens / n_bytes:.4f} | {r['prefill']:.1f} | {r['step']:.2f} | "
            f"{load} |"
        )
    load_avg = os.getloadavg()[1]
    print(f"\n_Machine: {cpu_name()}, {os.cpu_count()} logical cores (load average {load_avg:.1f}")
    print(f"over the last 5 minutes at the end); Python {platform.python_version()}, numpy")
    print(f"{np.__version__}; {date}. Load: converted weights read from the disk cache. Command:")
    print(f"`{env}python scripts/bench_gemma_portable.py --tokens {args.tokens} --steps")
    print(f"{args.steps}`._")


if __name__ == "__main__":
    main()
