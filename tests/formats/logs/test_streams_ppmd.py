"""Logs sub-streams never hold a PPMd stream that does not decode (pyppmd's round-trip bugs)."""

from __future__ import annotations

import pyppmd
import pytest

from nacrith.codecs.logs import S_TEXT, LogsCodec
from nacrith.errors import CorruptDataError
from nacrith.formats.logs import streams as ls
from tests.paths import CORPORA

#: slices of enwik8 (corpora/enwik/enwik6) on which pyppmd's stream, with the model memory the
#: logs format gives a stream of that size, does not decode, and the order it fails at
FAILING = {
    ls.PPMD_ORDER16: slice(131_072, 262_144),
    6: slice(16_384, 132_672),  # back end 6: order 10
}


def _data(backend: int) -> bytes:
    return (CORPORA / "enwik" / "enwik6").read_bytes()[FAILING[backend]]


@pytest.mark.parametrize("backend", sorted(FAILING))
def test_pyppmd_fails_on_the_reproducer(backend: int) -> None:
    """The reproducers still reproduce: pyppmd's own stream does not decode."""
    data = _data(backend)
    enc = pyppmd.Ppmd8Encoder(ls.PPMD_ORDERS[backend], ls._ppmd_mem(len(data)))
    raw = enc.encode(data) + enc.flush(endmark=False)
    with pytest.raises(CorruptDataError, match="does not decode"):
        ls.decompress_stream(raw, backend, len(data))
    assert ls.compress_stream(data, backend) is None


@pytest.mark.parametrize("backend", sorted(FAILING))
def test_a_failing_ppmd_stream_goes_to_the_next_back_end(backend: int) -> None:
    """The back ends the logs codec tries for a text stream: PPMd, then xz."""
    data = _data(backend)
    chosen, coded = ls.compress_best(data, [backend, ls.LZMA])
    assert chosen == ls.LZMA
    assert ls.decompress_stream(coded, chosen, len(data)) == data


def test_text_streams_of_the_codec_use_these_back_ends() -> None:
    """The codec's default back ends for text streams are the ones tested above."""
    assert LogsCodec()._backends(S_TEXT, 1 << 20)[:2] == [ls.PPMD_ORDER16, ls.LZMA]


def test_max_effort_round_trips_text_with_failing_orders() -> None:
    """Effort `max` tries every PPMd order on each stream and on the whole chunk."""
    data = _data(ls.PPMD_ORDER16)
    codec = LogsCodec(effort="max")
    assert codec.decode(codec.encode(data), len(data)) == data
