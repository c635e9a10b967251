"""fib codec speed, an earlier commit against the working tree, in one run (A/B).

Usage: python scripts/bench_fib_ab.py --base REV [--files PATH,...] [--repeat N] [--no-write]

Extracts `nacrith/` of commit REV (`git archive`) into a temporary folder and, alternating the
two trees run by run (each in a fresh process), encodes and decodes every file with `FibCodec`,
checking the round trip. It reports the best CPU time of `--repeat` runs each way (CPU time, not
wall time: on a shared machine the load inflates both trees alike when the runs alternate) and
whether both trees wrote the same payload. Writes section "fib-speed" of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

from benchmd import update_section  # noqa: E402

DEFAULT_FILES = ("corpora/canterbury/cp.html", "corpora/canterbury/alice29.txt")
_RUN = r"""
import hashlib, json, sys, time
from nacrith.codecs.fib import FibCodec
data = open(sys.argv[1], "rb").read()
t = time.process_time(); payload = FibCodec().encode(data); enc = time.process_time() - t
t = time.process_time(); out = FibCodec().decode(payload, len(data)); dec = time.process_time() - t
if out != data:
    raise SystemExit("round trip failed")
print(json.dumps([enc, dec, len(payload), hashlib.sha256(payload).hexdigest()]))
"""


def extract(rev: str, folder: Path) -> None:
    """`nacrith/` of commit `rev` under `folder`."""
    blob = subprocess.run(
        ["git", "archive", rev, "nacrith"], cwd=REPO, check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(folder, filter="data")


def one_run(root: Path, path: Path) -> list:
    """[encode CPU s, decode CPU s, payload bytes, payload sha256] in a fresh process."""
    env = dict(os.environ, PYTHONPATH=str(root), OPENBLAS_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-c", _RUN, str(path)],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Run the A/B, print the table, write BENCHMARKS.md."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="the earlier commit")
    ap.add_argument("--files", default=",".join(DEFAULT_FILES), help="comma-separated paths")
    ap.add_argument("--repeat", type=int, default=3, help="runs per tree (best kept)")
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args()
    base = subprocess.run(
        ["git", "rev-parse", "--short", args.base], cwd=REPO, check=True, capture_output=True
    )
    base_name = base.stdout.decode().strip()
    loads = [os.getloadavg()[0]]
    rows = []
    with tempfile.TemporaryDirectory(prefix="fib-ab-") as tmp:
        extract(args.base, Path(tmp))
        for name in args.files.split(","):
            path = Path(name).resolve()
            size = path.stat().st_size
            runs: dict[str, list[list]] = {"base": [], "work": []}
            for _ in range(max(1, args.repeat)):
                runs["base"].append(one_run(Path(tmp), path))
                runs["work"].append(one_run(REPO, path))
            loads.append(os.getloadavg()[0])
            cells = []
            for tag in ("base", "work"):
                enc = min(r[0] for r in runs[tag])
                dec = min(r[1] for r in runs[tag])
                cells.append(
                    f"{enc:.2f} s ({size / 1e6 / enc:.2f}) / {dec:.2f} s ({size / 1e6 / dec:.2f})"
                )
            same = "yes" if runs["base"][0][3] == runs["work"][0][3] else "no"
            rows.append(
                f"| {path.name} | {size:,} | {runs['work'][0][2]:,} | {cells[0]} | {cells[1]} "
                f"| {same} |"
            )
            print(rows[-1], file=sys.stderr, flush=True)
    text = "\n".join(
        [
            "## fib codec speed: before and after (same run)",
            "",
            f"Best CPU seconds of {args.repeat} runs per tree, runs alternating between commit "
            f"{base_name} and the working tree, each in a fresh process (MB/s of CPU time in "
            f"brackets; 1-minute load average {min(loads):.1f} to {max(loads):.1f}: on a shared "
            "machine CPU time is inflated too, alike for both trees).",
            "",
            f"| file | bytes | payload | {base_name} encode / decode | working tree encode / "
            "decode | same payload |",
            "|---|---:|---:|---:|---:|---|",
            *rows,
        ]
    )
    print(text)
    if not args.no_write:
        update_section("fib-speed", text)


if __name__ == "__main__":
    main()
