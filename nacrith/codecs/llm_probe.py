"""The `llm` codec's probe: a hash of the engine's logits on a fixed text and of the
predictors' and the coder's math on them.

With the llama engine it fingerprints this machine's numbers (an archive decodes only where
they match); with the portable engine it is a self-test, the same hash on every machine, so it
is computed once per process for each configuration.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import numpy as np

from nacrith.codecs.llm_params import cached_sha256
from nacrith.coders.quantize import quantize
from nacrith.coders.range_coder import HEAD_MIN, RangeEncoder

if TYPE_CHECKING:
    from nacrith.codecs.llm import LLMCodec

__all__ = ["PROBE_TEXT", "probe_of"]

PROBE_TEXT = b"The quick brown fox jumps over the lazy dog.\n  Alice said: `42 -- 3.14?'"

#: the probe hash of each portable configuration, computed once per process
_portable_probes: dict[tuple[Any, ...], str] = {}


def probe_of(codec: LLMCodec) -> str:
    """The probe hash of `codec` (the portable engine's from this process's cache)."""
    if codec.engine == "llama":
        return _compute(codec)
    key = (
        cached_sha256(codec.model_path),
        codec.revision,
        codec.n_ctx,
        codec.window,
        codec.skip,
        tuple(sorted(codec.settings.to_dict().items())),
    )
    if key not in _portable_probes:
        _portable_probes[key] = _compute(codec)
    return _portable_probes[key]


def _compute(codec: LLMCodec) -> str:
    be = codec._get_backend()
    h = hashlib.sha256()
    toks = be.pure_tokenize(PROBE_TEXT) if codec.exact else be.tokenize(PROBE_TEXT)
    # a batched prefill, as at every slide of the window
    h.update(be.prefill(0, [be.bos, *toks.tolist()]).tobytes())
    exact = codec.exact
    ens = codec._ensemble(be, 1)
    enc = RangeEncoder()
    seen: list[int] = []

    def code(stream: int, probs: np.ndarray) -> int:
        tok = int(toks[len(seen)])
        seen.append(tok)
        enc.encode_probs(tok, probs, exact=exact)
        h.update(probs.tobytes())
        h.update(quantize(probs[probs >= HEAD_MIN], exact=exact).tobytes())
        return tok

    codec._loop(be, ens, [len(toks)], code, weights=[0.0])  # weights 0: no progress
    h.update(enc.finish())
    return h.hexdigest()
