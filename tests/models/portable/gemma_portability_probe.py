"""Run by test_gemma_portability in a subprocess: hashes of the Gemma graph's results under this
process's numpy dispatch and OpenBLAS settings, printed as one JSON line.

Usage: python gemma_portability_probe.py MODEL.gguf
"""

from __future__ import annotations

import hashlib
import json
import sys

import numpy as np

#: BOS and tokens of alice29.txt's title line (Gemma 3's tokenizer)
TOKENS = [2, 152, 1565, 10067, 236789, 236773, 7747, 43380, 55958, 3247, 649, 206911]
STEPS = [107, 107, 3408]


def main(model: str) -> None:
    """Print the hashes for `model` as JSON."""
    from numpy._core._multiarray_umath import __cpu_features__

    from nacrith.models.portable import kernels
    from nacrith.models.portable.gemma import GemmaModel, gelu_tanh
    from nacrith.models.portable.gemma_cache import cached_gemma_weights

    out = {}
    for revision in (1, 2, 3):
        m = GemmaModel(n_ctx=32, weights=cached_gemma_weights(model, revision), revision=revision)
        h = hashlib.sha256()
        logits = m.prefill(0, TOKENS[:8], all_logits=True)
        h.update(logits.tobytes())
        h.update(m.probabilities(logits[-1:]).tobytes())
        h.update(m.append(0, TOKENS[8:], all_logits=True).tobytes())
        m.shift(0, 1, 3)
        for t in STEPS:
            h.update(m.step([0], [t], [m.length(0)]).tobytes())
        h.update(m.hidden_states().tobytes())
        out[f"revision{revision}"] = h.hexdigest()
    grid = np.linspace(-30.0, 30.0, 10_007)
    out["gelu"] = hashlib.sha256(gelu_tanh(grid).tobytes()).hexdigest()
    out["features"] = {
        k: bool(v) for k, v in __cpu_features__.items() if k.startswith(("X86", "AVX512_"))
    }
    out["kernels"] = kernels.available()
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
