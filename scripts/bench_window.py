"""Ratio of window policies: clear-and-re-prefill against sink+shift, in the same run.

    python scripts/bench_window.py                          # defaults below
    python scripts/bench_window.py --tokens 3000 --n-ctx 512 --file alice29.txt

Each text prefix is coded (ideal code length, no coder) once per policy; the policies run as
lockstep streams of one llama.cpp context (one stream per policy, the same tokens), so every
policy sees the same text, model and machine. Two figures per policy: the model alone
(-log2 of llama.cpp's softmax at each token; a re-prefill gives the last token's logits,
as the portable engine does) and the default predictor ensemble on top of it
(the codec's distributions in float mode). Results go to the `window-policy` section of
BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmd import update_section

FILES = {"alice29.txt": "canterbury/alice29.txt", "enwik8[:1MB]": "enwik/enwik6"}


def policies(n_ctx: int) -> list[tuple[str, object]]:
    """(label, Window) of every policy compared at context `n_ctx`."""
    from nacrith.models.llm.lockstep import Window

    return [
        (f"re-prefill keep {n_ctx // 2}", Window.reprefill(n_ctx // 2)),
        (f"sink 4, drop {n_ctx // 2}", Window.sink_shift(4, n_ctx // 2)),
        (f"sink 4, drop {n_ctx // 4}", Window.sink_shift(4, n_ctx // 4)),
        (f"sink 4, drop {n_ctx // 8}", Window.sink_shift(4, n_ctx // 8)),
        (f"sink 1, drop {n_ctx // 4}", Window.sink_shift(1, n_ctx // 4)),
        (f"sink 16, drop {n_ctx // 4}", Window.sink_shift(16, n_ctx // 4)),
    ]


def _last_row_backend(path: Path, k: int, n_ctx: int):
    """A llama backend whose re-prefill gives the last token's logits and state.

    With hidden states on, llama.cpp outputs every token of a batch and `LlamaBackend.prefill`
    hands back the first row (what llama-engine archives of formats 1-5 code with); the
    portable engine gives the last. This compares the policies with the last row.
    """
    from nacrith.models.llm.backend import LlamaBackend

    class LastRow(LlamaBackend):
        def prefill(self, seq: int, tokens) -> np.ndarray:
            self.clear(seq)
            rows = self.append(seq, tokens, all_logits=True)
            self._last_state = LlamaBackend.hidden_states(self)[-1:]
            return rows[-1]

        def step(self, seqs, tokens, positions) -> np.ndarray:
            self._last_state = None
            return super().step(seqs, tokens, positions)

        def hidden_states(self) -> np.ndarray:
            last = getattr(self, "_last_state", None)
            return last if last is not None else super().hidden_states()

    return LastRow(path, n_seq=k, n_ctx=n_ctx, hidden=True)


def measure(tokens: np.ndarray, n_ctx: int) -> list[dict[str, object]]:
    """Ideal bits of `tokens` under each policy (model alone and with the ensemble)."""
    from nacrith.codecs.llm import LLMCodec
    from nacrith.models.llm.lockstep import _ModelFeed
    from nacrith.models.online.ensemble import Ensemble

    codec = LLMCodec(engine="llama", n_ctx=n_ctx)
    pol = policies(n_ctx)
    k = len(pol)
    be = _last_row_backend(codec.model_path, k, n_ctx)
    ens = Ensemble(codec.settings, k, be.n_vocab, be.pieces(), be.n_embd)
    seq = tokens.tolist()
    feed = _ModelFeed(be, [len(seq)] * k, [seq] * k, [w for _, w in pol], True)
    streams = np.arange(k, dtype=np.int64)
    model_bits = np.zeros(k)
    ens_bits = np.zeros(k)
    slides = np.zeros(k, dtype=np.int64)
    for i, tok in enumerate(seq):
        before = list(feed.kv_len)
        rows, states = feed.step(i)
        slides += [int(i > 0 and after <= b) for b, after in zip(before, feed.kv_len)]
        logits = rows.astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        logz = np.log(np.exp(logits).sum(axis=1))
        model_bits += (logz - logits[:, tok]) / np.log(2)
        probs = ens.predict(streams, rows, states)
        ens_bits -= np.log2(np.maximum(probs[:, tok], 1e-300))
        ens.update(streams, np.full(k, tok, dtype=np.int64))
    be.close()
    codec.close()
    return [
        {"policy": label, "model": m, "ensemble": e, "slides": int(s)}
        for (label, _), m, e, s in zip(pol, model_bits, ens_bits, slides)
    ]


def main() -> int:
    """Command-line entry."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", action="append", choices=sorted(FILES), default=None)
    parser.add_argument("--n-ctx", action="append", type=int, default=None)
    parser.add_argument("--tokens", type=int, default=3000, help="tokens of each prefix")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    from nacrith.corpora import local_path
    from nacrith.models.llm.backend import LlamaVocab
    from nacrith.models.llm.registry import resolve_model

    vocab = LlamaVocab(resolve_model(None))
    lines = [
        "## Window policy: clear-and-re-prefill against sink+shift (ideal code length)",
        "",
        "Ideal code length (bits, no coder) of each text's first tokens under each window "
        "policy, llama engine (SmolLM2-135M Q4_1), one llama.cpp context with one stream per "
        "policy (the same tokens, the same run). *model*: the model alone; *ensemble*: the "
        "codec's default predictors on top (float mode). Cost: against re-prefill keep n_ctx/2 "
        "(formats 1-5). Slides: times the stream's context was full.",
        "",
        "| text | tokens | n_ctx | policy | slides | model bits/token | ensemble bits/token "
        "| model cost | ensemble cost |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for name in args.file or list(FILES):
        path = local_path(FILES[name])
        if path is None:
            raise SystemExit(f"bench_window: cannot find {name}")
        tokens = vocab.tokenize(path.read_bytes()[: args.tokens * 8])[: args.tokens]
        for n_ctx in args.n_ctx or [512, 2048]:
            start = time.perf_counter()
            rows = measure(tokens, n_ctx)
            base = rows[0]
            print(f"{name} n_ctx {n_ctx}: {time.perf_counter() - start:.0f} s", flush=True)
            for r in rows:
                n = len(tokens)
                lines.append(
                    f"| {name} | {n:,} | {n_ctx} | {r['policy']} | {r['slides']} | "
                    f"{r['model'] / n:.4f} | {r['ensemble'] / n:.4f} | "
                    f"{r['model'] / base['model'] - 1:+.2%} | "
                    f"{r['ensemble'] / base['ensemble'] - 1:+.2%} |"
                )
                print(lines[-1], flush=True)
    vocab.close()
    lines += ["", f"Load while running: `{os.getloadavg()[0]:.1f}` (1-minute average at the end)."]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        update_section(
            "window-policy", text, " ".join(["python scripts/bench_window.py", *sys.argv[1:]])
        )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    sys.exit(main())
