"""Bits per byte of the `llm` codec with an ablation of its predictors, beside gzip, xz and zstd.

Three stages per file:

1. *LLM pass* (measurement only): the model is run once over the file's tokens with the codec's
   exact context geometry (BOS, slide every time the context is full, re-prefill of the last
   `keep` tokens), evaluated in batches of 512 tokens for speed, and every row of logits is stored
   as float16 (logit - row max) in a work directory, with the final hidden states (float16) the
   neural cache reads. Batched evaluation is not bit-identical to
   the codec's token-by-token steps, but its code length agrees to about 0.1%.
2. *Replay*: each predictor combination is replayed over the stored rows; the ideal code length
   (sum of -log2 p) and the real range coder's bytes are both recorded.
3. *Real codec*: `LLMCodec` encodes and decodes the file (byte-exact check); its payload size is the
   "full" figure, and its wall time gives tokens/s.

Usage: python scripts/bench_ratio.py [--files alice29.txt ...] [--model NAME] [--n-ctx N]
       [--keep N] [--no-real | --real-only] [--real-limit BYTES] [--work DIR] [--no-write]
       [--render-only] [--schemes K ...] [--no-reflow]

`--no-real` keeps a stored real-codec figure made with the same predictor settings; `--real-only`
runs stage 3 alone and stores it into the file's existing entry, so stages 1-2 and 3 can run
at once in two processes (one core each). `--reuse --schemes K ...` replays only some rows over
the stored LLM rows and replaces only those rows of the stored entry, so the replays of one file
can be split over cores.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import lzma
import re
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import zstandard

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from benchmd import command_line, machine_line  # noqa: E402

from nacrith.coders.range_coder import RangeEncoder  # noqa: E402
from nacrith.models.online.ensemble import Ensemble, EnsembleSettings  # noqa: E402

FILES = {
    "alice29.txt": ("canterbury/alice29.txt", None),
    "asyoulik.txt": ("canterbury/asyoulik.txt", None),
    "lcet10.txt": ("canterbury/lcet10.txt", None),
    "enwik6": ("enwik/enwik6", 1_000_000),
}

FULL = EnsembleSettings(column=True, cache_size=8192)
ABLATION = [
    ("LLM alone", EnsembleSettings(bias_lr=0.0, ngram_order=0, match=False)),
    ("+ n-gram (linear mix)", EnsembleSettings(bias_lr=0.0, match=False)),
    ("+ match", EnsembleSettings(bias_lr=0.0)),
    ("bias head alone (Adagrad 0.5)", EnsembleSettings(ngram_order=0, match=False)),
    ("bias head + n-gram + match (mixer)", EnsembleSettings()),
    ("+ column model", replace(FULL, cache_size=0)),
    ("full: + neural cache (default)", FULL),
]


def corpus(rel: str) -> Path:
    """Path of a corpus file: the repository's corpora/, $NACRITH_CORPORA_PATH, the cache."""
    from nacrith.corpora import local_path

    path = local_path(rel)
    if path is None:
        raise FileNotFoundError(rel)
    return path


def front_text(codec, data: bytes) -> bytes:
    """The text the model sees (after the codec's front end)."""
    _side, text = codec._front(data)
    return text


def hidden_path(rows_path: Path) -> Path:
    """Where the hidden states of an LLM pass are stored, beside its rows."""
    return rows_path.with_suffix(".hidden.npy")


def llm_pass(codec, tokens: np.ndarray, out: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """Store float16 rows (logit - max) and hidden states for every token, as the codec slides."""
    from nacrith.models.llm.backend import LlamaBackend

    n_ctx, keep = codec.n_ctx, codec.keep
    be = LlamaBackend(codec.model_path, n_seq=1, n_ctx=n_ctx, hidden=True)
    n, v = len(tokens), be.n_vocab
    rows = np.lib.format.open_memmap(out, mode="w+", dtype=np.float16, shape=(n, v))
    states = np.lib.format.open_memmap(
        hidden_path(out), mode="w+", dtype=np.float16, shape=(n, be.n_embd)
    )
    t0 = time.time()
    start_hist, start_new, end = 0, 0, min(n, n_ctx)
    while start_new < n:
        seq = np.concatenate([[be.bos], tokens[start_hist : end - 1]]).astype(np.int32)
        need_from = start_new - start_hist  # row j of the window predicts tokens[start_hist + j]
        be.clear(0)
        got, got_states = [], []
        for a in range(0, len(seq), 512):
            b = min(len(seq), a + 512)
            k = b - a
            be._tok[:k] = seq[a:b]
            be._pos[:k] = np.arange(a, b)
            flags = (np.arange(a, b) >= need_from).astype(np.int8)
            be._out[:k] = flags
            for i in range(k):
                be._seq_ptrs[i][0] = 0
            be._batch.n_tokens = k
            if be._lib.llama_decode(be._ctx, be._batch) != 0:
                raise RuntimeError("llama_decode failed")
            if flags.any():
                ptr = be._lib.llama_get_logits(be._ctx)
                got.append(np.ctypeslib.as_array(ptr, shape=(int(flags.sum()), v)).copy())
                ptr = be._lib.llama_get_embeddings(be._ctx)
                shape = (int(flags.sum()), be.n_embd)
                got_states.append(np.ctypeslib.as_array(ptr, shape=shape).copy())
        states[start_new:end] = np.concatenate(got_states).astype(np.float16)
        sel = np.concatenate(got)
        sel -= sel.max(axis=1, keepdims=True)
        rows[start_new:end] = sel.astype(np.float16)
        start_hist, start_new = end - keep, end
        end = min(n, end + n_ctx - keep)
        print(f"  llm pass {end}/{n} tokens, {time.time() - t0:.0f} s", file=sys.stderr)
    rows.flush()
    states.flush()
    be.close()
    return np.load(out, mmap_mode="r"), np.load(hidden_path(out)), time.time() - t0


def replay(
    rows: np.ndarray,
    tokens: np.ndarray,
    settings: EnsembleSettings,
    pieces: list[bytes],
    states: np.ndarray,
) -> dict:
    """Replay one predictor combination: ideal bits, real coder bytes, ms/token."""
    ens = Ensemble(settings, 1, rows.shape[1], pieces, states.shape[1])
    enc = RangeEncoder()
    streams = np.zeros(1, dtype=np.int64)
    bits = 0.0
    t0 = time.perf_counter()
    for i in range(len(tokens)):
        p = ens.predict(streams, rows[i : i + 1].astype(np.float32), states[i : i + 1])
        x = int(tokens[i])
        bits -= float(np.log2(p[0, x]))
        enc.encode_probs(x, p[0])
        ens.update(streams, np.array([x]))
    return {
        "bits": bits,
        "real_bytes": len(enc.finish()),
        "ms_per_token": 1e3 * (time.perf_counter() - t0) / max(1, len(tokens)),
    }


def classic(data: bytes) -> dict[str, int]:
    """Sizes from gzip -9, xz -9 and zstd -19."""
    return {
        "gzip -9": len(gzip.compress(data, 9)),
        "xz -9": len(lzma.compress(data, preset=9)),
        "zstd -19": len(zstandard.ZstdCompressor(level=19).compress(data)),
    }


def real_codec(codec, data: bytes) -> dict:
    """Encode and decode with the real codec; byte-exact check; sizes and speeds."""
    t0 = time.time()
    payload = codec.encode(data)
    t1 = time.time()
    out = codec.decode(payload, len(data))
    t2 = time.time()
    if out != data:
        raise SystemExit("real codec round trip FAILED")
    return {"bytes": len(payload), "enc_s": t1 - t0, "dec_s": t2 - t1}


def run_real(codec, data: bytes, limit: int | None, backend) -> dict:
    """Stage 3 on `data` (or its first `limit` bytes), with the settings it ran with."""
    part = data[:limit] if limit else data
    real = real_codec(codec, part)
    real["n"] = len(part)
    real["tokens"] = len(backend.tokenize(front_text(codec, part)))
    real["settings"] = run_settings(codec)
    return real


def run_settings(codec) -> dict:
    """Predictor and front-end settings of a run (a stored real run is reused only under the
    same ones)."""
    return {**codec.settings.to_dict(), "crlf": codec.crlf, "reflow": codec.reflow}


def bpb(bits: float, n: int) -> str:
    return f"{bits / n:.4f}"


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", nargs="*", default=list(FILES))
    ap.add_argument("--model", default=None)
    ap.add_argument("--n-ctx", type=int, default=None)
    ap.add_argument("--keep", type=int, default=None)
    ap.add_argument("--work", default="/tmp/nacrith-bench")
    ap.add_argument("--no-real", action="store_true", help="skip the real codec run")
    ap.add_argument("--real-only", action="store_true", help="only the real codec run")
    ap.add_argument("--real-limit", type=int, default=None, help="real run on the first N bytes")
    ap.add_argument("--reuse", action="store_true", help="reuse stored LLM rows when present")
    ap.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    ap.add_argument("--limit", type=int, default=None, help="use only the first N bytes")
    ap.add_argument("--no-reflow", action="store_true", help="turn the front end's reflow step off")
    ap.add_argument(
        "--schemes",
        nargs="+",
        type=int,
        choices=range(len(ABLATION)),
        default=None,
        metavar="K",
        help="replay only these ablation rows (0-based; a large vocabulary makes each slow)",
    )
    ap.add_argument(
        "--render-only", action="store_true", help="write the section from stored results only"
    )
    return ap


def _make_codec(args: argparse.Namespace):
    """The `llm` codec with the model, window and front-end settings the arguments ask for."""
    from nacrith.codecs.llm import LLMCodec

    kw = {}
    if args.n_ctx:
        kw["n_ctx"] = args.n_ctx
    if args.keep:
        kw["keep"] = args.keep
    return LLMCodec(args.model, reflow=not args.no_reflow, **kw)


def _label(codec, name: str, limit: int | None, data: bytes) -> str:
    """The heading name of a run: the file, its prefix, and settings other than the defaults."""
    from nacrith.codecs.llm import LLMCodec

    label = name if limit == FILES[name][1] else f"{name}[:{len(data)}]"
    if codec.model_name != "smollm2-135m":
        label += f" ({codec.model_name})"
    if codec.n_ctx != LLMCodec.DEFAULT_CTX:
        label += f" (n_ctx {codec.n_ctx})"
    if not codec.reflow:
        label += " (no reflow)"
    return label


def _llm_rows(codec, args, name: str, data: bytes, text: bytes, tokens, work: Path):
    """Stage 1: the stored LLM rows and hidden states of `text` (reused with --reuse)."""
    # the front end's output is part of the key: rows of another text are no use
    text_id = hashlib.sha256(text).hexdigest()[:8]
    tag = f"{name}.{len(data)}.{text_id}.{codec.model_name}.{codec.n_ctx}.{codec.keep}"
    rows_path = work / f"{tag}.npy"
    print(f"{name}: {len(data)} bytes, {len(tokens)} tokens", file=sys.stderr)
    if args.reuse and rows_path.is_file() and hidden_path(rows_path).is_file():
        rows, llm_s = np.load(rows_path, mmap_mode="r"), float("nan")
        states = np.load(hidden_path(rows_path))
    else:
        rows, states, llm_s = llm_pass(codec, tokens, rows_path)
    return rows, states, llm_s


def _file_section(codec, be, args, name: str, label: str, data: bytes, text: bytes, tokens, work):
    """Stages 1-3 on one file: its stored entry (ablation rows, real codec, classic sizes)."""
    rows, states, llm_s = _llm_rows(codec, args, name, data, text, tokens, work)
    results = []
    chosen = [ABLATION[k] for k in args.schemes] if args.schemes else ABLATION
    pieces, states32 = be.pieces(), states.astype(np.float32)
    for scheme, settings in chosen:
        s = replace(settings, mixer_lr=codec.settings.mixer_lr)
        r = replay(rows, tokens, s, pieces, states32)
        results.append((scheme, r))
        print(f"  {scheme}: {r['bits'] / len(data):.4f} bpb", file=sys.stderr)
    real = None if args.no_real else run_real(codec, data, args.real_limit, be)
    return {
        "name": label,
        "bytes": len(data),
        "tokens": len(tokens),
        "results": results,
        "real": real,
        "classic": classic(data),
        "setup": f"{codec.model_name}, n_ctx {codec.n_ctx}, keep {codec.keep}",
        "llm_pass_s": llm_s,
        "stamp": f"{machine_line()}. Command: `{command_line()}`",
    }


def _run_files(codec, be, args, work: Path) -> tuple[list[dict], dict[str, dict]]:
    """The new entries of the files asked for, and the --real-only runs by label."""
    sections = []
    reals = {}
    for name in [] if args.render_only else args.files:
        rel, limit = FILES[name]
        limit = args.limit or limit
        data = corpus(rel).read_bytes()[:limit]
        text = front_text(codec, data)
        tokens = be.tokenize(text)
        label = _label(codec, name, limit, data)
        if args.real_only:
            reals[label] = run_real(codec, data, args.real_limit, be)
            continue
        sections.append(_file_section(codec, be, args, name, label, data, text, tokens, work))
    return sections, reals


def _store(codec, args, work: Path, sections: list[dict], reals: dict[str, dict]) -> dict:
    """Merge this run's entries into the work directory's store; return all stored entries."""
    store = work / "ratio_results.json"
    known = json.loads(store.read_text()) if store.is_file() else {}
    settings = run_settings(codec)
    for sec in sections:
        stored = known.get(sec["name"], {})
        old = stored.get("real")
        if sec["real"] is None and old and old.get("settings") == settings:
            sec["real"] = old  # made by a --real-only run with the same settings
        if args.schemes and stored.get("tokens") == sec["tokens"]:
            sec = merge_rows(stored, sec)  # a partial rerun replaces only its own rows
        known[sec["name"]] = sec
    for label, real in reals.items():
        if label not in known:
            raise SystemExit(f"--real-only: no stored results for {label}; run stages 1-2 first")
        known[label]["real"] = real
    store.write_text(json.dumps(known, indent=1))
    return known


def _write_section(known: dict, write: bool) -> None:
    """Print the ratio section and, when `write`, put it into BENCHMARKS.md."""
    from benchmd import read_section, update_section

    # runs that are in BENCHMARKS.md but not in this machine's store keep their text as it is
    earlier = {k: v for k, v in run_blocks(read_section("ratio") or "").items() if k not in known}
    blocks = {**earlier, **{k: render_run(sec) for k, sec in known.items()}}
    order = sorted(blocks, key=lambda k: (list(FILES).index(k.split("[")[0].split(" ")[0]), k))
    md = "\n".join([INTRO, *(blocks[k] for k in order)])
    print(md)
    if write:
        update_section("ratio", md)


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    codec = _make_codec(args)
    be = codec._get_backend()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    sections, reals = _run_files(codec, be, args, work)
    known = _store(codec, args, work, sections, reals)
    _write_section(known, not args.no_write)


INTRO = "\n".join(
    [
        "## Ratio: the `llm` codec",
        "",
        "bpb = bits per original byte. The text front end (CRLF->LF, and since llm format 4 "
        "the reflow of greedily hard-wrapped text) is on, except in runs marked *(no reflow)*: "
        "made before that step existed (their tokens are those of `--no-reflow`). "
        "*Ideal* is sum(-log2 p) over "
        "replayed LLM rows (one batched LLM pass with the codec's window geometry, rows and "
        "final hidden states stored as float16); *coded* is what the range coder wrote for the "
        "same distributions; the "
        "*real codec* row is `LLMCodec.encode` + `decode` (token-by-token, byte-exact round "
        "trip, one stream, 1 thread). Each heading is one run; rerun "
        "it with `python scripts/bench_ratio.py --files NAME [--limit N] [--model M] [--n-ctx N] "
        "[--no-real] [--no-reflow]` as its heading says. A run ends with the line that says "
        "where and when it ran; runs without one were made before 2026-12-06 and are dated by "
        "the section's last line in the git history of this file. Runs made before the neural "
        "cache existed (session 2) have no cache row; their last row was the default then.",
        "",
    ]
)

_HEADING = re.compile(r"^### (.+?) \([\d,]+ bytes, ", re.M)


def run_blocks(section: str) -> dict[str, str]:
    """The runs ("### name (...)" blocks) of a rendered section, by name."""
    starts = [(m.start(), m.group(1)) for m in _HEADING.finditer(section)]
    ends = [s for s, _ in starts[1:]] + [len(section)]
    return {name: section[a:b].strip() + "\n" for (a, name), b in zip(starts, ends)}


def merge_rows(stored: dict, new: dict) -> dict:
    """`new` with the stored rows of the schemes it did not replay, in ablation order."""
    rows = {label: r for label, r in stored.get("results", [])}
    rows.update(dict(new["results"]))
    order = [label for label, _ in ABLATION]
    results = sorted(rows.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else -1)
    stamps = [x for x in (stored.get("stamp"), new.get("stamp")) if x]
    return {**new, "results": results, "stamp": ". Then ".join(stamps)}


def render_run(sec: dict) -> str:
    """Markdown for one run."""
    n = sec["bytes"]
    lines = [
        f"### {sec['name']} ({n:,} bytes, {sec['tokens']:,} tokens; {sec['setup']})",
        "",
        "| scheme | ideal bpb | coded bpb | coder overhead | predictors ms/token |",
        "|---|---|---|---|---|",
    ]
    for label, r in sec["results"]:
        coded = 8 * r["real_bytes"]
        lines.append(
            f"| {label} | {bpb(r['bits'], n)} | {bpb(coded, n)} | "
            f"{100 * (coded / r['bits'] - 1):+.3f}% | {r['ms_per_token']:.2f} |"
        )
    real = sec["real"]
    if real:
        m, tok = real["n"], real["tokens"]
        lines.append(
            f"| **real codec** ({m:,} bytes) | | **{bpb(8 * real['bytes'], m)}** | | "
            f"enc {tok / real['enc_s']:.0f} tok/s ({m / 1e3 / real['enc_s']:.2f} KB/s), "
            f"dec {tok / real['dec_s']:.0f} tok/s ({m / 1e3 / real['dec_s']:.2f} KB/s) |"
        )
    for label, size in sec["classic"].items():
        lines.append(f"| {label} | | {bpb(8 * size, n)} | | |")
    if sec.get("stamp"):
        lines += ["", f"_{sec['stamp']}._"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
