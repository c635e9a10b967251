"""The corpus manifest, verification of corpus files, and fetching them (local servers only)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from nacrith import corpora
from nacrith.errors import NacrithError
from tests.paths import REPO

HEADER = "name\tpath\tbytes\tsha256\tsource_url\tlicence\tavailability\tchecks\tverification\n"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_manifest(folder: Path, rows: list[list[str]]) -> corpora.Manifest:
    lines = ["\t".join(row + [""] * (9 - len(row))) for row in rows]
    path = folder / "MANIFEST.tsv"
    path.write_text("# test manifest\n" + HEADER + "\n".join(lines) + "\n")
    return corpora.Manifest.load(path)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("NACRITH_CORPORA_PATH", raising=False)
    return cache / "nacrith" / "corpora"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTP server on 127.0.0.1 serving a temporary folder."""
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the real manifest --------------------------------------------------------------------------


def test_real_manifest_groups_and_columns() -> None:
    manifest = corpora.Manifest.load()
    groups = manifest.corpora()
    assert len(groups["canterbury"]) == 11
    assert len(groups["canterbury-large"]) == 3
    assert len(groups["loghub"]) == 11
    for name in ("enwik6", "enwik8-3M", "enwik8", "enwik9"):
        assert manifest.select(name) == [manifest.entry(name)]
    enwik8, enwik9 = manifest.entry("enwik8"), manifest.entry("enwik9")
    assert enwik8.bytes == 100_000_000 and enwik9.bytes == 1_000_000_000
    assert ("prefix", "enwik6") in enwik8.checks and ("prefix", "enwik8") in enwik9.checks
    assert dict(enwik8.checks)["md5"] == "a1fa5ffddb56f4953e226637dabbb36a"
    assert manifest.entry("enwik8-3M").prefix_of == ("enwik8", 3_000_000)
    assert manifest.entry("enwik8-3M").availability == "derived"
    for entry in manifest:
        assert entry.licence and entry.verification and entry.source_url
        assert entry.sha256 or any(kind in ("md5", "sha1") for kind, _ in entry.checks)


def test_committed_files_are_present_and_verified() -> None:
    manifest = corpora.Manifest.load()
    committed = [e for e in manifest if e.availability == "committed"]
    assert len(committed) == 23
    for entry in committed:
        path = REPO / "corpora" / entry.path
        assert corpora.locate(manifest, entry) == path
        assert corpora.mismatch(manifest, entry, path) is None, entry.name
    pairs = corpora.resolve("canterbury", manifest, download=False)
    assert [e.name.split("/")[1] for e, _ in pairs][:2] == ["alice29.txt", "asyoulik.txt"]


def test_unknown_corpus_and_missing_download_are_clear() -> None:
    manifest = corpora.Manifest.load()
    with pytest.raises(NacrithError, match="unknown corpus 'nope'"):
        manifest.select("nope")
    with pytest.raises(NacrithError, match=r"enwik9 is not here .* downloads are off"):
        corpora.resolve("enwik9", manifest, download=False)


# --- verification -------------------------------------------------------------------------------


def test_corrupt_file_is_reported_by_checksum(tmp_path: Path) -> None:
    data = b"hello corpus\n" * 100
    (tmp_path / "a.txt").write_bytes(data)
    manifest = _write_manifest(
        tmp_path,
        [["t/a.txt", "a.txt", str(len(data)), _sha(data), "file:///x", "test", "committed"]],
    )
    entry = manifest.entry("t/a.txt")
    corpora.verify(manifest, entry, tmp_path / "a.txt")
    (tmp_path / "a.txt").write_bytes(b"J" + data[1:])
    with pytest.raises(NacrithError, match="sha256 is") as info:
        corpora.resolve("t", manifest)
    message = str(info.value)
    assert "t/a.txt" in message and "sha256 is " + _sha(b"J" + data[1:]) in message
    assert "expected " + _sha(data) in message
    (tmp_path / "a.txt").write_bytes(data[:-1])
    with pytest.raises(NacrithError, match="is 1299 bytes, the manifest says 1300"):
        corpora.resolve("t", manifest)


def test_md5_only_entry_and_prefix_check(tmp_path: Path) -> None:
    head, tail = b"0123456789" * 10, b"abcdef" * 10
    (tmp_path / "head").write_bytes(head)
    (tmp_path / "whole").write_bytes(head + tail)
    md5 = hashlib.md5(head + tail).hexdigest()
    manifest = _write_manifest(
        tmp_path,
        [
            ["head", "head", "100", _sha(head), "head:whole:100", "t", "committed"],
            ["whole", "whole", "160", "-", "file:///x", "t", "download", f"md5:{md5};prefix:head"],
        ],
    )
    whole = manifest.entry("whole")
    assert corpora.mismatch(manifest, whole, tmp_path / "whole", thorough=True) is None
    (tmp_path / "whole").write_bytes(b"X" + head[1:] + tail)
    assert "md5 is" in (corpora.mismatch(manifest, whole, tmp_path / "whole") or "")


def test_bad_manifest_rows_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(NacrithError, match="no checksum"):
        _write_manifest(tmp_path, [["a", "a", "1", "-", "file:///a", "t", "download"]])
    with pytest.raises(NacrithError, match="availability"):
        _write_manifest(tmp_path, [["a", "a", "1", "0" * 64, "file:///a", "t", "maybe"]])


# --- fetching -----------------------------------------------------------------------------------


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return out.getvalue()


def test_download_zip_members_from_local_server(
    tmp_path: Path, server: tuple[str, Path], _private_cache: Path
) -> None:
    base, root = server
    one, two = b"first member\n" * 50, b"second member\n" * 70
    (root / "pack.zip").write_bytes(_zip_bytes({"one.txt": one, "two.txt": two}))
    rows = [
        [
            f"pack/{n}",
            f"pack/{n}.txt",
            str(len(d)),
            _sha(d),
            f"{base}/pack.zip#{n}.txt",
            "t",
            "download",
        ]
        for n, d in (("one", one), ("two", two))
    ]
    manifest = _write_manifest(tmp_path, rows)
    [(_entry, path)] = corpora.resolve("pack/one", manifest, progress=False)
    assert path == _private_cache / "pack" / "one.txt" and path.read_bytes() == one
    # the sibling came from the same download; the zip itself was not kept
    assert (_private_cache / "pack" / "two.txt").read_bytes() == two
    assert not list((_private_cache / "downloads").iterdir())
    assert not [p for p in (_private_cache / "pack").iterdir() if p.name.startswith(".")]
    # now found in the cache without the server
    (root / "pack.zip").unlink()
    assert corpora.resolve("pack", manifest, download=False)[1][1].read_bytes() == two


def test_download_plain_file_url_and_derived_head(tmp_path: Path, _private_cache: Path) -> None:
    data = bytes(range(256)) * 40
    source = tmp_path / "src.bin"
    source.write_bytes(data)
    manifest = _write_manifest(
        tmp_path,
        [
            ["big", "d/big.bin", str(len(data)), _sha(data), source.as_uri(), "t", "download"],
            ["big-1k", "d/big_1k.bin", "1000", _sha(data[:1000]), "head:big:1000", "t", "derived"],
        ],
    )
    [(_, path)] = corpora.resolve("big-1k", manifest, progress=False)
    assert path.read_bytes() == data[:1000]
    assert (_private_cache / "d" / "big.bin").read_bytes() == data


def test_download_with_wrong_checksum_is_deleted(
    tmp_path: Path, server: tuple[str, Path], _private_cache: Path
) -> None:
    base, root = server
    (root / "f.txt").write_bytes(b"not what the manifest says\n")
    manifest = _write_manifest(
        tmp_path, [["f", "f.txt", "27", "0" * 64, f"{base}/f.txt", "t", "download"]]
    )
    with pytest.raises(NacrithError, match=r"f fetched from .* failed verification .*deleted"):
        corpora.resolve("f", manifest, progress=False)
    assert not (_private_cache / "f.txt").exists()
    assert not [p for p in _private_cache.iterdir() if p.name.startswith(".")]


def test_download_errors_are_one_clear_line(tmp_path: Path, server: tuple[str, Path]) -> None:
    base, _root = server
    url = f"http://127.0.0.1:{_closed_port()}/enwik8.zip"
    manifest = _write_manifest(
        tmp_path,
        [
            ["gone", "g.txt", "1", "0" * 64, f"{url}#enwik8", "t", "download"],
            ["missing", "m.txt", "1", "0" * 64, f"{base}/absent.zip#m", "t", "download"],
        ],
    )
    with pytest.raises(NacrithError, match="cannot download gone") as info:
        corpora.resolve("gone", manifest, progress=False)
    message = str(info.value)
    assert message.startswith(f"cannot download gone from {url}: ")
    assert message.endswith("check your internet connection") and "\n" not in message
    with pytest.raises(NacrithError, match="HTTP 404"):
        corpora.resolve("missing", manifest, progress=False)


def test_corpora_path_is_searched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"elsewhere\n"
    extra = tmp_path / "extra"
    (extra / "e").mkdir(parents=True)
    (extra / "e" / "x.txt").write_bytes(data)
    manifest = _write_manifest(
        tmp_path, [["x", "e/x.txt", str(len(data)), _sha(data), "file:///nowhere", "t", "download"]]
    )
    monkeypatch.setenv("NACRITH_CORPORA_PATH", str(extra))
    assert corpora.resolve("x", manifest, download=False)[0][1] == extra / "e" / "x.txt"
    # scripts look files up by manifest path without verifying or fetching them
    assert corpora.local_path("e/x.txt", manifest) == extra / "e" / "x.txt"
    assert corpora.local_path("e/missing.txt", manifest) is None
    assert corpora.local_path(
        "canterbury/alice29.txt"
    ) == corpora.default_manifest_path().parent / ("canterbury/alice29.txt")
