"""The speed ceiling of the model itself: llama.cpp tokens/s per process by lockstep stream count.

    python scripts/bench_ceiling.py                               # default and Q4_1 models
    python scripts/bench_ceiling.py --model smollm2-135m --streams 1,8,32 --also-q4_0
    python scripts/bench_ceiling.py --model smollm2-135m --streams 1,8 --window 2048:1024,8192:4096

One process, one llama.cpp thread (`--threads 1,2` adds rows with more), a context of 2048 tokens
per stream: every stream is prefilled with 512 tokens, then all streams step together, one new
token each per `llama_decode` (positions 513 onward). The codec's streams sit at positions 1..2048
(1025..2048 once the window slides), where attention costs more, and it re-prefills 1,024 tokens at
every slide; so these figures are an upper bound. No predictors, no coding: this bounds what the
`llm` codec can reach per core, and the KB/s figure converts it at the tokens per byte of
alice29.txt.

`--also-q4_0` requantizes the Q4_1 model to Q4_0 in a temporary directory (llama.cpp's
quantizer) to show what a faster, coarser copy would give. It is not a registered model: an
ad-hoc replay (not in BENCHMARKS.md) put it at about 6% worse in ratio on alice29.txt.

`--window N_CTX:KEEP,...` measures instead what a whole window cycle costs, slides included, for
each context geometry (the codec's `--context N_CTX` keeps N_CTX/2): the prefill of KEEP tokens
that a slide costs, plus N_CTX-KEEP steps, timed at both ends of the window (attention grows with
the position, linearly, so the mean of the two ends is the mean over the cycle). This is what
choosing a longer context costs in speed; `scripts/bench_ratio.py --n-ctx` gives its ratio.

Results go to the `ceiling` section of BENCHMARKS.md (`--window`: the `window` section).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmd import update_section

#: alice29.txt: 152,089 bytes -> 39,357 tokens after the codec's front end
BYTES_PER_TOKEN = 152_089 / 39_357


def steady_state_rate(
    path: Path, n_streams: int, n_ctx: int, keep: int, steps: int, threads: int = 1
) -> float:
    """Tokens/s of `steps` lockstep steps over `n_streams` streams, from position keep+1."""
    from nacrith.models.llm.backend import LlamaBackend

    backend = LlamaBackend(path, n_seq=n_streams, n_ctx=n_ctx, n_threads=threads)
    rng = np.random.default_rng(0)
    seqs = list(range(n_streams))
    for s in seqs:
        backend.prefill(s, [backend.bos, *rng.integers(0, backend.n_vocab, keep).tolist()])
    steps = min(steps, n_ctx - keep - 1)
    pos = keep + 1
    start = time.perf_counter()
    for _ in range(steps):
        backend.step(seqs, rng.integers(0, backend.n_vocab, n_streams), [pos] * n_streams)
        pos += 1
    rate = steps * n_streams / (time.perf_counter() - start)
    backend.close()
    return rate


def window_cycle_rate(
    path: Path, n_streams: int, n_ctx: int, keep: int, probe: int, threads: int = 1
) -> tuple[float, float, float, float]:
    """Tokens/s over one window cycle: (rate, slide s, ms/step at the start, ms/step at the end).

    A cycle re-prefills `keep` tokens per stream, then steps `n_ctx - keep` times; the steps are
    timed `probe` times right after the slide and `probe` times at the end of the window.
    """
    from nacrith.models.llm.backend import LlamaBackend

    backend = LlamaBackend(path, n_seq=n_streams, n_ctx=n_ctx, n_threads=threads)
    rng = np.random.default_rng(0)
    seqs = list(range(n_streams))

    def fill(length: int) -> float:
        start = time.perf_counter()
        for s in seqs:
            history = rng.integers(0, backend.n_vocab, length - 1).tolist()
            backend.prefill(s, [backend.bos, *history])
        return time.perf_counter() - start

    def steps_from(pos: int) -> float:
        start = time.perf_counter()
        for i in range(probe):
            backend.step(seqs, rng.integers(0, backend.n_vocab, n_streams), [pos + i] * n_streams)
        return (time.perf_counter() - start) / probe

    slide = fill(keep)
    first = steps_from(keep)
    fill(n_ctx - probe)
    last = steps_from(n_ctx - probe)
    backend.close()
    n_new = n_ctx - keep
    rate = n_new * n_streams / (slide + n_new * (first + last) / 2)
    return rate, slide, 1e3 * first, 1e3 * last


def window_table(models: list[tuple[str, Path]], counts: list[int], args) -> str:
    """The `window` section: cycle tokens/s per context geometry and stream count."""
    geometries = [tuple(int(x) for x in g.split(":")) for g in args.window.split(",")]
    lines = [
        "## Model speed by context length (llama.cpp alone, one process, one thread)",
        "",
        "Tokens/s per process over a whole window cycle: the slide's re-prefill of KEEP tokens "
        "per stream, then N_CTX-KEEP lockstep steps (timed right after the slide and at the end "
        "of the window; ms per step given as start-end). KB/s at alice29.txt's 3.86 bytes per "
        "token. The codec's `--context N` uses KEEP = N/2.",
        "",
        "| model | n_ctx:keep | streams | slide | ms/step (start-end) | tok/s | KB/s |",
        "|---|---|---:|---:|---|---:|---:|",
    ]
    for name, path in models:
        for n_ctx, keep in geometries:
            for n in counts:
                rate, slide, first, last = window_cycle_rate(path, n, n_ctx, keep, args.steps)
                print(name, n_ctx, keep, n, f"{rate:.1f}", flush=True)
                lines.append(
                    f"| {name} | {n_ctx}:{keep} | {n} | {slide:.1f} s | {first:.1f}-{last:.1f} "
                    f"| {rate:.0f} | {rate * BYTES_PER_TOKEN / 1000:.2f} |"
                )
    return "\n".join(lines)


def main() -> int:
    """Command-line entry."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", action="append", default=None)
    ap.add_argument("--streams", default="1,4,8,16,32")
    ap.add_argument("--steps", type=int, default=48, help="lockstep steps per measurement")
    ap.add_argument("--threads", default="1", help="llama.cpp threads per process, e.g. 1,2")
    ap.add_argument("--also-q4_0", action="store_true")
    ap.add_argument("--window", default=None, help="N_CTX:KEEP,... : whole-cycle rates instead")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()

    from nacrith.models.llm import registry
    from nacrith.models.llm.backend import requantize

    models = [
        (name, registry.resolve_model(name))
        for name in args.model or ["smollm2-135m", "smollm2-135m-q4_1"]
    ]
    tmp = tempfile.TemporaryDirectory()
    if args.also_q4_0:
        q4_0 = Path(tmp.name) / "q4_0.gguf"
        requantize(registry.resolve_model("smollm2-135m-q4_1"), q4_0, 2)  # LLAMA_FTYPE_MOSTLY_Q4_0
        models.append(("Q4_0 requantized from Q4_1 (not registered)", q4_0))
    counts = [int(x) for x in args.streams.split(",")]
    command = " ".join(["python scripts/bench_ceiling.py", *sys.argv[1:]])
    if args.window:
        text = window_table(models, counts, args)
        tmp.cleanup()
        print(text)
        if not args.no_write:
            update_section("window", text, command)
        return 0
    lines = [
        "## Model speed ceiling (llama.cpp alone, one process, one thread unless stated)",
        "",
        "Tokens/s per process with N streams stepping in lockstep from window position 513 "
        "(n_ctx 2048); KB/s at alice29.txt's 3.86 bytes per token. An upper bound for the codec: "
        "its streams sit at positions up to 2048, and window slides (re-prefilling 1,024 tokens "
        "every 1,024) come on top.",
        "",
        "| model | " + " | ".join(f"{n} stream{'s' if n > 1 else ''}" for n in counts) + " |",
        "|---|" + "---:|" * len(counts),
    ]
    for name, path in models:
        for threads in [int(t) for t in args.threads.split(",")]:
            cells = []
            for n in counts:
                rate = steady_state_rate(path, n, 2048, 512, args.steps, threads)
                cells.append(f"{rate:.0f} tok/s ({rate * BYTES_PER_TOKEN / 1000:.2f} KB/s)")
                print(name, threads, n, f"{rate:.1f}", flush=True)
            label = name if threads == 1 else f"{name}, {threads} threads"
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    tmp.cleanup()
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        update_section("ceiling", text, command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
