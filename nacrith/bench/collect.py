"""The inputs of a bench run: corpus names, files and folders turned into `BenchFile`s."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from nacrith import corpora
from nacrith.bench.errors import BenchUsageError
from nacrith.errors import NacrithError

__all__ = ["BenchFile", "collect_files"]


@dataclass
class BenchFile:
    """One input: a corpus file (verified against the manifest) or a file given by path."""

    label: str
    path: Path
    size: int
    corpus: str | None = None
    limit: int | None = None
    note: str | None = None

    def read(self) -> bytes:
        """The bytes benchmarked (the first `limit` bytes when a limit applies)."""
        with self.path.open("rb") as handle:
            return handle.read(self.limit) if self.limit is not None else handle.read()


def _walk(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _corpus_files(
    target: str, manifest: corpora.Manifest, *, download: bool, progress: bool
) -> list[BenchFile]:
    """The files of corpus (or corpus file) `target`, fetched and verified."""
    try:
        selected = manifest.select(target)
    except NacrithError as exc:
        raise BenchUsageError(f"{target}: no such file, folder or corpus ({exc})") from None
    files = []
    for entry in selected:
        where = corpora.resolve_entry(manifest, entry, download=download, progress=progress)
        note = None
        if entry.prefix_of is not None:
            parent, count = entry.prefix_of
            note = f"{entry.name} is the first {count:,} bytes of {parent}, not all of it"
        files.append(BenchFile(entry.name, where, entry.bytes, entry.corpus, note=note))
    return files


def _apply_limit(files: Iterable[BenchFile], limit: int) -> None:
    """Cut every file longer than `limit` to its first `limit` bytes, and say so in its label."""
    for bench_file in files:
        if bench_file.size > limit:
            bench_file.note = (
                f"{bench_file.label}[:{limit}] is the first {limit:,} bytes of "
                f"{bench_file.label} (--limit), not all of it"
            )
            bench_file.label = f"{bench_file.label}[:{limit}]"
            bench_file.limit = limit
            bench_file.size = limit


def collect_files(
    targets: Iterable[str],
    manifest: corpora.Manifest | None,
    *,
    limit: int | None = None,
    download: bool = True,
    progress: bool = True,
) -> list[BenchFile]:
    """Turn corpus names, files and folders into verified inputs (corpus files are checked).

    A target that is neither a file, a folder nor a corpus raises `BenchUsageError`.
    """
    files: list[BenchFile] = []
    for target in targets:
        path = Path(target)
        if path.is_file():
            files.append(BenchFile(target, path, path.stat().st_size))
        elif path.is_dir():
            files.extend(BenchFile(str(p), p, p.stat().st_size) for p in _walk(path))
        else:
            if manifest is None:
                manifest = corpora.Manifest.load()
            files.extend(_corpus_files(target, manifest, download=download, progress=progress))
    if limit is not None:
        _apply_limit(files, limit)
    return files
