"""Benchmark corpora: the manifest, where the files are, and fetching the ones we do not ship.

`corpora/MANIFEST.tsv` (in the repository, beside the small committed corpora) lists one file a
row: name, path, bytes, sha256, source_url, licence, availability (committed | download |
derived), checks (extra checksums, ``md5:HEX;sha1:HEX;prefix:NAME``) and verification (which
checksums are published and how they were checked). A corpus name is a file's name
(``enwik8``) or the part before its slash (``canterbury`` = every ``canterbury/...`` row).

A file is looked for, by its manifest path, in the manifest's folder, then in each folder of
``$NACRITH_CORPORA_PATH`` (``:``-separated), then in the user cache
(``$XDG_CACHE_HOME/nacrith/corpora``, default ``~/.cache/nacrith/corpora``). Wherever it is found
it is checked against its size and checksum before use. A missing file is fetched into the
cache: ``source_url`` is a URL (``#member`` names a member of a zip archive) or
``head:NAME:N``, the first N bytes of another corpus file. Downloads show a progress bar, are
verified against every checksum the manifest has (a file that fails is deleted), and are
renamed into place only when complete.
"""

from __future__ import annotations

import contextlib
import csv
import http.client
import os
import shutil
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from nacrith.errors import NacrithError
from nacrith.models.llm.registry import file_hexdigest

__all__ = [
    "CorpusFile",
    "Manifest",
    "cache_dir",
    "default_manifest_path",
    "fetch",
    "locate",
    "mismatch",
    "resolve",
    "resolve_entry",
    "verify",
]

MANIFEST_NAME = "MANIFEST.tsv"
COLUMNS = (
    "name",
    "path",
    "bytes",
    "sha256",
    "source_url",
    "licence",
    "availability",
    "checks",
    "verification",
)
AVAILABILITY = ("committed", "download", "derived")
BLOCK = 1 << 20
DOWNLOAD_TIMEOUT = 60.0
_HASHES = ("md5", "sha1", "sha256")


@dataclass(frozen=True)
class CorpusFile:
    """One row of the manifest."""

    name: str
    path: str
    bytes: int
    sha256: str | None
    source_url: str
    licence: str
    availability: str
    checks: tuple[tuple[str, str], ...] = ()
    verification: str = ""

    @property
    def corpus(self) -> str:
        """The corpus this file belongs to (the name up to its first slash)."""
        return self.name.split("/", 1)[0]

    @property
    def prefix_of(self) -> tuple[str, int] | None:
        """(parent name, bytes) when this file is defined as the head of another one."""
        if not self.source_url.startswith("head:"):
            return None
        _, parent, count = self.source_url.split(":")
        return parent, int(count)


def _parse_checks(text: str, where: str) -> tuple[tuple[str, str], ...]:
    checks = []
    for item in filter(None, (part.strip() for part in text.split(";"))):
        kind, sep, value = item.partition(":")
        if not sep or kind not in ("md5", "sha1", "prefix") or not value:
            raise NacrithError(f"{where}: bad check {item!r} (use md5:HEX, sha1:HEX, prefix:NAME)")
        checks.append((kind, value.lower() if kind != "prefix" else value))
    return tuple(checks)


class Manifest:
    """The corpus files listed in one MANIFEST.tsv; committed files live beside it."""

    def __init__(self, entries: list[CorpusFile], root: Path, source: Path | None = None) -> None:
        self.entries = {entry.name: entry for entry in entries}
        self.root = root
        self.source = source
        if len(self.entries) != len(entries):
            raise NacrithError(f"{source}: duplicate names in the corpus manifest")
        for entry in entries:
            for kind, value in entry.checks:
                if kind == "prefix" and value not in self.entries:
                    raise NacrithError(f"{source}: {entry.name} names unknown prefix {value!r}")
            parent = entry.prefix_of
            if parent is not None and parent[0] not in self.entries:
                raise NacrithError(f"{source}: {entry.name} is derived from unknown {parent[0]!r}")

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> Manifest:
        """Read a manifest (default: the repository's `corpora/MANIFEST.tsv`)."""
        source = Path(path) if path is not None else default_manifest_path()
        try:
            lines = source.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise NacrithError(f"cannot read corpus manifest {source}: {exc.strerror}") from None
        rows = csv.DictReader(
            (line for line in lines if line.strip() and not line.startswith("#")),
            delimiter="\t",
            quoting=csv.QUOTE_NONE,
        )
        missing = [c for c in COLUMNS[:7] if c not in (rows.fieldnames or [])]
        if missing:
            raise NacrithError(f"{source}: manifest lacks column(s) {', '.join(missing)}")
        entries = []
        for number, row in enumerate(rows, start=2):
            where = f"{source}, row {number}"
            try:
                size = int(row["bytes"])
            except (TypeError, ValueError):
                raise NacrithError(f"{where}: bytes must be an integer") from None
            sha = (row["sha256"] or "").strip().lower()
            if sha in ("", "-"):
                sha = None
            elif len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
                raise NacrithError(f"{where}: sha256 must be 64 hex digits or '-'")
            availability = row["availability"]
            if availability not in AVAILABILITY:
                raise NacrithError(f"{where}: availability must be one of {AVAILABILITY}")
            checks = _parse_checks(row.get("checks") or "", where)
            if sha is None and not any(kind in ("md5", "sha1") for kind, _ in checks):
                raise NacrithError(f"{where}: {row['name']} has no checksum to verify it by")
            entries.append(
                CorpusFile(
                    name=row["name"],
                    path=row["path"],
                    bytes=size,
                    sha256=sha,
                    source_url=row["source_url"],
                    licence=row["licence"],
                    availability=availability,
                    checks=checks,
                    verification=row.get("verification") or "",
                )
            )
        return cls(entries, source.parent, source)

    def __iter__(self) -> Iterator[CorpusFile]:
        return iter(self.entries.values())

    def corpora(self) -> dict[str, list[CorpusFile]]:
        """Files grouped by corpus name, in manifest order."""
        groups: dict[str, list[CorpusFile]] = {}
        for entry in self:
            groups.setdefault(entry.corpus, []).append(entry)
        return groups

    def entry(self, name: str) -> CorpusFile:
        """The file named `name`; `NacrithError` when there is none."""
        try:
            return self.entries[name]
        except KeyError:
            raise NacrithError(f"no corpus file named {name!r}") from None

    def select(self, name: str) -> list[CorpusFile]:
        """The files a corpus name stands for: one file, or every file of a corpus."""
        if name in self.entries:
            return [self.entries[name]]
        group = [entry for entry in self if entry.corpus == name]
        if not group:
            known = ", ".join(self.names())
            raise NacrithError(f"unknown corpus {name!r} (known: {known})")
        return group

    def names(self) -> list[str]:
        """Corpus names one can select: every corpus, and every single-file name."""
        names = list(self.corpora())
        for entry in self:
            if entry.name not in names:
                names.append(entry.name)
        return names


def cache_dir() -> Path:
    """Where downloaded and derived corpus files go: `$XDG_CACHE_HOME/nacrith/corpora`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nacrith" / "corpora"


def default_manifest_path() -> Path:
    """The repository's `corpora/MANIFEST.tsv`, else a copy in the user cache."""
    candidates = [
        Path(__file__).resolve().parents[1] / "corpora" / MANIFEST_NAME,
        cache_dir() / MANIFEST_NAME,
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise NacrithError(f"corpus manifest not found (looked in {looked})")


def search_dirs(manifest: Manifest) -> list[Path]:
    """Folders searched for corpus files, in order."""
    extra = [Path(p) for p in os.environ.get("NACRITH_CORPORA_PATH", "").split(os.pathsep) if p]
    return [manifest.root, *extra, cache_dir()]


def locate(manifest: Manifest, entry: CorpusFile) -> Path | None:
    """The first existing copy of `entry` (not yet verified), or None."""
    for folder in search_dirs(manifest):
        candidate = folder / entry.path
        if candidate.is_file():
            return candidate
    return None


def local_path(rel: str, manifest: Manifest | None = None) -> Path | None:
    """The first copy of the file or folder at manifest path `rel` (e.g.
    ``canterbury/alice29.txt``) in the search folders, unverified and never fetched; None when
    there is none."""
    manifest = manifest or Manifest.load()
    for folder in search_dirs(manifest):
        if (folder / rel).exists():
            return folder / rel
    return None


def _repair_hint(manifest: Manifest, path: Path) -> str:
    try:
        path.resolve().relative_to(cache_dir().resolve())
    except ValueError:
        if path.resolve().is_relative_to(manifest.root.resolve()):
            return "restore it from the repository (git checkout -- <path>)"
        return "replace or remove that copy"
    return "delete it to fetch a fresh copy"


def mismatch(
    manifest: Manifest, entry: CorpusFile, path: Path, *, thorough: bool = False
) -> str | None:
    """How `path` differs from `entry` (size, checksum), or None when it matches.

    The sha256 is always checked when the manifest has one; md5/sha1 are checked when there is
    no sha256 or when `thorough` (after a download), as are `prefix:` checks.
    """
    size = path.stat().st_size
    if size != entry.bytes:
        return f"it is {size} bytes, the manifest says {entry.bytes}"
    expected: dict[str, str] = {}
    if entry.sha256:
        expected["sha256"] = entry.sha256
    if thorough or not entry.sha256:
        expected.update((kind, value) for kind, value in entry.checks if kind in _HASHES)
    heads: list[tuple[str, int, str]] = []
    if thorough:
        for kind, value in entry.checks:
            parent = manifest.entry(value) if kind == "prefix" else None
            if parent is not None and parent.sha256 and parent.bytes <= entry.bytes:
                heads.append((parent.name, parent.bytes, parent.sha256))
    for kind, want in expected.items():
        got = file_hexdigest(path, kind)
        if got != want:
            return f"{kind} is {got}, expected {want}"
    for name, count, want in heads:
        got = file_hexdigest(path, limit=count)
        if got != want:
            return f"its first {count} bytes are not {name} (sha256 {got}, expected {want})"
    return None


def verify(manifest: Manifest, entry: CorpusFile, path: Path, *, thorough: bool = False) -> None:
    """Check `path` against `entry` (see `mismatch`); `NacrithError` naming the difference."""
    problem = mismatch(manifest, entry, path, thorough=thorough)
    if problem is not None:
        raise NacrithError(
            f"corpus file {entry.name} ({path}) does not match its checksum: {problem}; "
            f"the file is corrupt or modified; {_repair_hint(manifest, path)}"
        )


def _download_error(label: str, url: str, exc: BaseException) -> NacrithError:
    if isinstance(exc, urllib.error.HTTPError):
        reason = f"the server answered HTTP {exc.code} {exc.reason}"
    else:
        reason = getattr(exc, "reason", None) or exc
        reason = f"{reason}; check your internet connection"
    return NacrithError(f"cannot download {label} from {url}: {reason}")


def download(url: str, dest: Path, label: str, *, progress: bool = True) -> None:
    """Fetch `url` into `dest` (written under a temporary name, renamed when complete)."""
    from nacrith.progress import progress_bar

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part-{os.getpid()}")
    try:
        try:
            response = urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT)
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            raise _download_error(label, url, exc) from None
        with response, tmp.open("wb") as out:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            with progress_bar(total, f"downloading {label}", enabled=progress) as bar:
                received = 0
                while True:
                    try:
                        block = response.read(BLOCK)
                    except (http.client.HTTPException, OSError) as exc:
                        raise _download_error(label, url, exc) from None
                    if not block:
                        break
                    out.write(block)
                    received += len(block)
                    bar.update(len(block))
        if total is not None and received != total:
            raise _download_error(label, url, ConnectionError(f"got {received} of {total} bytes"))
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _install(manifest: Manifest, entry: CorpusFile, tmp: Path, origin: str) -> Path:
    """Verify a freshly written `tmp` and rename it into the cache; delete it if it is wrong."""
    dest = cache_dir() / entry.path
    try:
        problem = mismatch(manifest, entry, tmp, thorough=True)
        if problem is not None:
            raise NacrithError(
                f"{entry.name} fetched from {origin} failed verification ({problem}); "
                "the copy was deleted"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _temp_for(entry: CorpusFile) -> Path:
    dest = cache_dir() / entry.path
    dest.parent.mkdir(parents=True, exist_ok=True)
    return dest.with_name(f".{dest.name}.tmp-{os.getpid()}")


def _extract(manifest: Manifest, bundle: zipfile.ZipFile, item: CorpusFile, url: str) -> Path:
    member = item.source_url.partition("#")[2]
    tmp = _temp_for(item)
    try:
        with bundle.open(member) as src, tmp.open("wb") as out:
            shutil.copyfileobj(src, out, BLOCK)
    except KeyError:
        tmp.unlink(missing_ok=True)
        raise NacrithError(f"{url} has no member {member!r}") from None
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        tmp.unlink(missing_ok=True)
        raise NacrithError(f"cannot extract {member} from {url}: {exc}") from None
    return _install(manifest, item, tmp, url)


def _fetch_zip_members(manifest: Manifest, entry: CorpusFile, url: str, progress: bool) -> Path:
    """Download a zip once; install `entry` and, best effort, the other missing files it holds."""
    siblings = [
        other
        for other in manifest
        if other is not entry
        and other.source_url.partition("#")[0] == url
        and locate(manifest, other) is None
    ]
    archive = cache_dir() / "downloads" / (url.rstrip("/").rsplit("/", 1)[-1] or "download")
    download(url, archive, entry.name, progress=progress)
    try:
        try:
            bundle = zipfile.ZipFile(archive)
        except zipfile.BadZipFile:
            raise NacrithError(f"{url} did not give a valid zip archive") from None
        with bundle:
            path = _extract(manifest, bundle, entry, url)
            for other in siblings:
                with contextlib.suppress(NacrithError):
                    _extract(manifest, bundle, other, url)
    finally:
        archive.unlink(missing_ok=True)
    return path


def fetch(manifest: Manifest, entry: CorpusFile, *, progress: bool = True) -> Path:
    """Download or derive `entry` into the user cache, verified; return its path."""
    parent = entry.prefix_of
    if parent is not None:
        parent_name, count = parent
        source = resolve_entry(manifest, manifest.entry(parent_name), progress=progress)
        tmp = _temp_for(entry)
        with source.open("rb") as src, tmp.open("wb") as out:
            remaining = count
            while remaining and (block := src.read(min(BLOCK, remaining))):
                out.write(block)
                remaining -= len(block)
        return _install(manifest, entry, tmp, f"the first {count} bytes of {parent_name}")
    url, _, member = entry.source_url.partition("#")
    if member:
        return _fetch_zip_members(manifest, entry, url, progress)
    tmp = _temp_for(entry)
    download(url, tmp, entry.name, progress=progress)
    return _install(manifest, entry, tmp, url)


def resolve_entry(
    manifest: Manifest, entry: CorpusFile, *, download: bool = True, progress: bool = True
) -> Path:
    """A verified local path for `entry`, fetching it into the cache when allowed."""
    path = locate(manifest, entry)
    if path is not None:
        verify(manifest, entry, path)
        return path
    if not download:
        looked = ", ".join(str(d) for d in search_dirs(manifest))
        raise NacrithError(
            f"corpus file {entry.name} is not here (looked in {looked}) and downloads are off; "
            f"it comes from {entry.source_url}"
        )
    return fetch(manifest, entry, progress=progress)


def resolve(
    name: str,
    manifest: Manifest | None = None,
    *,
    download: bool = True,
    progress: bool = True,
) -> list[tuple[CorpusFile, Path]]:
    """Verified local paths of the files a corpus name stands for (fetched when needed)."""
    manifest = manifest or Manifest.load()
    return [
        (entry, resolve_entry(manifest, entry, download=download, progress=progress))
        for entry in manifest.select(name)
    ]
