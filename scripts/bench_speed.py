"""Throughput of the `llm` codec against the raw llama.cpp decode speed, in the same run.

    python scripts/bench_speed.py                      # alice29 + first 1 MB of enwik8, CPU
    python scripts/bench_speed.py --file alice29.txt --chunk-size 24k --workers 2
    python scripts/bench_speed.py --gpu --workers 1    # on a CUDA build of llama-cpp-python
    python scripts/bench_speed.py --file alice29.txt --run default:1 --run default:1:serial
    python scripts/bench_speed.py --file alice29.txt --limit 30000 --workers 1 \
        --variant reprefill:engine=llama,sink=0 --variant shift:engine=llama \
        --variant shift+skip:engine=llama,skip=0.9
    python scripts/bench_speed.py --file alice29.txt --limit 3000 --workers 1 \
        --section "speed-batch" --variant stepwise:engine=portable,encode_batch=0 \
        --variant batched:engine=portable
    python scripts/bench_speed.py --file alice29.txt --limit 30000 --repeat 2 \
        --section speed-threads --variant 1x1:engine=llama,n_threads=1 \
        --variant 1x2:engine=llama,n_threads=2 --variant 2x1:engine=llama,workers=2,chunks=2 \
        --variant lockstep:engine=llama,workers=1,chunks=2,n_threads=2

A variant's `workers` and `chunks` keys are the pipeline's (worker processes; the file cut into
about that many balanced chunks); every other key is an llm option, and the machine-local ones
(`LLMCodec.runtime`, e.g. ``decode_drafts=0``) are the decoder's too.

For each file, chunk size and worker count: compress and decompress through `nacrith` (method
llm), check the round trip byte for byte, and report KB/s and tokens/s. Then run bare llama.cpp
over the codec's exact call schedule (same chunks, batches, processes, lockstep groups, steps and
window slides; random tokens; no predictors or coder), so that pipeline efficiency = our
tokens/s / raw tokens/s is a measured ratio.

Results go to the `speed` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import io
import itertools
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmd import update_section

from nacrith.sizes import parse_size

REPO = Path(__file__).resolve().parent.parent
FILES = {
    "alice29.txt": ["canterbury/alice29.txt"],
    "enwik8[:1MB]": ["enwik/enwik6"],
    "fields.c": ["canterbury/fields.c"],
    "cp.html": ["canterbury/cp.html"],
    "Linux_2k.log": ["loghub/Linux/Linux_2k.log"],
}
#: the files of a run that names none
DEFAULT_FILES = ["alice29.txt", "enwik8[:1MB]"]


def find(name: str) -> Path:
    """A corpus file from the repo's corpora/ or $NACRITH_CORPORA_PATH."""
    from nacrith.corpora import local_path

    for rel in FILES[name]:
        path = local_path(rel)
        if path is not None:
            return path
    raise SystemExit(f"bench_speed: cannot find {name}")


def llm_chunks(archive: bytes) -> list[tuple[int, int]]:
    """(raw size, tokens) of every chunk of an archive, in order; tokens 0 for non-llm chunks."""
    from nacrith.formats.container import iter_members
    from nacrith.formats.text import Reader

    out = []
    for member in iter_members(io.BytesIO(archive)):
        for record in member.chunks:
            payload = record.read_payload()
            tokens = 0
            if record.codec_id == "llm" and payload and payload[0] == 0:
                reader = Reader(payload, 1)
                reader.take(reader.varint())  # front-end side data
                tokens = reader.varint()
            out.append((record.raw_size, tokens))
    return out


class _LogitsOnly:
    """Stands in for the predictor ensemble: hands the model's rows through untouched."""

    wants_hidden = False  # the bare model: no hidden states for the neural cache

    def predict(self, streams: Any, logits: Any, hidden: Any = None) -> Any:
        return logits

    def update(self, streams: Any, tokens: Any) -> None:
        pass


def _raw_batch(args: tuple[str, int, int, int, bool, int, list[int]]) -> float:
    """Run one batch's lockstep schedule with random tokens; return the seconds it took."""
    import numpy as np

    from nacrith.models.llm import registry
    from nacrith.models.llm.backend import LlamaBackend
    from nacrith.models.llm.lockstep import run_streams

    model, max_streams, n_ctx, window, gpu, threads, lengths = args
    backend = _RAW_BACKENDS.get(model)
    if backend is None:
        backend = LlamaBackend(
            registry.resolve_model(model),
            n_seq=max_streams,
            n_ctx=n_ctx,
            n_threads=threads,
            n_gpu_layers=999 if gpu else 0,
        )
        _RAW_BACKENDS[model] = backend
    rng = np.random.default_rng(len(lengths))
    start = time.perf_counter()
    for g in range(0, len(lengths), max_streams):
        group = lengths[g : g + max_streams]
        run_streams(
            backend,
            _LogitsOnly(),  # type: ignore[arg-type]
            group,
            lambda s, row: int(rng.integers(0, backend.n_vocab)),
            window=window,
            overlap=False,  # nothing to overlap: the model calls alone
        )
    return time.perf_counter() - start


_RAW_BACKENDS: dict[str, Any] = {}


def raw_seconds(
    model: str,
    workers: int,
    chunks: list[tuple[int, int]],
    total: int,
    codec: Any,
    gpu: bool,
) -> float:
    """Wall seconds bare llama.cpp needs for the codec's exact call schedule.

    The chunks are grouped into batches by the pipeline's own rules and run on `workers`
    processes, each batch as lockstep streams of its chunks' token counts (longest first, in
    groups of `max_streams`), with the same slides; only the predictors and the coder are left
    out. Model loading is not timed.
    """
    from concurrent.futures import ProcessPoolExecutor

    from nacrith.workers import BATCH_CHUNKS, group_batches

    batches = list(group_batches(chunks, lambda c: c[0], total, workers, BATCH_CHUNKS))
    from nacrith.codecs.llm_params import choose_threads
    from nacrith.models.llm.backend import usable_cpus

    lengths = [sorted((t for _, t in b if t), reverse=True) for b in batches]
    lengths = [x for x in lengths if x]
    procs = min(workers, len(lengths)) if len(lengths) > 1 else 1
    # the threads the codec takes: all its share alone, one per CPU in a pool worker
    threads = choose_threads(None, usable_cpus() if procs > 1 else None, "llama")
    jobs = [(model, codec.max_streams, codec.n_ctx, codec.window, gpu, threads, x) for x in lengths]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(procs, mp_context=ctx) as pool:
        # warm-up: load the model in every process before timing
        list(
            pool.map(
                _raw_batch,
                [(model, codec.max_streams, codec.n_ctx, codec.window, gpu, threads, [1])] * procs,
            )
        )
        start = time.perf_counter()
        list(pool.map(_raw_batch, jobs))
        return time.perf_counter() - start


def plain_bytes_per_second(model: str, data: bytes, n_tokens: int = 2000) -> float:
    """Plain token-by-token llama.cpp (one thread, one stream, no predictors) over the first
    `n_tokens` tokens of `data`: input bytes per second. Model load not timed."""
    from nacrith.models.llm import registry
    from nacrith.models.llm.backend import LlamaBackend

    be = LlamaBackend(registry.resolve_model(model), n_ctx=2048, n_threads=1)
    toks = be.tokenize(data).tolist()[: min(n_tokens, 2046)]
    start = time.perf_counter()
    be.prefill(0, [be.bos])
    for i, tok in enumerate(toks[:-1]):
        be.step([0], [tok], [i + 1])
    elapsed = time.perf_counter() - start
    size = len(be.detokenize(toks))
    be.close()
    return size / elapsed


def parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    """'label:key=value,key=value' -> (label, llm options); values are ints, floats or words."""
    label, _, rest = text.partition(":")
    opts: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        for kind in (int, float):
            try:
                opts[key] = kind(value)
                break
            except ValueError:
                continue
        else:
            opts[key] = value
    return label, opts


def variants_section(args: argparse.Namespace, opts: dict[str, Any]) -> list[dict[str, Any]]:
    """One compress/decompress row per `--variant`, and plain llama.cpp in the same run."""
    from nacrith.codecs.llm import LLMCodec

    rows = []
    load_before = os.getloadavg()[0]
    uptimes = [uptime()]
    for name in args.file or DEFAULT_FILES:
        data = find(name).read_bytes()[: args.limit]
        plain = plain_bytes_per_second(opts.get("model"), data)
        best: dict[str, dict[str, Any]] = {}
        # repeats run the variants in turn, so that a burst of load hits them alike
        for _ in range(args.repeat):
            for label, extra in map(parse_variant, args.variant):
                llm = dict(extra)
                workers = llm.pop("workers", args.workers[0] if args.workers else 1)
                chunks = llm.pop("chunks", 1)
                # a tenth over the equal share: chunks end at line ends
                chunk_size = len(data) * 11 // (10 * chunks) if chunks > 1 else None
                # held open while timed: the model's weights stay loaded and its probe computed
                warm = LLMCodec(**{**opts, **llm})
                warm.probe()
                # the machine-local options the decoder takes too (`LLMCodec.runtime`)
                local = set(warm.runtime()) - {"model", "gpu"}
                decode = {k: v for k, v in {**opts, **llm}.items() if k in local}
                row = bench_file(name, data, workers, {**opts, **llm}, chunk_size, decode)
                warm.close()
                row.pop("chunk_list")
                row.update(variant=label, plain=plain, threads=threads_per_process(llm, row))
                print(row, flush=True)
                if label in best:
                    for key in ("compress_s", "decompress_s"):
                        row[key] = min(row[key], best[label][key])
                    row["ok"] = row["ok"] and best[label]["ok"]
                best[label] = row
            uptimes.append(uptime())
        rows.extend(best.values())
    title = {
        "speed-window": "window policy and skip",
        "speed-batch": "the encoder's batched rows (portable engine)",
        "speed-30k": "default settings against re-prefill and plain llama.cpp (issue 21's measure)",
        "speed-engines": "both engines with default settings",
        "speed-30k-engines": "issue 21's measure, both engines with default settings",
        "speed-threads": "llama.cpp threads per process against worker processes (llama engine)",
        "speed-llama-threads": "one or two llama.cpp threads beside the predictors (llama engine)",
        "speed-drafts": "the decoder's drafts (portable engine)",
        "speed-drafts-prose": "the decoder's drafts on prose (portable engine)",
    }.get(args.section, args.section)
    lines = [
        f"## Speed: {title}",
        "",
        "Whole `nacrith.compress` / `decompress` calls (method llm; the model's weights "
        "loaded and its probe computed beforehand, by a codec held open) against plain "
        "token-by-token llama.cpp (one thread, one stream, no predictors) over the same "
        "text's first 2,000 tokens, in the same run. "
        "x plain: our bytes/s over plain llama.cpp's bytes/s. Threads: llama.cpp threads per "
        "coding process (engine llama).",
        "",
        "| file | bytes | variant | workers | chunks | threads | compress B/s | decompress B/s "
        "| plain llama.cpp B/s | x plain (comp/dec) | bpb | round trip |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for r in rows:
        cb, db = r["bytes"] / r["compress_s"], r["bytes"] / r["decompress_s"]
        lines.append(
            f"| {r['file']} | {r['bytes']:,} | {r['variant']} | {r['workers']} | {r['chunks']} | "
            f"{r['threads']} | {cb:.0f} | {db:.0f} | {r['plain']:.0f} | "
            f"{cb / r['plain']:.2f}x / {db / r['plain']:.2f}x | "
            f"{8 * r['archive'] / r['bytes']:.4f} | {'byte-exact' if r['ok'] else 'MISMATCH'} |"
        )
    if args.limit:
        lines += ["", f"Each file was cut to its first {args.limit:,} bytes."]
    if args.repeat > 1:
        lines += ["", f"Each row: the best of {args.repeat} runs, the variants run in turn."]
    lines += [
        "",
        f"Load (1-minute average, 2-core machine shared with other jobs): `{load_before:.1f}` "
        f"at the start, `{os.getloadavg()[0]:.1f}` at the end. `uptime` at the start and after "
        "each round:",
        "",
        *(f"    {u}" for u in uptimes),
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        update_section(
            args.section, text, " ".join(["python scripts/bench_speed.py", *sys.argv[1:]])
        )
    return rows


def uptime() -> str:
    """The `uptime` line (load averages), or the 1/5/15-minute loads where it is missing."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def threads_per_process(llm: dict[str, Any], row: dict[str, Any]) -> int:
    """llama.cpp threads each coding process of a variant ran with: `n_threads`, or the
    codec's own share of the CPUs (`choose_threads`) as the pipeline runs it, in this
    process for one batch and in worker processes for several."""
    from nacrith.codecs.llm_params import choose_threads
    from nacrith.models.llm.backend import usable_cpus

    pool = row["workers"] > 1 and row["chunks"] > 1
    processes = llm.get("processes") or (usable_cpus() if pool else None)
    return choose_threads(llm.get("n_threads"), processes, llm.get("engine", "portable"))


def size_label(size: int | None) -> str:
    """'default' or the chunk size (in KiB when it is a whole number of them)."""
    if size is None:
        return "default"
    return f"{size // 1024} KiB" if size % 1024 == 0 else f"{size:,} B"


def bench_file(
    name: str,
    data: bytes,
    workers: int,
    opts: dict[str, Any],
    chunk_size: int | None,
    decode_opts: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Compress and decompress `data` once with the llm codec; timings and token counts.
    `decode_opts`: the decoder's machine-local llm options (e.g. ``decode_drafts``)."""
    import nacrith

    start = time.perf_counter()
    archive = nacrith.compress(
        data, method="llm", workers=workers, chunk_size=chunk_size, options={"llm": opts}
    )
    compress_s = time.perf_counter() - start
    start = time.perf_counter()
    options = {"llm": decode_opts} if decode_opts else None
    with nacrith.Decompressor(workers=workers, options=options) as decompressor:
        restored = decompressor.decompress(archive)
    decompress_s = time.perf_counter() - start
    chunks = llm_chunks(archive)
    return {
        "file": name,
        "bytes": len(data),
        "archive": len(archive),
        "workers": workers,
        "chunks": len(chunks),
        "chunk_list": chunks,
        "tokens": sum(t for _, t in chunks),
        "compress_s": compress_s,
        "decompress_s": decompress_s,
        "ok": restored == data,
    }


def main() -> int:
    """Command-line entry."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", action="append", choices=sorted(FILES), default=None)
    parser.add_argument("--limit", type=int, default=None, help="first N bytes of each file")
    parser.add_argument("--workers", action="append", type=int, default=None)
    parser.add_argument("--gpu", action="store_true", help="offload the model to the GPU")
    parser.add_argument("--model", default=None)
    parser.add_argument("--max-streams", type=int, default=None)
    parser.add_argument(
        "--chunk-size",
        action="append",
        type=parse_size,
        default=None,
        help="bytes per stream (repeatable; default: the codec's own)",
    )
    parser.add_argument(
        "--run",
        action="append",
        default=None,
        metavar="CHUNK:WORKERS[:serial]",
        help="one configuration, e.g. default:1 or 24k:2 (repeatable; replaces the "
        "--chunk-size x --workers product); ':serial' runs the model calls in the predictors' "
        "thread instead of overlapping them",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=None,
        metavar="LABEL:KEY=VALUE,...",
        help="llm options of one row of the 'Speed: window policy and skip' table, e.g. "
        "reprefill:engine=llama,sink=0 or skip:engine=llama,skip=0.9 (repeatable; replaces "
        "the other tables)",
    )
    parser.add_argument(
        "--section",
        default="speed-window",
        help="the BENCHMARKS.md section of the --variant table (default speed-window)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs of each --variant (in turn); the table keeps each one's fastest",
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    from nacrith.codecs.llm import LLMCodec

    opts: dict[str, Any] = {}
    if args.gpu:
        opts["gpu"] = True
    if args.model:
        opts["model"] = args.model
    if args.max_streams:
        opts["max_streams"] = args.max_streams
    if args.variant:
        rows = variants_section(args, opts)
        return 0 if all(r["ok"] for r in rows) else 1
    probe_codec = LLMCodec(**opts)
    model = args.model or probe_codec.model_name

    if args.run:
        configs = []
        for item in args.run:
            chunk_text, _, rest = item.partition(":")
            workers_text, _, mode = rest.partition(":")
            if mode not in ("", "serial"):
                parser.error(f"--run {item}: the third field can only be 'serial'")
            chunk = None if chunk_text == "default" else parse_size(chunk_text)
            configs.append((chunk, int(workers_text or 1), mode != "serial"))
    else:
        configs = [
            (c, w, True)
            for c, w in itertools.product(args.chunk_size or [None], args.workers or [1, 2])
        ]
    rows = []
    for name in args.file or DEFAULT_FILES:
        data = find(name).read_bytes()[: args.limit]
        for chunk_size, workers, overlap in configs:
            row = bench_file(name, data, workers, {**opts, "overlap": overlap}, chunk_size)
            row["chunk_size"] = chunk_size
            row["overlap"] = overlap
            chunks = row.pop("chunk_list")
            raw_s = raw_seconds(model, workers, chunks, len(data), probe_codec, args.gpu)
            row["raw_tps"] = row["tokens"] / raw_s
            row["streams"] = max(1, min(probe_codec.max_streams, -(-len(chunks) // workers)))
            print(row, flush=True)
            rows.append(row)
    probe_codec.close()

    device = (
        "GPU (n_gpu_layers=all)"
        if args.gpu
        else "CPU, llama.cpp threads per process as the codec chooses them"
    )
    lines = [
        f"## Speed: `llm` codec vs raw llama.cpp ({device})",
        "",
        "Ours: whole `nacrith.compress` / `decompress` calls, as a user sees them (model load, "
        "probe and worker start-up included). Raw: bare llama.cpp running the codec's exact "
        "call schedule (the same chunks, batches, worker processes, lockstep groups, steps and "
        "window slides, random tokens), without predictors, quantizer or coder, model load not "
        "timed. Efficiency = our tokens/s / raw tokens/s. Model calls: *overlapped* (the "
        "default) runs each llama.cpp call in a second thread while the predictors learn the "
        "last token; *serial* runs everything in one thread.",
        "",
        "| file | bytes | chunk size | workers | model calls | chunks | streams/proc | tokens | "
        "compress KB/s | decompress KB/s | compress tok/s | decompress tok/s | raw tok/s | "
        "efficiency (comp/dec) | bpb | round trip |",
        "|---|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for r in rows:
        ctps = r["tokens"] / r["compress_s"]
        dtps = r["tokens"] / r["decompress_s"]
        lines.append(
            f"| {r['file']} | {r['bytes']:,} | {size_label(r['chunk_size'])} | {r['workers']} | "
            f"{'overlapped' if r['overlap'] else 'serial'} | {r['chunks']} | {r['streams']} | "
            f"{r['tokens']:,} | {r['bytes'] / 1000 / r['compress_s']:.2f} | "
            f"{r['bytes'] / 1000 / r['decompress_s']:.2f} | {ctps:.0f} | {dtps:.0f} | "
            f"{r['raw_tps']:.0f} | {ctps / r['raw_tps']:.0%} / {dtps / r['raw_tps']:.0%} | "
            f"{8 * r['archive'] / r['bytes']:.4f} | {'byte-exact' if r['ok'] else 'MISMATCH'} |"
        )
    if args.limit:
        lines.append("")
        lines.append(f"Each file was cut to its first {args.limit:,} bytes.")
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        command = " ".join(["python scripts/bench_speed.py", *sys.argv[1:]])
        update_section("speed-gpu" if args.gpu else "speed", text, command)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
