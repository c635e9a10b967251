"""Confidence skip: skip rate and ratio cost per kind of text, in the same run.

    python scripts/bench_skip.py
    python scripts/bench_skip.py --tokens 800 --threshold 0.9 --threshold 0.97
    python scripts/bench_skip.py --tokens 600 --threshold 0.9 --calibrated 0.05 --bound 0.05

For each text's first tokens, the llama engine runs the model at every position once (sink+shift
window, the codec's default), and several predictor ensembles follow it side by side: one that
never skips (the baseline) and one per skip threshold, which at a confident position codes the
token from the model-free mixture and does not learn from the model there, exactly as
`nacrith.models.llm.skipping` decides; `--calibrated` and `--bound` add rules under study
(`Calibrated`), measured here only. The model's rows at the positions that do use it are
those of the non-skipping schedule (the real loop feeds skipped tokens in one batch, which
changes only llama.cpp's float rounding). Ideal code length (no coder). Results go to the
`skip` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmd import update_section

REPO = Path(__file__).resolve().parent.parent
TEXTS = {
    "prose (alice29.txt)": "corpora/canterbury/alice29.txt",
    "wiki markup (enwik6)": "corpora/enwik/enwik6",
    "source code (fields.c)": "corpora/canterbury/fields.c",
    "logs (Linux_2k.log)": "corpora/loghub/Linux/Linux_2k.log",
}


class Threshold:
    """Today's rule (`nacrith.models.llm.skipping`): the free mixture's top probability is at
    least `threshold`, at most `run` skips in a row."""

    def __init__(self, threshold: float, run: int = 16) -> None:
        self.threshold, self.run = threshold, run
        self.label = f"{threshold}"

    def decide(self, conf: float, run: int) -> bool:
        """Whether this position skips the model."""
        return conf >= self.threshold and run < self.run

    def observe(self, conf: float, loss: float | None, skipped: float | None = None) -> None:
        """What the coded position taught (nothing, for this rule)."""


class Calibrated:
    """A position skips when, among earlier coded positions whose free-mixture confidence
    fell in the same bucket, skipping would have cost at most `budget` bits per position on
    average: the loss log2 p_model(token) - log2 p_free(token) is known at every position that
    used the model (from coded history only, so a decoder can keep the same statistics). At
    most `run` skips in a row, so the statistics keep learning in buckets that skip. With
    `bound`, a skipped position teaches its bucket too, an upper bound of its loss: its code
    length -log2 p_free(token) (the model's probability is at most 1)."""

    def __init__(
        self, budget: float, run: int = 16, least: int = 8, bound: bool = False, floor: float = 0.5
    ) -> None:
        self.budget, self.run, self.least, self.bound, self.floor = budget, run, least, bound, floor
        self.label = f"calibrated{'+bound' if bound else ''} {budget} bits" + (
            f", confidence >= {floor}" if floor > 0.5 else ""
        )
        self.n = np.zeros(24)
        self.loss = np.zeros(24)

    @staticmethod
    def bucket(conf: float) -> int:
        """Buckets by the confidence's distance from 1, in half-octaves, from 0.5 up."""
        return int(min(23, max(0.0, 2 * -np.log2(max(1.0 - conf, 1e-12)) - 2)))

    def decide(self, conf: float, run: int) -> bool:
        """Whether this position skips the model."""
        b = self.bucket(conf)
        return (
            conf >= self.floor
            and run < self.run
            and self.n[b] >= self.least
            and self.loss[b] <= self.budget * self.n[b]
        )

    def observe(self, conf: float, loss: float | None, skipped: float | None = None) -> None:
        """A position that used the model teaches its bucket the loss skipping would have had
        (`loss`); a skipped one, its code length (`skipped`) where the rule uses the bound."""
        if loss is None:
            if not self.bound or skipped is None:
                return
            loss = skipped
        b = self.bucket(conf)
        if self.n[b] >= 64:  # halve: recent positions weigh more
            self.n[b] /= 2
            self.loss[b] /= 2
        self.n[b] += 1
        self.loss[b] += loss


def measure(tokens: list[int], rules: list[Any], n_ctx: int) -> list[dict[str, float]]:
    """Ideal bits and skip counts: the baseline first, then one row per rule."""
    from nacrith.codecs.llm import LLMCodec
    from nacrith.models.llm.lockstep import _ModelFeed
    from nacrith.models.online.ensemble import Ensemble

    codec = LLMCodec(engine="llama", n_ctx=n_ctx)
    be = codec._get_backend(1)
    base = codec._ensemble(be, 1)

    skippers = [
        Ensemble(codec.settings, 1, be.n_vocab, be.pieces(), be.n_embd, skipping=True)
        for _ in rules
    ]
    feed = _ModelFeed(be, [len(tokens)], [tokens], [codec.window], base.wants_hidden)
    one = np.zeros(1, dtype=np.int64)
    bits = np.zeros(1 + len(rules))
    skips = np.zeros(1 + len(rules))
    runs = [0] * len(rules)
    for i, tok in enumerate(tokens):
        rows, states = feed.step(i)
        t = np.array([tok], dtype=np.int64)
        p = base.predict(one, rows, states)
        bits[0] -= np.log2(max(float(p[0, tok]), 1e-300))
        base.update(one, t)
        for k, (ens, rule) in enumerate(zip(skippers, rules)):
            free = ens.predict_free(one)
            conf = float(free[0].max())
            skip = i > 0 and rule.decide(conf, runs[k])
            mask = np.array([True])
            if skip:
                p = ens.finish_free(one, mask)
                bits[k + 1] -= np.log2(max(float(p[0, tok]), 1e-300))
                ens.update_skipped(one, t)
                rule.observe(conf, None, -float(np.log2(max(float(p[0, tok]), 1e-300))))
            else:
                free_tok = float(free[0, tok])
                ens.prefetch_part(one, mask)
                p = ens.predict(one, rows, states)
                bits[k + 1] -= np.log2(max(float(p[0, tok]), 1e-300))
                rule.observe(
                    conf, float(np.log2(max(float(p[0, tok]), 1e-300) / max(free_tok, 1e-300)))
                )
                ens.update(one, t)
            ens.update_free(t)
            runs[k] = runs[k] + 1 if skip else 0
            skips[k + 1] += skip
    codec.close()
    return [{"bits": float(b), "skipped": float(s)} for b, s in zip(bits, skips)]


def main() -> int:
    """Command-line entry."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=600)
    parser.add_argument("--threshold", action="append", type=float, default=None)
    parser.add_argument(
        "--calibrated",
        action="append",
        type=float,
        default=None,
        metavar="BITS",
        help="also the calibrated rule with this loss budget per skipped position (repeatable)",
    )
    parser.add_argument(
        "--bound",
        action="append",
        type=float,
        default=None,
        metavar="BITS",
        help="also the calibrated rule that counts a skipped position's code length as its "
        "loss (repeatable)",
    )
    parser.add_argument(
        "--floor",
        type=float,
        default=0.5,
        help="the calibrated rules skip only at this confidence or above (at least 0.5)",
    )
    parser.add_argument("--n-ctx", type=int, default=512)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    def make_rules() -> list[Any]:  # fresh statistics for each text
        rules: list[Any] = [Threshold(t) for t in args.threshold or [0.8, 0.9, 0.97]]
        rules += [Calibrated(b, floor=args.floor) for b in args.calibrated or []]
        return rules + [Calibrated(b, bound=True, floor=args.floor) for b in args.bound or []]

    rules = make_rules()

    from nacrith.models.llm.backend import LlamaVocab
    from nacrith.models.llm.registry import resolve_model

    vocab = LlamaVocab(resolve_model(None))
    lines = [
        "## Confidence skip: skip rate and ratio cost (ideal code length)",
        "",
        f"Each text's first {args.tokens:,} tokens, llama engine (SmolLM2-135M Q4_1), n_ctx "
        f"{args.n_ctx}, sink+shift window, default predictors. A position skips the model when "
        "the n-gram+match mixture's top probability is at least the threshold (at most 16 in "
        "a row). *calibrated B bits*: instead, when the positions of the same confidence "
        "bucket that used the model would have lost at most B bits each on average by "
        "skipping (log2 p_model - log2 p_free of their token); *+bound*: skipped positions "
        "count their code length as their loss (see `Calibrated`). Skip rate: share of "
        "positions coded without the model; cost: ideal code length against the same "
        "predictors without skipping, same run. The model's rows where it runs are those of "
        "the unskipped schedule (see the script's docstring).",
        "",
        "| text | tokens | rule | skip rate | bits/token | cost |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, rel in TEXTS.items():
        data = (REPO / rel).read_bytes()[: args.tokens * 8]
        tokens = vocab.tokenize(data).tolist()[: args.tokens]
        rows = measure(tokens, make_rules(), args.n_ctx)
        n = len(tokens)
        lines.append(f"| {name} | {n:,} | off | 0.0% | {rows[0]['bits'] / n:.4f} | |")
        for rule, r in zip(rules, rows[1:]):
            lines.append(
                f"| {name} | {n:,} | {rule.label} | {r['skipped'] / n:.1%} | {r['bits'] / n:.4f} | "
                f"{r['bits'] / rows[0]['bits'] - 1:+.2%} |"
            )
        print("\n".join(lines[-1 - len(rules) :]), flush=True)
    vocab.close()
    lines += ["", f"Load (1-minute average) at the end: `{os.getloadavg()[0]:.1f}`."]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        update_section("skip", text, " ".join(["python scripts/bench_skip.py", *sys.argv[1:]]))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    sys.exit(main())
