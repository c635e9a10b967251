"""coders.range_coder: exact bytes for a fixed model, round trips, overhead, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nacrith.coders.quantize import TOTAL, quantize
from nacrith.coders.range_coder import HEAD_MIN, RangeDecoder, RangeEncoder, code_length
from nacrith.errors import NacrithError
from tests.samples import llm_like_rows as _llm_like_rows

TOY = np.array([0.5, 0.2, 0.15, 0.1, 0.05])
TOY_MESSAGE = [0, 1, 0, 4, 2, 3, 0, 0, 1, 2, 4, 4, 0]
# Golden vector: the coded bytes for TOY_MESSAGE under quantize(TOY). Changing the coder or the
# quantizer in a way that changes these bytes breaks every archive.
TOY_GOLDEN = "5bf5b04c"


def encode_freqs(freqs: np.ndarray, message: list[int]) -> bytes:
    enc = RangeEncoder()
    for s in message:
        enc.encode_freqs(s, freqs)
    return enc.finish()


def test_golden_toy_model() -> None:
    freqs = quantize(TOY)
    data = encode_freqs(freqs, TOY_MESSAGE)
    assert data.hex() == TOY_GOLDEN
    dec = RangeDecoder(data)
    assert [dec.decode_freqs(freqs) for _ in TOY_MESSAGE] == TOY_MESSAGE


def test_frequencies_are_used_exactly() -> None:
    # a symbol with frequency 2**23 costs exactly one bit: 64 of them fit in two 32-bit words
    freqs = np.array([TOTAL // 2, TOTAL // 2 - 1, 1])
    enc = RangeEncoder()
    for _ in range(64):
        enc.encode_freqs(0, freqs)
    assert enc.num_bits() <= 96


def test_single_symbol_alphabet_costs_nothing() -> None:
    enc = RangeEncoder()
    enc.encode_freqs(0, np.array([TOTAL]))
    assert enc.finish() == b""
    assert RangeDecoder(b"").decode_freqs(np.array([TOTAL])) == 0


def test_large_vocabulary_round_trip_and_overhead() -> None:
    v = 49_152
    rows, syms = _llm_like_rows(200, v, 0)
    syms[3] = int(np.argmin(rows[3]))  # a deep-tail symbol: escape path
    enc = RangeEncoder()
    ideal = 0.0
    for p, s in zip(rows, syms):
        enc.encode_probs(s, p)
        ideal -= np.log2(p[s])
    data = enc.finish()
    dec = RangeDecoder(data)
    assert [dec.decode_probs(p) for p in rows] == syms
    # the coder's cost: quantization plus at most one 32-bit word of flush
    est = sum(code_length(p, s) for p, s in zip(rows, syms))
    assert 8 * len(data) <= est + 32
    assert est <= ideal * 1.002 + 1


def test_two_level_split_is_deterministic() -> None:
    p = np.full(1000, 1e-9)
    p[:5] = [0.4, 0.3, 0.2, 0.05, 0.05 - 995e-9]
    assert (p >= HEAD_MIN).sum() == 5
    enc = RangeEncoder()
    for s in (0, 999, 3, 500):
        enc.encode_probs(s, p)
    dec = RangeDecoder(enc.finish())
    assert [dec.decode_probs(p) for _ in range(4)] == [0, 999, 3, 500]


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        st.integers(2, 200),
        elements=st.one_of(st.floats(-1e3, 60), st.just(-np.inf), st.just(np.nan), st.just(np.inf)),
    ),
    st.lists(st.integers(0, 10_000), min_size=1, max_size=20),
)
def test_extreme_logits_round_trip(logits: np.ndarray, raw: list[int]) -> None:
    with np.errstate(all="ignore"):
        p = np.exp(logits - np.nanmax(np.where(np.isinf(logits), np.nan, logits), initial=0))
    message = [r % logits.size for r in raw]
    enc = RangeEncoder()
    for s in message:
        enc.encode_probs(s, p)
    dec = RangeDecoder(enc.finish())
    assert [dec.decode_probs(p) for _ in message] == message


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=64))
def test_garbage_never_raises_outside_nacrith(data: bytes) -> None:
    freqs = quantize(TOY)
    dec = RangeDecoder(data)
    try:
        for _ in range(20):
            assert 0 <= dec.decode_freqs(freqs) < TOY.size
    except NacrithError:
        pass


def test_trailing_zero_bytes_are_dropped_and_restored() -> None:
    freqs = quantize(np.array([0.999, 0.001]))
    data = encode_freqs(freqs, [0] * 5)
    assert len(data) % 4 != 0 or not data.endswith(b"\0")
    dec = RangeDecoder(data)
    assert [dec.decode_freqs(freqs) for _ in range(5)] == [0] * 5


@pytest.mark.parametrize("n", [1, 2, 3])
def test_empty_and_tiny(n: int) -> None:
    freqs = quantize(np.ones(n))
    data = encode_freqs(freqs, [n - 1])
    assert RangeDecoder(data).decode_freqs(freqs) == n - 1
