"""Coverage-guided fuzzing of nacrith's decoders with atheris (libFuzzer).

    python scripts/fuzz.py --target decompress --seconds 600
    python scripts/fuzz.py --target all --runs 200000

Targets: `decompress` (nacrith.decompress), `open` (nacrith.open reading), `info` (the container
reader without decoding), and one target per codec payload decoder (`codec:zstd`, `codec:fib`,
`codec:logs`, `codec:stored`); `all` runs each in turn. Seeds come from tests/golden/ (archives
and codec payloads). Allowed outcomes are correct output or a `NacrithError`; any other
exception, a hang (-timeout) or memory blow-up (-rss_limit_mb) is a crash: libFuzzer writes the
input to tests/fuzz_regressions/, which the test suite replays forever.

Prints one line per target: executions, seconds, crashes. Needs `pip install atheris`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "tests" / "golden"
REGRESSIONS = REPO / "tests" / "fuzz_regressions"
MAX_OUTPUT = 1 << 22
CODEC_TARGETS = ("stored", "zstd", "fib", "logs")
TARGETS = ("decompress", "open", "info", *(f"codec:{c}" for c in CODEC_TARGETS))


def run_one(target: str, data: bytes) -> None:
    """Feed `data` to `target`; return normally or raise a NacrithError (anything else is a bug)."""
    from nacrith.formats.codec import codec_class
    from nacrith.formats.container import iter_members

    import nacrith

    if target == "decompress":
        nacrith.decompress(data, workers=1, max_output_size=MAX_OUTPUT)
    elif target == "open":
        with nacrith.open(io.BytesIO(data), "rb", workers=1, max_output_size=MAX_OUTPUT) as f:
            f.read(100)
            f.read()
    elif target == "info":
        for member in iter_members(io.BytesIO(data)):
            for _record in member.chunks:
                pass
    elif target.startswith("codec:"):
        codec_id = target.split(":", 1)[1]
        if len(data) < 3:
            return
        raw_size = int.from_bytes(data[:3], "little") % (1 << 20)
        codec = codec_class(codec_id)()
        codec.decode(data[3:], raw_size)
    else:
        raise ValueError(f"unknown target {target!r}")


def seeds(target: str) -> list[bytes]:
    """Seed inputs for a target from the golden files."""
    if target.startswith("codec:"):
        codec_id = target.split(":", 1)[1]
        out = []
        for path in sorted(GOLDEN.glob(f"{codec_id}_*.bin")):
            payload = path.read_bytes()
            size_file = path.with_suffix(".json")
            raw_size = 0
            if size_file.exists():
                raw_size = int(json.loads(size_file.read_text()).get("raw_size", 0))
            out.append(raw_size.to_bytes(3, "little") + payload)
        return out or [b"\x00\x00\x00"]
    return [p.read_bytes() for p in sorted(GOLDEN.glob("*.ncz"))]


def _fuzz_child(target: str, corpus: str, args: list[str]) -> None:
    import atheris

    with atheris.instrument_imports():
        import nacrith.formats.basic
        import nacrith.formats.container

        import nacrith  # noqa: F401

        if target.startswith("codec:"):
            from nacrith.formats.codec import codec_class

            codec_class(target.split(":", 1)[1])
    from nacrith.errors import NacrithError

    def test_one(data: bytes) -> None:
        with contextlib.suppress(NacrithError):
            run_one(target, data)

    atheris.Setup([sys.argv[0], *args, corpus], test_one)
    atheris.Fuzz()


def fuzz(target: str, seconds: int | None, runs: int | None) -> tuple[int, float, int]:
    """Fuzz one target in a subprocess; return (executions, seconds, crashes saved)."""
    REGRESSIONS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as corpus:
        for i, seed in enumerate(seeds(target)):
            Path(corpus, f"seed{i}").write_bytes(seed)
        crash_dir = Path(corpus, "crashes")
        crash_dir.mkdir()
        args = [
            f"-artifact_prefix={crash_dir}/",
            "-timeout=20",
            "-rss_limit_mb=3072",
            "-max_len=65536",
            "-print_final_stats=1",
        ]
        if seconds:
            args.append(f"-max_total_time={seconds}")
        if runs:
            args.append(f"-runs={runs}")
        start = time.monotonic()
        proc = subprocess.run(
            [sys.executable, __file__, "--child", target, corpus, *args],
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.monotonic() - start
        executions = 0
        for line in proc.stderr.splitlines():
            if line.startswith("stat::number_of_executed_units:"):
                executions = int(line.split(":")[-1])
        crashes = 0
        for crash in crash_dir.iterdir():
            name = f"{target.replace(':', '_')}-{crash.name}"
            shutil.copy(crash, REGRESSIONS / name)
            crashes += 1
        if proc.returncode != 0 and crashes == 0:
            print(proc.stderr[-3000:], file=sys.stderr)
        return executions, elapsed, crashes


def main() -> int:
    """Command-line entry."""
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _fuzz_child(sys.argv[2], sys.argv[3], sys.argv[4:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="all", choices=(*TARGETS, "all"))
    parser.add_argument("--seconds", type=int, default=None, help="time per target")
    parser.add_argument("--runs", type=int, default=None, help="executions per target")
    args = parser.parse_args()
    if not args.seconds and not args.runs:
        parser.error("give --seconds or --runs")
    targets = TARGETS if args.target == "all" else (args.target,)
    total = 0
    for target in targets:
        executions, elapsed, crashes = fuzz(target, args.seconds, args.runs)
        total += executions
        print(f"{target:14s} {executions:>10} executions {elapsed:8.1f} s {crashes} crash(es)")
    print(f"total          {total:>10} executions")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
