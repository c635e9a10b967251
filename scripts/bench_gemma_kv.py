"""KV cache memory per stream of the portable Gemma 3 graph, with and without the window ring.

Usage: OPENBLAS_NUM_THREADS=1 python scripts/bench_gemma_kv.py [--sink 4] [--prefill N --steps M]

For each context length the bytes of keys and values one stream holds (`GemmaModel(sink=None)`:
every layer keeps the whole context; `sink=S`: the local layers keep S positions plus a ring of
the sliding window). The arrays are allocated when the model is built and resident once the
context has filled. With `--prefill N --steps M`, also the step speed of one stream after a
prefill of N random tokens, both caches in the same run, and whether their logits are equal.
Prints a Markdown section for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time

import numpy as np

from nacrith.models.llm.registry import pull
from nacrith.models.portable.gemma import GemmaModel
from nacrith.models.portable.gemma_cache import cached_gemma_weights

CONTEXTS = (2048, 8192)


def step_speed(model: GemmaModel, tokens: list[int], steps: int) -> tuple[float, np.ndarray]:
    """Tokens per second of `steps` single-stream steps after prefilling `tokens`, and the
    logits of the last step."""
    model.prefill(0, tokens)
    rng = np.random.default_rng(1)
    t = time.perf_counter()
    for _ in range(steps):
        last = model.step([0], [int(rng.integers(1000, 100000))], [model.length(0)])
    return steps / (time.perf_counter() - t), last


def main() -> None:
    """Measure and print the Markdown section."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sink", type=int, default=4)
    ap.add_argument("--prefill", type=int, default=0)
    ap.add_argument("--steps", type=int, default=0)
    args = ap.parse_args()
    weights = cached_gemma_weights(pull("gemma3-270m", quiet=True), 2)
    cfg = weights.config
    rows = []
    for n_ctx in CONTEXTS:
        full = GemmaModel(weights=weights, n_ctx=n_ctx, revision=2)._caches[0].nbytes
        ring = GemmaModel(weights=weights, n_ctx=n_ctx, revision=2, sink=args.sink)
        rows.append((n_ctx, full, ring._caches[0].nbytes))
    print("<!-- BEGIN gemma-kv -->")
    print("## portable engine: Gemma 3 KV cache per stream, sliding-window ring\n")
    print(
        f"Gemma 3 270M ({cfg.n_layer} layers, {sum(map(cfg.is_local, range(cfg.n_layer)))} of "
        f"them local with a window of {cfg.sliding_window}); keys and values one stream holds. "
        f"Full: every layer keeps the whole context (`GemmaModel(sink=None)`); ring: the local "
        f"layers keep {args.sink} sink positions plus the window (`sink={args.sink}`).\n"
    )
    print("| n_ctx | full MiB | ring MiB | ring / full |")
    print("|---:|---:|---:|---:|")
    for n_ctx, full, ring in rows:
        print(f"| {n_ctx} | {full / 2**20:.1f} | {ring / 2**20:.1f} | {ring / full:.3f} |")
    if args.prefill and args.steps:
        tokens = [cfg.bos, *np.random.default_rng(0).integers(1000, 100000, args.prefill - 1)]
        n_ctx = args.prefill + args.steps + 1
        speeds = {}
        logits = {}
        for name, sink in (("full", None), ("ring", args.sink)):
            model = GemmaModel(weights=weights, n_ctx=n_ctx, revision=2, sink=sink)
            speeds[name], logits[name] = step_speed(model, tokens, args.steps)
        same = np.array_equal(logits["full"], logits["ring"])
        print(
            f"\nSteps after a prefill of {args.prefill} tokens (one stream, revision 2): full "
            f"{speeds['full']:.2f} tok/s, ring {speeds['ring']:.2f} tok/s; last logits "
            f"{'equal' if same else 'DIFFERENT'}."
        )
    load = os.getloadavg()[1]
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    extra = f" --prefill {args.prefill} --steps {args.steps}" if args.prefill else ""
    print(
        f"\n_Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical "
        f"cores (load average {load:.1f} over the last 5 minutes at the end); {now}. Command: "
        f"`OPENBLAS_NUM_THREADS=1 python scripts/bench_gemma_kv.py --sink {args.sink}{extra}`._"
    )
    print("<!-- END gemma-kv -->")


if __name__ == "__main__":
    main()
