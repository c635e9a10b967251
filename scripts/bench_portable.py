"""Speed and cross-entropy of the portable engine against llama.cpp, on alice29.txt.

Usage: python scripts/bench_portable.py [--tokens N] [--steps M] [--streams B] [--model NAME]
       python scripts/bench_portable.py --codec-bytes N [--model NAME]

Both run the same GGUF on this machine: llama.cpp through nacrith's backend (1 thread, as the
codec uses it), the portable engine through numpy. Prints a Markdown section for BENCHMARKS.md.
With `--codec-bytes`, instead the real `llm` codec with its default settings, engine portable
(the default) against engine llama, on alice29.txt's first N bytes: bits per byte of the
payload, and tokens per second encoding and decoding (model loading and probe excluded).
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


def codec_rows(model: str, n_bytes: int) -> list[str]:
    """Markdown rows: the `llm` codec on alice29.txt's first `n_bytes`, each engine."""
    from nacrith.codecs.llm import LLMCodec

    data = (REPO / "corpora" / "canterbury" / "alice29.txt").read_bytes()[:n_bytes]
    rows = []
    for engine in ("portable", "llama"):
        codec = LLMCodec(model, engine=engine)
        decoder = LLMCodec.from_params(codec.params())  # loads the model, runs the probe
        n_tokens = len(codec._get_backend().tokenize(codec._front(data)[1]))
        payload, enc_s = timed(lambda codec=codec: codec.encode(data))
        out, dec_s = timed(lambda d=decoder, p=payload: d.decode(p, len(data)))
        assert out == data, f"{engine}: the round trip failed"
        rows.append(
            f"| {engine}{' (default)' if engine == 'portable' else ''} | {n_tokens} | "
            f"{len(payload)} | {8 * len(payload) / len(data):.4f} | {n_tokens / enc_s:.1f} | "
            f"{n_tokens / dec_s:.1f} |"
        )
        codec.close()
        decoder.close()
    return rows


def codec_main(model: str, n_bytes: int) -> None:
    """Print the codec comparison as a Markdown paragraph and table."""
    rows = codec_rows(model, n_bytes)
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    threads = os.environ.get("OPENBLAS_NUM_THREADS")
    env = f"OPENBLAS_NUM_THREADS={threads} " if threads else ""
    print(f"The `llm` codec, default settings (model {model}, context 2048), on the first")
    print(f"{n_bytes} bytes of canterbury/alice29.txt, each engine (a round trip checked):\n")
    print("| engine | tokens | payload bytes | bits/byte | encode tok/s | decode tok/s |")
    print("|---|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    load = os.getloadavg()[1]
    print(f"\n_Machine: {cpu_name()}, {os.cpu_count()} logical cores (load average {load:.1f} over")
    print(f"the last 5 minutes at the end); Python {platform.python_version()}, numpy")
    print(f"{np.__version__}; {date}. Command:")
    print(f"`{env}python scripts/bench_portable.py --codec-bytes {n_bytes} --model {model}`._")


def main() -> None:
    """Run the benchmark and print the Markdown section."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tokens", type=int, default=256, help="tokens of alice29.txt to score")
    ap.add_argument("--steps", type=int, default=32, help="single-token steps to time")
    ap.add_argument("--streams", type=int, default=4, help="streams stepped together")
    ap.add_argument(
        "--model", default=None, help="default: smollm2-135m-q4_1 (smollm2-135m with --codec-bytes)"
    )
    ap.add_argument("--codec-bytes", type=int, default=None, help="run the codec comparison")
    args = ap.parse_args()
    if args.codec_bytes:
        codec_main(args.model or "smollm2-135m", args.codec_bytes)
        return
    args.model = args.model or "smollm2-135m-q4_1"
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
