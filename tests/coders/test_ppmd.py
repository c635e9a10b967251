"""`nacrith.coders.ppmd`: verified PPMd streams, bounded decoding, determinism."""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys

import pyppmd
import pytest

from nacrith.coders import ppmd
from nacrith.errors import CorruptDataError
from tests.paths import CANTERBURY, CORPORA, REPO

ALICE = (CANTERBURY / "alice29.txt").read_bytes()[:40_000]
#: a slice of enwik8 (in corpora/enwik/enwik6) on which pyppmd's order-10 stream, with the
#: 2 MiB model the logs codec gives a stream of this size, does not decode
ENWIK_FAILS_AT_10 = slice(16_384, 132_672)
FAILING_ORDER, FAILING_MEM = 10, 2 << 20


def _failing_input() -> bytes:
    return (CORPORA / "enwik" / "enwik6").read_bytes()[ENWIK_FAILS_AT_10]


@pytest.mark.parametrize("order", [2, 4, 8, 16, 64])
def test_round_trip(order: int) -> None:
    coded = ppmd.encode(ALICE, order, 4 << 20)
    assert coded is not None and len(coded) < len(ALICE) // 2
    assert ppmd.decode(coded, order, 4 << 20, len(ALICE)) == ALICE


def test_empty_input() -> None:
    assert ppmd.encode(b"", 6, 1 << 20) == b""
    assert ppmd.decode(b"", 6, 1 << 20, 0) == b""


def test_pyppmd_bug_still_reproduces_and_encode_refuses_the_stream() -> None:
    """pyppmd writes a stream its own decoder rejects; `encode` must never return it."""
    data = _failing_input()
    enc = pyppmd.Ppmd8Encoder(FAILING_ORDER, FAILING_MEM)
    raw = enc.encode(data) + enc.flush(endmark=False)
    with pytest.raises(CorruptDataError, match="PPMd stream does not decode"):
        ppmd.decode(raw, FAILING_ORDER, FAILING_MEM, len(data))
    assert ppmd.encode(data, FAILING_ORDER, FAILING_MEM) is None
    # the same data at another order round-trips
    coded = ppmd.encode(data, 6, FAILING_MEM)
    assert coded is not None
    assert ppmd.decode(coded, 6, FAILING_MEM, len(data)) == data


def test_damaged_streams_give_errors_or_the_asked_length() -> None:
    """No checksum inside PPMd: damage shows as an error or as wrong bytes of the right length
    (the container's checksum catches those); never a hang, a crash or another length."""
    coded = ppmd.encode(ALICE, 8, 4 << 20)
    assert coded is not None
    rng = random.Random(7)
    damaged = [
        coded[: len(coded) // 3],
        b"",
        bytes(64),
        bytes(rng.randrange(256) for _ in range(999)),
    ]
    for _ in range(20):
        flipped = bytearray(coded)
        flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        damaged.append(bytes(flipped))
    for payload in damaged:
        try:
            out = ppmd.decode(payload, 8, 4 << 20, len(ALICE))
        except CorruptDataError:
            continue
        assert len(out) == len(ALICE)


def test_bad_settings_are_value_errors() -> None:
    with pytest.raises(ValueError, match="PPMd order"):
        ppmd.encode(ALICE, 1, 1 << 20)
    with pytest.raises(ValueError, match="PPMd order"):
        ppmd.decode(b"", 65, 1 << 20, 0)
    with pytest.raises(ValueError, match="PPMd memory"):
        ppmd.encode(ALICE, 6, 2 << 30)
    with pytest.raises(ValueError, match="raw_len"):
        ppmd.decode(b"", 6, 1 << 20, -1)


_CHILD = """
import hashlib, sys
from nacrith.coders import ppmd
data = open(sys.argv[1], "rb").read()[:60000]
first = ppmd.encode(data, 12, 8 << 20)
second = ppmd.encode(data, 12, 8 << 20)
assert first == second
print(hashlib.sha256(first).hexdigest())
"""


def test_streams_are_the_same_in_every_process() -> None:
    path = CANTERBURY / "lcet10.txt"
    here = ppmd.encode(path.read_bytes()[:60000], 12, 8 << 20)
    assert here is not None
    want = hashlib.sha256(here).hexdigest()
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path)],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout.strip() == want
