"""Predictors, mixer and text front end: pure numpy, no model."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nacrith.errors import CorruptDataError, NacrithError, TruncatedError
from nacrith.formats.text import Escapes, LineEnds, Reader, Reflow, bad_codepoint_pattern
from nacrith.models.online.bias import BiasHead
from nacrith.models.online.ensemble import Ensemble, EnsembleSettings
from nacrith.models.online.match import Match, bucket
from nacrith.models.online.mixer import LinearMixer
from nacrith.models.online.ngram import NGram
from nacrith.models.predictor import Predictor

V = 64


def run(model, seq, streams=(0,)):
    """Total bits of `seq` (coded identically on every stream) and the last distribution."""
    st = np.array(streams)
    bits = 0.0
    p = None
    for t in seq:
        p = model.predict(st, np.zeros((len(st), V), dtype=np.float32))
        assert np.allclose(p.sum(axis=1), 1.0)
        assert (p > 0).all()
        bits -= np.log2(p[0, t])
        model.update(st, np.full(len(st), t))
    return bits, p


@pytest.mark.parametrize("make", [lambda: BiasHead(3, V), lambda: NGram(3, V), lambda: Match(3, V)])
def test_protocol_and_learning(make) -> None:
    model = make()
    assert isinstance(model, Predictor)
    seq = [1, 2, 3, 4, 5, 6, 7] * 20
    bits, _ = run(model, seq)
    assert bits < len(seq) * np.log2(V) * 0.75  # learns (at least the unigram of) the pattern


def test_streams_are_independent_and_lockstep_equals_alone() -> None:
    seq_a = [3, 1, 4, 1, 5, 9, 2, 6] * 5
    seq_b = [2, 7, 1, 8, 2, 8, 1, 8] * 5
    for make in (lambda: BiasHead(2, V), lambda: NGram(2, V), lambda: Match(2, V)):
        together, alone_a, alone_b = make(), make(), make()
        for ta, tb in zip(seq_a, seq_b):
            z = np.zeros((2, V), dtype=np.float32)
            p2 = together.predict(np.array([0, 1]), z)
            pa = alone_a.predict(np.array([0]), z[:1])
            pb = alone_b.predict(np.array([1]), z[1:])
            assert np.array_equal(p2[0], pa[0]) and np.array_equal(p2[1], pb[0])
            together.update(np.array([0, 1]), np.array([ta, tb]))
            alone_a.update(np.array([0]), np.array([ta]))
            alone_b.update(np.array([1]), np.array([tb]))


def test_reset_forgets() -> None:
    for model in (BiasHead(1, V), NGram(1, V), Match(1, V)):
        fresh, _ = run(type(model)(1, V), [5, 6, 7, 8] * 10)
        run(model, [9, 10, 11] * 30)
        model.reset(0)
        again, _ = run(model, [5, 6, 7, 8] * 10)
        assert again == pytest.approx(fresh)


def test_bias_head_adagrad_step() -> None:
    head = BiasHead(1, 4, lr=0.5)
    logits = np.log(np.array([[0.4, 0.3, 0.2, 0.1]], dtype=np.float32))
    q = head.predict(np.array([0]), logits).copy()
    head.update(np.array([0]), np.array([3]))
    g = -q[0]
    g[3] += 1
    expected = 0.5 * g / np.sqrt(1 + g * g)
    assert np.allclose(head.bias[0], expected)


def test_bias_head_lr_zero_is_softmax() -> None:
    head = BiasHead(1, 3, lr=0.0)
    logits = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    p = head.predict(np.array([0]), logits)
    e = np.exp(logits[0] - 3.0)
    assert np.allclose(p[0], e / e.sum())


def test_ngram_interpolation_formula() -> None:
    ng = NGram(1, 10, order=1, discount=0.75, a0=0.5)
    for t in [1, 2, 1, 3]:
        ng.predict(np.array([0]))
        ng.update(np.array([0]), np.array([t]))
    p = ng.predict(np.array([0]))[0]
    # context (3,) unseen -> order 0 only
    c0 = np.zeros(10)
    for t in [1, 2, 1, 3]:
        c0[t] += 1
    assert np.allclose(p, (c0 + 0.5) / (4 + 5.0))
    ng.update(np.array([0]), np.array([1]))  # history ... 3, 1; context (1,) seen twice: 2, 3
    p = ng.predict(np.array([0]))[0]
    c0[1] += 1
    p0 = (c0 + 0.5) / (5 + 5.0)
    expect = 0.75 * 2 / 2 * p0
    expect[2] += 0.25 / 2
    expect[3] += 0.25 / 2
    assert np.allclose(p, expect)
    assert ng.orders[0] == 1 and ng.counts[0] == 2


def test_match_finds_long_repeat() -> None:
    m = Match(1, 100)
    seq = list(range(10, 40))
    run(m, seq)
    for t in seq[:8]:
        p = m.predict(np.array([0]))
        m.update(np.array([0]), np.array([t]))
    p = m.predict(np.array([0]))
    assert m.predicted[0] == seq[8] and m.buckets[0] == bucket(8)
    assert np.argmax(p[0]) == seq[8]


def test_mixer_moves_toward_better_input() -> None:
    mix = LinearMixer(1, 2, 1, lr=0.5, init=[0.5, 0.5])
    good = np.full((1, 4), 0.1)
    good[0, 2] = 0.7
    bad = np.full((1, 4), 0.25)
    for _ in range(50):
        mix.mix(np.array([0]), [good, bad], np.array([0]))
        mix.update(np.array([2]))
    w = np.exp(mix.theta[0, 0])
    assert w[0] / w.sum() > 0.9


def test_ensemble_settings_roundtrip_and_validation() -> None:
    s = EnsembleSettings(bias_lr=0.3, ngram_order=3)
    assert EnsembleSettings.from_dict(s.to_dict()) == s
    with pytest.raises(ValueError, match="bias_lr must be a number"):
        EnsembleSettings.from_dict({"bias_lr": -1})
    with pytest.raises(ValueError, match=r"unknown predictor settings \['nope'\]"):
        EnsembleSettings.from_dict({"nope": 1})


@pytest.mark.parametrize("settings", [EnsembleSettings(), EnsembleSettings(0.0, 0, match=False)])
def test_ensemble_distribution(settings: EnsembleSettings) -> None:
    ens = Ensemble(settings, 2, V)
    rng = np.random.default_rng(0)
    for t in range(40):
        logits = rng.standard_normal((2, V)).astype(np.float32)
        p = ens.predict(np.array([0, 1]), logits)
        assert p.shape == (2, V) and np.allclose(p.sum(axis=1), 1) and (p > 0).all()
        ens.update(np.array([0, 1]), np.array([t % V, (3 * t) % V]))


# -- text front end -------------------------------------------------------------------------

LINE_CASES = [b"", b"a\r\nb\r\n", b"a\r\nb\nc\r\n", b"\n\r\n\r\r\n", b"\r\n\n\n\r\n", b"x\n"]


@pytest.mark.parametrize("data", LINE_CASES)
def test_line_ends_round_trip(data: bytes) -> None:
    side = bytearray()
    text = LineEnds.encode(data, side)
    r = Reader(bytes(side))
    assert LineEnds.decode(text, r) == data and r.pos == len(side)


def greedy_wrap(words: list[str], width: int) -> bytes:
    """Words filled greedily into lines of at most `width` (a longer word gets its own line)."""
    lines: list[str] = []
    line = ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}" if line else w
    lines.append(line)
    return "\n".join(lines).encode()


WORDS = (
    "the quick brown fox jumps over a lazy dog while Alice reads her sister's book " * 30
).split()


def reflow_round_trip(text: bytes) -> tuple[bytes, bytes]:
    side = bytearray()
    flat = Reflow.encode(text, side)
    assert len(flat) == len(text)
    r = Reader(bytes(side))
    assert Reflow.decode(flat, r) == text and r.pos == len(side)
    return flat, bytes(side)


def test_reflow_joins_the_lines_of_a_greedy_wrap() -> None:
    para = greedy_wrap(WORDS, 50)
    text = para + b"\n\n" + greedy_wrap(WORDS[::-1], 50) + b"\n"
    width = Reflow.choose_width(text)[0]
    assert 40 < width <= 50
    flat, side = reflow_round_trip(text)
    assert flat.count(b"\n") == 3  # the paragraph break and the final line end stay
    assert side == bytes([width, 0])  # no exceptions


def test_reflow_lists_lines_that_overrun_the_width() -> None:
    lines = greedy_wrap(WORDS, 60).split(b"\n")
    lines[3] += b" and so on"  # one line runs past the width: its spaces are exceptions
    text = b"\n".join(lines)
    width, breaks, spaces = Reflow.choose_width(text)
    # widths that imply the same breaks and exceptions are the same transform: the smallest wins
    assert width <= 60 and spaces == 3 and breaks == len(lines) - 1
    flat, side = reflow_round_trip(text)
    assert b"\n" not in flat and side[:2] == bytes([width, 3])


def test_reflow_counts_characters_not_bytes() -> None:
    words = ("déjà vu à la crème brûlée, naïve façade — über straße " * 20).split()
    text = greedy_wrap(words, 48)
    assert Reflow.choose_width(text)[:3:2] == (48, 0)  # no exceptions at the true width
    flat, _ = reflow_round_trip(text)
    assert b"\n" not in flat


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"one line only",
        b"def f(x):\n    return x\n" * 20,  # code
        b"Tyger Tyger, burning bright,\nIn the forests of the night;\nWhat immortal hand or eye,\n"
        b"Could frame thy fearful symmetry?\n\n" * 10,  # verse
        "\n".join(f"2026-11-23 12:00:{i:02d} INFO request {i} served" for i in range(40)).encode(),
    ],
)
def test_reflow_leaves_text_that_is_not_wrapped_alone(text: bytes) -> None:
    assert Reflow.choose_width(text)[0] == 0
    assert reflow_round_trip(text) == (text, b"\x00")


@given(st.lists(st.sampled_from(["a", "bb", "cccc", "", " ", "\n", "\n\n", "  x"]), max_size=80))
def test_reflow_round_trips_any_text(parts: list[str]) -> None:
    text = " ".join(parts).encode()
    reflow_round_trip(text)
    saved = Reflow.MIN_BREAKS, Reflow.MIN_SHARE, Reflow.EXCEPTION_COST
    try:  # force the step on, whatever the text looks like
        Reflow.MIN_BREAKS, Reflow.MIN_SHARE, Reflow.EXCEPTION_COST = 1, 0.0, 0
        reflow_round_trip(text)
    finally:
        Reflow.MIN_BREAKS, Reflow.MIN_SHARE, Reflow.EXCEPTION_COST = saved


def test_damaged_reflow_side_data_is_an_error() -> None:
    flat = b"aaa bbb ccc ddd"
    for side in (b"\x05\x01\x01", b"\x05\x01\x63", b"\x05\x02\x03\x00", b"\xe9\x07"):
        # a letter, past the end, twice, width > 1000
        with pytest.raises(CorruptDataError, match=r"bad reflow exception list|exceeds its bound"):
            Reflow.decode(flat, Reader(side))
    for side in (b"\x05", b"\x05\x02\x03"):
        with pytest.raises(TruncatedError, match="llm payload ends inside a number"):
            Reflow.decode(flat, Reader(side))


LOSSY = {4, 6, 0x13, 0x14, 0x16, 0x1D, 0xC0, 0xC1, 0xF1, 0xF2, *range(0xF5, 0x100)}
PATTERN = bad_codepoint_pattern(set(range(256)) - LOSSY)


@pytest.mark.parametrize(
    "data",
    [b"plain", b"a\x04b\x06", b"\xff\xfe", "h\u00e9 \U00050000!".encode(), b"\xc3", b"\x1d" * 5],
)
def test_escapes_round_trip(data: bytes) -> None:
    side = bytearray()
    text = Escapes(PATTERN).encode(data, side)
    assert not (set(text) & {4, 6, 0x13, 0x1D, 0xFF, 0xF1})
    assert Escapes.decode(text, Reader(bytes(side)), len(data)) == data


def test_reader_bounds() -> None:
    with pytest.raises(TruncatedError, match="llm payload ends inside a number"):
        Reader(b"\x80").varint()
    with pytest.raises(CorruptDataError, match="field 5 exceeds its bound 4"):
        Reader(b"\x05").varint(limit=4)
    with pytest.raises(TruncatedError, match="llm payload ends early"):
        Reader(b"ab").take(3)
    with pytest.raises(NacrithError, match="field 9 exceeds its bound 3"):
        Escapes.decode(b"abc", Reader(b"\x01\x09\x01z"), 10)


# -- model registry (no network, no model) ---------------------------------------------------


def test_registry_resolution(tmp_path, monkeypatch) -> None:
    from nacrith.errors import ModelNotFoundError
    from nacrith.models.llm import registry

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert registry.cache_dir() == tmp_path / "cache" / "nacrith" / "models"
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert registry.resolve_model(str(gguf)) == gguf
    monkeypatch.setenv("NACRITH_MODEL", str(gguf))
    assert registry.resolve_model(None) == gguf
    with pytest.raises(ModelNotFoundError, match="not a file and not a registered name"):
        registry.resolve_model("no-such-model")
    monkeypatch.delenv("NACRITH_MODEL")
    with pytest.raises(ModelNotFoundError, match="ncz models pull"):
        registry.resolve_model("smollm2-135m", pull_missing=False)
    assert registry.DEFAULT_MODEL in registry.MODELS
    for spec in registry.MODELS.values():
        assert len(spec.sha256) == 64 and spec.size > 0
        assert spec.parts or spec.derived_from


def test_automatic_pulls_follow_the_cli_quiet_flag(tmp_path, monkeypatch) -> None:
    from click.testing import CliRunner

    from nacrith.cli import cli
    from nacrith.models.llm import registry

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    asked: list[bool] = []
    monkeypatch.setattr(registry, "pull", lambda name, quiet=False: asked.append(quiet))
    monkeypatch.setattr(registry, "_announce_pulls", True)
    registry.resolve_model("smollm2-135m")
    src = tmp_path / "a.txt"
    src.write_bytes(b"hello\n")
    result = CliRunner().invoke(cli, ["-q", "compress", "-m", "zstd", "-f", str(src)])
    assert result.exit_code == 0, result.output
    registry.resolve_model("smollm2-135m")
    assert asked == [False, True]  # announced, then quiet after `ncz -q`
