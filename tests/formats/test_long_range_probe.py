"""The long-range pass's probe: a sampled search that decides cheaply when the full search
cannot pay, and `look_ahead`, which runs the full search only where the probe allows it."""

from __future__ import annotations

import io
import random

import pytest

from nacrith.formats.long_range import LongRangeDecoder, LongRangeEncoder, MatchFinder
from nacrith.formats.long_range.finder import SAMPLE_PERIOD, SAMPLE_RUN
from nacrith.formats.long_range.lookahead import look_ahead
from nacrith.formats.long_range.reader import LongRangeReader, may_pay, pays

KiB = 1 << 10
MiB = 1 << 20


def _text(size: int, seed: int) -> bytes:
    """Lines of words drawn from a small vocabulary: no repeat of 64 bytes but by chance."""
    rng = random.Random(seed)
    words = [bytes(rng.choices(b"etaoinshrdlcum", k=rng.randint(2, 8))) for _ in range(3000)]
    out = bytearray()
    while len(out) < size:
        out += b" ".join(rng.choices(words, k=rng.randint(5, 15))) + b".\n"
    return bytes(out[:size])


def _with_repeats(size: int, distance: int, length: int, share: float, seed: int) -> bytes:
    """`_text` where repeats of `length` bytes, each copied from at least `distance` back,
    cover about `share` of the input."""
    rng = random.Random(seed)
    data = bytearray(_text(size, seed))
    for _ in range(max(1, round(size * share / length))):
        at = rng.randrange(distance + length, size - length)
        src = rng.randrange(0, at - distance - length + 1)
        data[at : at + length] = data[src : src + length]
    return bytes(data)


def _stats(data: bytes, min_distance: int, sampled: bool) -> object:
    encoder = LongRangeEncoder(min_distance, window_log=22, sampled=sampled)
    if sampled:
        encoder.scan(data)
    else:
        encoder.frame(data)  # `pays` needs the sample of matched bytes a frame keeps
    return encoder.stats


def test_sampled_finder_finds_a_long_repeat_whole() -> None:
    data = _with_repeats(MiB, 256 * KiB, 3 * SAMPLE_PERIOD + 77, 0.0, seed=1)
    full = MatchFinder(256 * KiB, 4 * MiB).find(data, 0, 0, len(data))
    sampled = MatchFinder(256 * KiB, 4 * MiB, sampled=True).find(data, 0, 0, len(data))
    assert len(full) == 1
    assert sampled == full


def test_sampled_finder_looks_up_only_its_sample() -> None:
    # one repeat of 96 bytes whose lookups all fall outside the sampled runs, one inside
    # (copied to unaligned positions: an aligned copy within a sub-block of the position
    # looked up would be indexed itself, the newer window taking the source's slot)
    base = bytearray(_text(MiB, seed=2))
    outside = 600 * KiB + SAMPLE_RUN + 33
    inside = 700 * KiB + 1
    assert outside % SAMPLE_PERIOD > SAMPLE_RUN and inside % SAMPLE_PERIOD == 1
    base[outside : outside + 96] = base[4096 : 4096 + 96]
    data = bytes(base)
    full = MatchFinder(256 * KiB, 4 * MiB).find(data, 0, 0, len(data))
    sampled = MatchFinder(256 * KiB, 4 * MiB, sampled=True).find(data, 0, 0, len(data))
    assert len(full) == 1 and full[0].start <= outside < full[0].start + full[0].length
    assert sampled == []
    base[inside : inside + 96] = base[4096 : 4096 + 96]
    data = bytes(base)
    sampled = MatchFinder(256 * KiB, 4 * MiB, sampled=True).find(data, 0, 0, len(data))
    assert len(sampled) == 1 and sampled[0].start <= inside < sampled[0].start + 96


@pytest.mark.parametrize("length", [64, 200, 1000, 6000, 40_000])
def test_probe_allows_every_input_where_the_full_search_pays(length: int) -> None:
    paying = 0
    for seed, share in enumerate([0.005, 0.012, 0.02, 0.05]):
        data = _with_repeats(2 * MiB, 256 * KiB, length, share, seed=seed)
        full = _stats(data, 256 * KiB, sampled=False)
        probe = _stats(data, 256 * KiB, sampled=True)
        assert probe.scanned == full.scanned == len(data)
        assert probe.matched <= full.matched
        if pays(full):
            paying += 1
            assert may_pay(probe), (length, share, probe.matched, full.matched)
    assert paying >= 2


def test_probe_refuses_text_without_far_repeats() -> None:
    assert not may_pay(_stats(_text(2 * MiB, seed=5), 256 * KiB, sampled=True))


def test_look_ahead_without_far_repeats_reads_ahead_and_returns_no_encoder() -> None:
    data = _text(5 * 256 * KiB + 1000, seed=6)
    reader = io.BytesIO(data[256 * KiB :])
    ahead = look_ahead(data[: 256 * KiB], reader, 128 * KiB, 22, 256 * KiB, 768 * KiB)
    assert ahead.encoder is None and ahead.frames is None
    assert b"".join(ahead.blocks) == data[: 768 * KiB]
    assert ahead.probe.scanned == 768 * KiB
    assert reader.read() == data[768 * KiB :]


def test_look_ahead_with_far_repeats_frames_like_the_full_search() -> None:
    block = 256 * KiB
    data = _with_repeats(6 * block + 5000, block, 3000, 0.05, seed=7)
    reader = io.BytesIO(data[block:])
    ahead = look_ahead(data[:block], reader, block // 2, 22, block, 4 * block)
    assert ahead.encoder is not None and ahead.frames is not None
    reference = LongRangeEncoder(block // 2, window_log=22)
    assert ahead.frames == [
        reference.frame(data[i * block : (i + 1) * block]) for i in range(len(ahead.frames))
    ]
    assert pays(ahead.encoder.stats)
    held = b"".join(ahead.blocks)
    assert data.startswith(held)
    # what look_ahead returns is a complete start for the stream
    from nacrith.formats.long_range.reader import ChainReader

    rest = ChainReader(ahead.blocks[len(ahead.frames) :], reader)
    framed = zip([len(b) for b in ahead.blocks], ahead.frames)
    stream = LongRangeReader(ahead.encoder, framed, rest, block).read()
    out: list[bytes] = []
    decoder = LongRangeDecoder(out.append)
    decoder.feed(stream)
    decoder.finish()
    assert b"".join(out) == data


@pytest.mark.parametrize(
    ("start", "count", "first"),
    [
        (0, MiB, 0),
        (4160, 300_001, 4160 + 2048 * 5 - 40),
        (MiB + 4096 - 40_031, 40_000, 12_345 * 32 + 1),
    ],
)
def test_sampled_hashes_are_the_full_hashes_at_the_sampled_offsets(
    start: int, count: int, first: int
) -> None:
    import numpy as np

    from nacrith.formats.long_range.finder import _hash_every_position, _hash_sampled

    data = _text(MiB + 4096, seed=8)
    first += (start - first) % 8  # the finder's spans start 8-aligned relative to positions
    slots, offsets = _hash_sampled(data, start, count, 23, first)
    full, _words = _hash_every_position(data, start, count, 23)
    k = np.arange(count)
    expected = k[(k + first) % SAMPLE_PERIOD < SAMPLE_RUN]
    assert np.array_equal(offsets, expected)
    assert np.array_equal(slots, full[expected])


@pytest.mark.parametrize("sampled", [False, True])
def test_matches_do_not_depend_on_where_the_table_entries_wrap(sampled: bool) -> None:
    # the same bytes at absolute position 0 and where the 32-bit table entries wrap in the
    # middle of them (the table is then written through np.unique instead of np.maximum.at)
    from nacrith.formats.long_range.finder import STRIDE

    data = _with_repeats(2 * MiB, 256 * KiB, 1000, 0.05, seed=9)
    far = ((1 << 32) - (MiB // STRIDE)) * STRIDE
    found = []
    for base in (0, far):
        finder = MatchFinder(256 * KiB, 4 * MiB, sampled=sampled)
        matches = finder.find(data, base, base, base + len(data))
        found.append([(m.start - base, m.distance, m.length) for m in matches])
    assert len(found[0]) > 50
    assert found[0] == found[1]
