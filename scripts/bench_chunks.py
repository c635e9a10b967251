"""What cutting a file into independent `llm` streams costs in ratio.

    python scripts/bench_chunks.py                          # alice29.txt: whole, 128 KiB, 24 KiB
    python scripts/bench_chunks.py --sizes whole,64k,16k --file asyoulik.txt

Chunks are cut exactly as the pipeline cuts a text region (`balanced_chunks`); every chunk is
its own stream from BOS, with fresh predictors. For each chunk size the script runs one batched
LLM pass per chunk with the codec's window geometry (as `bench_ratio.py` does) and replays the
full default ensemble over the stored rows: the ideal code length (sum of -log2 p) plus each
chunk's front-end side data, in bits per byte of the whole file. Fewer, longer streams compress
better; more streams run in parallel (see the speed section).

Results go to the `chunks` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ratio import FILES, FULL, corpus, llm_pass, replay
from benchmd import update_section

from nacrith.sizes import parse_size


def main() -> int:
    """Command-line entry."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--file", default="alice29.txt", choices=sorted(FILES))
    ap.add_argument("--sizes", default="whole,128KiB,24KiB", help="comma list; 'whole' = 1 chunk")
    ap.add_argument("--model", default=None)
    ap.add_argument("--work", default="/tmp/nacrith-bench", help="where LLM rows are stored")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()

    from nacrith.codecs.llm import LLMCodec
    from nacrith.formats.segment import balanced_chunks

    codec = LLMCodec(args.model)
    backend = codec._get_backend()
    pieces = backend.pieces()
    rel, limit = FILES[args.file]
    data = corpus(rel).read_bytes()[:limit]
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    rows_out = []
    for size_text in args.sizes.split(","):
        size = 2 * len(data) if size_text == "whole" else parse_size(size_text)
        spans = list(balanced_chunks(data, 0, len(data), size))
        bits = 0.0
        tokens = 0
        start = time.time()
        for k, (lo, hi) in enumerate(spans):
            side, text = codec._front(data[lo:hi])
            toks = backend.tokenize(text)
            tag = f"{args.file}.{lo}-{hi}.{codec.model_name}.{codec.n_ctx}.{codec.keep}"
            rows, _ = llm_pass(codec, toks, work / f"{tag}.npy")
            bits += replay(rows, toks, FULL, pieces)["bits"] + 8 * len(side)
            tokens += len(toks)
            print(f"  {size_text}: chunk {k + 1}/{len(spans)} done", file=sys.stderr)
        row = {
            "size": size_text,
            "chunks": len(spans),
            "lengths": [hi - lo for lo, hi in spans],
            "tokens": tokens,
            "bpb": bits / len(data),
            "seconds": time.time() - start,
        }
        print(row, flush=True)
        rows_out.append(row)
    base = rows_out[0]["bpb"]
    lines = [
        f"## llm chunk size: ratio cost of independent streams ({args.file}, {len(data):,} bytes)",
        "",
        f"Model {codec.model_name}, n_ctx {codec.n_ctx}, keep {codec.keep}, full default "
        "ensemble; chunks cut like the pipeline cuts text (`balanced_chunks`), each coded as its "
        "own stream. Ideal code length (sum of -log2 p over replayed LLM rows) plus side data.",
        "",
        "| chunk size | chunks | chunk lengths | tokens | bpb | vs first row |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for r in rows_out:
        lengths = ", ".join(f"{n:,}" for n in r["lengths"][:4])
        if len(r["lengths"]) > 4:
            lengths += ", ..."
        lines.append(
            f"| {r['size']} | {r['chunks']} | {lengths} | {r['tokens']:,} | {r['bpb']:.4f} | "
            f"{(r['bpb'] / base - 1) * 100:+.2f}% |"
        )
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        update_section("chunks", text, " ".join(["python scripts/bench_chunks.py", *sys.argv[1:]]))
    codec.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
