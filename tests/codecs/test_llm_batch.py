"""The encoder's batched rows on the exact engine: each stream's rows for a run of tokens come
from one `append`, cut at the window's slides, and the archive bytes are those of the
token-by-token encoder (which is what the decoder runs)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.llm_fixtures import CountingBackend, corpus_text

pytestmark = pytest.mark.llm


def _chunks() -> list[bytes]:
    alice = corpus_text()
    return [alice[3000:3250], alice[5000:5080], b"x"]


@pytest.mark.parametrize(
    ("window", "batches"),
    [({"sink": 4, "drop": 8}, (64, 5)), ({"sink": 0, "keep": 12}, (7,))],
)
def test_batched_encoder_writes_the_token_by_token_bytes(window, batches) -> None:
    from nacrith.codecs.llm import LLMCodec

    chunks = _chunks()
    settings = {"n_ctx": 32, "engine": "portable", "max_streams": 3, **window}
    stepwise = LLMCodec(encode_batch=0, **settings)
    payloads = stepwise.encode_many(chunks)
    for batch in batches:
        batched = LLMCodec(encode_batch=batch, **settings)
        assert batched.encode_many(chunks) == payloads
        batched.close()
    if window["sink"]:
        decoder = LLMCodec.from_params(stepwise.params())
        assert decoder.decode_many([(p, len(c)) for p, c in zip(payloads, chunks)]) == chunks
        decoder.close()
    stepwise.close()


def test_batched_rows_come_from_appends_with_the_bits_of_steps() -> None:
    from nacrith.codecs.llm import LLMCodec
    from nacrith.models.llm.lockstep import Window, batch_exact, run_streams

    codec = LLMCodec(n_ctx=32, sink=2, drop=8, engine="portable", max_streams=2)
    be = codec._get_backend(2)
    assert batch_exact(be) and not batch_exact(type("Llama", (), {"batch_exact": False})())
    toks = [be.tokenize(corpus_text()[4000:4200]), be.tokenize(b"A dog sat.")]
    lengths = [len(t) for t in toks]
    window = Window.sink_shift(2, 8)

    def run(backend, batch: int, overlap: bool = True) -> list[np.ndarray]:
        rows: list[np.ndarray] = []
        done = [0, 0]

        def code(s: int, probs: np.ndarray) -> int:
            done[s] += 1
            return int(toks[s][done[s] - 1])

        run_streams(
            backend,
            codec._ensemble(be, 2),
            lengths,
            code,
            window=window,
            known=toks,
            batch=batch,
            overlap=overlap,
            on_step=lambda streams, probs, new: rows.extend(
                np.concatenate([[s], p]) for s, p in zip(streams.tolist(), probs)
            ),
        )
        return rows

    counting = CountingBackend(be)
    batched = run(counting, 16)
    assert counting.steps == 0 and max(counting.appends) == 16 and len(counting.appends) >= 6
    stepwise = CountingBackend(be)
    plain = run(stepwise, 0)
    assert len(plain) == len(batched) == sum(lengths)
    assert all(np.array_equal(a, b) for a, b in zip(plain, batched))
    inline = run(CountingBackend(be), 16, overlap=False)  # the batches computed in this thread
    assert all(np.array_equal(a, b) for a, b in zip(inline, batched))
    assert stepwise.steps > 30 and not stepwise.appends
    codec.close()


def test_encode_batch_must_be_a_non_negative_integer() -> None:
    from nacrith.codecs.llm import LLMCodec

    for bad in (-1, 2.5, "64"):
        with pytest.raises(ValueError, match="encode_batch must be a non-negative integer"):
            LLMCodec(engine="portable", encode_batch=bad)
    assert LLMCodec(engine="portable", encode_batch=0).runtime()["encode_batch"] == 0
