"""The pipeline's per-chunk codec choice: methods `fast` and `xz`, and `auto` on binary and logs.

`fast` picks per chunk among fib, ppmd, xz, zstd (and logs where a chunk looks like logs) by coding
a sample of the chunk each way; these tests check which codec real inputs end up with, that
the choice never depends on the worker count, and that every archive round trips.
"""

from __future__ import annotations

import io
import lzma
import random

import pytest

import nacrith
from nacrith.codecs.registry import METHODS
from nacrith.formats.container import iter_members
from nacrith.pipeline import ESTIMATE_SAMPLE, Settings, _Plan
from nacrith.workers import BATCH_BYTES, group_batches
from tests.paths import CANTERBURY, LOGHUB
from tests.samples import synthetic_log


def _long_range(archive: bytes) -> list[bool]:
    """Per member: whether it holds a long-range stream."""
    flags = []
    for member in iter_members(io.BytesIO(archive)):
        flags.append(member.long_range)
        for _record in member.chunks:
            pass
    return flags


def _codec_ids(archive: bytes) -> list[str]:
    ids: list[str] = []
    for member in iter_members(io.BytesIO(archive)):
        ids += [record.codec_id for record in member.chunks]
    return ids


def _round_trip(data: bytes, method: str, **kwargs: object) -> list[str]:
    archive = nacrith.compress(data, method=method, **kwargs)
    assert nacrith.decompress(archive) == data
    return _codec_ids(archive)


WORDS = [
    *(b"the", b"of", b"and", b"a", b"to", b"in", b"is", b"was", b"that", b"for", b"it", b"with"),
    *(b"Alice", b"Rabbit", b"Queen", b"garden", b"tea", b"curious", b"little", b"door"),
]


def _prose(size: int) -> bytes:
    rng = random.Random(3)
    words = WORDS
    out = bytearray()
    while len(out) < size:
        out += b" ".join(rng.choice(words) for _ in range(rng.randint(5, 15))) + b".\n"
    return bytes(out[:size])


def test_fast_is_a_method() -> None:
    assert METHODS[:2] == ("auto", "fast")
    assert Settings(method="fast").method == "fast"


def test_fast_codes_prose_with_ppmd() -> None:
    data = (CANTERBURY / "alice29.txt").read_bytes()
    assert _round_trip(data, "fast") == ["ppmd"]
    fib = nacrith.compress(data, method="fib")
    assert len(nacrith.compress(data, method="fast")) < len(fib)


def test_fast_codes_logs_with_logs() -> None:
    data = (LOGHUB / "HDFS" / "HDFS_2k.log").read_bytes()
    assert _round_trip(data, "fast") == ["logs"]


def test_fast_codes_binary_with_xz_where_it_wins() -> None:
    data = (CANTERBURY / "kennedy.xls").read_bytes()[: 3 * ESTIMATE_SAMPLE]
    assert _round_trip(data, "fast") == ["xz"]


def test_fast_keeps_a_small_executable_whole() -> None:
    # text runs inside a small binary stay in it, so xz's branch filter sees one chunk
    data = (CANTERBURY / "sum").read_bytes()
    ids = _round_trip(data, "fast")
    assert ids == ["xz"]
    assert len(nacrith.compress(data, method="fast")) < len(
        lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)
    )


def test_fast_splits_large_text_and_binary_regions() -> None:
    data = _prose(200_000) + random.Random(1).randbytes(100_000) + _prose(150_000)
    ids = _round_trip(data, "fast")
    assert ids[0] == "ppmd" and ids[-1] == "ppmd"
    assert "stored" in ids  # random bytes: nothing shrinks them


def test_fast_output_does_not_depend_on_workers() -> None:
    data = _prose(300_000) + synthetic_log(3000) + (CANTERBURY / "ptt5").read_bytes()[:200_000]
    one = nacrith.compress(data, method="fast", chunk_size=150_000)
    two = nacrith.compress(data, method="fast", chunk_size=150_000, workers=2)
    assert one == two
    assert nacrith.decompress(two, workers=2) == data
    assert len(set(_codec_ids(one))) >= 2


def test_pick_estimates_only_cheap_codecs_on_large_chunks() -> None:
    plan = _Plan(Settings(method="fast"), b"", {})
    small = _prose(ESTIMATE_SAMPLE)
    assert plan._pick(("fib", "xz", "zstd"), small) == ("fib", "xz", "zstd")
    big = _prose(4 * ESTIMATE_SAMPLE)
    assert plan._pick(("fib", "xz", "zstd"), big) == ("fib",)
    assert plan._pick(("llm", "zstd"), big) == ("llm", "zstd")


@pytest.mark.parametrize("method", ["xz", "fast"])
def test_round_trip_edge_inputs(method: str) -> None:
    for data in (b"", b"x", bytes(range(256)) * 3, "naïve café\r\n".encode() * 50):
        _round_trip(data, method)


def test_xz_method_codes_everything_with_xz() -> None:
    data = _prose(50_000) + bytes(range(256)) * 100 + _prose(20_000)
    assert set(_round_trip(data, "xz", chunk_size=40_000)) == {"xz"}


def test_auto_binary_tries_xz() -> None:
    data = (CANTERBURY / "kennedy.xls").read_bytes()[: 3 * ESTIMATE_SAMPLE]
    assert _round_trip(data, "auto") == ["xz"]


def test_fast_finds_repeats_a_few_mib_apart_in_one_chunk_or_across_chunks() -> None:
    part = random.Random(2).randbytes(1 << 20)
    data = part + bytes(5 << 20) + part  # the copy starts 6 MiB after the original
    whole = nacrith.compress(data, method="fast")
    assert len(whole) < (1 << 20) + (100 << 10)
    assert nacrith.decompress(whole) == data
    # 4 MiB chunks never hold both copies: the long-range pass finds the repeat
    split = nacrith.compress(data, method="fast", chunk_size=4 << 20)
    assert _long_range(split) == [True]
    assert len(split) < (1 << 20) + (100 << 10)
    assert nacrith.decompress(split) == data


def test_batches_of_a_large_input_shrink_toward_its_end() -> None:
    mib = 1 << 20
    sizes = [sum(group) for group in group_batches([mib] * 40, lambda size: size, 40 * mib, 2, 64)]
    assert sum(sizes) == 40 * mib
    assert sizes[0] == BATCH_BYTES and sizes[-2:] == [mib, mib]
    assert sizes == sorted(sizes, reverse=True)


def test_a_small_input_is_spread_evenly_one_batch_per_worker() -> None:
    sizes = [sum(group) for group in group_batches([1000] * 8, lambda size: size, 8000, 2, 64)]
    assert sizes == [4000, 4000]


def test_batches_of_an_input_of_unknown_size_are_full() -> None:
    mib = 1 << 20
    groups = list(group_batches([mib] * 10, lambda size: size, None, 2, 64))
    assert [sum(group) for group in groups] == [4 * mib, 4 * mib, 2 * mib]


def test_a_block_of_an_input_of_unknown_size_is_spread_without_shrinking() -> None:
    mib = 1 << 20
    groups = list(group_batches([mib] * 16, lambda size: size, 16 * mib, 8, 64, shrink=False))
    assert [sum(group) for group in groups] == [2 * mib] * 8
