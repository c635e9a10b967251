"""Run by test_portability in a subprocess: hashes of the engine's results under this process's
numpy dispatch and OpenBLAS settings, printed as one JSON line (with what those settings were).

Usage: python portability_probe.py MODEL.gguf
"""

from __future__ import annotations

import ctypes
import glob
import hashlib
import json
import os
import sys

import numpy as np

#: BOS and the first tokens of alice29.txt (SmolLM2's tokenizer)
TOKENS = [1, 2738, 16980, 1047, 9206, 15799, 23, 67, 5236, 48932, 42606, 5622, 408, 2154, 29738]
TOKENS += [60, 12386, 7209, 15111, 11968, 29872, 7209, 13596, 6462, 372, 19708, 2680, 32819]
TOKENS += [8292, 426, 6565, 9088]
STEPS = [8292, 15494, 35031, 216]


def _openblas() -> dict[str, object]:
    """Core name and thread count of numpy's bundled OpenBLAS (empty if not found)."""
    folder = os.path.join(os.path.dirname(np.__file__) + ".libs", "libscipy_openblas*.so")
    for path in glob.glob(folder):
        lib = ctypes.CDLL(path)
        lib.scipy_openblas_get_corename64_.restype = ctypes.c_char_p
        return {
            "core": lib.scipy_openblas_get_corename64_().decode(),
            "threads": int(lib.scipy_openblas_get_num_threads64_()),
        }
    return {}


def _revision_hash(pm2: object) -> str:
    """Hash of a revision 2 or 3 model's results: a prefill of many rows (float64 GEMMs), one
    of few (the float32 blocks), an append, a window shift (sink tokens kept) and steps."""
    h2 = hashlib.sha256()
    h2.update(pm2.prefill(0, TOKENS, all_logits=True).tobytes())  # type: ignore[attr-defined]
    h2.update(pm2.prefill(0, TOKENS[:20], all_logits=True).tobytes())  # type: ignore[attr-defined]
    h2.update(pm2.append(0, TOKENS[20:], all_logits=True).tobytes())  # type: ignore[attr-defined]
    pm2.shift(0, 4, 9)  # type: ignore[attr-defined]
    steps = [pm2.step([0], [t], [pm2.length(0)])[0] for t in STEPS]  # type: ignore[attr-defined]
    h2.update(np.array(steps).tobytes())
    h2.update(pm2.hidden_states().tobytes())  # type: ignore[attr-defined]
    return h2.hexdigest()


def main(model: str) -> None:
    """Print the hashes for `model` as JSON."""
    from numpy._core._multiarray_umath import __cpu_features__

    from nacrith.models.portable import PortableModel, exact, kernels

    pm = PortableModel(model, n_ctx=64)
    logits = pm.prefill(0, TOKENS, all_logits=True)
    stepped = [pm.step([0], [t], [len(TOKENS) + i])[0] for i, t in enumerate(STEPS)]
    grid = np.linspace(-50.0, 50.0, 10_007)
    h = hashlib.sha256()
    h.update(logits.tobytes())
    h.update(np.array(stepped).tobytes())
    h.update(pm.probabilities(logits).tobytes())
    funcs = hashlib.sha256()
    for f in (exact.exp, exact.sin, exact.cos, exact.silu):
        funcs.update(f(grid).tobytes())
    funcs.update(exact.log(np.abs(grid)).tobytes())
    revision2 = _revision_hash(PortableModel(model, n_ctx=64, revision=2))
    revision3 = _revision_hash(PortableModel(model, n_ctx=64, revision=3))
    threaded = PortableModel(model, n_ctx=64, revision=2)
    threaded.threads = 2
    rng = np.random.default_rng(1)
    control = hashlib.sha256()  # float BLAS and numpy's exp: these may change with the settings
    control.update((rng.normal(size=(64, 576)) @ rng.normal(size=(576, 512))).tobytes())
    blas_control = control.hexdigest()
    features = {k: bool(v) for k, v in __cpu_features__.items() if k.startswith(("X86", "AVX512_"))}
    print(
        json.dumps(
            {
                "logits": h.hexdigest(),
                "revision2": revision2,
                "revision2_threads": _revision_hash(threaded),
                "revision3": revision3,
                "functions": funcs.hexdigest(),
                "float_blas": blas_control,
                "features": features,
                "openblas": _openblas(),
                "kernels": kernels.available(),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
