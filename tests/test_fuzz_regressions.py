"""Replays every input scripts/fuzz.py ever saved (tests/fuzz_regressions/) and mutated goldens.

Allowed outcomes: normal return or a NacrithError. Files are named `TARGET-crash-HASH`, where
TARGET is a scripts/fuzz.py target with ':' written as '_'.
"""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import pytest

from nacrith.errors import NacrithError
from tests.paths import TESTS

HERE = TESTS
_spec = importlib.util.spec_from_file_location("nacrith_fuzz", HERE.parent / "scripts" / "fuzz.py")
assert _spec is not None and _spec.loader is not None
fuzz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz)

#: inputs of open bugs outside the fuzzed decoders (see fuzz.KNOWN_BUGS): expected to fail
#: until fixed; strict, so a fix shows up as XPASS and the entry must then be removed
OPEN_BUGS: dict[str, str] = {}
REGRESSIONS = [
    pytest.param(
        path,
        marks=pytest.mark.xfail(reason=OPEN_BUGS[path.name], raises=AssertionError, strict=True),
    )
    if path.name in OPEN_BUGS
    else path
    for path in sorted((HERE / "fuzz_regressions").glob("*-*"))
]


def _target_of(path: Path) -> str:
    prefix = path.name.split("-", 1)[0]
    return prefix.replace("codec_", "codec:", 1)


@pytest.mark.parametrize("path", REGRESSIONS, ids=lambda p: p.name)
def test_saved_crash_inputs(path: Path) -> None:
    try:
        fuzz.run_one(_target_of(path), path.read_bytes())
    except NacrithError:
        pass


@pytest.mark.parametrize(
    ("target", "rounds"),
    [("decompress", 300), ("open", 300), ("info", 300), ("logarchive", 100), ("text_front", 2000)],
)
def test_mutated_goldens(target: str, rounds: int) -> None:
    rng = random.Random(1234)
    seeds = fuzz.seeds(target)
    assert seeds, "no golden archives to mutate"
    for _ in range(rounds):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            op = rng.randrange(3)
            pos = rng.randrange(len(data) + 1)
            if op == 0 and data:
                data[min(pos, len(data) - 1)] = rng.randrange(256)
            elif op == 1:
                data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
            else:
                del data[pos : pos + rng.randint(1, 16)]
        try:
            fuzz.run_one(target, bytes(data))
        except NacrithError:
            pass
