"""The portable engine's compiled kernels (numba) against its numpy path, in one process.

Usage: OPENBLAS_NUM_THREADS=1 python scripts/bench_kernels.py [--rounds R] [--model NAME]
           [--section NAME] [--no-write]

The same weights (arithmetic revision 3) run three ways, rounds in turn, one thread: the numpy
path; the compiled products, attention, softmax, quantization and fixed point (`kernels`) alone;
and everything compiled (`kernels`, `layer_kernels` and `exact.exp`: the default). Single steps
(what the decoder runs) at positions 200 and 1,900 of alice29.txt (n_ctx 2048), and an append
of 64 tokens with every row's logits at 1,836 (what the encoder runs). The fastest round of
each counts. Every step's and append's logits are compared between the paths (same bits).
Prints a Markdown section and writes it into BENCHMARKS.md (section portable-kernels).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from importlib.metadata import version
from pathlib import Path
from unittest import mock

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from bench_portable import _alice_tokens  # noqa: E402
from benchmd import update_section  # noqa: E402

from nacrith import exact  # noqa: E402
from nacrith.models.llm.registry import pull  # noqa: E402
from nacrith.models.portable import PortableModel, kernels, layer_kernels  # noqa: E402
from nacrith.models.portable.backend import shared_weights  # noqa: E402

SHORT, LONG = 200, 1900  # positions of the timed steps
STEPS = 16
APPEND = 64


#: the paths timed: (name, `kernels` compiled, `layer_kernels` and `exact.exp` compiled)
PATHS = (
    ("numpy", False, False),
    ("compiled products and attention (`kernels`)", True, False),
    ("everything compiled (+ `layer_kernels`, `exact.exp`; the default)", True, True),
)


@contextlib.contextmanager
def _path(products: bool, layers: bool):
    """Run the engine with the compiled loops chosen (the others take their numpy forms)."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(
            mock.patch.object(kernels, "available", return_value=products and kernels.available())
        )
        if not layers:
            stack.enter_context(mock.patch.object(layer_kernels, "available", return_value=False))
            stack.enter_context(mock.patch.object(exact, "_compiled_exp", return_value=None))
        yield


def _round(model: PortableModel, tokens: list[int], path: tuple) -> tuple[dict, list]:
    """ms per token of each measure, and the logits computed."""
    times, logits = {}, []
    with _path(*path[1:]):
        for name, at in (("short", SHORT), ("long", LONG)):
            model._caches[0].length = 0
            model.prefill(0, tokens[:at])
            start = time.perf_counter()
            for i in range(STEPS):
                logits.append(model.step([0], [tokens[at + i]], [at + i]))
            times[name] = (time.perf_counter() - start) * 1000 / STEPS
        at = LONG - APPEND
        model._caches[0].length = 0
        model.prefill(0, tokens[:at])
        start = time.perf_counter()
        logits.append(model.append(0, tokens[at : at + APPEND], all_logits=True))
        times["append"] = (time.perf_counter() - start) * 1000 / APPEND
    return times, logits


def _matrices(weights) -> list:
    """Every block matrix one token's step multiplies by, in order."""
    out = []
    for layer in weights.layers:
        out += [layer.qkv, layer.out, layer.gate_up, layer.down]
    return [*out, weights.output]


def _weight_traffic(weights, rounds: int) -> dict[str, float]:
    """ms of one token's block products alone (compiled, one row, one thread) and of reading
    the same packed weights alone, and their bytes: the floor memory puts under a step."""
    rng = np.random.default_rng(0)
    calls = []
    for matrix in _matrices(weights):
        packed = matrix.packed()
        n_blocks, block = packed.q.shape[1], packed.q.shape[2]
        x = rng.integers(-2000, 2000, size=(1, n_blocks, block)).astype(np.int16)
        calls.append((packed, x, np.ones((1, n_blocks)), np.empty((1, packed.rows))))
    flat = [c[0].q.reshape(-1).view(np.uint8) for c in calls]
    best = {"products": float("inf"), "read": float("inf")}
    for _ in range(max(3, rounds)):
        start = time.perf_counter()
        for packed, x, sx, out in calls:
            kernels.block_product(packed, x, sx, out, 0, packed.q.shape[0])
        best["products"] = min(best["products"], time.perf_counter() - start)
        start = time.perf_counter()
        for q in flat:
            np.bitwise_or.reduce(q.view(np.uint64) if q.size % 8 == 0 else q)
        best["read"] = min(best["read"], time.perf_counter() - start)
    megabytes = sum(q.size for q in flat) / 1e6
    return {"products": best["products"] * 1000, "read": best["read"] * 1000, "mb": megabytes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--section", default="portable-kernels")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if not kernels.available():
        sys.exit("the compiled kernels do not run here (numba missing or NACRITH_KERNELS=numpy)")
    path = pull(args.model, quiet=True)
    tokens, _ = _alice_tokens(path, LONG + STEPS + 1)
    weights = shared_weights(path, 3)
    load = os.getloadavg()[0]
    models = {}
    for way in PATHS:
        with _path(*way[1:]):
            models[way] = PortableModel(n_seq=1, n_ctx=2048, weights=weights, revision=3)
    results: dict[tuple, list[dict]] = {way: [] for way in PATHS}
    logits: dict[tuple, list] = {}
    for _ in range(args.rounds):
        for way in PATHS:
            times, logits[way] = _round(models[way], tokens, way)
            results[way].append(times)
    first = logits[PATHS[0]]
    same = all(
        np.array_equal(a, b) for way in PATHS[1:] for a, b in zip(first, logits[way], strict=True)
    )
    best = {p: {k: min(r[k] for r in rs) for k in rs[0]} for p, rs in results.items()}
    lines = [
        "### Compiled kernels against the numpy path (sessions 13 and 14)",
        "",
        f"Model {path.name}, arithmetic revision 3, n_ctx 2048, one thread; alice29.txt's tokens.",
        f"Single steps ({STEPS}) at positions {SHORT} and {LONG:,} (the decoder), an append of "
        f"{APPEND} tokens with every row's logits ending at {LONG:,} (the encoder); ms per token, "
        f"the fastest of {args.rounds} rounds in turn. Same bits: every logit of the paths equal: "
        f"{same}.",
        "",
        f"| path | step at {SHORT} | step at {LONG:,} | append of {APPEND} at {LONG:,} |",
        "|---|---:|---:|---:|",
    ]
    for way in PATHS:
        b = best[way]
        lines.append(f"| {way[0]} | {b['short']:.1f} | {b['long']:.1f} | {b['append']:.1f} |")
    lines.append("")
    for way in PATHS[1:]:
        ratio = {k: best[PATHS[0]][k] / best[way][k] for k in best[way]}
        lines.append(
            f"{way[0]} against numpy: step at {SHORT} {ratio['short']:.2f}x, at {LONG:,} "
            f"{ratio['long']:.2f}x, append {ratio['append']:.2f}x as fast."
        )
    traffic = _weight_traffic(weights, args.rounds)
    lines += [
        "",
        f"One token's block products alone (all {len(_matrices(weights))} matrices, one row, "
        f"compiled): {traffic['products']:.1f} ms; reading the same {traffic['mb']:.0f} MB of "
        f"packed weights alone (numpy, one pass): {traffic['read']:.1f} ms "
        f"({traffic['mb'] / traffic['read']:.1f} GB/s), the floor memory puts under a step.",
        "",
        f"Load average {load:.2f} at the start; numpy {np.__version__}, numba {version('numba')}.",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        command = f"OPENBLAS_NUM_THREADS=1 python scripts/bench_kernels.py --rounds {args.rounds}"
        update_section(args.section, text, command)


if __name__ == "__main__":
    main()
