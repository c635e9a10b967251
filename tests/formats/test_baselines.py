"""The baselines of container format version 2: frozen, and current for every codec's defaults."""

from __future__ import annotations

import hashlib

import pytest

from nacrith.codecs.registry import BUILT_IN
from nacrith.formats.baselines import BASELINES, baselines_of, thaw
from nacrith.formats.container.common import encode_settings

#: BLAKE2b-128 of (codec id, canonical parameters) of each released baseline, by index; an
#: archive names a baseline by index, so these may never change (append new ones)
RELEASED = (
    "stored: 28ac297f861d80913ad3e703a60efa03",
    "zstd: 55e3204a74266cd6da30566d84a0c6d3",
    "xz: 0ea878048aa71923ccc9c76ec75f2fbf",
    "logs: 8921663cacba337f9e863a9a449592f6",
    "fib: 91eeae65a3be0a7ed71bcaa37c492374",
    "llm: dc6f079c8768ac1860326ef1ad695f61",
    "llm: a1ec3a54bf71ebadff541b569c616c93",
    "llm: 542fb3258e5a2a2cda525af21d0d9794",
    "llm: f5463a74012bd9f26964f3b3a9d5074b",
    "ppmd: ece3f1be22b65d04d414507cba96ab01",
    "llm: fb92ae53dd669c404fd6d485b8bfaaf6",
    "llm: 9e042f346f40e228a37fb3c956c40d8c",
)


def _digest(index: int) -> str:
    codec_id, params = BASELINES[index]
    data = encode_settings([codec_id, thaw(params)])
    return f"{codec_id}: {hashlib.blake2b(data, digest_size=16).hexdigest()}"


def test_released_baselines_never_change() -> None:
    assert len(BASELINES) >= len(RELEASED)
    assert tuple(_digest(i) for i in range(len(RELEASED))) == RELEASED


def test_baselines_are_read_only() -> None:
    with pytest.raises(TypeError, match="does not support item assignment"):
        BASELINES[0][1]["x"] = 1  # type: ignore[index]


def _check_default(codec_id: str, params: dict) -> None:
    canon = encode_settings(params)
    matches = [b for b in baselines_of(codec_id) if encode_settings(thaw(BASELINES[b][1])) == canon]
    assert matches, (
        f"the default parameters of codec {codec_id!r} match no baseline, so every default "
        f"archive now stores them as a diff; append to BASELINES in "
        f"nacrith/formats/baselines.py: ({codec_id!r}, {params!r}),"
    )


@pytest.mark.parametrize(
    "cls", [c for c in BUILT_IN if c.codec_id != "llm"], ids=lambda c: c.codec_id
)
def test_default_params_have_a_baseline(cls) -> None:
    _check_default(cls.codec_id, cls().params())


@pytest.mark.llm
@pytest.mark.parametrize("model", [None, "gemma3-270m"])
def test_default_llm_params_have_a_baseline(model: str | None) -> None:
    from nacrith.codecs.llm import LLMCodec

    codec = LLMCodec(model)
    try:
        _check_default("llm", codec.params())
    finally:
        codec.close()
