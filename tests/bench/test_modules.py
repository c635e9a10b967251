"""The bench package split by job: only `command` knows click; the library raises our errors."""

from __future__ import annotations

import ast
from pathlib import Path

import click
import pytest

from nacrith import bench, corpora
from nacrith.bench import collect, command, contenders, errors
from nacrith.errors import NacrithError
from tests.paths import REPO

PACKAGE = REPO / "nacrith" / "bench"
MAX_LINES = 600


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize(
    "path",
    [p for p in sorted(PACKAGE.glob("*.py")) if p.name not in ("__init__.py", "command.py")],
    ids=lambda p: p.name,
)
def test_library_modules_never_import_click(path: Path) -> None:
    assert not any(name.split(".")[0] == "click" for name in _imported(path))
    assert "click" not in path.read_text()
    assert len(path.read_text().splitlines()) <= MAX_LINES


def test_bench_command_is_one_object_under_both_names() -> None:
    assert isinstance(command.bench_command, click.Command)
    assert bench.bench_command is command.bench_command
    assert command.bench_command.name == "bench"


def test_usage_error_is_a_value_error_and_a_nacrith_error() -> None:
    assert issubclass(errors.BenchUsageError, ValueError)
    assert issubclass(errors.BenchUsageError, NacrithError)
    assert not issubclass(errors.BenchUsageError, click.ClickException)


def test_peer_list() -> None:
    assert command.peer_list("all") == list(bench.PEERS)
    assert command.peer_list(" None ") == []
    assert command.peer_list("gzip, xz,") == ["gzip", "xz"]
    with pytest.raises(ValueError, match=r"unknown peer\(s\) lz4, lzop \(choose from gzip"):
        command.peer_list("gzip,lz4,lzop")


def test_library_raises_usage_errors_not_click_errors(tmp_path: Path) -> None:
    manifest = tmp_path / "MANIFEST.tsv"
    manifest.write_text(
        "name\tpath\tbytes\tsha256\tsource_url\tlicence\tavailability\tchecks\tverification\n"
    )
    loaded = corpora.Manifest.load(manifest)
    with pytest.raises(errors.BenchUsageError, match="nowhere: no such file, folder or corpus"):
        collect.collect_files(["nowhere"], loaded)
    with pytest.raises(errors.BenchUsageError, match="method 'nonsense' cannot run here"):
        contenders.make_contenders(["nonsense"], [])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(errors.BenchUsageError, match="no input files"):
        command.bench([str(empty)], methods=["zstd"], peers=[], progress=False)


def test_bench_library_form_on_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / ".hidden").mkdir(parents=True)
    (folder / "a.txt").write_bytes(b"some text to compress, " * 50)
    (folder / ".hidden" / "skip.txt").write_bytes(b"never read")
    report = bench.bench(
        [str(folder)], methods=["stored"], peers=["gzip"], min_time=0.0, progress=False
    )
    assert [f.label for f in report.files] == [str(folder / "a.txt")]
    assert {r.method for r in report.results} == {"ncz stored", "gzip -9"}
    assert not report.failures()
    assert report.command == f"ncz bench {folder} --method stored --peers gzip"
    assert "Totals per method:" in bench.render_text(report)
