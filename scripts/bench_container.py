"""Container overhead: archive bytes that are not payload, container version 1 against 2.

For each small input and method this compresses once (a version-2 archive, the default),
writes the same chunks, payloads and settings again as a version-1 member, and prints both
sizes and their overhead (archive size minus payload bytes), next to what zstd -19, gzip -9 and
xz -9e make of the same file (their command-line tools, from standard input). With --write, the
table goes into the "container" section of BENCHMARKS.md.

    OPENBLAS_NUM_THREADS=1 python scripts/bench_container.py [--methods fast,zstd,llm]
        [--llm-max-bytes 1500] [--write]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO))

from benchmd import update_section  # noqa: E402

import nacrith  # noqa: E402
from nacrith.formats.container import iter_members, write_member  # noqa: E402

CANTERBURY = REPO / "corpora" / "canterbury"
PEERS = (
    ("zstd -19", ["zstd", "-19", "-q", "-c"]),
    ("gzip -9", ["gzip", "-9", "-c"]),
    ("xz -9e", ["xz", "-9e", "-c"]),
)


def inputs() -> list[tuple[str, bytes]]:
    """The small files of the benchmark: a 1,500-byte text and three small Canterbury files."""
    alice = (CANTERBURY / "alice29.txt").read_bytes()[:1500]
    files = [("alice29.txt[:1500]", alice)]
    files += [
        (name, (CANTERBURY / name).read_bytes()) for name in ("xargs.1", "grammar.lsp", "fields.c")
    ]
    return files


def as_version_1(archive: bytes, data: bytes) -> bytes | None:
    """The archive's members written again in container version 1 (None for a long-range
    member, which version 1 cannot hold)."""
    out = io.BytesIO()
    pos = 0
    for member in iter_members(io.BytesIO(archive)):
        if member.long_range:
            return None
        chunks = []
        for record in member.chunks:
            chunks.append(
                (record.codec_id, data[pos : pos + record.raw_size], record.read_payload())
            )
            pos += record.raw_size
        size = member.reader.original_size
        write_member(out, member.codec_params, chunks, size, version=1)
    return out.getvalue()


def payload_bytes(archive: bytes) -> int:
    """Bytes of all chunk payloads of an archive."""
    return sum(r.coded_size for m in iter_members(io.BytesIO(archive)) for r in m.chunks)


def peer_size(command: list[str], data: bytes) -> int | None:
    """Output bytes of a compressor's command-line tool on `data` (None when not installed)."""
    if shutil.which(command[0]) is None:
        return None
    return len(subprocess.run(command, input=data, capture_output=True, check=True).stdout)


def measure(methods: list[str], llm_max: int) -> tuple[list[str], list[str]]:
    """Table rows, and notes on what was skipped."""
    rows, notes = [], []
    for name, data in inputs():
        peers = [peer_size(cmd, data) for _label, cmd in PEERS]
        for method in methods:
            if method in ("llm", "auto") and len(data) > llm_max:
                notes.append(f"{name}: {method} skipped (over --llm-max-bytes {llm_max})")
                continue
            v2 = nacrith.compress(data, method=method, workers=1)
            if nacrith.decompress(v2) != data:
                raise SystemExit(f"{name} {method}: the version-2 archive does not round-trip")
            v1 = as_version_1(v2, data)
            if v1 is None or nacrith.decompress(v1) != data:
                notes.append(f"{name} {method}: no version-1 equivalent")
                continue
            payload = payload_bytes(v2)
            cells = [
                name,
                str(len(data)),
                method,
                str(payload),
                str(len(v1)),
                str(len(v1) - payload),
                str(len(v2)),
                str(len(v2) - payload),
                *("-" if p is None else str(p) for p in peers),
            ]
            rows.append("| " + " | ".join(cells) + " |")
            print(rows[-1], flush=True)
    return rows, notes


def main() -> None:
    """Run the benchmark; print the table, and write it into BENCHMARKS.md with --write."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="fast,zstd,auto")
    parser.add_argument("--llm-max-bytes", type=int, default=1500)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rows, notes = measure(args.methods.split(","), args.llm_max_bytes)
    peers = " | ".join(label for label, _cmd in PEERS)
    body = "\n".join(
        [
            "## Container overhead",
            "",
            "Archive bytes that are not chunk payload, container version 1 against version 2 (the "
            "default): the same payloads and settings in both. Peers: the whole output of their "
            "command-line tools (from standard input) for scale. 1-minute load average "
            f"{load:.2f}.",
            "",
            "| file | bytes | method | payload | v1 archive | v1 overhead | v2 archive "
            f"| v2 overhead | {peers} |",
            "|---|---:|---|---:|---:|---:|---:|---:|" + "---:|" * len(PEERS),
            *rows,
            *([""] + [f"- {n}" for n in notes] if notes else []),
        ]
    )
    print(body)
    if args.write:
        update_section("container", body)


if __name__ == "__main__":
    main()
