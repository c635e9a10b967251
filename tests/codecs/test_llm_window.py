"""The sink+shift window (llm format 6) through the real model: the backend's `shift` and
`append`, round trips across many slides, identical encoder and decoder calls, the params."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from nacrith.errors import FormatError
from tests.llm_fixtures import SMALL_CTX, corpus_text
from tests.paths import GOLDEN

pytestmark = pytest.mark.llm

SINK, DROP = 4, 16


@pytest.fixture(scope="module")
def shift_codec():
    """The llama engine with a 64-token window that shifts (a slide every 16 tokens)."""
    pytest.importorskip("llama_cpp")
    from nacrith.codecs.llm import LLMCodec

    codec = LLMCodec(n_ctx=SMALL_CTX, sink=SINK, drop=DROP, max_streams=2, engine="llama")
    yield codec
    codec.close()


def _text() -> bytes:
    return corpus_text()[3000:3500]  # about 130 tokens: several slides of a 64-token window


class _Recording:
    """A real backend that also records every call that changes or reads the model's state."""

    def __init__(self, backend) -> None:
        self._backend = backend
        self.calls: list[tuple] = []

    def __getattr__(self, name: str):
        return getattr(self._backend, name)

    def clear(self, seq):
        self.calls.append(("clear", seq))
        return self._backend.clear(seq)

    def prefill(self, seq, tokens):
        self.calls.append(("prefill", seq, list(map(int, tokens))))
        return self._backend.prefill(seq, tokens)

    def step(self, seqs, tokens, positions):
        self.calls.append(("step", list(seqs), list(map(int, tokens)), list(map(int, positions))))
        return self._backend.step(seqs, tokens, positions)

    def shift(self, seq, start, count):
        self.calls.append(("shift", seq, start, count))
        return self._backend.shift(seq, start, count)


def test_shift_and_append_on_the_llama_backend(shift_codec) -> None:
    be = shift_codec._get_backend(2)
    toks = be.tokenize(_text()).tolist()[:40]
    be.clear(0)
    whole = be.append(0, [be.bos, *toks], all_logits=True)
    be.clear(1)
    parts = be.append(1, [be.bos, *toks[:20]])
    rest = be.append(1, toks[20:], all_logits=True)
    assert parts.shape == (be.n_vocab,) and rest.shape == (20, be.n_vocab)
    assert np.array_equal(parts, whole[20])  # the same batch so far
    np.testing.assert_allclose(rest, whole[21:], atol=0.1)  # other batches: rounding only
    assert (rest.argmax(axis=1) == whole[21:].argmax(axis=1)).mean() > 0.9
    # a shifted stream continues at the position after its last one, as does its twin
    be.prefill(1, [be.bos, *toks])
    be.shift(0, SINK, DROP)
    be.shift(1, SINK, DROP)
    a = be.step([0], [toks[0]], [41 - DROP])
    b = be.append(1, [toks[0]])
    assert np.array_equal(a[0], b)
    with pytest.raises(ValueError, match="start >= 0 and count >= 1"):
        be.shift(0, 1, 0)
    with pytest.raises(ValueError, match="does not fit"):
        be.append(0, toks * 2)


def test_round_trip_across_many_slides_and_the_decoder_makes_the_same_calls(shift_codec) -> None:
    from nacrith.codecs.llm import LLMCodec

    data = _text()
    params = shift_codec.params()
    decoder = LLMCodec.from_params(params, overlap=False)
    recorded = []
    for codec in (shift_codec, decoder):
        rec = _Recording(codec._get_backend(1))
        codec._backend = rec
        try:
            payload = codec.encode(data) if codec is shift_codec else None
            if payload is not None:
                recorded.append((payload, rec.calls))
            else:
                assert decoder.decode(recorded[0][0], len(data)) == data
                recorded.append((None, rec.calls))
        finally:
            codec._backend = rec._backend
    calls = recorded[0][1]
    assert calls == recorded[1][1]
    shifts = [c for c in calls if c[0] == "shift"]
    assert len(shifts) >= 4 and set(shifts) == {("shift", 0, SINK, DROP)}
    assert not [c for c in calls if c[0] == "prefill" and len(c[2]) > 1]  # no re-prefill
    positions = [c[3][0] for c in calls if c[0] == "step"]
    assert max(positions) == SMALL_CTX - 1
    decoder.close()


def test_format_6_params(shift_codec) -> None:
    from nacrith.codecs.llm import LLMCodec

    p = shift_codec.params()
    assert p["version"] == 6 and p["engine"] == "llama" and p["window"] == {"sink": 4, "drop": 16}
    assert "keep" not in p
    again = LLMCodec.from_params(p)
    assert again.window == shift_codec.window
    again.close()
    for bad in ({"sink": 0, "drop": 16}, {"sink": 4}, {"sink": 4, "drop": 60}, [4, 16]):
        with pytest.raises(FormatError, match="window"):
            LLMCodec.from_params(dict(p, window=bad))
    with pytest.raises(ValueError, match="window sink 4 and drop 70"):
        LLMCodec(n_ctx=SMALL_CTX, sink=4, drop=70, engine="llama")
    # the re-prefill policy writes the formats before 6, byte for byte as before
    old = LLMCodec(n_ctx=SMALL_CTX, keep=24, sink=0, engine="llama")
    assert old.params()["version"] == 4 and old.params()["keep"] == 24
    old.close()


def test_golden_format_6_keeps_decoding(shift_codec) -> None:
    """A format-6 payload (llama engine, so machine-bound: this machine's numbers) and its
    params, written once, must decode forever."""
    from nacrith.codecs.llm import LLMCodec

    data = _text()[:400]
    path, params_path = GOLDEN / "llm6_alice400.bin", GOLDEN / "llm6_alice400.json"
    if os.environ.get("NACRITH_REGEN_GOLDEN") == "1" and not path.exists():
        path.write_bytes(shift_codec.encode(data))
        params = shift_codec.params()
        params_path.write_text(json.dumps(params, indent=1, sort_keys=True) + "\n")
    if not path.exists():
        pytest.fail(f"{path} is missing; create it with NACRITH_REGEN_GOLDEN=1")
    decoder = LLMCodec.from_params(json.loads(params_path.read_text()))
    assert decoder.decode(path.read_bytes(), len(data)) == data
    decoder.close()


class _RecordingAppends(_Recording):
    def append(self, seq, tokens, *, all_logits=False):
        self.calls.append(("append", seq, list(map(int, tokens))))
        return self._backend.append(seq, tokens, all_logits=all_logits)


def test_confidence_skip_round_trips_with_the_same_calls_and_skips_repeats() -> None:
    from nacrith.codecs.llm import LLMCodec
    from nacrith.models.llm.skipping import run_skipping

    line = b"2026-12-06 10:00:01 INFO worker 7 heartbeat ok\n"
    data = line * 6 + _text()[:200]
    codec = LLMCodec(n_ctx=SMALL_CTX, sink=SINK, drop=DROP, skip=0.5, skip_run=8, engine="llama")
    params = codec.params()
    assert params["skip"] == {"threshold": 0.5, "run": 8} and params["version"] == 6
    decoder = LLMCodec.from_params(params, overlap=False)
    assert decoder.skip == codec.skip
    calls = []
    for side in (codec, decoder):
        rec = _RecordingAppends(side._get_backend(1))
        side._backend = rec
        try:
            if side is codec:
                payload = codec.encode(data)
            else:
                assert decoder.decode(payload, len(data)) == data
        finally:
            side._backend = rec._backend
        calls.append(rec.calls)
    assert calls[0] == calls[1]
    appends = [c for c in calls[0] if c[0] == "append"]
    assert appends and max(len(c[2]) for c in appends) <= 9  # a run of 8 skips, then its token
    # the skip count, and the same tokens as the loop without skipping
    be = codec._get_backend(1)
    toks = be.tokenize(data).tolist()
    skipped = [0]
    coded: list[int] = []

    def follow(stream: int, probs) -> int:
        coded.append(toks[len(coded)])
        return coded[-1]

    ens = codec._ensemble(be, 1)
    got = run_skipping(
        be, ens, [len(toks)], follow, window=codec.window, skip=codec.skip, skipped=skipped
    )
    assert got == [toks] and skipped[0] > len(toks) // 10
    with pytest.raises(ValueError, match="confidence skip needs the sink\\+shift window"):
        LLMCodec(n_ctx=SMALL_CTX, sink=0, skip=0.5, engine="llama")
    with pytest.raises(FormatError, match="skip"):
        LLMCodec.from_params(dict(params, skip={"threshold": 0.5}))
    codec.close()
    decoder.close()


def test_portable_engine_shifts_and_skips_exactly() -> None:
    """The portable engine's format 6/7: sink+shift slides and confidence skip round-trip, and a
    second decoder (another grouping of calls: no lookahead, no overlap) gets the same bytes."""
    from nacrith.codecs.llm import LLMCodec

    line = b"12:00:01 worker 7 heartbeat ok\n"
    data = line * 4 + b"12:00:09 worker 3 restarted\n"
    codec = LLMCodec(n_ctx=32, sink=2, drop=8, skip=0.5, skip_run=4, engine="portable")
    params = codec.params()
    assert params["version"] == 7 and params["engine"] == "portable" and "window" in params
    payload = codec.encode(data)
    decoder = LLMCodec.from_params(params, overlap=False)
    assert decoder.decode(payload, len(data)) == data
    codec.close()
    decoder.close()
