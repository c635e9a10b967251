"""Coverage-guided fuzzing of nacrith's decoders with atheris (libFuzzer).

    python scripts/fuzz.py --target decompress --seconds 600
    python scripts/fuzz.py --target all --runs 200000

Targets: `decompress` (nacrith.decompress), `open` (nacrith.open reading), `info` (the container
reader without decoding), `logarchive` (`nacrith.logs.LogArchive` reading and searching a fuzzed
file), and one target per codec payload decoder (`codec:stored`, `codec:zstd`, `codec:xz`,
`codec:fib`, `codec:logs`, `codec:llm`), and `text_front` (the `llm` codec's text front end:
escapes, reflow and line ends undone from fuzzed side data, no model); `all` runs each in turn.
Seeds come from tests/golden/ (archives and codec payloads) and, for `codec:llm`, `text_front`
and `logarchive`, from payloads and archives made at start.
Allowed outcomes are correct output (a codec must return exactly `raw_size` bytes) or a
`NacrithError`; any other exception, a hang (-timeout) or memory blow-up (-rss_limit_mb) is a
crash: libFuzzer writes the input to tests/fuzz_regressions/, which the test suite replays
forever.

`codec:llm` runs the real model (SmolLM2-135M, fetched into ~/.cache/nacrith) with a small
context (`LLM_SETTINGS`); its input is one byte giving raw_size (0..64, which bounds the tokens
decoded per execution) and the payload, so it manages a few executions per second.

Prints one line per target: executions, seconds, crashes. Needs `pip install atheris`.
"""

from __future__ import annotations

import argparse
import atexit
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
from typing import Any

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "tests" / "golden"
REGRESSIONS = REPO / "tests" / "fuzz_regressions"
MAX_OUTPUT = 1 << 22
CODEC_TARGETS = ("stored", "zstd", "xz", "fib", "logs", "llm")
#: no '-' in a name: saved inputs are named TARGET-KIND-HASH (':' written as '_')
TARGETS = (
    "decompress",
    "open",
    "info",
    "logarchive",
    *(f"codec:{c}" for c in CODEC_TARGETS),
    "text_front",
)
#: bytes SmolLM2's tokenizer cannot represent, for the `text_front` seeds' escapes
LLM_LOSSY_BYTES = {4, 6, 0x13, 0x14, 0x16, 0x1D, 0xC0, 0xC1, 0xF1, 0xF2, *range(0xF5, 0x100)}
#: the llm codec the `codec:llm` target decodes with: explicit, small, independent of defaults
LLM_SETTINGS: dict[str, Any] = {"model": "smollm2-135m", "n_ctx": 64, "keep": 32, "max_streams": 1}
LLM_MAX_RAW = 64
LLM_SEED_TEXTS = (
    b"Alice was beginning to get very tired of sitting by her sister.",
    b"The quick brown fox\r\njumps over the lazy dog.\r\n",
    b"caf\xc3\xa9 \xe2\x80\x94 na\xc3\xafve \x01\x02 tab\there\n",
    b"def f(x):\n    return x * 2  # doubled\n",
    b"2024-05-01 00:00:10 job 1 done\n",
    b"\x00\xff\xfe binary \x80\x81",
    b"a",
)
#: searches the `logarchive` target runs over every input (pattern, keyword arguments)
LOG_QUERIES: tuple[tuple[bytes, dict[str, Any]], ...] = (
    (b"job 7", {}),
    (rb"(done|fail)ed? \d", {"regex": True, "ignore_case": True}),
    (b"1", {"since": "2024-05-01 00:01:00", "until": "2024-05-01 00:02:00"}),
    (b"GET", {"until": 1_700_000_000}),
)
#: open bugs outside the decoders fuzzed here (target -> (exception type, message part)); with
#: --skip-known the fuzzer treats them as allowed so that it can look past them. Each has an
#: input in tests/fuzz_regressions/ that the tests mark as an expected failure until it is fixed.
KNOWN_BUGS: dict[str, tuple[str, str]] = {}
_llm_codec: Any = None
_log_path: str | None = None


def llm_codec() -> Any:
    """The one `LLMCodec` (settings `LLM_SETTINGS`) of this process, built on first use."""
    global _llm_codec
    if _llm_codec is None:
        from nacrith.codecs.llm import LLMCodec

        settings = dict(LLM_SETTINGS)
        _llm_codec = LLMCodec(settings.pop("model"), **settings)
    return _llm_codec


def _log_archive_file(data: bytes) -> bytes:
    """The archive file a `logarchive` input stands for.

    First byte even: the rest is the file itself (the container's checksums guard payloads).
    Odd: the rest is up to 4 (raw_size: u16, length: u16, `logs` payload) records, each written
    as a member with valid checksums, so mutated payloads reach the search paths that decode
    only a payload's directory, template table or some columns (whose output no checksum
    covers). The raw checksums are of zero bytes, so a full decode fails its CRC check.
    """
    from nacrith.codecs.logs import LogsCodec
    from nacrith.formats.container import write_member

    if not data or not data[0] & 1:
        return data[1:]
    out = io.BytesIO()
    codec = LogsCodec()
    pos = 1
    for _ in range(4):
        if pos + 4 > len(data):
            break
        raw_size = int.from_bytes(data[pos : pos + 2], "little")
        length = int.from_bytes(data[pos + 2 : pos + 4], "little")
        payload = data[pos + 4 : pos + 4 + length]
        pos += 4 + length
        write_member(out, {"logs": codec.params()}, [("logs", bytes(raw_size), payload)])
    return out.getvalue()


def _read_log_archive(data: bytes) -> None:
    """Write the archive of `data` to a scratch file; read and search it as a log archive."""
    from nacrith.errors import NacrithError
    from nacrith.logs import LogArchive

    global _log_path
    if _log_path is None:
        fd, _log_path = tempfile.mkstemp(prefix="nacrith-fuzz-", suffix=".ncz")
        os.close(fd)
        atexit.register(lambda: Path(_log_path).unlink(missing_ok=True))
    Path(_log_path).write_bytes(_log_archive_file(data))
    archive = LogArchive(_log_path, "r")
    with contextlib.suppress(NacrithError):
        for _line in archive.lines(binary=True):
            pass
    for pattern, kwargs in LOG_QUERIES:
        with contextlib.suppress(NacrithError):
            for _line in archive.search(pattern, **kwargs):
                pass


def run_one(target: str, data: bytes) -> None:
    """Feed `data` to `target`; return normally or raise a NacrithError (anything else is a bug)."""
    import nacrith
    from nacrith.codecs.registry import codec_class
    from nacrith.formats.container import iter_members

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
    elif target == "logarchive":
        _read_log_archive(data)
    elif target == "text_front":
        # flags (bit 0: reflow), raw_size (2 bytes), side length (2 bytes), side, text
        if len(data) < 5:
            return
        from nacrith.formats.text import restore

        raw_size = int.from_bytes(data[1:3], "little")
        side_end = 5 + int.from_bytes(data[3:5], "little")
        out = restore(data[side_end:], data[5:side_end], raw_size, reflow=bool(data[0] & 1))
        _check_size(target, out, raw_size)
    elif target == "codec:llm":
        if not data:
            return
        raw_size = data[0] % (LLM_MAX_RAW + 1)
        _check_size(target, llm_codec().decode(data[1:], raw_size), raw_size)
    elif target.startswith("codec:"):
        codec_id = target.split(":", 1)[1]
        if len(data) < 3:
            return
        raw_size = int.from_bytes(data[:3], "little") % (1 << 20)
        codec = codec_class(codec_id)()
        _check_size(target, codec.decode(data[3:], raw_size), raw_size)
    else:
        raise ValueError(f"unknown target {target!r}")


def _check_size(target: str, out: bytes, raw_size: int) -> None:
    """A codec must return exactly `raw_size` bytes or raise (the `Codec` contract)."""
    if not isinstance(out, bytes) or len(out) != raw_size:
        raise AssertionError(f"{target} returned {len(out)} bytes for raw_size {raw_size}")


def _sample_texts() -> list[bytes]:
    """Short samples of every loghub log and of prose, to encode as seeds."""
    samples = sorted((REPO / "corpora" / "loghub").glob("*/*_2k.log"))
    out = []
    for i, sample in enumerate(samples):
        lines = sample.read_bytes().splitlines(keepends=True)
        out.append(b"".join(lines[: 60 + 20 * (i % 3)]))
    alice = (REPO / "corpora" / "canterbury" / "alice29.txt").read_bytes()
    out += [alice[:3000], alice[20000:21000] + b"\x00\xff\x01 tail"]
    return out


def _log_archive_seeds() -> list[bytes]:
    """The golden log archive and small archives of samples, as files (first byte 0) and as
    payload records (first byte 1)."""
    from nacrith.formats.container import iter_members
    from nacrith.logs import LogArchive

    files = [(GOLDEN / "logs_archive.bin").read_bytes()]
    with tempfile.TemporaryDirectory() as tmp:
        for i, sample in enumerate(_sample_texts()):
            path = Path(tmp, f"{i}.ncz")
            with LogArchive(path, "w", chunk_lines=25 + 10 * (i % 3), fsync=False) as archive:
                archive.write(sample)
            files.append(path.read_bytes())
    out = [b"\x00" + f for f in files]
    for f in files:
        records = bytearray(b"\x01")
        for member in iter_members(io.BytesIO(f)):
            for record in member.chunks:
                payload = record.read_payload()
                if record.raw_size < 1 << 16 and len(payload) < 1 << 16:
                    records += record.raw_size.to_bytes(2, "little")
                    records += len(payload).to_bytes(2, "little") + payload
        out.append(bytes(records))
    return out


def _llm_front_seeds() -> list[bytes]:
    """Side data and text as the `llm` codec's front end makes them, in `text_front`'s layout."""
    from nacrith.formats.text import Escapes, bad_codepoint_pattern, prepare

    escapes = Escapes(bad_codepoint_pattern(set(range(256)) - LLM_LOSSY_BYTES))
    alice = (REPO / "corpora" / "canterbury" / "alice29.txt").read_bytes()
    texts = [*_sample_texts(), alice[3000:5000], *LLM_SEED_TEXTS]
    out = []
    for text in texts:
        text = text[:20000]
        for reflow in (True, False):
            side, model_text = prepare(text, escapes, crlf=True, reflow=reflow)
            head = bytes([reflow]) + len(text).to_bytes(2, "little")
            out.append(head + len(side).to_bytes(2, "little") + side + model_text)
    return out


def seeds(target: str) -> list[bytes]:
    """Seed inputs for a target: golden files, and payloads and archives made here."""
    from nacrith.codecs.registry import codec_class

    if target == "logarchive":
        return _log_archive_seeds()
    if target == "text_front":
        return _llm_front_seeds()
    if target == "codec:llm":
        codec = llm_codec()
        return [bytes([len(t)]) + codec.encode(t) for t in LLM_SEED_TEXTS]
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
        codec = codec_class(codec_id)()
        for text in _sample_texts():
            out.append(len(text).to_bytes(3, "little") + codec.encode(text))
        return out
    import nacrith

    out = [p.read_bytes() for p in sorted(GOLDEN.glob("*.ncz"))]
    texts = _sample_texts()
    for method, text in (("zstd", texts[0]), ("fib", texts[-2][:1500]), ("logs", texts[1])):
        out.append(nacrith.compress(text, method, workers=1, chunk_size=1024))
    out.append(nacrith.compress(b"".join(texts[2:4])[:6000], "logs", workers=1, chunk_size=2048))
    return out


def _fuzz_child(target: str, corpus: str, args: list[str], skip_known: bool = False) -> None:
    import atheris
    import numpy  # noqa: F401  (third-party code stays uninstrumented)

    if target == "codec:llm":
        try:
            import llama_cpp  # noqa: F401
        except ImportError:  # the optional extra `nacrith[llama]`: the portable engine needs none
            pass

    with atheris.instrument_imports():
        import nacrith
        import nacrith.codecs.basic
        import nacrith.formats.container

        if target.startswith("codec:"):
            from nacrith.codecs.registry import codec_class

            codec_class(target.split(":", 1)[1])
        if target in ("logarchive", "codec:logs"):
            import nacrith.logs
        if target == "codec:llm":
            import nacrith.coders.range_coder
        if target in ("codec:llm", "text_front"):
            import nacrith.formats.text  # noqa: F401
    from nacrith.errors import NacrithError

    if target == "codec:llm":
        llm_codec()  # load the model before the first input

    known = KNOWN_BUGS.get(target) if skip_known else None

    def test_one(data: bytes) -> None:
        try:
            run_one(target, data)
        except NacrithError:
            pass
        except Exception as exc:
            if known is None or type(exc).__name__ != known[0] or known[1] not in str(exc):
                raise

    atheris.Setup([sys.argv[0], *args, corpus], test_one)
    atheris.Fuzz()


def fuzz(
    target: str, seconds: int | None, runs: int | None, skip_known: bool = False
) -> tuple[int, float, int]:
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
            [sys.executable, __file__, "--child", target, corpus, str(int(skip_known)), *args],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "TMPDIR": corpus},  # scratch files go with the corpus
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
        _fuzz_child(sys.argv[2], sys.argv[3], sys.argv[5:], sys.argv[4] == "1")
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="all", choices=(*TARGETS, "all"))
    parser.add_argument("--seconds", type=int, default=None, help="time per target")
    parser.add_argument("--runs", type=int, default=None, help="executions per target")
    parser.add_argument(
        "--skip-known", action="store_true", help="allow the open bugs in KNOWN_BUGS"
    )
    args = parser.parse_args()
    if not args.seconds and not args.runs:
        parser.error("give --seconds or --runs")
    targets = TARGETS if args.target == "all" else (args.target,)
    total = 0
    for target in targets:
        executions, elapsed, crashes = fuzz(target, args.seconds, args.runs, args.skip_known)
        total += executions
        print(f"{target:14s} {executions:>10} executions {elapsed:8.1f} s {crashes} crash(es)")
    print(f"total          {total:>10} executions")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
