"""The portable engine's compiled kernels (numba) against its numpy path, in one process.

Usage: OPENBLAS_NUM_THREADS=1 python scripts/bench_kernels.py [--rounds R] [--model NAME]
           [--section NAME] [--no-write]

The same weights (arithmetic revision 3) run both ways, rounds in turn, one thread: single steps
(what the decoder runs) at positions 200 and 1,900 of alice29.txt (n_ctx 2048), and an append
of 64 tokens with every row's logits at 1,836 (what the encoder runs). The fastest round of
each counts. Every step's and append's logits are compared between the two paths (same bits).
Prints a Markdown section and writes it into BENCHMARKS.md (section portable-kernels).
"""

from __future__ import annotations

import argparse
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

from nacrith.models.llm.registry import pull  # noqa: E402
from nacrith.models.portable import PortableModel, kernels  # noqa: E402
from nacrith.models.portable.backend import shared_weights  # noqa: E402

SHORT, LONG = 200, 1900  # positions of the timed steps
STEPS = 16
APPEND = 64


def _model(weights, compiled: bool) -> PortableModel:
    with mock.patch.object(kernels, "available", return_value=compiled and kernels.available()):
        return PortableModel(n_seq=1, n_ctx=2048, weights=weights, revision=3)


def _round(model: PortableModel, tokens: list[int], compiled: bool) -> tuple[dict, list]:
    """ms per token of each measure, and the logits computed."""
    times, logits = {}, []
    with mock.patch.object(kernels, "available", return_value=compiled and kernels.available()):
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
    models = {c: _model(weights, c) for c in (False, True)}
    results: dict[bool, list[dict]] = {False: [], True: []}
    logits: dict[bool, list] = {}
    for _ in range(args.rounds):
        for compiled in (False, True):
            times, logits[compiled] = _round(models[compiled], tokens, compiled)
            results[compiled].append(times)
    same = all(np.array_equal(a, b) for a, b in zip(logits[False], logits[True]))
    best = {c: {k: min(r[k] for r in rs) for k in rs[0]} for c, rs in results.items()}
    lines = [
        "### Compiled kernels against the numpy path (session 13)",
        "",
        f"Model {path.name}, arithmetic revision 3, n_ctx 2048, one thread; alice29.txt's tokens.",
        f"Single steps ({STEPS}) at positions {SHORT} and {LONG:,} (the decoder), an append of "
        f"{APPEND} tokens with every row's logits ending at {LONG:,} (the encoder); ms per token, "
        f"the fastest of {args.rounds} rounds in turn. Same bits: every logit of both paths equal: "
        f"{same}.",
        "",
        f"| path | step at {SHORT} | step at {LONG:,} | append of {APPEND} at {LONG:,} |",
        "|---|---:|---:|---:|",
    ]
    for compiled, name in ((False, "numpy"), (True, "compiled kernels (numba)")):
        b = best[compiled]
        lines.append(f"| {name} | {b['short']:.1f} | {b['long']:.1f} | {b['append']:.1f} |")
    ratio = {k: best[False][k] / best[True][k] for k in best[True]}
    lines += [
        "",
        f"Compiled against numpy: step at {SHORT} {ratio['short']:.2f}x, at {LONG:,} "
        f"{ratio['long']:.2f}x, append {ratio['append']:.2f}x as fast.",
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
