"""`ncz bench` on a tiny corpus: the table, verified round trips, checksums, downloads."""

from __future__ import annotations

import hashlib
import json
import random
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from nacrith import bench, sizes
from nacrith.cli import main
from nacrith.errors import NacrithError
from tests.paths import REPO

HEADER = "name\tpath\tbytes\tsha256\tsource_url\tlicence\tavailability\tchecks\tverification\n"
FAST = ["--method", "zstd", "--peers", "gzip,bzip2", "--min-time", "0"]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("NACRITH_CORPORA_PATH", raising=False)


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A two-file corpus `tiny` (some text, some binary) and its manifest; returns the manifest."""
    rng = random.Random(8)
    words = [b"compress", b"the", b"table", b"bench", b"bytes", b"per", b"bit", b"round", b"trip"]
    text = b" ".join(rng.choice(words) for _ in range(3000)) + b"\n"
    binary = bytes(rng.randrange(256) if i % 7 else 0 for i in range(6000))
    root = tmp_path / "corpora"
    (root / "tiny").mkdir(parents=True)
    rows = []
    for name, data in (("words.txt", text), ("noise.bin", binary)):
        (root / "tiny" / name).write_bytes(data)
        rows.append(
            f"tiny/{name}\ttiny/{name}\t{len(data)}\t{_sha(data)}\tfile:///x\tt\tcommitted\t\t"
        )
    manifest = root / "MANIFEST.tsv"
    manifest.write_text(HEADER + "\n".join(rows) + "\n")
    return manifest


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["bench", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_table_is_printed_and_every_round_trip_verified(
    tiny: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _run(capsys, "tiny", "--manifest", str(tiny), *FAST)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].split() == [
        "file", "bytes", "method", "compressed", "bits/byte", "comp", "KB/s", "dec", "KB/s",
        "verified",
    ]  # fmt: skip
    rows = [line for line in lines if line.rstrip().endswith((" yes", " NO", " FAILED"))]
    assert len(rows) == 2 * 3 + 3  # 2 files x 3 methods, then 3 totals
    assert all(row.rstrip().endswith(" yes") for row in rows)
    for label in ("tiny/words.txt", "tiny/noise.bin", "ncz zstd", "gzip -9", "bzip2 -9"):
        assert label in out
    assert "each of the 6 archives was decompressed" in out and "(6 identical)" in out


def test_json_has_the_measurements(tiny: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, "tiny", "--manifest", str(tiny), "--json", *FAST)
    assert status == 0
    report = json.loads(out)
    assert report["all_verified"] is True
    assert report["command"] == "ncz bench tiny --method zstd --peers gzip,bzip2"
    assert {r["method"] for r in report["results"]} == {"ncz zstd", "gzip -9", "bzip2 -9"}
    for result in report["results"]:
        assert result["verified"] is True and result["error"] is None
        assert result["compressed"] > 0
        assert result["bits_per_byte"] == pytest.approx(8 * result["compressed"] / result["size"])
        assert result["compress_kb_per_s"] > 0 and result["decompress_kb_per_s"] > 0
    words = next(f for f in report["files"] if f["label"] == "tiny/words.txt")
    gzip_words = next(
        r for r in report["results"] if r["file"] == "tiny/words.txt" and r["method"] == "gzip -9"
    )
    assert gzip_words["size"] == words["bytes"] and gzip_words["compressed"] < words["bytes"] / 2
    assert len(report["totals"]) == 3


def test_markdown_and_plot(tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "chart.png"
    status, out, _ = _run(
        capsys, "tiny", "--manifest", str(tiny), "--markdown", "--plot", str(png), *FAST
    )
    assert status == 0
    assert out.startswith("| bits per byte | ncz zstd | gzip -9 | bzip2 -9 |")
    assert "| **total** |" in out and "<details><summary>Per file</summary>" in out
    assert "Command: `ncz bench tiny --method zstd --peers gzip,bzip2`" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_corrupted_corpus_file_is_reported_by_its_checksum(
    tiny: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tiny.parent / "tiny" / "words.txt"
    good = target.read_bytes()
    target.write_bytes(good[:100] + b"#" + good[101:])
    status, out, err = _run(capsys, "tiny", "--manifest", str(tiny), *FAST)
    assert status == 1 and out == ""
    assert err.startswith("ncz: corpus file tiny/words.txt (")
    assert f"sha256 is {_sha(target.read_bytes())}, expected {_sha(good)}" in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_a_changed_round_trip_fails_the_run(
    tiny: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def lossy() -> bench.Contender:
        return bench.Contender("lossy", "peer", lambda d: d, lambda d: d[:-1] + b"?")

    monkeypatch.setitem(bench.PEERS, "gzip", lossy)
    status, out, err = _run(capsys, "tiny", "--manifest", str(tiny), *FAST)
    assert status == 1
    assert out.count(" FAILED") + out.count(" NO") >= 2
    assert "2 FAILED" in out and "ncz: 2 round trip(s) failed: tiny/words.txt with lossy" in err


def test_files_limit_and_peers_by_path(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    loose = tmp_path / "loose.txt"
    loose.write_bytes(b"a loose file, not in any manifest\n" * 40)
    args = [str(loose), "tiny/words.txt", "--manifest", str(tiny), "--limit", "1K", "--json"]
    status, out, _ = _run(capsys, *args, "--method", "zstd", "--peers", "none", "--min-time", "0")
    assert status == 0
    report = json.loads(out)
    assert [f["label"] for f in report["files"]] == [f"{loose}[:1000]", "tiny/words.txt[:1000]"]
    assert all(r["size"] == 1000 and r["verified"] for r in report["results"])
    assert "--limit 1000" in report["command"] and "--peers none" in report["command"]
    assert any(
        "first 1,000 bytes of tiny/words.txt (--limit)" in f["note"] for f in report["files"]
    )


def test_usage_errors(tiny: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _run(capsys, "no-such-corpus", "--manifest", str(tiny), *FAST)
    assert status == 1 and "no-such-corpus: no such file, folder or corpus" in err
    status, _, err = _run(capsys, "tiny", "--manifest", str(tiny), "--peers", "lz4")
    assert status == 1 and "unknown peer(s) lz4" in err
    status, _, err = _run(capsys, "tiny", "--manifest", str(tiny), "--markdown", "--json")
    assert status == 1 and "cannot be combined" in err
    status, _, err = _run(capsys, "tiny", "--manifest", str(tiny), "--method", "nonsense")
    assert status == 1 and "method 'nonsense' cannot run here" in err


def test_download_failure_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/enwik8.zip"
    manifest = tmp_path / "MANIFEST.tsv"
    manifest.write_text(
        HEADER + f"enwik8\tenwik/enwik8\t10\t{'0' * 64}\t{url}#enwik8\tt\tdownload\t\t\n"
    )
    status, out, err = _run(capsys, "enwik8", "--manifest", str(manifest), *FAST)
    assert status == 1 and out == ""
    assert err.startswith(f"ncz: cannot download enwik8 from {url}: ")
    assert err.rstrip().endswith("check your internet connection") and err.count("\n") == 1
    status, _, err = _run(capsys, "enwik8", "--manifest", str(manifest), "--no-download")
    assert status == 1 and "downloads are off" in err


def test_list_shows_corpora(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, "--list")
    assert status == 0
    assert "canterbury/alice29.txt" in out and "enwik8" in out and "committed" in out
    assert "corpora: canterbury (11), canterbury-large (3)" in out


def test_parse_size_and_default_methods() -> None:
    assert sizes.parse_size("1000000") == sizes.parse_size("1M") == 10**6
    assert sizes.parse_size("3MB") == 3 * 10**6 and sizes.parse_size("64KiB") == 65536
    with pytest.raises(ValueError, match="not a byte count"):
        sizes.parse_size("lots")
    chosen, left_out = bench.default_methods()
    assert chosen[0] == "zstd" and "llm" not in chosen
    assert set(chosen) | {m.removeprefix("ncz ") for m in left_out} == {
        "zstd",
        "fast",
        "fib",
        "logs",
    }


def test_measure_reports_errors_without_raising() -> None:
    def boom(_data: bytes) -> bytes:
        raise NacrithError("codec exploded")

    contender = bench.Contender("broken", "ncz", boom, boom)
    result = bench.measure(contender, bench.BenchFile("f", Path("f"), 3), b"abc", 0.0)
    assert result.error == "NacrithError: codec exploded" and not result.verified


def test_bench_all_dry_run_lists_jobs() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench_all.py"), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "canterbury" in done.stdout and "ncz bench canterbury" in done.stdout
