"""Baseline codec parameters of container format version 2 (frozen, append-only format data).

A version-2 member header names each codec's parameters as a reference to an entry of
`BASELINES`: parameters equal to a baseline cost the one-byte reference, and other parameters
are stored as a small diff against a baseline of the same codec (or in full). So the settings
of a default archive, fingerprints included, cost a byte per codec.

An archive names a baseline by its index, so an entry may never change or move once released
(`tests/formats/test_baselines.py` pins the hash of every entry). When a codec's default
parameters change, APPEND their new value as one entry at the end of `BASELINES`::

    ("llm", {...the new `LLMCodec().params()`...}),

`tests/formats/test_baselines.py` fails while any codec's current default parameters match no
baseline, so a change of defaults cannot silently make small archives larger. The writer picks
the first exact match, else the smallest diff.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

__all__ = ["BASELINES", "baselines_of", "thaw"]

_SMOLLM2_PREDICTORS = {
    "bias_lr": 0.5,
    "cache_size": 8192,
    "cache_theta": 35.0,
    "column": True,
    "match": True,
    "mixer_lr": 0.5,
    "ngram_discount": 0.75,
    "ngram_order": 4,
}

_ENTRIES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("stored", {}),
    ("zstd", {"level": 19}),
    ("xz", {}),
    ("logs", {"effort": "fast"}),
    (
        "fib",
        {
            "esc1_num": 4,
            "esc_den": 2,
            "esc_num": 3,
            "min_phrase": 13,
            "o0_step": 16,
            "phrase_bias": 8.0,
        },
    ),
    (
        "llm",
        {
            "crlf": True,
            "engine": "portable",
            "head_min": 6.103515625e-05,
            "keep": 1024,
            "model": "smollm2-135m",
            "n_ctx": 2048,
            "predictors": _SMOLLM2_PREDICTORS,
            "probe": "75323e5bfb962ca6797f206affddc4df",
            "reflow": True,
            "sha256": "7b46609d11703c058397e5cfe4cc6e4b",
            "tokenizer": "e8ec5f5bb9d770baf4582879cecd0d5b",
            "version": 5,
        },
    ),
    (
        "llm",
        {
            "version": 6,
            "engine": "portable",
            "model": "smollm2-135m",
            "sha256": "7b46609d11703c058397e5cfe4cc6e4b",
            "tokenizer": "e8ec5f5bb9d770baf4582879cecd0d5b",
            "n_ctx": 2048,
            "window": {"sink": 4, "drop": 512},
            "crlf": True,
            "reflow": True,
            "head_min": 6.103515625e-05,
            "predictors": {
                "bias_lr": 0.5,
                "ngram_order": 4,
                "ngram_discount": 0.75,
                "match": True,
                "mixer_lr": 0.5,
                "column": True,
                "cache_size": 8192,
                "cache_theta": 35.0,
            },
            "probe": "75323e5bfb962ca6797f206affddc4df",
        },
    ),
    (
        "llm",
        {
            "version": 7,
            "engine": "portable",
            "revision": 2,
            "model": "smollm2-135m",
            "sha256": "7b46609d11703c058397e5cfe4cc6e4b",
            "tokenizer": "e8ec5f5bb9d770baf4582879cecd0d5b",
            "n_ctx": 2048,
            "window": {"sink": 4, "drop": 512},
            "crlf": True,
            "reflow": True,
            "head_min": 6.103515625e-05,
            "predictors": {
                "bias_lr": 0.5,
                "ngram_order": 4,
                "ngram_discount": 0.75,
                "match": True,
                "mixer_lr": 0.5,
                "column": True,
                "cache_size": 8192,
                "cache_theta": 35.0,
            },
            "probe": "5268318cf18f0eb972f7722bf0267414",
        },
    ),
    (
        "llm",
        {
            "version": 7,
            "engine": "portable",
            "revision": 2,
            "model": "gemma3-270m",
            "sha256": "a5fd3b62230aa5ec60212297dc9d20ea",
            "tokenizer": "a6a0ca7356995bf3cbbac5c589d9ddd1",
            "n_ctx": 8192,
            "window": {"sink": 4, "drop": 2048},
            "crlf": True,
            "reflow": True,
            "head_min": 6.103515625e-05,
            "predictors": {
                "bias_lr": 0.5,
                "ngram_order": 4,
                "ngram_discount": 0.75,
                "match": True,
                "mixer_lr": 0.5,
                "column": True,
                "cache_size": 8192,
                "cache_theta": 35.0,
            },
            "probe": "c7348ffec1ad156122787bbca7befb90",
        },
    ),
    ("ppmd", {"max_mem": 268435456}),
    (
        "llm",
        {
            "version": 7,
            "engine": "portable",
            "revision": 3,
            "model": "smollm2-135m",
            "sha256": "7b46609d11703c058397e5cfe4cc6e4b",
            "tokenizer": "e8ec5f5bb9d770baf4582879cecd0d5b",
            "n_ctx": 2048,
            "window": {"sink": 4, "drop": 512},
            "crlf": True,
            "reflow": True,
            "head_min": 6.103515625e-05,
            "predictors": {
                "bias_lr": 0.5,
                "ngram_order": 4,
                "ngram_discount": 0.75,
                "match": True,
                "mixer_lr": 0.5,
                "column": True,
                "cache_size": 8192,
                "cache_theta": 35.0,
            },
            "probe": "0b9bef52772fa175a66e14f6c2870f58",
        },
    ),
    (
        "llm",
        {
            "version": 7,
            "engine": "portable",
            "revision": 3,
            "model": "gemma3-270m",
            "sha256": "a5fd3b62230aa5ec60212297dc9d20ea",
            "tokenizer": "a6a0ca7356995bf3cbbac5c589d9ddd1",
            "n_ctx": 8192,
            "window": {"sink": 4, "drop": 2048},
            "crlf": True,
            "reflow": True,
            "head_min": 6.103515625e-05,
            "predictors": {
                "bias_lr": 0.5,
                "ngram_order": 4,
                "ngram_discount": 0.75,
                "match": True,
                "mixer_lr": 0.5,
                "column": True,
                "cache_size": 8192,
                "cache_theta": 35.0,
            },
            "probe": "83e44086365eefce443155e64983b685",
        },
    ),
    # append new baselines here, one entry each; never edit or reorder the entries above
)


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    return value


#: index -> (codec id, parameters); read-only
BASELINES: tuple[tuple[str, Mapping[str, Any]], ...] = tuple(
    (codec_id, _frozen(params)) for codec_id, params in _ENTRIES
)


def baselines_of(codec_id: str) -> list[int]:
    """Indices of the baselines of `codec_id`, oldest first."""
    return [i for i, (cid, _params) in enumerate(BASELINES) if cid == codec_id]


def thaw(params: Mapping[str, Any]) -> dict[str, Any]:
    """A plain (mutable, JSON-serialisable) copy of baseline parameters."""
    return {k: thaw(v) if isinstance(v, Mapping) else v for k, v in params.items()}
