"""The portable encoder's widened matrices: memory for speed, never a different payload."""

from __future__ import annotations

from pathlib import Path

import pytest

from nacrith.codecs.llm_params import WIDEN_PARTS
from nacrith.models.portable import widening
from tests.llm_fixtures import SMALL_CTX, corpus_text


def test_the_codec_knows_every_part() -> None:
    assert widening.PARTS == WIDEN_PARTS


def test_auto_widens_only_with_tokens_ahead_and_memory_to_spare() -> None:
    enough = widening.AUTO_MIN_AVAILABLE
    assert widening.auto_part(widening.AUTO_MIN_TOKENS, enough) == "layers"
    assert widening.auto_part(widening.AUTO_MIN_TOKENS - 1, enough) == "none"
    assert widening.auto_part(10**6, enough - 1) == "none"
    assert widening.auto_part(10**6, None) == "none"


def test_available_memory_reads_memavailable(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24576000 kB\nMemAvailable:   8000000 kB\n")
    assert widening.available_memory(meminfo) == 8000000 * 1024
    meminfo.write_text("MemTotal:       24576000 kB\n")
    assert widening.available_memory(meminfo) is None
    assert widening.available_memory(tmp_path / "missing") is None


def test_a_bad_part_is_refused() -> None:
    from nacrith.codecs.llm import LLMCodec

    with pytest.raises(ValueError, match="widen must be one of"):
        LLMCodec(engine="portable", widen="most")


def _widened(codec) -> int:
    weights = codec._get_backend().model.weights
    return sum(
        getattr(m, "values_t", None) is not None
        for lw in weights.layers
        for m in (lw.qkv, lw.out, lw.gate_up, lw.down)
    )


@pytest.mark.llm
def test_widened_layers_give_the_same_payload(monkeypatch) -> None:
    from nacrith.codecs.llm import LLMCodec
    from nacrith.codecs.registry import codec_class

    data = corpus_text()[2000:3200]  # crosses window slides at SMALL_CTX
    plain = LLMCodec(n_ctx=SMALL_CTX, engine="portable", widen="none")
    plain._get_backend().widen("none")  # the weights are shared in this process
    assert _widened(plain) == 0
    want = plain.encode(data)
    assert _widened(plain) == 0
    params = plain.params()
    plain.close()

    # the automatic choice, with the thresholds this short text and any machine meet
    monkeypatch.setattr(widening, "AUTO_MIN_TOKENS", 16)
    monkeypatch.setattr(widening, "available_memory", lambda: widening.AUTO_MIN_AVAILABLE)
    wide = LLMCodec(n_ctx=SMALL_CTX, engine="portable")
    try:
        assert wide.encode(data) == want
        assert _widened(wide) == 4 * len(wide._get_backend().model.weights.layers)
    finally:
        wide._get_backend().widen("none")
        wide.close()
    decoder = codec_class("llm").from_params(params)
    try:
        assert decoder.decode(want, len(data)) == data
    finally:
        decoder.close()
