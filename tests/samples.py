"""Generated inputs shared by several test files."""

from __future__ import annotations

import random

import numpy as np


def synthetic_log(n: int = 400, seed: int = 7) -> bytes:
    """A log with every variable kind: times, padded numbers, hex, IPs, text, CRLF."""
    rnd = random.Random(seed)
    t = 1_445_191_307
    users = ["root", "admin", "webmaster", "test", "oracle"]
    lines = []
    for i in range(n):
        t += rnd.randrange(0, 5)
        stamp = f"2015-10-18 {t // 3600 % 24:02d}:{t // 60 % 60:02d}:{t % 60:02d},{i:03d}"
        kind = rnd.randrange(5)
        if kind == 0:
            msg = f"Failed password for {rnd.choice(users)} from 10.0.{rnd.randrange(256)}.{i % 7}"
        elif kind == 1:
            msg = f"block blk_{rnd.randrange(-(2**62), 2**62)} size {rnd.randrange(1 << 26)}"
        elif kind == 2:
            msg = f"ptr 0x{rnd.randrange(1 << 40):010x} id {rnd.randrange(1000):05d}"
        elif kind == 3:
            msg = f"took {rnd.random() * 10:.3f} s, ratio {rnd.randrange(100)}%"
        else:
            msg = f"    at org.example.Worker.run(Worker.java:{rnd.randrange(900)})"
        end = "\r\n" if i % 50 == 0 else "\n"
        lines.append(f"{stamp} INFO [pool-{i % 3}] {msg}  {end}")
    return "".join(lines).encode()


def llm_like_rows(n: int, v: int, seed: int) -> tuple[list[np.ndarray], list[int]]:
    """`n` peaked distributions over `v` symbols, like a language model's, and a symbol drawn
    from each."""
    rng = np.random.default_rng(seed)
    rows, syms = [], []
    for _ in range(n):
        logits = rng.standard_normal(v) * 2.5
        logits[rng.integers(v, size=3)] += rng.uniform(5, 15, size=3)
        p = np.exp(logits - logits.max())
        p /= p.sum()
        rows.append(p)
        syms.append(int(rng.choice(v, p=p)))
    return rows, syms
