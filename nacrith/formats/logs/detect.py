"""Whether an input looks like line-oriented logs (the `auto` method's choice of `logs`)."""

from __future__ import annotations

from nacrith.formats.logs.idents import extract
from nacrith.formats.logs.template import tokenize

__all__ = ["looks_like_logs"]


def looks_like_logs(sample: bytes) -> bool:
    """Whether `sample` (the first few tens of KB of an input) looks like line-oriented logs:
    many short lines, mostly text, whose shapes repeat once numbers and identifiers (see
    `formats.logs.idents`) are taken out."""
    sample = sample[: 1 << 16]
    lines = sample.split(b"\n")[:-1] or [sample]
    if len(lines) < 16:
        return False
    if sum(b < 9 or 13 < b < 32 for b in sample[:4096]) > 4:  # control bytes: binary
        return False
    mean_len = len(sample) / len(lines)
    if not 8 <= mean_len <= 2000:
        return False
    text = b"\n".join(lines)
    found = extract(text)
    tok = tokenize(text if found is None else found[0])
    with_vars = sum(b"\x00" in t or b"\x01" in t or b"\x04" in t for t in tok.templates)
    if with_vars * 2 < len(tok.templates):
        return False
    return len(tok.templates) <= 0.35 * len(lines) or tok.time_format is not None
