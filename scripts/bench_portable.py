"""Speed and cross-entropy of the portable engine (each arithmetic revision) against llama.cpp,
on alice29.txt.

Usage: python scripts/bench_portable.py [--tokens N] [--steps M] [--threads 1,2] [--model NAME]
       python scripts/bench_portable.py --codec-bytes N [--model NAME]
       python scripts/bench_portable.py --speed-options [--tokens N] [--steps M] [--model NAME]
       python scripts/bench_portable.py --widen-codec N [--model NAME]
       python scripts/bench_portable.py --softmax [--rounds R] [--softmax-codec N] [--model NAME]

All run the same GGUF on this machine: llama.cpp through nacrith's backend, the portable engine
(revisions 1 and 2) through numpy, each thread count in its own process (OPENBLAS_NUM_THREADS for
numpy, n_threads for llama.cpp): bits/token, prefill, and steps of 1, 4 and 8 streams in
lockstep. Prints a Markdown section for BENCHMARKS.md.
With `--codec-bytes`, instead the real `llm` codec with its default settings, engine portable
(the default) against engine llama, on alice29.txt's first N bytes: bits per byte of the
payload, and tokens per second encoding and decoding (model loading and probe excluded).
With `--speed-options`, instead revision 2's speed options in one process (1 OpenBLAS thread), all
rows of the same run: product threads (`PortableBackend(threads=...)`) and widened float64
matrices (`widening.widen`), with wall-clock and CPU rates and the memory each costs, against
llama.cpp with 1 and 2 threads; the portable rows are checked to give the same logits.
With `--widen-codec`, the real `llm` codec (portable engine, default settings) encoding
alice29.txt's first N bytes in one process, its layer matrices not widened, widened (the
widening's own time apart), and not widened again, so the encoder's gain from `widening` and its
one-time cost are measured side by side (the automatic rule's threshold, `widening.auto_part`).
With `--softmax`, revision 2 against revision 3 (the same matrices; revision 3 takes the
attention softmax's exp from a table) at a long context, in one process with 1 OpenBLAS thread,
`--rounds` rounds in turn: alice29.txt's tokens 1,700 to 1,955 appended 64 at a time with every
row's logits (as the encoder feeds them) and then single steps (as the decoder does), after a
prefill of the 1,700 before; with the bits/token of both revisions on those tokens. With
`--softmax-codec N` also the `llm` codec's payload (default settings) on alice29.txt's first N
bytes with either revision, and its encode time.
(An earlier `--kernels` timed int8 weights widened to float32 slabs before each sgemm; the
compiled kernels that replaced that idea are measured by `scripts/bench_kernels.py`.)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from nacrith.models.llm.backend import LlamaBackend
from nacrith.models.llm.registry import pull
from nacrith.models.portable import PortableModel
from nacrith.models.portable.backend import shared_weights

REPO = Path(__file__).resolve().parent.parent
STREAMS = (1, 4, 8)
APPENDS = (64, 256)  # tokens appended in one batch (all logits), after APPEND_AT tokens
APPEND_AT = 64


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


def timed_cpu(fn):
    """(result, wall seconds, CPU seconds of this process, all threads) of fn()."""
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


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


def widen_codec_main(model: str, n_bytes: int) -> None:
    """Encode the same text not widened, widened and not widened again; print the table."""
    from nacrith.codecs.llm import LLMCodec
    from nacrith.models.portable import widening

    data = (REPO / "corpora" / "canterbury" / "alice29.txt").read_bytes()[:n_bytes]
    codec = LLMCodec(model, engine="portable", widen="none")
    codec.params()
    codec.encode(data[:200])  # warm-up: model, probe, predictors
    backend = codec._get_backend()
    weights = backend.model.weights
    tokens = len(backend.tokenize(data))
    threads = backend.model.threads
    rows, payloads = [], set()
    for label, part in (
        ("not widened", "none"),
        ("widened layers", "layers"),
        ("not widened", "none"),
    ):
        start = time.perf_counter()
        kept = widening.widen(weights, part)
        widen_s = time.perf_counter() - start
        start = time.perf_counter()
        payloads.add(codec.encode(data))
        encode_s = time.perf_counter() - start
        rows.append((label, widen_s if kept else None, encode_s, kept))
    codec.close()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"The `llm` codec's encoder (portable engine, {threads} product threads,")
    print(f"model {model}) on the first {n_bytes:,} bytes of alice29.txt ({tokens:,} tokens), in")
    print(f"one process; the same payload every time: {len(payloads) == 1}.\n")
    print("| layer matrices | widening s | encode s | tokens/s | extra memory |")
    print("|---|---:|---:|---:|---:|")
    for label, widen_s, encode_s, kept in rows:
        cost = f"{widen_s:.2f}" if widen_s is not None else ""
        extra = f"{kept / 2**20:.0f} MiB" if kept else ""
        print(f"| {label} | {cost} | {encode_s:.2f} | {tokens / encode_s:.1f} | {extra} |")
    load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    blas = os.environ.get("OPENBLAS_NUM_THREADS")
    env = f"OPENBLAS_NUM_THREADS={blas} " if blas else ""
    print(f"\n_Machine: {cpu_name()}, {os.cpu_count()} logical cores, load average {load} at the")
    print(f"end; Python {platform.python_version()}, numpy {np.__version__}; {date}. Command:")
    print(f"`{env}python scripts/bench_portable.py --widen-codec {n_bytes} --model {model}`._")


def _alice_tokens(path: Path, n: int) -> tuple[list[int], int]:
    """BOS and the first `n` tokens of alice29.txt, and how many bytes those tokens cover."""
    text = (REPO / "corpora" / "canterbury" / "alice29.txt").read_bytes()
    with LlamaBackend(path, n_ctx=16) as backend:
        tokens = [backend.bos, *backend.tokenize(text[: n * 8])[:n].tolist()]
        return tokens, len(backend.detokenize(tokens[1:]))


def _stream_rates(engine, steps: int, tokens: list[int]) -> dict[str, float]:
    """Tokens per second (all streams together) of `steps` lockstep steps, per stream count."""
    rates = {}
    for b in STREAMS:
        seqs = list(range(b))
        for s in seqs:
            engine.clear(s)
        engine.step(seqs, [tokens[0]] * b, [0] * b)  # warm-up
        _, secs = timed(
            lambda seqs=seqs, b=b: [
                engine.step(seqs, [t] * b, [i + 1] * b) for i, t in enumerate(tokens[1 : steps + 1])
            ]
        )
        rates[str(b)] = b * steps / secs
    return rates


def _append_rates(engine, tokens: list[int]) -> dict[str, float]:
    """Tokens per second of `append` with all logits (as the encoder feeds a batch), per batch
    size, mid-context."""
    rates = {}
    for k in APPENDS:
        engine.clear(0)
        engine.prefill(0, tokens[:APPEND_AT])
        _, secs = timed(
            lambda k=k: engine.append(0, tokens[APPEND_AT : APPEND_AT + k], all_logits=True)
        )
        rates[str(k)] = k / secs
    return rates


def worker(path: Path, n: int, steps: int, threads: int) -> dict[str, dict]:
    """One process's measurements (this process's OpenBLAS threads): llama.cpp and each
    revision."""
    tokens, _ = _alice_tokens(path, max(n, APPEND_AT + max(APPENDS)))
    ctx = max(n, steps, APPEND_AT + max(APPENDS)) + 8
    rows: dict[str, dict] = {}
    backend = LlamaBackend(path, n_seq=max(STREAMS), n_ctx=ctx, n_threads=threads)
    logits, _ = timed(
        lambda: np.array([backend.step([0], [t], [i])[0] for i, t in enumerate(tokens[:n])])
    )
    _, prefill_s = timed(lambda: backend.prefill(0, tokens[:n]))
    rows["llama.cpp"] = {
        "bits": bits_per_token(logits.astype(np.float64), tokens[1 : n + 1]),
        "prefill": n / prefill_s,
        "steps": _stream_rates(backend, steps, tokens),
        "append": _append_rates(backend, tokens),
    }
    backend.close()
    for revision in (1, 2):
        weights, load_s = timed(lambda r=revision: shared_weights(path, r))
        model = PortableModel(n_seq=max(STREAMS), n_ctx=ctx, weights=weights, revision=revision)
        logits, prefill_s = timed(lambda m=model: m.prefill(0, tokens[:n], all_logits=True))
        rows[f"portable rev {revision}"] = {
            "bits": bits_per_token(logits, tokens[1 : n + 1]),
            "prefill": n / prefill_s,
            "steps": _stream_rates(model, steps, tokens),
            "append": _append_rates(model, tokens),
            "load": load_s,
        }
        del model, weights
    return rows


def main() -> None:
    """Run the benchmark and print the Markdown section."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tokens", type=int, default=256, help="tokens of alice29.txt to score")
    ap.add_argument("--steps", type=int, default=16, help="lockstep steps to time per count")
    ap.add_argument("--threads", default="1,2", help="thread counts, one process each")
    ap.add_argument(
        "--model", default=None, help="default: smollm2-135m-q4_1 (smollm2-135m with --codec-bytes)"
    )
    ap.add_argument("--codec-bytes", type=int, default=None, help="run the codec comparison")
    ap.add_argument("--speed-options", action="store_true", help="revision 2's speed options")
    ap.add_argument("--widen-codec", type=int, default=None, help="encoder widened or not")
    ap.add_argument("--softmax", action="store_true", help="revision 2 against 3, long context")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of --softmax")
    ap.add_argument("--softmax-codec", type=int, default=0, help="bytes the codec encodes")
    ap.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--options-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.options_worker:
        path = pull(args.model, quiet=True)
        print(json.dumps(options_worker(path, args.tokens, args.steps)))
        return
    if args.softmax:
        softmax_main(args.model or "smollm2-135m", args.rounds, args.softmax_codec)
        return
    if args.speed_options:
        options_main(args.model or "smollm2-135m-q4_1", args.tokens, args.steps)
        return
    if args.widen_codec:
        widen_codec_main(args.model or "smollm2-135m", args.widen_codec)
        return
    if args.codec_bytes:
        codec_main(args.model or "smollm2-135m", args.codec_bytes)
        return
    args.model = args.model or "smollm2-135m-q4_1"
    path = pull(args.model, quiet=True)
    n, m = args.tokens, args.steps
    if args.worker is not None:
        print(json.dumps(worker(path, n, m, args.worker)))
        return
    results = {}
    for threads in [int(t) for t in args.threads.split(",")]:
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads))
        cmd = [sys.executable, __file__, "--worker", str(threads), "--model", args.model]
        cmd += ["--tokens", str(n), "--steps", str(m)]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        results[threads] = json.loads(done.stdout.strip().splitlines()[-1])
    _, n_bytes = _alice_tokens(path, n)
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()
    print(f"Model {path.name}; first {n} tokens of canterbury/alice29.txt ({n_bytes} bytes)")
    print("after BOS. llama.cpp: nacrith's LlamaBackend (n_threads as the row says); portable:")
    print("PortableModel, arithmetic revisions 1 and 2 (numpy, OpenBLAS threads as the row says).")
    print(f"Steps: {m} lockstep steps of 1, 4 and 8 streams, tokens/s of all streams together.")
    print(f"Append: {' and '.join(map(str, APPENDS))} tokens fed as one batch with every row's")
    print(f"logits, after a prefill of {APPEND_AT}.\n")
    print(
        "| engine | threads | bits/token | bits/byte | prefill tok/s | step tok/s, 1 stream "
        "| 4 streams | 8 streams | append 64 tok/s | append 256 tok/s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for threads, rows in results.items():
        for name, r in rows.items():
            st = r["steps"]
            print(
                f"| {name} | {threads} | {r['bits']:.4f} | {r['bits'] * n / n_bytes:.4f} | "
                f"{r['prefill']:.1f} | {st['1']:.1f} | {st['4']:.1f} | {st['8']:.1f} | "
                f"{r['append']['64']:.1f} | {r['append']['256']:.1f} |"
            )
    loads = ", ".join(
        f"rev {name[-1]} {r['load']:.1f} s"
        for name, r in results[next(iter(results))].items()
        if "load" in r
    )
    print(f"\nLoading the weights (disk cache of converted weights): {loads}.")
    print(f"\n_Machine: {cpu_name()}, {os.cpu_count()} logical cores, load average")
    print(f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min) at the end; Python")
    print(f"{platform.python_version()}, numpy {np.__version__}; {date}. Command:")
    print(f"`python scripts/bench_portable.py --tokens {n} --steps {m} --threads {args.threads}`._")


R3_STREAMS = (1, 8)
#: (label, product threads, widened part) of each portable row of `--speed-options`
R3_PORTABLE = (
    ("revision 2 (as before)", 1, "none"),
    ("2 product threads", 2, "none"),
    ("widened ffn", 1, "ffn"),
    ("widened layers", 1, "layers"),
    ("widened all", 1, "all"),
    ("2 threads + widened layers", 2, "layers"),
)


def _options_rates(engine, tokens: list[int], n: int, steps: int) -> tuple[dict, list[np.ndarray]]:
    """(wall, CPU) tokens per second of a prefill of `n`, lockstep steps, and appends; and the
    appends' logits."""
    rates = {}
    engine.clear(0)
    _, wall, cpu = timed_cpu(lambda: engine.prefill(0, tokens[:n]))
    rates["prefill"] = (n / wall, n / cpu)
    for b in R3_STREAMS:
        seqs = list(range(b))
        for s in seqs:
            engine.clear(s)
        engine.step(seqs, [tokens[0]] * b, [0] * b)  # warm-up
        _, wall, cpu = timed_cpu(
            lambda seqs=seqs, b=b: [
                engine.step(seqs, [t] * b, [i + 1] * b) for i, t in enumerate(tokens[1 : steps + 1])
            ]
        )
        rates[f"step{b}"] = (b * steps / wall, b * steps / cpu)
    logits = []
    for k in APPENDS:
        engine.clear(0)
        engine.prefill(0, tokens[:APPEND_AT])
        out, wall, cpu = timed_cpu(
            lambda k=k: engine.append(0, tokens[APPEND_AT : APPEND_AT + k], all_logits=True)
        )
        logits.append(out)
        rates[f"append{k}"] = (k / wall, k / cpu)
    return rates, logits


def options_worker(path: Path, n: int, steps: int) -> list[dict]:
    """Every `--speed-options` row, measured in this process."""
    from nacrith.models.portable import widening

    tokens, _ = _alice_tokens(path, max(n, APPEND_AT + max(APPENDS)))
    ctx = max(n, steps, APPEND_AT + max(APPENDS)) + 8
    rows = []
    for threads in (1, 2):
        backend = LlamaBackend(path, n_seq=max(R3_STREAMS), n_ctx=ctx, n_threads=threads)
        rates, _ = _options_rates(backend, tokens, n, steps)
        rows.append({"name": f"llama.cpp, {threads} thread(s)", "rates": rates, "extra": 0})
        backend.close()
    weights = shared_weights(path, 2)
    model = PortableModel(n_seq=max(R3_STREAMS), n_ctx=ctx, weights=weights, revision=2)
    reference = None
    for name, threads, part in R3_PORTABLE:
        extra = widening.widen(weights, part)
        model.threads = threads
        rates, logits = _options_rates(model, tokens, n, steps)
        same = reference is None or all(np.array_equal(a, b) for a, b in zip(logits, reference))
        reference = reference or logits
        rows.append({"name": f"portable, {name}", "rates": rates, "extra": extra, "same": same})
    widening.widen(weights, "none")
    return rows


def options_main(model: str, n: int, steps: int) -> None:
    """Run `options_worker` in a process with 1 OpenBLAS thread and print the Markdown section."""
    path = pull(model, quiet=True)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    cmd = [sys.executable, __file__, "--options-worker", "--model", model]
    cmd += ["--tokens", str(n), "--steps", str(steps)]
    start = os.getloadavg()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    rows = json.loads(done.stdout.strip().splitlines()[-1])
    load = os.getloadavg()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"Model {path.name}; alice29.txt tokens after BOS: a prefill of {n}, {steps} lockstep")
    print(f"steps of {' and '.join(map(str, R3_STREAMS))} streams, appends of")
    print(f"{' and '.join(map(str, APPENDS))} tokens with every row's logits after a prefill of")
    print(f"{APPEND_AT}. One process, 1 OpenBLAS thread; each cell is wall-clock tokens/s (CPU")
    print("tokens/s of the whole process, all its threads, in brackets). Extra memory: the")
    print(
        "widened float64 values kept. Same bits: every portable row's logits equal the first's.\n"
    )
    cols = ["prefill", *(f"step{b}" for b in R3_STREAMS), *(f"append{k}" for k in APPENDS)]
    heads = ["prefill", *(f"{b} stream(s)" for b in R3_STREAMS), *(f"append {k}" for k in APPENDS)]
    print(f"| engine | {' | '.join(heads)} | extra memory | same bits |")
    print("|---|" + "---:|" * (len(cols) + 2))
    for r in rows:
        cells = [f"{r['rates'][c][0]:.1f} ({r['rates'][c][1]:.1f})" for c in cols]
        same = {True: "yes", False: "**no**", None: ""}[r.get("same")]
        extra = f"{r['extra'] / 2**20:.0f} MiB" if r["extra"] else ""
        print(f"| {r['name']} | {' | '.join(cells)} | {extra} | {same} |")
    print(
        f"\n_Machine: {cpu_name()}, {os.cpu_count()} logical cores, load average (1 / 5 / 15 min)"
    )
    before = " / ".join(f"{v:.1f}" for v in start)
    after = " / ".join(f"{v:.1f}" for v in load)
    print(f"{before} at the start, {after} at the end; Python {platform.python_version()},")
    print(f"numpy {np.__version__};")
    print(f"{date}. Command: `python scripts/bench_portable.py --speed-options --tokens {n}")
    print(f"--steps {steps} --model {model}`._")


SOFTMAX_AT = 1700  # tokens before the timed ones: the context is nearly full (n_ctx 2048)
SOFTMAX_APPEND = 64
SOFTMAX_STEPS = 8


def _softmax_round(weights, revision: int, tokens: list[int]) -> tuple[float, float, np.ndarray]:
    """(append ms/token, step ms/token, the appended rows' logits) of one revision."""
    model = PortableModel(n_seq=1, n_ctx=2048, weights=weights, revision=revision)
    model.prefill(0, tokens[:SOFTMAX_AT])
    timed_tokens = tokens[SOFTMAX_AT : SOFTMAX_AT + 4 * SOFTMAX_APPEND]
    start = time.perf_counter()
    rows = [
        model.append(0, timed_tokens[i : i + SOFTMAX_APPEND], all_logits=True)
        for i in range(0, len(timed_tokens), SOFTMAX_APPEND)
    ]
    append_ms = (time.perf_counter() - start) * 1000 / len(timed_tokens)
    at = model.length(0)
    start = time.perf_counter()
    for i, t in enumerate(tokens[at : at + SOFTMAX_STEPS]):
        model.step([0], [t], [at + i])
    step_ms = (time.perf_counter() - start) * 1000 / SOFTMAX_STEPS
    return append_ms, step_ms, np.concatenate(rows)


def softmax_main(model: str, rounds: int, codec_bytes: int = 0) -> None:
    """Print the `--softmax` section: revision 2 against 3, rounds in turn."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    path = pull(model, quiet=True)
    need = SOFTMAX_AT + 4 * SOFTMAX_APPEND + SOFTMAX_STEPS
    tokens, _ = _alice_tokens(path, need)
    weights = shared_weights(path, 2)
    load = os.getloadavg()[0]
    results: dict[int, list[tuple[float, float]]] = {2: [], 3: []}
    logits = {}
    for _ in range(rounds):
        for revision in (2, 3):
            append_ms, step_ms, logits[revision] = _softmax_round(weights, revision, tokens)
            results[revision].append((append_ms, step_ms))
    targets = tokens[SOFTMAX_AT + 1 : SOFTMAX_AT + 1 + 4 * SOFTMAX_APPEND]
    bits = {r: bits_per_token(logits[r][: len(targets)], targets) for r in (2, 3)}
    best = {r: (min(a for a, _ in v), min(s for _, s in v)) for r, v in results.items()}
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"Model {path.name}; canterbury/alice29.txt's tokens {SOFTMAX_AT} to")
    print(f"{SOFTMAX_AT + 4 * SOFTMAX_APPEND - 1} appended {SOFTMAX_APPEND} at a time with every")
    print(f"row's logits, then {SOFTMAX_STEPS} single steps, after a prefill of the {SOFTMAX_AT}")
    print(f"before (n_ctx 2048); one process, OPENBLAS_NUM_THREADS=1, {rounds} rounds in turn,")
    print("the fastest of each; bits/token on the appended tokens.\n")
    print("| revision | append ms/token | step ms/token | bits/token | each round (append/step) |")
    print("|---|---:|---:|---:|---|")
    for r in (2, 3):
        each = ", ".join(f"{a:.1f}/{s:.1f}" for a, s in results[r])
        print(f"| {r} | {best[r][0]:.1f} | {best[r][1]:.1f} | {bits[r]:.4f} | {each} |")
    print(
        f"\nRevision 3 against 2: append {best[2][0] / best[3][0]:.2f}x, step "
        f"{best[2][1] / best[3][1]:.2f}x as fast; bits/token {bits[3] / bits[2] - 1:+.3%}."
    )
    command = f"python scripts/bench_portable.py --softmax --rounds {rounds}"
    if codec_bytes:
        from nacrith.codecs.llm import LLMCodec

        data = (REPO / "corpora" / "canterbury" / "alice29.txt").read_bytes()[:codec_bytes]
        print(
            f"\nThe `llm` codec (default settings) on alice29.txt's first {codec_bytes:,} bytes:\n"
        )
        print("| revision | payload bytes | bits/byte | encode s |")
        print("|---|---:|---:|---:|")
        for revision in (2, 3):
            codec = LLMCodec(model, revision=revision)
            codec.probe()  # the model loaded and its self-test run before the clock starts
            payload, seconds = timed(lambda codec=codec: codec.encode(data))
            codec.close()
            print(
                f"| {revision} | {len(payload):,} | {8 * len(payload) / len(data):.4f} | "
                f"{seconds:.1f} |"
            )
        command += f" --softmax-codec {codec_bytes}"
    print(f"\n_Machine: {cpu_name()}, {os.cpu_count()} logical cores; load average {load:.2f}")
    print(f"at the start; Python {platform.python_version()}, numpy {np.__version__}; {date}.")
    print(f"Command: `{command}`._")


if __name__ == "__main__":
    main()
