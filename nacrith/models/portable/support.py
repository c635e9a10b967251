"""Which GGUF files the portable engine runs: read from the file's header alone (fast).

The header (`models.gguf_meta`, arrays left undecoded) gives the architecture and every
tensor's type without loading weights, so a codec can pick its engine before any model is loaded.
"""

from __future__ import annotations

import os

from nacrith.models.gguf_meta import read_gguf

__all__ = ["SUPPORTED_TYPES", "gguf_summary", "unsupported_reason"]

#: GGML tensor types `weights.dequantize` reads, by GGML type id
SUPPORTED_TYPES = {0: "F32", 1: "F16", 3: "Q4_1", 8: "Q8_0"}
#: GGML tensor types the Gemma graph reads (`kquants`), by GGML type id
GEMMA_TYPES = {**SUPPORTED_TYPES, 6: "Q5_0", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K"}
_ARCHITECTURES = ("llama", "gemma3")


def gguf_summary(path: str | os.PathLike[str]) -> tuple[str, set[int]]:
    """(architecture, set of GGML tensor type ids) of the GGUF file at `path`."""
    header = read_gguf(path, what=f"the GGUF header of {path}")
    arch = header.fields.get("general.architecture")
    return (arch if isinstance(arch, str) else ""), {t.type_id for t in header.tensors}


def unsupported_reason(path: str | os.PathLike[str]) -> str | None:
    """Why the portable engine cannot run the model at `path`, or None when it can."""
    arch, types = gguf_summary(path)
    if arch not in _ARCHITECTURES:
        return f"the portable engine runs {', '.join(_ARCHITECTURES)} models, not {arch or '?'}"
    known = GEMMA_TYPES if arch == "gemma3" else SUPPORTED_TYPES
    other = sorted(types - set(known))
    if other:
        return f"the portable engine cannot read tensors of GGML types {other}"
    return None
