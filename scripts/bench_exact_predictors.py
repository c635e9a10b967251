"""The online predictors' exact mode against their float mode: ideal bits per token and time.

Replays the fixed sample of the exact-mode tests (alice29.txt's first 2,000 bytes, a simple
word tokenization, a synthetic unigram "LLM" and synthetic hidden states; see
tests/models/online/exact_sample.py) through the full ensemble (bias head, n-gram, match, mixer,
column model, neural cache) in both modes, and prints one Markdown line for BENCHMARKS.md.

Usage: python scripts/bench_exact_predictors.py [--bytes N] [--vocab V] [--repeats R]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from nacrith.bench.report import machine_info  # noqa: E402
from nacrith.coders.quantize import quantize  # noqa: E402
from nacrith.coders.range_coder import split_head  # noqa: E402
from tests.models.online.exact_sample import (  # noqa: E402
    N_EMBD,
    N_VOCAB,
    SAMPLE_BYTES,
    SETTINGS,
    Sample,
    ideal_bits,
    load_sample,
    replay,
)


def ms_per_token(sample: Sample, exact_mode: bool, repeats: int) -> tuple[float, float]:
    """Best of `repeats` milliseconds per token: (the predictors, the coder's quantization of
    their distributions into head and tail frequency tables)."""
    rows = [probs[0].copy() for probs in replay(sample, exact_mode)]
    best_predict = best_quantize = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in replay(sample, exact_mode):
            pass
        predicted = time.perf_counter()
        for row in rows:
            head, _ = split_head(row, exact_mode)
            tail = np.setdiff1d(np.arange(row.size), head, assume_unique=True)
            if tail.size:
                quantize(row[tail], exact=exact_mode)
        quantized = time.perf_counter()
        best_predict = min(best_predict, (predicted - start) / len(rows) * 1e3)
        best_quantize = min(best_quantize, (quantized - predicted) / len(rows) * 1e3)
    return best_predict, best_quantize


def main() -> None:
    """Print the comparison as a Markdown paragraph."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bytes", type=int, default=SAMPLE_BYTES, help="bytes of alice29.txt")
    ap.add_argument("--vocab", type=int, default=N_VOCAB, help="vocabulary size (padded)")
    ap.add_argument("--repeats", type=int, default=3, help="timing runs (best is kept)")
    args = ap.parse_args()
    sample = load_sample(args.bytes, args.vocab)
    n = len(sample.tokens)
    bits = {mode: ideal_bits(sample, mode) / n for mode in (False, True)}
    times = {mode: ms_per_token(sample, mode, args.repeats) for mode in (False, True)}
    info = machine_info()
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"Online predictors, exact mode against float mode (`scripts/bench_exact_predictors.py "
        f"--bytes {args.bytes} --vocab {sample.n_vocab}`: {n} tokens of alice29.txt, synthetic "
        f"unigram logits and hidden states ({N_EMBD} wide), all predictors on, neural cache "
        f"{SETTINGS.cache_size}): "
        f"ideal bits/token float {bits[False]:.6f}, exact {bits[True]:.6f} "
        f"(relative difference {bits[True] / bits[False] - 1:+.1e}); predictors "
        f"{times[False][0]:.2f} ms/token float, {times[True][0]:.2f} exact; quantizing a "
        f"distribution into the coder's head and tail tables {times[False][1]:.2f} and "
        f"{times[True][1]:.2f} ms/token (best of {args.repeats}). _{info['cpu']}, "
        f"{info['logical_cores']} logical cores, OpenBLAS threads {threads}; Python "
        f"{info['python']}, numpy {np.__version__}; {when}._"
    )


if __name__ == "__main__":
    main()
