"""The `llm` codec through the real model: round trips, lockstep, probe, on both engines.

`llm_codec` is the default (portable) engine; the tests of the codec's mechanics that code
longer texts run on the faster llama engine (`llama_codec`), and the portable engine's own
tests keep to a few hundred bytes (it steps about 3x slower)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from nacrith.codecs.registry import codec_class
from nacrith.errors import (
    CorruptDataError,
    FormatError,
    ModelMismatchError,
    NacrithError,
    TruncatedError,
)
from nacrith.formats.container import iter_members
from nacrith.models.llm import registry
from tests.llm_fixtures import (  # noqa: F401  (fixtures)
    SMALL_CTX,
    SMALL_KEEP,
    corpus_text,
    llm_codec_fixture,
    llm_params_fixture,
)
from tests.paths import GOLDEN

pytestmark = pytest.mark.llm


@pytest.fixture(scope="module")
def llama_codec():
    """The llama.cpp engine with `llm_codec`'s small window, re-prefilled (format 4)."""
    from nacrith.codecs.llm import LLMCodec

    codec = LLMCodec(n_ctx=SMALL_CTX, keep=SMALL_KEEP, sink=0, max_streams=4, engine="llama")
    yield codec
    codec.close()


@pytest.fixture(scope="module")
def llama_params(llama_codec):
    """The params of `llama_codec`."""
    return llama_codec.params()


def short_texts() -> list[bytes]:
    """A few hundred bytes in all, with the same cases as `texts`."""
    alice = corpus_text()
    return [
        alice[3000:3280],  # CRLF prose, crosses window slides at n_ctx=64
        alice[:60] + b"\x04\x06 odd \xff\xfe bytes \xc3( " + "é€\U00050000".encode(),
        b"",
        b"x",
        b"plain LF text\nwith two lines\n",
    ]


def texts() -> list[bytes]:
    alice = corpus_text()
    return [
        alice[3000:3700],  # CRLF prose, crosses several window slides at n_ctx=64
        alice[:300] + b"\x04\x06 odd \xff\xfe bytes \xc3( " + "é€\U00050000".encode(),
        b"",
        b"x",
        b"plain LF text\nwith two lines\n",
    ]


def test_registry_resolves_llm() -> None:
    cls = codec_class("llm")
    assert cls.codec_id == "llm"


def test_round_trips_single(llm_codec) -> None:
    assert llm_codec.engine == "portable"  # the default
    for data in short_texts():
        payload = llm_codec.encode(data)
        assert llm_codec.decode(payload, len(data)) == data


def test_llama_engine_round_trips(llama_codec) -> None:
    for data in texts():
        payload = llama_codec.encode(data)
        assert llama_codec.decode(payload, len(data)) == data


def test_portable_lockstep_equals_single_and_decodes_in_another_grouping(
    llm_codec, llm_params
) -> None:
    from nacrith.codecs.llm import LLMCodec

    items = short_texts()
    together = llm_codec.encode_many(items)
    assert together == [llm_codec.encode(t) for t in items[:2]] + together[2:]
    decoder = LLMCodec.from_params(llm_params, max_streams=1, overlap=False)
    assert decoder.decode_many([(p, len(t)) for p, t in zip(together, items)]) == items
    decoder.close()


def test_portable_params_and_self_test(llm_codec, llm_params) -> None:
    from nacrith.codecs.llm import LLMCodec

    p = llm_params
    assert p["version"] == 7 and p["revision"] == llm_codec.revision == 3
    assert p["engine"] == "portable" and "llama_cpp" not in p
    again = LLMCodec.from_params(p, gpu=True)  # a GPU is the llama engine's; ignored here
    assert again.engine == "portable" and not again.gpu and again.probe().startswith(p["probe"])
    again.close()
    with pytest.raises(ModelMismatchError, match="self-test failed"):
        LLMCodec.from_params(dict(p, probe="0" * 32))
    with pytest.raises(FormatError, match="unknown engine"):
        LLMCodec.from_params(dict(p, engine="cuda"))
    with pytest.raises(FormatError, match="engine"):
        LLMCodec.from_params({k: v for k, v in p.items() if k != "engine"})
    with pytest.raises(FormatError, match="unknown arithmetic revision 4"):
        LLMCodec.from_params(dict(p, revision=4))
    with pytest.raises(FormatError, match="revision"):
        LLMCodec.from_params({k: v for k, v in p.items() if k != "revision"})
    # decoders check the version first: they reject a later format by its number
    with pytest.raises(FormatError, match="format 8 is not supported"):
        LLMCodec.from_params(dict(p, version=8))


def test_engine_setting() -> None:
    from nacrith.codecs.llm import LLMCodec

    assert LLMCodec().engine == "portable" and LLMCodec().exact
    assert LLMCodec(engine="llama").engine == "llama" and not LLMCodec(engine="llama").exact
    with pytest.raises(ValueError, match="engine must be one of portable, llama"):
        LLMCodec(engine="fast")
    with pytest.raises(ValueError, match="portable engine runs on the CPU"):
        LLMCodec(engine="portable", gpu=True)


def test_hard_wrapped_prose_is_reflowed_and_the_flag_is_honoured(llama_codec, llama_params) -> None:
    from nacrith.codecs.llm import LLMCodec

    llm_codec, llm_params = llama_codec, llama_params  # format 3 params: the llama engine

    data = texts()[0]  # alice29.txt is filled greedily at 65 columns
    _, text = llm_codec._front(data)
    assert text.count(b"\n") == data.count(b"\n") - 10
    payload = llm_codec.encode(data)
    assert llm_codec.decode(payload, len(data)) == data
    plain = LLMCodec.from_params(dict(llm_params, reflow=False))
    assert plain._front(data)[1].count(b"\n") == data.count(b"\n")
    plain_payload = plain.encode(data)
    assert plain.decode(plain_payload, len(data)) == data
    assert len(payload) < len(plain_payload)
    # the flag says whether the side data has the step
    with pytest.raises(CorruptDataError, match=r"^llm (payload|chunk)"):
        plain.decode(payload, len(data))
    plain.close()
    # format 3 had no reflow step: its params have no flag and read with the step off
    v3 = {k: v for k, v in llm_params.items() if k != "reflow"}
    old = LLMCodec.from_params(dict(v3, version=3))
    assert old.reflow is False
    old.close()
    with pytest.raises(FormatError, match="reflow"):
        LLMCodec.from_params(v3)
    with pytest.raises(FormatError, match="reflow"):
        LLMCodec.from_params(dict(llm_params, reflow="yes"))


def test_overlapped_model_calls_code_the_same_bytes(llama_codec, llama_params) -> None:
    from nacrith.codecs.llm import LLMCodec

    llm_codec, llm_params = llama_codec, llama_params

    assert llm_codec.overlap  # the default
    serial = LLMCodec.from_params(llm_params, overlap=False)
    chunks = [texts()[0], texts()[1], texts()[4]]
    payloads = llm_codec.encode_many(chunks)
    assert serial.encode_many(chunks) == payloads
    assert serial.decode_many([(p, len(c)) for p, c in zip(payloads, chunks)]) == chunks
    serial.close()


@pytest.mark.parametrize("engine", ["portable", "llama"])
def test_the_encoder_lookahead_reads_the_known_tokens(llm_codec, llama_codec, engine) -> None:
    from nacrith.models.llm.lockstep import run_streams
    from nacrith.models.online.ensemble import Ensemble

    llm_codec = llm_codec if engine == "portable" else llama_codec

    be = llm_codec._get_backend(2)
    toks = [be.tokenize(b"The cat sat on the mat."), be.tokenize(b"A dog.")]
    lengths = [len(t) for t in toks]

    def ensemble() -> Ensemble:
        return Ensemble(
            llm_codec.settings, 2, be.n_vocab, be.pieces(), be.n_embd, exact=llm_codec.exact
        )

    seen: list[list[float]] = []

    def follow(s: int, probs) -> int:  # the decoder's view: the token is what it is
        t = int(toks[s][sum(1 for x in seen if x[0] == s)])
        seen.append([s, float(probs[t])])
        return t

    out = run_streams(be, ensemble(), lengths, follow, keep=llm_codec.keep)
    plain = list(seen)
    seen.clear()
    ahead = run_streams(be, ensemble(), lengths, follow, keep=llm_codec.keep, known=toks)
    assert out == ahead == [list(t) for t in toks]
    assert seen == plain  # the same distributions, step for step

    def wrong(s: int, probs) -> int:
        return 0 if s == 1 else int(toks[s][0])

    with pytest.raises(ValueError, match="not the known"):
        run_streams(be, ensemble(), lengths, wrong, keep=llm_codec.keep, known=toks)
    with pytest.raises(ValueError, match="lengths"):
        run_streams(be, ensemble(), [1, 1], follow, keep=llm_codec.keep, known=toks)


def test_compresses_prose(llama_codec) -> None:
    data = texts()[0]
    payload = llama_codec.encode(data)
    assert 8 * len(payload) / len(data) < 2.0  # bits per byte, with a 64-token window


def test_lockstep_equals_single_and_any_grouping_decodes(llama_codec, llama_params) -> None:
    llm_codec, llm_params = llama_codec, llama_params
    items = texts()
    together = llm_codec.encode_many(items)
    alone = [llm_codec.encode(t) for t in items]
    assert together == alone
    from nacrith.codecs.llm import LLMCodec

    decoder = LLMCodec.from_params(llm_params, max_streams=2)
    out = decoder.decode_many([(p, len(t)) for p, t in zip(together, items)])
    assert out == items
    decoder.close()


def test_untokenizable_bytes_are_escaped(llm_codec) -> None:
    data = short_texts()[1]
    payload = llm_codec.encode(data)
    assert payload[0] == 0  # neural mode, with escapes in the side data
    assert llm_codec.decode(payload, len(data)) == data
    assert llm_codec.accepts(texts()[0])
    assert not llm_codec.accepts(bytes(range(256)) * 4)


def test_binary_is_still_lossless(llm_codec) -> None:
    data = bytes(range(256)) + os.urandom(64)
    assert llm_codec.decode(llm_codec.encode(data), len(data)) == data


def test_params_and_probe(llama_params) -> None:
    p = llama_params
    assert p["model"] == "smollm2-135m" and len(p["sha256"]) == 32
    assert p["n_ctx"] == SMALL_CTX and p["predictors"]["bias_lr"] == 0.5
    from nacrith.codecs.llm import LLMCodec

    again = LLMCodec.from_params(p)
    assert again.probe().startswith(p["probe"]) and len(p["probe"]) == 32
    # archives of format 1 hold full-length fingerprints and still decode
    assert p["version"] == 4 and p["predictors"]["cache_size"] > 0 and p["reflow"] is True
    assert "engine" not in p  # llama-engine archives are written as before
    sha = registry.file_sha256(again.model_path)
    full = dict(p, sha256=sha, probe=again.probe(), tokenizer=again.tokenizer_hash())
    again.close()
    LLMCodec.from_params(dict(full, version=1)).close()
    with pytest.raises(FormatError, match="fingerprint"):
        LLMCodec.from_params(full)  # formats 2 and 3 hold 128-bit ones
    for short in ("sha256", "probe", "tokenizer"):
        with pytest.raises(FormatError, match="fingerprint"):
            LLMCodec.from_params(dict(p, **{short: p[short][:8]}))


def test_probe_mismatch_is_reported(llama_params) -> None:
    from nacrith.codecs.llm import LLMCodec

    llm_params = llama_params
    bad = dict(llm_params, probe="0" * 32)
    with pytest.raises(ModelMismatchError, match=r"different probabilities.*machine-bound"):
        LLMCodec.from_params(bad)
    bad = dict(llm_params, sha256="f" * 32)
    with pytest.raises(ModelMismatchError, match="sha256"):
        LLMCodec.from_params(bad)


def test_corrupt_payloads_raise_nacrith_errors(llm_codec) -> None:
    data = texts()[0][:120]
    payload = llm_codec.encode(data)
    with pytest.raises(TruncatedError, match="llm payload is empty"):
        llm_codec.decode(b"", len(data))
    with pytest.raises(CorruptDataError, match="unknown llm payload mode 7"):
        llm_codec.decode(b"\x07" + payload[1:], len(data))
    with pytest.raises(NacrithError, match=r"^llm "):
        llm_codec.decode(payload[:5], len(data))
    flipped = bytearray(payload)
    flipped[-3] ^= 0x55
    try:
        out = llm_codec.decode(bytes(flipped), len(data))
    except NacrithError:
        pass
    else:
        assert len(out) == len(data)  # garbage in, but never the wrong size or another error


# formats 1, 2 and 3 (3: with the neural cache), 4 (hard-wrapped text reflowed), all of the
# llama engine; 5: the portable engine; 7: its arithmetic revisions 2 and 3 (r3) (6: tests/
# codecs/test_llm_window.py)
@pytest.mark.parametrize(
    "stem",
    [
        "llm_alice400",
        "llm2_alice400",
        "llm3_alice400",
        "llm4_alice400",
        "llm5_alice400",
        "llm7_alice400",
        "llm7r3_alice400",
    ],
)
def test_golden_payload_keeps_decoding(llm_codec, llm_params, stem: str) -> None:
    """A payload and its header params, written once, must decode forever."""
    from nacrith.codecs.llm import LLMCodec

    data = texts()[0][:400]  # hard-wrapped: format 4 reflows it
    path = GOLDEN / f"{stem}.bin"
    params_path = GOLDEN / f"{stem}.json"
    if os.environ.get("NACRITH_REGEN_GOLDEN") == "1" and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(llm_codec.encode(data))
        params_path.write_text(json.dumps(llm_params, indent=1, sort_keys=True) + "\n")
    if not path.exists():
        pytest.fail(f"{path} is missing; create it with NACRITH_REGEN_GOLDEN=1")
    decoder = LLMCodec.from_params(json.loads(params_path.read_text()))
    assert decoder.decode(path.read_bytes(), len(data)) == data
    decoder.close()


@pytest.mark.parametrize("stem", ["llm7_gemma300", "llm7r3_gemma300"])
def test_golden_gemma_payload_keeps_decoding(stem: str) -> None:
    """A Gemma 3 payload of the portable engine (format 7, revisions 2 and 3), written once,
    must decode forever."""
    from nacrith.codecs.llm import LLMCodec

    data = texts()[0][:300]
    path, params_path = GOLDEN / f"{stem}.bin", GOLDEN / f"{stem}.json"
    if os.environ.get("NACRITH_REGEN_GOLDEN") == "1" and not path.exists():
        codec = LLMCodec("gemma3-270m", n_ctx=64)
        path.write_bytes(codec.encode(data))
        params_path.write_text(json.dumps(codec.params(), indent=1, sort_keys=True) + "\n")
        codec.close()
    if not path.exists():
        pytest.fail(f"{path} is missing; create it with NACRITH_REGEN_GOLDEN=1")
    decoder = LLMCodec.from_params(json.loads(params_path.read_text()))
    assert decoder.params()["model"] == "gemma3-270m"
    assert decoder.decode(path.read_bytes(), len(data)) == data
    decoder.close()


def test_auto_keeps_the_smaller_of_plain_zstd_and_the_model_on_tiny_inputs() -> None:
    import nacrith

    # one byte: the llm codec's header does not pay; a sentence: the model wins already
    for tiny, winner in ((b"x", "zstd"), (b"Hello world, this is a short test.\n", "llm")):
        sizes = {m: len(nacrith.compress(tiny, method=m)) for m in ("zstd", "llm")}
        auto = nacrith.compress(tiny, method="auto")
        assert sizes[winner] == min(sizes.values()), sizes
        # auto's header also names its zstd fallback: one byte in container version 2
        assert len(auto) <= sizes[winner] + (winner == "llm"), (len(auto), sizes)
        used = {r.codec_id for m in iter_members(io.BytesIO(auto)) for r in m.chunks}
        assert ("llm" in used) == (winner == "llm"), used
        assert nacrith.decompress(auto) == tiny


def test_model_given_as_a_path_reaches_worker_processes(tmp_path: Path) -> None:
    import shutil

    import nacrith
    from nacrith.errors import ModelNotFoundError

    # a file of no registered model: the default model's bytes plus trailing padding
    path = tmp_path / "unregistered.gguf"
    shutil.copyfile(registry.model_path(registry.DEFAULT_MODEL), path)
    with path.open("ab") as f:
        f.write(bytes(32))
    data = texts()[0][:600]
    opts = {"llm": {"n_ctx": SMALL_CTX, "engine": "llama"}}  # the plumbing is the engine's peer
    archive = nacrith.compress(
        data, method="llm", model=str(path), workers=2, chunk_size=300, options=opts
    )
    params = [m.codec_params["llm"] for m in iter_members(io.BytesIO(archive))]
    assert [p["model"] for p in params] == ["unregistered.gguf"]
    with pytest.raises(ModelNotFoundError, match="pass its path"):
        nacrith.decompress(archive, workers=1)
    assert nacrith.decompress(archive, workers=2, model=str(path)) == data


def test_worker_count_never_changes_the_archive() -> None:
    import nacrith

    data = texts()[0][:400]
    opts = {"llm": {"n_ctx": SMALL_CTX}}  # the portable engine: the same bits in every worker
    archives = {
        k: nacrith.compress(data, method="llm", workers=k, chunk_size=100, options=opts)
        for k in (1, 2, 4)
    }
    assert archives[1] == archives[2] == archives[4]
    codecs = [r.codec_id for m in iter_members(io.BytesIO(archives[4])) for r in m.chunks]
    assert codecs.count("llm") >= 4
    for k in (1, 2):
        assert nacrith.decompress(archives[4], workers=k) == data


def test_default_context_follows_the_model(monkeypatch) -> None:
    from nacrith.codecs.llm import LLMCodec

    default_path = registry.model_path(registry.DEFAULT_MODEL)
    assert LLMCodec().n_ctx == 2048  # smollm2-135m
    assert LLMCodec(str(default_path)).n_ctx == LLMCodec.DEFAULT_CTX  # unregistered path
    # Gemma's best-ratio window, without fetching Gemma: only the name is resolved here
    monkeypatch.setattr(registry, "resolve_model", lambda model=None, **kw: default_path)
    gemma = LLMCodec("gemma3-270m")
    assert (gemma.n_ctx, gemma.keep) == (8192, 4096)
    assert LLMCodec("gemma3-270m", n_ctx=2048).n_ctx == 2048


def test_revision_one_writes_the_earlier_formats_and_both_revisions_decode(llm_codec) -> None:
    from nacrith.codecs.llm import LLMCodec

    text = short_texts()[0]
    old = LLMCodec(revision=1)
    try:
        params = old.params()
        assert params["version"] == 6 and "revision" not in params
        payload = old.encode(text)
    finally:
        old.close()
    decoder = LLMCodec.from_params(params)
    try:
        assert decoder.revision == 1 and decoder.decode(payload, len(text)) == text
    finally:
        decoder.close()
    with pytest.raises(ValueError, match="revision applies to the portable engine only"):
        LLMCodec(engine="llama", revision=2)
    with pytest.raises(ValueError, match="revision must be one of"):
        LLMCodec(revision=9)


def test_portable_probes_of_other_revisions_differ() -> None:
    """The probe names the revision's numbers: one process's cache of portable probes never
    hands a revision the probe of another (a revision 2 archive decoded after a revision 3
    codec ran)."""
    from nacrith.codecs.llm import LLMCodec
    from tests.llm_fixtures import SMALL_CTX, SMALL_KEEP

    probes = []
    for revision in (3, 2, 3):
        codec = LLMCodec(n_ctx=SMALL_CTX, keep=SMALL_KEEP, revision=revision)
        probes.append(codec.probe())
        codec.close()
    assert probes[0] == probes[2] != probes[1]
