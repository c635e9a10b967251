"""Inputs for the cluster tests: word salad text with a binary stretch, made from a seed."""

from __future__ import annotations

import random


def text(size: int, seed: int = 7) -> bytes:
    """`size` bytes of lines of made-up words (what the fib codec codes as text)."""
    rng = random.Random(seed)
    words = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
        for _ in range(3000)
    ]
    parts: list[str] = []
    total = 0
    while total < size:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(4, 14))) + "\n"
        parts.append(line)
        total += len(line)
    return "".join(parts).encode()[:size]


def mixed(size: int, seed: int = 7) -> bytes:
    """Text with a random binary stretch in the middle (text and binary chunks)."""
    rng = random.Random(seed)
    half = size // 2
    return text(half, seed) + rng.randbytes(size // 8) + text(size - half - size // 8, seed + 1)
