"""The pure tokenizer (`nacrith.models.llm.tokenizer`) against llama.cpp's on the repository's
corpora: token counts, whether the ids are identical, and tokenizing time.

Usage: OPENBLAS_NUM_THREADS=1 python scripts/bench_pure_tokenizer.py [--models a,b]

Every Canterbury text file, enwik6 and each Loghub 2k sample, whole, for each registered model
(default smollm2-135m and gemma3-270m). Prints a Markdown section for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from nacrith.models.llm.backend import LlamaVocab, llama_version
from nacrith.models.llm.registry import pull
from nacrith.models.llm.tokenizer import GGUFTokenizer
from nacrith.models.llm.vocab import GGUFVocab

REPO = Path(__file__).resolve().parent.parent
CORPORA = REPO / "corpora"
TEXTS = (
    "alice29.txt",
    "asyoulik.txt",
    "cp.html",
    "fields.c",
    "grammar.lsp",
    "lcet10.txt",
    "plrabn12.txt",
    "xargs.1",
)


def files() -> list[Path]:
    """The corpora measured."""
    out = [CORPORA / "canterbury" / name for name in TEXTS] + [CORPORA / "enwik" / "enwik6"]
    for folder in sorted((CORPORA / "loghub").iterdir()):
        if folder.is_dir():
            out += sorted(p for p in folder.iterdir() if p.suffix == ".log")
    return out


def timed(fn: Callable[[bytes], np.ndarray], data: bytes) -> tuple[list[int], float]:
    """fn(data) as a list, and the seconds it took."""
    start = time.perf_counter()
    ids = fn(data).tolist()
    return ids, time.perf_counter() - start


def main() -> None:
    """Measure and print the Markdown section."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="smollm2-135m,gemma3-270m")
    args = ap.parse_args()
    print("<!-- BEGIN pure-tokenizer -->")
    print("## Pure tokenizer against llama.cpp's\n")
    print(
        f"{datetime.date.today()}, {platform.machine()} {platform.processor() or ''}, "
        f"load {os.getloadavg()[0]:.2f}, llama-cpp-python {llama_version()}. Command: "
        "`OPENBLAS_NUM_THREADS=1 python scripts/bench_pure_tokenizer.py`. Tokens from llama.cpp "
        "(`LlamaVocab.tokenize`) and the pure tokenizer (`GGUFTokenizer.tokenize`) on each whole "
        "file; 'same ids' = identical sequences; seconds are one tokenize call each.\n"
    )
    print(
        "| model | file | bytes | llama.cpp tokens | pure tokens | difference | same ids "
        "| llama.cpp s | pure s |"
    )
    print("|---|---|---:|---:|---:|---:|---|---:|---:|")
    for name in args.models.split(","):
        path = pull(name, quiet=True)
        llama = LlamaVocab(path)
        pure = GGUFTokenizer(GGUFVocab(path))
        total = [0, 0]
        for f in files():
            data = f.read_bytes()
            want, t_llama = timed(llama.tokenize, data)
            got, t_pure = timed(pure.tokenize, data)
            total[0] += len(want)
            total[1] += len(got)
            diff = (len(got) - len(want)) / max(1, len(want))
            print(
                f"| {name} | {f.name} | {len(data):,} | {len(want):,} | {len(got):,} | "
                f"{diff:+.4%} | {'yes' if got == want else 'no'} | {t_llama:.2f} | {t_pure:.2f} |"
            )
        diff = (total[1] - total[0]) / max(1, total[0])
        print(f"| {name} | **all** | | {total[0]:,} | {total[1]:,} | {diff:+.4%} | | | |")
        llama.close()
    print("<!-- END pure-tokenizer -->")


if __name__ == "__main__":
    main()
