"""The decoder's drafts on the exact engine (speculative decoding): the model checks guessed
tokens in one batch, and every distribution is the one token-by-token decoding computes, through
window slides, wrong guesses and several streams."""

from __future__ import annotations

import numpy as np
import pytest

from nacrith.models.llm.drafting import Drafter
from tests.llm_fixtures import CountingBackend

LOG = b"".join(
    b"Dec  7 10:%02d:%02d host sshd[%d]: Accepted publickey for user%d from 10.0.0.%d\n"
    % (i // 60, i % 60, 4000 + 7 * i, i % 3, i % 5)
    for i in range(12)
)


def test_the_drafter_guesses_a_repeat_and_not_noise() -> None:
    drafter = Drafter()
    history = [5, 6, 7, 8, 9, 10, 11, 12] * 12
    drafter.learn(history[:-7])
    guesses = drafter.draft(history[:-7], room=10)
    assert guesses and guesses == history[-7:][: len(guesses)]  # the repeat's continuation
    noise = np.random.default_rng(5).integers(0, 50_000, 400).tolist()
    quiet = Drafter()
    quiet.learn(noise)
    assert quiet.draft(noise, room=10) == []


def test_the_drafter_stops_at_the_room_left() -> None:
    drafter = Drafter()
    history = [1, 2, 3] * 40
    drafter.learn(history)
    assert len(drafter.draft(history, room=2)) == 2
    assert drafter.draft(history, room=0) == []
    assert Drafter(max_draft=0).draft(history, room=5) == []
    with pytest.raises(ValueError, match="max_draft"):
        Drafter(max_draft=-1)


@pytest.mark.llm
@pytest.mark.parametrize("overlap", [True, False])
def test_drafted_rows_have_the_bits_of_token_by_token_decoding(overlap) -> None:
    from nacrith.codecs.llm import LLMCodec
    from nacrith.models.llm.lockstep import Window, run_streams

    codec = LLMCodec(n_ctx=48, sink=2, drop=8, engine="portable", max_streams=2)
    be = codec._get_backend(2)
    assert be.cuts_cache
    toks = [be.tokenize(LOG)[:150], be.tokenize(b"A dog sat. A dog sat. A dog sat on a mat.")]
    lengths = [len(t) for t in toks]

    def run(backend, drafts: int) -> list[np.ndarray]:
        rows: list[np.ndarray] = []
        done = [0, 0]

        def code(s: int, probs: np.ndarray) -> int:
            done[s] += 1
            return int(toks[s][done[s] - 1])

        decoded = run_streams(
            backend,
            codec._ensemble(be, 2),
            lengths,
            code,
            window=Window.sink_shift(2, 8),
            overlap=overlap,
            drafts=drafts,
            on_step=lambda streams, probs, new: rows.extend(
                np.concatenate([[s], p]) for s, p in zip(streams.tolist(), probs)
            ),
        )
        assert decoded == [t.tolist() for t in toks]
        return rows

    plain = CountingBackend(be)
    stepwise = run(plain, 0)
    assert not plain.appends and not plain.cuts
    drafting = CountingBackend(be)
    drafted = run(drafting, 7)
    assert len(drafted) == len(stepwise) == sum(lengths)
    assert all(np.array_equal(a, b) for a, b in zip(stepwise, drafted))
    assert drafting.appends and max(drafting.appends) > 2  # guesses were checked in batches
    calls = drafting.steps + len(drafting.appends)
    assert calls < plain.steps  # and saved model calls
    codec.close()


@pytest.mark.llm
def test_a_log_decodes_with_and_without_drafts() -> None:
    from nacrith.codecs.llm import LLMCodec

    text = LOG[: LOG.index(b"\n", 250) + 1]
    encoder = LLMCodec(engine="portable")
    payload = encoder.encode(text)
    for drafts in (0, 7):
        decoder = LLMCodec.from_params(encoder.params(), decode_drafts=drafts)
        assert decoder.runtime()["decode_drafts"] == drafts
        assert decoder.decode(payload, len(text)) == text
        decoder.close()
    encoder.close()


def test_decode_drafts_must_be_a_non_negative_integer() -> None:
    from nacrith.codecs.llm import LLMCodec

    for bad in (-1, 2.5, "7"):
        with pytest.raises(ValueError, match="decode_drafts must be a non-negative integer"):
            LLMCodec(engine="portable", decode_drafts=bad)
