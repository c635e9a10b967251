"""The `fib` codec: round trips, adversarial text, corrupt payloads and golden payloads.

Golden files `tests/golden/fib_*.bin` (payload version 1) and `fib2_*.bin` (version 2) hold
(input, payload) pairs: b"FIBGOLD1", the input's length (u32 LE), the input, then the payload.
They must decode byte-exactly forever; NACRITH_REGEN_GOLDEN=1 writes only the missing files of
the current version (old ones stay).
"""

from __future__ import annotations

import os
import random
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nacrith.codecs.fib import FibCodec
from nacrith.codecs.registry import codec_class
from nacrith.errors import CorruptDataError, FormatError, NacrithError
from nacrith.formats.fib import phrases as fib_phrases
from nacrith.formats.fib.phrases import (
    FIB_LENGTHS,
    choose_phrases,
    fib_hashes,
    parse,
    phrase_keys,
)
from nacrith.formats.fib.tokens import (
    SpellingReader,
    apply_case,
    pack_spelling,
    split_case,
    tokenize,
)
from nacrith.models.fib.ranks import recency_ranks
from nacrith.models.fib.recency import Recency
from tests.paths import CANTERBURY, GOLDEN

GOLDEN_MAGIC = b"FIBGOLD1"
VERSION = 2

FAST_FILES = ["alice29.txt", "asyoulik.txt", "cp.html", "fields.c", "grammar.lsp", "xargs.1"]
SLOW_FILES = ["lcet10.txt", "plrabn12.txt", "kennedy.xls", "ptt5", "sum"]


def roundtrip(data: bytes, codec: FibCodec | None = None) -> bytes:
    codec = codec or FibCodec()
    payload = codec.encode(data)
    assert codec.decode(payload, len(data)) == data
    # the decoder must not depend on the encoder's state
    assert FibCodec.from_params(codec.params()).decode(payload, len(data)) == data
    return payload


def _mixed_text() -> bytes:
    rng = random.Random(7)
    parts = [
        "Mixed scripts: naïve café, Ελληνικά, русский, 東京タワー, العربية, emoji 🎉.\n",
        "McDonald iPhone HTTP Alice ALICE alice aLiCe, 1992, 2,408,282 bytes; x=3.14\r\n",
        "\t\ttabs  and   runs of     spaces\n\n\n",
    ]
    words = ["the", "Fibonacci", "phrase", "of", "word", "TEXT", "zeta", "42"]
    body = "".join(parts).encode()
    for _ in range(300):
        body += (" ".join(rng.choice(words) for _ in range(rng.randint(1, 12))) + ".\n").encode()
    body += b"invalid utf-8: \xff\xfe\xc3\x28 \x80\x80 NUL\x00\x00 ctrl\x01\x02\x7f\n"
    body += b"repeat this line of eight words exactly here now\n" * 20
    return body


GOLDEN_INPUTS: dict[str, bytes] = {
    "fib_text": (
        b"Alice was beginning to get very tired of sitting by her sister on the bank, and of "
        b"having nothing to do: once or twice she had peeped into the book her sister was "
        b"reading, but it had no pictures or conversations in it, 'and what is the use of a "
        b"book,' thought Alice 'without pictures or conversations?'\n\n" * 3
    ),
    "fib_mixed": _mixed_text(),
    "fib_edge": b"x" * 300 + b" " * 70 + b"0123456789" * 30 + b"\r\n" * 5 + b"\x00 \x00",
}


# -- round trips ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FAST_FILES)
def test_canterbury_roundtrip(name: str) -> None:
    data = (CANTERBURY / name).read_bytes()
    payload = roundtrip(data)
    if name.endswith(".txt"):
        assert len(payload) * 8 / len(data) < 2.7  # xz -9 is 2.55 / 2.85 bpb on these two


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW_FILES)
def test_canterbury_roundtrip_large(name: str) -> None:
    roundtrip((CANTERBURY / name).read_bytes())


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"a",
        b" ",
        b"\x00",
        b"A" * 10_000,
        b"abcdefghij" * 1000,
        b"".join(bytes([97 + (i * 7) % 26]) for i in range(10_000)),
        b"0123456789" * 1000,
        b"9" * 10_000,
        b" " * 10_000,
        b" \t\r\n" * 2500,
        b"\n" * 70_000,
        (b"x" * 300 + b" ") * 50,
        b"\xff" * 5000,
        b"\xc3\x28\xa0\xa1" * 1000,
        bytes(range(256)) * 20,
        "Ελληνικά русский 東京 العربية naïve ".encode() * 200,
        b"UPPER CASE WORDS ONLY " * 300,
        b"MiXeD CaSe McDonald iPhone " * 300,
    ],
    ids=lambda d: f"{len(d)}B:{d[:12]!r}",
)
def test_adversarial_roundtrip(data: bytes) -> None:
    roundtrip(data)


def test_mixed_text_roundtrip() -> None:
    roundtrip(_mixed_text())


def test_random_bytes_do_not_expand_much() -> None:
    data = np.random.default_rng(1).integers(0, 256, 20_000, dtype=np.uint8).tobytes()
    assert len(roundtrip(data)) <= len(data) + 1


@given(st.binary(max_size=3000))
def test_fuzz_bytes(data: bytes) -> None:
    roundtrip(data)


@given(
    st.lists(
        st.sampled_from(["the ", "The ", "cat", "CAT", " ", "\n", "1", "42 ", ".", "é", "\x00"]),
        max_size=400,
    )
)
def test_fuzz_wordlike(parts: list[str]) -> None:
    data = "".join(parts).encode()
    roundtrip(data)
    roundtrip(data, FibCodec(min_phrase=2, phrase_bias=0.0))


@given(st.lists(st.integers(0, 30), max_size=600), st.integers(1, 3))
def test_fuzz_phrases_and_recency(words: list[int], step: int) -> None:
    """Many short phrases, small recency intervals and large contexts."""
    data = b" ".join(b"w%d" % (w * w % 37) for w in words)
    roundtrip(data, FibCodec(o0_step=step, min_phrase=2, phrase_bias=0.0))
    roundtrip(data, FibCodec(esc_num=1, esc1_num=5, esc_den=3, o0_step=step, min_phrase=3))


def test_many_contexts_and_words_roundtrip() -> None:
    rng = random.Random(11)
    vocab = [f"w{i}".encode() for i in range(3000)]
    data = b" ".join(rng.choice(vocab[: rng.randint(1, 3000)]) for _ in range(30000))
    roundtrip(data)
    roundtrip(data, FibCodec(esc_num=1, esc_den=3, o0_step=1, min_phrase=3, phrase_bias=1.0))


def test_long_repeats_use_phrases() -> None:
    line = b"The quick brown fox jumps over the lazy dog while the cat watches it closely.\n"
    data = line * 200
    assert len(roundtrip(data)) < 200


# -- front end pieces ----------------------------------------------------------------------------


def test_tokenize_is_lossless_and_splits_words() -> None:
    data = b"  Hello, world 1992\r\n\x00x\xff"
    tokens = tokenize(data)
    assert b"".join(tokens) == data
    assert tokens[:4] == [b"  ", b"Hello", b", ", b"world "]


def test_case_split_inverts() -> None:
    tokens = [b"Hello ", b"WORLD", b"mcDonald", b"a", b"A", b"I ", b"\xc3\x89t\xc3\xa9", b"x1"]
    lowered, flags = split_case(tokens)
    assert [apply_case(t, f) for t, f in zip(lowered, flags)] == tokens
    assert flags[:2] == [1, 2] and lowered[2] == b"mcDonald"


def test_spelling_stream_roundtrip() -> None:
    items = [b"alpha\n", b" \0", b"\x00\n", b"\n", b"\r\n \0", b"42\n"]
    reader = SpellingReader(pack_spelling(items), 100)
    assert [reader.core(), reader.ws(), reader.core(), reader.core(), reader.ws()] == [
        b"alpha",
        b" ",
        b"\x00",
        b"",
        b"\r\n ",
    ]
    with pytest.raises(ValueError, match=r"bad PPM spelling stream|longer than the chunk"):
        SpellingReader(pack_spelling(items), 5)


def test_vectorised_ranks_match_recency() -> None:
    rng = np.random.default_rng(5)
    touches = np.concatenate((np.arange(40), rng.integers(0, 40, 3000) ** 2 % 40))
    merges = np.cumsum(rng.integers(1, 90, 80))
    merges = merges[merges < len(touches)]
    q_pos = np.sort(rng.integers(41, len(touches), 500))
    q_sym = touches[rng.integers(0, 40, 500)] % 40
    ranks, space = recency_ranks(touches, merges, q_sym, q_pos)
    rec = Recency()
    got: list[tuple[int, int]] = []
    qi = 0
    mset = set(merges.tolist())
    for t in range(len(touches) + 1):
        if t in mset:
            rec.refresh()
        while qi < len(q_pos) and q_pos[qi] == t:
            got.append((rec.rank(int(q_sym[qi])), rec.size()))
            assert rec.symbol(got[-1][0]) == q_sym[qi]
            qi += 1
        if t < len(touches):
            rec.touch(int(touches[t]))
    assert got == list(zip(ranks.tolist(), space.tolist()))


def test_fibonacci_hashes_compose() -> None:
    ids = np.array([1, 2, 3, 1, 2, 3, 1, 2, 3, 4, 5], dtype=np.int64)
    h = fib_hashes(ids)
    assert sorted(h) == [1, 2, 3, 5, 8]
    assert h[3][0] == h[3][3] == h[3][6 - 3]
    assert h[5][0] == h[5][3] and h[5][0] != h[5][1]


def test_parse_prefers_long_phrases() -> None:
    ids = np.array(list(range(13)) * 6, dtype=np.int64)
    chosen = parse(ids, fib_hashes(ids))
    assert chosen and max(length for _, length in chosen) >= 8
    assert all(length in FIB_LENGTHS for _, length in chosen)
    ends = [s + n for s, n in chosen]
    assert all(e <= s for e, (s, _) in zip(ends, chosen[1:]))


@pytest.mark.parametrize("block", [1, 5, 1 << 14])
def test_lean_parse_matches_parse(block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # the codec's parse (hash levels dropped as counted, the DP in blocks of positions, keys
    # recomputed for the chosen runs) chooses what `parse` chooses, with the same hashes
    rng = np.random.default_rng(11)
    monkeypatch.setattr(fib_phrases, "_DP_BLOCK", block)
    for min_length, bias in ((2, 0.0), (3, 2.0), (13, 8.0)):
        ids = rng.integers(0, 30, 2500)
        for _ in range(12):
            at, src = rng.integers(0, 2400, 2)
            ids[at : at + 90] = ids[src : src + 90][: len(ids[at : at + 90])]
        chosen = choose_phrases(ids, bias, min_length)
        hashes = fib_hashes(ids)
        assert chosen == parse(ids, hashes, bias, min_length)
        assert chosen and min(length for _, length in chosen) >= min_length
        assert phrase_keys(ids, chosen) == [int(hashes[n][s]) for s, n in chosen]


# -- params and errors ---------------------------------------------------------------------------


def test_registry_and_params() -> None:
    assert codec_class("fib") is FibCodec
    codec = FibCodec(esc_num=1, esc_den=1, o0_step=8, phrase_bias=3.0, min_phrase=5)
    again = FibCodec.from_params(codec.params())
    assert again.params() == codec.params()
    with pytest.raises(FormatError, match=r"unknown fib parameters \['nope'\]"):
        FibCodec.from_params({"nope": 1})
    with pytest.raises(FormatError, match=r"esc_den must be an integer in 1\.\.255"):
        FibCodec.from_params({"esc_den": 0})
    with pytest.raises(ValueError, match=r"o0_step must be an integer in 1\.\.255"):
        FibCodec(o0_step=300)
    with pytest.raises(ValueError, match=r"min_phrase must be an integer in 2\.\.144"):
        FibCodec(min_phrase=1)


def test_encoder_settings_travel_in_the_payload() -> None:
    data = (CANTERBURY / "grammar.lsp").read_bytes()
    payload = FibCodec(esc_num=1, esc_den=4, o0_step=4).encode(data)
    assert FibCodec().decode(payload, len(data)) == data


def _corruptions(payload: bytes) -> list[bytes]:
    rng = random.Random(3)
    out = [payload[:k] for k in range(0, len(payload), max(1, len(payload) // 40))]
    for _ in range(60):
        b = bytearray(payload)
        for _ in range(rng.randint(1, 3)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        out.append(bytes(b))
    out += [payload + b"\x00" * 4, payload + b"junk", b"\x02" + payload[1:], b"\x01"]
    out.append(b"\x01\x03\x02\x10" + b"\xff" * 12)
    return out


@pytest.mark.parametrize("name", ["fib_mixed", "fib_text", "fib_edge"])
@pytest.mark.parametrize("version", [1, VERSION])
def test_corrupt_payloads_raise_nacrith_errors(name: str, version: int) -> None:
    data = GOLDEN_INPUTS[name]
    codec = FibCodec()
    if version == VERSION:
        payload = codec.encode(data)
    else:
        payload = _golden_path(name, version).read_bytes()[12 + len(data) :]
    assert payload[0] == version
    for bad in _corruptions(payload):
        try:
            out = codec.decode(bad, len(data))
        except NacrithError:
            continue
        assert len(out) == len(data)  # a flip that still decodes must keep the size


def test_wrong_size_is_corrupt() -> None:
    data = GOLDEN_INPUTS["fib_text"]
    codec = FibCodec()
    payload = codec.encode(data)
    for size in (0, 1, len(data) - 1, len(data) + 1, 10**9):
        with pytest.raises(NacrithError, match=r"declares \d+ tokens|decoded to \d+ bytes"):
            codec.decode(payload, size)
    with pytest.raises(CorruptDataError, match="stored fib chunk holds 3 bytes, expected 4"):
        codec.decode(b"\x00abc", 4)


# -- golden payloads -----------------------------------------------------------------------------


def _golden_path(name: str, version: int) -> Path:
    prefix = "fib_" if version == 1 else f"fib{version}_"
    return GOLDEN / f"{prefix}{name.removeprefix('fib_')}.bin"


def _write_golden(name: str, data: bytes) -> None:
    payload = FibCodec().encode(data)
    blob = GOLDEN_MAGIC + struct.pack("<I", len(data)) + data + payload
    _golden_path(name, VERSION).write_bytes(blob)


if os.environ.get("NACRITH_REGEN_GOLDEN") == "1":
    for _name, _data in GOLDEN_INPUTS.items():
        if not _golden_path(_name, VERSION).exists():
            _write_golden(_name, _data)


@pytest.mark.parametrize("version", [1, VERSION])
@pytest.mark.parametrize("name", sorted(GOLDEN_INPUTS))
def test_golden_payload_decodes(name: str, version: int) -> None:
    blob = _golden_path(name, version).read_bytes()
    assert blob[:8] == GOLDEN_MAGIC
    (size,) = struct.unpack("<I", blob[8:12])
    data, payload = blob[12 : 12 + size], blob[12 + size :]
    assert data == GOLDEN_INPUTS[name]
    assert payload[0] == version  # the fib path, not the stored fallback
    assert FibCodec().decode(payload, size) == data
