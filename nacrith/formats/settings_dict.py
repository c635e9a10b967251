"""Preset DEFLATE dictionaries for the archive header's settings JSON (frozen format data).

A member's settings are a few hundred bytes of JSON, mostly the same keys and default values in
every archive, and zlib alone leaves about 300 bytes of them in an `llm` archive: more than half
of what a 4 KB text compresses to. Deflated against a dictionary that already holds the typical
settings strings, they shrink to a few dozen bytes, with every value still stored in full (an
archive never depends on what this code's defaults are).

The dictionaries are part of the file format: an archive names its dictionary by id, so a
dictionary's bytes may never change once released (a test pins their hashes). A better
dictionary gets a new id; readers keep every old one.
"""

from __future__ import annotations

__all__ = ["PRESET_DICTIONARIES"]

_LLM_PREDICTORS = (
    '"predictors":{"bias_lr":0.5,"cache_size":8192,"cache_theta":35.0,"column":true,'
    '"match":true,"mixer_lr":0.5,"ngram_discount":0.75,"ngram_order":4}'
)


def _llm(model: str, n_ctx: int, keep: int, fingerprints: str, tail: str) -> str:
    return (
        '{"codecs":{"llm":{"crlf":true,"head_min":6.103515625e-05,"keep":' + str(keep) + ","
        '"llama_cpp":"0.3.36","model":"'
        + model
        + '","n_ctx":'
        + str(n_ctx)
        + ","
        + _LLM_PREDICTORS
        + ","
        + fingerprints
        + tail
        + '},"zstd":{"level":19}}}'
    )


_GEMMA = (
    '"probe":"dc065a8931158155461e8af923e6c7be",'
    '"sha256":"a5fd3b62230aa5ec60212297dc9d20ea",'
    '"tokenizer":"a6a0ca7356995bf3cbbac5c589d9ddd1"'
)
_SMOLLM = (
    '"probe":"77e2f1bdfcccf24d0ab0e5eee6e48065",'
    '"sha256":"7b46609d11703c058397e5cfe4cc6e4b",'
    '"tokenizer":"e8ec5f5bb9d770baf4582879cecd0d5b"'
)
_OTHER_CODECS = [
    '{"codecs":{"logs":{"effort":"max"},"zstd":{"level":19}}}',
    '{"codecs":{"logs":{"effort":"fast"},"zstd":{"level":19}}}',
    '{"codecs":{"fib":{"esc1_num":4,"esc_den":2,"esc_num":3,"min_phrase":13,'
    '"o0_step":16,"phrase_bias":8.0},"zstd":{"level":19}}}',
]

# Less common strings first: DEFLATE codes nearer matches with fewer bits.
_DICTIONARY_1 = "".join(
    [
        *_OTHER_CODECS,
        _llm("gemma3-270m", 8192, 4096, _GEMMA, ',"version":3'),
        _llm("smollm2-135m", 2048, 1024, _SMOLLM, ',"version":3'),
    ]
).encode("ascii")

# 2: llm format 4, whose settings add "reflow" between "probe" and "sha256"
_DICTIONARY_2 = "".join(
    [
        *_OTHER_CODECS,
        _llm("gemma3-270m", 8192, 4096, _GEMMA.replace(",", ',"reflow":true,', 1), ',"version":4'),
        _llm(
            "smollm2-135m", 2048, 1024, _SMOLLM.replace(",", ',"reflow":true,', 1), ',"version":4'
        ),
    ]
).encode("ascii")

# 3: llm format 5 (the portable engine: an "engine" field, no "llama_cpp", and a probe that is
# the same on every machine); only that entry, so that archives the older dictionaries serve
# (llama-engine and model-free ones) never compress smaller with it and keep their bytes
_SMOLLM_PORTABLE = (
    '"probe":"75323e5bfb962ca6797f206affddc4df","reflow":true,'
    '"sha256":"7b46609d11703c058397e5cfe4cc6e4b",'
    '"tokenizer":"e8ec5f5bb9d770baf4582879cecd0d5b"'
)
_DICTIONARY_3 = (
    '{"codecs":{"llm":{"crlf":true,"engine":"portable","head_min":6.103515625e-05,"keep":1024,'
    '"model":"smollm2-135m","n_ctx":2048,'
    + _LLM_PREDICTORS
    + ","
    + _SMOLLM_PORTABLE
    + ',"version":5},"zstd":{"level":19}}}'
).encode("ascii")

#: dictionary id (the settings field's first byte) -> dictionary bytes; writers try each
PRESET_DICTIONARIES: dict[int, bytes] = {1: _DICTIONARY_1, 2: _DICTIONARY_2, 3: _DICTIONARY_3}
