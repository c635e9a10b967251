"""The llama engine's thread count is machine-local: it changes neither payloads nor decodes."""

from __future__ import annotations

import pytest

from nacrith.codecs.llm_params import choose_threads
from nacrith.codecs.registry import codec_class
from tests.llm_fixtures import SMALL_CTX, corpus_text

pytestmark = pytest.mark.llm


def test_any_thread_count_codes_and_decodes_the_same_bytes() -> None:
    pytest.importorskip("llama_cpp")
    from nacrith.codecs.llm import LLMCodec

    data = corpus_text()[3000:4000]  # crosses window slides at SMALL_CTX
    payloads, params = {}, {}
    for n in (1, 2):
        codec = LLMCodec(n_ctx=SMALL_CTX, engine="llama", n_threads=n)
        assert codec.threads == n
        params[n] = codec.params()
        payloads[n] = codec.encode(data)
        codec.close()
    assert payloads[1] == payloads[2]
    assert params[1] == params[2]  # the probe too
    decoder = codec_class("llm").from_params(params[1], n_threads=3)  # the probe accepts
    try:
        assert decoder.threads == 3
        assert decoder.decode(payloads[1], len(data)) == data
    finally:
        decoder.close()


def test_runtime_carries_the_thread_settings(monkeypatch) -> None:
    monkeypatch.delenv("NACRITH_THREADS", raising=False)
    from nacrith.codecs.llm import LLMCodec

    codec = LLMCodec(engine="llama", processes=2)
    runtime = codec.runtime()
    assert runtime["n_threads"] is None and runtime["processes"] == 2
    assert codec.threads == choose_threads(None, 2, "llama")
    with pytest.raises(ValueError, match="processes must be a positive integer"):
        LLMCodec(engine="llama", processes=0)


def test_the_portable_engine_splits_its_products_over_the_codec_threads() -> None:
    from nacrith.codecs.llm import LLMCodec

    data = corpus_text()[3000:3200]
    payloads = {}
    for n in (1, 2):
        codec = LLMCodec(n_ctx=SMALL_CTX, engine="portable", n_threads=n)
        payloads[n] = codec.encode(data)
        assert codec._get_backend().model.threads == n
        params = codec.params()
        codec.close()
    assert payloads[1] == payloads[2]
    decoder = codec_class("llm").from_params(params, n_threads=2)
    try:
        assert decoder.decode(payloads[1], len(data)) == data
    finally:
        decoder.close()
