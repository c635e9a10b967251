"""The header params of the `llm` codec: format versions, fingerprints, engines, checks.

Which engine computed an archive's probabilities decides where it decodes:

- ``portable`` (format 5, the default where the model allows): the portable engine, exact
  predictors and quantizer; the probabilities have the same bits on every machine, and the
  probe is a self-test.
- ``llama`` (formats 1-4, which do not store the field): llama.cpp and float predictors; the
  archive decodes where the probe matches, i.e. on machines that compute the same floats
  (machine-bound).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nacrith.coders.range_coder import HEAD_MIN
from nacrith.errors import FormatError, ModelMismatchError, ModelNotFoundError
from nacrith.models.llm import registry
from nacrith.models.llm.lockstep import Window
from nacrith.models.llm.skipping import Skip
from nacrith.models.online.ensemble import EnsembleSettings

if TYPE_CHECKING:
    from nacrith.codecs.llm import LLMCodec

__all__ = [
    "DEFAULT_SKIP_RUN",
    "ENGINES",
    "ENV_THREADS",
    "FINGERPRINT_HEX",
    "FORMAT_VERSION",
    "HASH_HEX",
    "LLAMA_VERSION",
    "PORTABLE_REVISION",
    "REVISIONS",
    "REVISION_VERSION",
    "WIDEN_PARTS",
    "WINDOW_VERSION",
    "StoredParams",
    "cached_sha256",
    "check_widen",
    "choose_engine",
    "choose_revision",
    "choose_threads",
    "choose_widen",
    "engine_note",
    "engine_of",
    "make_window",
    "model_for",
    "other_device",
    "registered_name",
    "self_test_failed",
    "vocabulary_hash",
    "window_params",
]

#: 7: the `revision` field: the portable engine's arithmetic revision (absent before: 1);
#: `window` or, for a re-prefill, `keep`;
#: 6: the `window` field (see `window_params`): a full context keeps its attention-sink
#: positions and shifts the rest, with no re-prefill; written only for that policy;
#: 5: the `engine` field (``portable``: probabilities the same on every machine);
#: 4: the text front end may reflow hard-wrapped text (`reflow`; its side data is new);
#: 3: predictor settings may turn on the neural cache (older decoders would reject its fields);
#: 2: fingerprints are 128-bit prefixes; 1: full 256-bit fingerprints. All seven decode.
FORMAT_VERSION = 5
#: archives whose window shifts (any engine) are written as format 6
WINDOW_VERSION = 6
#: portable archives of an arithmetic revision other than 1 are written as format 7
REVISION_VERSION = 7
#: llama-engine archives are written as format 4 (no `engine` field), byte for byte as before
LLAMA_VERSION = 4
ENGINES = ("portable", "llama")
#: the portable engine's arithmetic revisions (`nacrith.models.portable`), and the one new
#: archives use (BENCHMARKS.md, "portable engine")
REVISIONS = (1, 2, 3)
PORTABLE_REVISION = 3

#: hex digits of each fingerprint (model sha256, tokenizer, probe) by format version; the
#: decoder compares the stored prefix of its own full hashes
FINGERPRINT_HEX = {1: 64, 2: 32, 3: 32, 4: 32, 5: 32, 6: 32, 7: 32}
HASH_HEX = FINGERPRINT_HEX[FORMAT_VERSION]


_hash_cache: dict[tuple[str, int, int], str] = {}
_hash_lock = threading.Lock()


def cached_sha256(path: Path) -> str:
    """sha256 of the file at `path`, computed once per path, size and modification time."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _hash_lock:
        if key not in _hash_cache:
            _hash_cache[key] = registry.file_sha256(path)
        return _hash_cache[key]


def choose_engine(engine: str | None, path: Path, name: str, gpu: bool) -> str:
    """The engine to run the model at `path` (registered as `name`) with: `engine`, or the
    portable engine when it runs the model and no GPU is asked for, else llama.cpp;
    `ValueError` when the asked engine cannot run it here."""
    from nacrith.models.portable.support import unsupported_reason

    if engine is None:
        return "llama" if gpu or unsupported_reason(path) else "portable"
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "portable":
        if gpu:
            raise ValueError("the portable engine runs on the CPU; a GPU needs engine llama")
        reason = unsupported_reason(path)
        if reason:
            raise ValueError(f"{reason} ({name}); use engine llama")
    return engine


def choose_revision(engine: str, revision: int | None) -> int:
    """The arithmetic revision to code with on `engine` (`PORTABLE_REVISION` unless asked);
    `ValueError` for one that does not exist or an engine that has none."""
    if engine == "llama":
        if revision not in (None, 1):
            raise ValueError("revision applies to the portable engine only")
        return 1
    if revision is None:
        return PORTABLE_REVISION
    if revision not in REVISIONS:
        raise ValueError(f"revision must be one of {REVISIONS}, got {revision!r}")
    return revision


#: the environment variable that sets the model's CPU threads where no `n_threads` is given
ENV_THREADS = "NACRITH_THREADS"


def choose_threads(n_threads: int | None, processes: int | None, engine: str = "portable") -> int:
    """The model's CPU threads for the codec (machine-local: the logits have the same bits for
    any count): `n_threads` when given, else this process's share of the usable CPUs when
    `processes` processes code at once (`models.llm.backend.auto_threads`); on the ``llama``
    engine one CPU of that share is left to the predictors, whose thread runs beside
    llama.cpp's busy-waiting ones. `processes` None: this process alone, or in a child process
    (a worker of a local pool, which runs one process per CPU by default) one per usable CPU.
    ``$NACRITH_THREADS``, when set, replaces that share (the command line's way to ask for a
    count). `ValueError` for a count that is not a positive integer."""
    from nacrith.models.llm.backend import auto_threads, usable_cpus

    if n_threads is None and os.environ.get(ENV_THREADS):
        text = os.environ[ENV_THREADS]
        if not text.strip().isdigit():
            raise ValueError(f"${ENV_THREADS} must be a positive integer, got {text!r}")
        n_threads = int(text)
    for name, value in (("n_threads", n_threads), ("processes", processes)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if n_threads is not None:
        return n_threads
    if processes is None:
        processes = usable_cpus() if multiprocessing.parent_process() is not None else 1
    return auto_threads(processes, reserve=1 if engine == "llama" else 0)


#: the values of the `widen` option (`nacrith.models.portable.widening.PARTS`, which a test
#: checks; that module loads the engine, so it is imported only where an encoder widens)
WIDEN_PARTS = ("none", "ffn", "layers", "all")


def check_widen(widen: str | None) -> str | None:
    """`widen` when it is None (automatic) or one of `WIDEN_PARTS`, else `ValueError`."""
    if widen is not None and widen not in WIDEN_PARTS:
        raise ValueError(f"widen must be one of {', '.join(WIDEN_PARTS)}, got {widen!r}")
    return widen


def choose_widen(widen: str | None, tokens: int) -> str:
    """The part of the portable engine's matrices an encoder with `tokens` tokens ahead keeps
    widened: `widen` when given, else what `widening.auto_part` finds worth this machine's
    memory."""
    if widen is not None:
        return widen
    from nacrith.models.portable import widening

    return widening.auto_part(tokens, widening.available_memory())


def vocabulary_hash(backend: Any) -> str:
    """sha256 over the byte pieces of `backend`'s whole vocabulary and its BOS id."""
    h = hashlib.sha256(f"bos={backend.bos};n={backend.n_vocab};".encode())
    for piece in backend.pieces():
        h.update(len(piece).to_bytes(2, "little"))
        h.update(piece)
    return h.hexdigest()


def engine_of(params: Mapping[str, Any]) -> str:
    """The engine an archive's params name (archives without the field: ``llama``)."""
    return str(params.get("engine", "llama"))


def engine_note(params: Mapping[str, Any]) -> str:
    """One line on where an archive with these params decodes (for `ncz info -v`)."""
    if engine_of(params) == "portable":
        return "engine: portable (decodes bit-exactly on any machine)"
    return (
        "engine: llama (machine-bound: decodes only where llama.cpp and numpy compute "
        "the same floats as the machine that made it)"
    )


@dataclass(frozen=True)
class StoredParams:
    """The header params of an `llm` member, checked for shape."""

    model: str
    settings: EnsembleSettings
    n_ctx: int
    keep: int
    crlf: bool
    reflow: bool
    sha256: str
    tokenizer: str
    llama_cpp: str
    probe: str
    engine: str
    window: Window
    skip: Skip | None
    revision: int

    @classmethod
    def read(cls, params: Mapping[str, Any]) -> StoredParams:
        """The params of any supported format version; `FormatError` when they are bad."""
        try:
            version = params.get("version")
            if version not in FINGERPRINT_HEX:
                raise FormatError(f"llm codec format {version!r} is not supported")
            if params.get("head_min") != HEAD_MIN:
                raise FormatError(f"llm codec head_min {params.get('head_min')!r} unsupported")
            reflow = params["reflow"] if version >= 4 else False
            if not isinstance(reflow, bool):
                raise ValueError(f"bad reflow flag {reflow!r}")
            engine = params["engine"] if version >= 5 else "llama"
            if engine not in ENGINES:
                raise ValueError(f"unknown engine {engine!r}")
            revision = params["revision"] if version >= REVISION_VERSION else 1
            if revision not in REVISIONS or (engine == "llama" and revision != 1):
                raise ValueError(f"unknown arithmetic revision {revision!r} of the {engine} engine")
            window = read_window(params, version)
            window.check(params["n_ctx"])
            skip = read_skip(params, version)
            if skip is not None:
                skip.check(window, params["n_ctx"])
            stored = cls(
                model=params["model"],
                settings=EnsembleSettings.from_dict(dict(params["predictors"])),
                n_ctx=params["n_ctx"],
                keep=window.keep or params["n_ctx"] // 2,
                crlf=params["crlf"],
                reflow=reflow,
                sha256=params["sha256"],
                tokenizer=params["tokenizer"],
                llama_cpp=params["llama_cpp"] if engine == "llama" else "",
                probe=params["probe"],
                engine=engine,
                window=window,
                skip=skip,
                revision=revision,
            )
            for value in (stored.sha256, stored.tokenizer, stored.probe):
                if not isinstance(value, str) or len(value) != FINGERPRINT_HEX[version]:
                    raise ValueError(f"bad fingerprint {value!r}")
        except (KeyError, TypeError, ValueError) as exc:
            raise FormatError(f"bad llm codec parameters: {exc}") from exc
        return stored


# -- the window policy's and confidence skip's params (format 6) ---------------------------------

#: the default window of new archives where the engine can shift its cache: the attention-sink
#: positions kept, and the positions dropped at each slide as a fraction of n_ctx
#: (BENCHMARKS.md, "Speed: window policy and skip")
DEFAULT_SINK = 4
DROP_DIVISOR = 4
#: most positions in a row that confidence skip may code without the model
DEFAULT_SKIP_RUN = 16


def make_window(
    n_ctx: int,
    keep: int,
    sink: int | None,
    drop: int | None,
    skip: float,
    skip_run: int,
) -> tuple[Window, Skip | None]:
    """The window policy and skip rule of the codec's settings (see `LLMCodec`); `ValueError`
    when they do not fit."""
    if sink is None:
        sink = DEFAULT_SINK  # both engines shift their caches
    if sink:
        window = Window.sink_shift(sink, n_ctx // DROP_DIVISOR if drop is None else drop)
    else:
        window = Window.reprefill(keep)
    window.check(n_ctx)
    rule = Skip(float(skip), skip_run) if skip else None
    if rule is not None:
        rule.check(window, n_ctx)
    return window, rule


def window_params(window: Window, skip: Skip | None = None) -> dict[str, Any]:
    """The params that name `window`: ``keep`` for a re-prefill (formats 1-5), ``window``
    (``{"sink": S, "drop": D}``) for a shifting window (format 6), and ``skip``
    (``{"threshold": p, "run": n}``) when confidence skip is on (format 6)."""
    if not window.shifts:
        return {"keep": window.keep}
    out: dict[str, Any] = {"window": {"sink": window.sink, "drop": window.drop}}
    if skip is not None:
        out["skip"] = {"threshold": skip.threshold, "run": skip.run}
    return out


def read_skip(params: Mapping[str, Any], version: int) -> Skip | None:
    """The confidence skip rule of params of format `version` (None: off)."""
    if version < WINDOW_VERSION or "skip" not in params:
        return None
    k = params["skip"]
    if not isinstance(k, Mapping) or set(k) != {"threshold", "run"}:
        raise ValueError(f"bad skip {k!r}")
    t, run = k["threshold"], k["run"]
    if not isinstance(t, float) or not isinstance(run, int) or isinstance(run, bool):
        raise ValueError(f"bad skip {k!r}")
    return Skip(t, run)


def read_window(params: Mapping[str, Any], version: int) -> Window:
    """The window policy of params of format `version` (formats 1-5, and 7 without `window`:
    re-prefill `keep`)."""
    if version < WINDOW_VERSION or (version >= REVISION_VERSION and "window" not in params):
        keep = params["keep"]
        if not isinstance(keep, int) or isinstance(keep, bool):
            raise ValueError(f"bad keep {keep!r}")
        return Window.reprefill(keep)
    w = params["window"]
    if not isinstance(w, Mapping) or set(w) != {"sink", "drop"}:
        raise ValueError(f"bad window {w!r}")
    if not all(isinstance(w[k], int) and not isinstance(w[k], bool) for k in w):
        raise ValueError(f"bad window {w!r}")
    if w["sink"] < 1:
        raise ValueError(f"window sink must be positive, got {w['sink']!r}")
    return Window.sink_shift(w["sink"], w["drop"])


def registered_name(path: Path) -> str | None:
    """The registered model whose pinned sha256 the file at `path` has, if any: an archive
    made from a path to a registered model's file names the model, so it decodes anywhere."""
    size = path.stat().st_size
    matching = [spec for spec in registry.MODELS.values() if spec.size == size]
    if not matching:
        return None
    digest = cached_sha256(path)
    return next((spec.name for spec in matching if spec.sha256 == digest), None)


def model_for(name: str) -> str:
    """The model argument that decodes an archive made with model `name` (when the caller gave
    none): the registered name, else ``$NACRITH_MODEL``."""
    if name in registry.MODELS:
        return name
    if os.environ.get(registry.ENV_MODEL):
        return os.environ[registry.ENV_MODEL]
    raise ModelNotFoundError(
        f"archive was made with model file {name!r}, which is not a registered "
        f"model; pass its path (model=... or ${registry.ENV_MODEL})"
    )


def self_test_failed() -> ModelMismatchError:
    """The error for a portable archive whose probe differs from this installation's."""
    return ModelMismatchError(
        "the portable engine's self-test failed: this installation computes different "
        "probabilities than the portable engine defines, which no machine difference can "
        "cause; the installation is corrupted or this nacrith has a bug (please report it). "
        "Decoding would produce garbage"
    )


def other_device(codec: LLMCodec, build: Callable[..., LLMCodec], stored: StoredParams) -> LLMCodec:
    """After a llama-engine `codec`'s probe missed: the codec on the other device (CPU/GPU)
    when its probe matches, else `ModelMismatchError` naming the likely cause."""
    from nacrith.models.llm.backend import gpu_available, llama_version

    if gpu_available():
        # the archive may come from the other device: CPU and GPU numerics differ
        other = build(gpu=not codec.gpu)
        if other.probe().startswith(stored.probe):
            codec.close()
            return other
        other.close()
    cause = (
        f"llama-cpp-python {llama_version()} here, {stored.llama_cpp} in the archive"
        if llama_version() != stored.llama_cpp
        else "same model and llama.cpp version, so the CPU/GPU or numpy math differs"
    )
    raise ModelMismatchError(
        f"this machine computes different probabilities than the one that made the "
        f"archive ({cause}); decoding would produce garbage (the archive was made with "
        f"the llama engine, which is machine-bound)"
    )
