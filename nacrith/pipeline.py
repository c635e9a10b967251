"""The compression pipeline: read -> segment -> chunk -> code (batches, workers) -> container.

`compress_stream` and `decompress_stream` move bytes from a binary reader to a binary writer
with bounded memory: the input is read in blocks of `BLOCK_SIZE`, and at most a few batches are
in flight at once. Chunk boundaries depend only on the input bytes and the settings.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import IO, Any

from nacrith.codecs.base import Codec
from nacrith.errors import CorruptDataError, OutputLimitError
from nacrith.formats.container import (
    ChunkRecord,
    MemberReader,
    MemberWriter,
    iter_members,
    verify_chunk,
)
from nacrith.formats.long_range import MIN_MATCH, LongRangeDecoder
from nacrith.formats.long_range.lookahead import look_ahead
from nacrith.formats.long_range.reader import ChainReader, LongRangeReader
from nacrith.formats.reading import read_exactly
from nacrith.formats.segment import balanced_chunks, cut_chunks, segment
from nacrith.workers import (
    BATCH_CHUNKS,
    BatchRunner,
    CodecSet,
    DecodeItem,
    Runner,
    group_batches,
    resolve_workers,
)

__all__ = ["Settings", "compress_stream", "decompress_stream"]

BLOCK_SIZE = 16 << 20
DEFAULT_CHUNK_SIZE = 4 << 20
#: with method auto, inputs up to this size are also tried as plain zstd (see compress_stream)
SMALL_INPUT = 64 << 10
#: bytes of the input that choose the text codec of methods `auto` and `fast`
SAMPLE = 65536
#: codecs that load a model: built only for a member with chunks they may code
_LOADS_MODEL = frozenset({"llm"})

Progress = Callable[[int], None]


@dataclass
class Settings:
    """What to compress with. Only `method` and the codec options affect the archive bytes;
    `workers` and `cluster` (a Ray cluster address: code the batches there) never do."""

    method: str = "auto"
    workers: int | None = None
    chunk_size: int | None = None
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    cluster: str | None = None

    def __post_init__(self) -> None:
        from nacrith.codecs.registry import METHODS, known_codecs

        if self.method not in METHODS and self.method not in known_codecs():
            raise ValueError(f"unknown method {self.method!r} (choose from {', '.join(METHODS)})")
        resolve_workers(self.workers)  # raises on a bad value
        if self.cluster is not None and (not isinstance(self.cluster, str) or not self.cluster):
            raise ValueError(f"cluster must be None or a Ray address, got {self.cluster!r}")
        if self.chunk_size is not None and (
            isinstance(self.chunk_size, bool)
            or not isinstance(self.chunk_size, int)
            or not 1 <= self.chunk_size <= BLOCK_SIZE
        ):
            raise ValueError(f"chunk_size must be an integer in 1..{BLOCK_SIZE}")
        for codec_id, opts in self.options.items():
            if not isinstance(opts, Mapping):
                raise TypeError(f"options[{codec_id!r}] must be a mapping of codec settings")

    @property
    def worker_count(self) -> int:
        """Processes to use (None: this one only; 0: one per usable CPU)."""
        return resolve_workers(self.workers)


#: what method `fast` picks from per chunk (logs only where the chunk looks like logs)
FAST_CANDIDATES = ("fib", "ppmd", "xz", "zstd")
#: codecs cheap enough to estimate on a sample of a chunk
ESTIMATED = frozenset({"fib", "logs", "ppmd", "xz", "zstd"})
#: bytes of a chunk the estimates compress (the first half and half from the middle)
ESTIMATE_SAMPLE = 64 << 10
#: candidates whose estimate is within this share of the best one are coded in full
ESTIMATE_MARGIN = 0.03
#: with method `fast`, text and binary runs shorter than this join the region around them
FAST_MIN_REGION = 64 << 10
#: method `fast`'s default chunk: a whole block (the slack keeps `balanced_chunks` from halving
#: a full one), so repeats up to a block apart fall in one chunk; chunks that go to `logs` are
#: cut to `DEFAULT_CHUNK_SIZE`
FAST_CHUNK_SIZE = BLOCK_SIZE + BLOCK_SIZE // 8

#: the long-range pass (`formats.long_range`): repeats at least a text chunk back (what the
#: chunk's codec sees), and never nearer than this, become references
LONG_RANGE_MIN_DISTANCE = 1 << 20
#: ... and at most 2^this far back (the decoder keeps that much output)
LONG_RANGE_WINDOW_LOG = 28
#: input read (and searched) before deciding whether a member gets the pass
LONG_RANGE_LOOKAHEAD = 64 << 20
#: methods without the pass: `stored` compresses nothing, `logs` parses whole lines
NO_LONG_RANGE = frozenset({"stored", "logs"})


def _text_codec_for(method: str, sample: bytes) -> str | None:
    """The text codec `method` uses on text regions (None: text is coded like binary)."""
    if method in ("zstd", "xz", "stored"):
        return None
    if method == "fast":
        return "fib"
    if method != "auto":
        return method
    from nacrith.formats.logs.detect import looks_like_logs

    return "logs" if looks_like_logs(sample) else "llm"


class _Plan:
    """The codecs of one compression run and the candidates for text and binary chunks."""

    def __init__(self, settings: Settings, sample: bytes, cache: dict[str, Codec]) -> None:
        from nacrith.codecs.registry import codec_class

        self.settings = settings
        self.text_codec = _text_codec_for(settings.method, sample)
        self.binary: tuple[str, ...] = {
            "stored": ("stored",),
            "xz": ("xz",),
            "auto": ("zstd", "xz"),
            "fast": FAST_CANDIDATES,
        }.get(settings.method, ("zstd",))
        self.text: tuple[str, ...] = (self.text_codec,) if self.text_codec else self.binary
        if settings.method == "auto" and self.text_codec == "logs":
            self.text = ("logs", "zstd", "xz")
        elif settings.method == "auto" and self.text_codec is not None:
            self.text = (self.text_codec, "zstd")
        elif settings.method == "fast":
            self.text = FAST_CANDIDATES
        ids = set(self.text) | set(self.binary)
        if settings.method == "fast":
            ids.add("logs")
        self.codecs: dict[str, Codec] = {}
        self._cache = cache
        #: codecs built (and put in the header) only once a chunk may go to them: a model
        #: is loaded only for input it codes
        self.deferred: frozenset[str] = frozenset(ids - {"stored"}) & _LOADS_MODEL
        for codec_id in sorted(ids - {"stored"} - self.deferred):
            self._build(codec_id)
        text_cls = codec_class(self.text_codec) if self.text_codec else None
        self.text_chunk = settings.chunk_size or getattr(
            text_cls, "default_chunk_size", DEFAULT_CHUNK_SIZE
        )
        self.binary_chunk = settings.chunk_size or DEFAULT_CHUNK_SIZE
        if settings.method == "fast" and settings.chunk_size is None:
            self.text_chunk = self.binary_chunk = FAST_CHUNK_SIZE

    def _build(self, codec_id: str) -> None:
        from nacrith.codecs.registry import codec_class

        if codec_id not in self._cache:
            cls = codec_class(codec_id)
            self._cache[codec_id] = cls(**self.settings.options.get(codec_id, {}))
        self.codecs[codec_id] = self._cache[codec_id]

    def build_deferred(self, wanted: Iterable[str]) -> None:
        """Build the deferred codecs among `wanted` (the candidates some chunk has)."""
        for codec_id in sorted(self.deferred.intersection(wanted)):
            self._build(codec_id)
        self.deferred = frozenset()

    def params(self) -> dict[str, dict[str, Any]]:
        return {codec_id: self.codecs[codec_id].params() for codec_id in sorted(self.codecs)}

    def chunks(self, block: bytes) -> Iterator[tuple[tuple[str, ...], bytes]]:
        """(candidate codec ids, raw chunk) for each chunk of a block, in order."""
        if self.text_codec is None:
            regions = [(0, len(block), False)]
        elif self.settings.method == "fast":
            found = segment(block, FAST_MIN_REGION, FAST_MIN_REGION)
            regions = [(r.start, r.end, r.is_text) for r in found]
        else:
            regions = [(r.start, r.end, r.is_text) for r in segment(block)]
        for start, end, is_text in regions:
            if is_text:
                spans = balanced_chunks(block, start, end, self.text_chunk)
                candidates = self.text
            else:
                spans = cut_chunks(block, start, end, self.binary_chunk)
                candidates = self.binary
            for lo, hi in spans:
                raw = block[lo:hi]
                picked = self._pick(candidates, raw)
                if "logs" not in picked or len(raw) <= DEFAULT_CHUNK_SIZE:
                    yield picked, raw
                    continue
                for sub_lo, sub_hi in balanced_chunks(block, lo, hi, DEFAULT_CHUNK_SIZE):
                    sub = block[sub_lo:sub_hi]
                    yield self._pick(candidates, sub), sub

    def _pick(self, candidates: tuple[str, ...], raw: bytes) -> tuple[str, ...]:
        """The candidates worth coding `raw` with in full, judged by coding a sample of it.

        Only when every candidate is cheap (`ESTIMATED`) and the chunk is well over the
        sample; method `fast` adds `logs` where the chunk looks like logs. The choice depends
        on the chunk's bytes only, so it never depends on batches or workers.
        """
        if self.settings.method == "fast":
            from nacrith.formats.logs.detect import looks_like_logs

            if looks_like_logs(raw[:ESTIMATE_SAMPLE]):
                candidates = ("logs", *candidates)
        if len(candidates) < 2 or not ESTIMATED.issuperset(candidates):
            return candidates
        if len(raw) <= 2 * ESTIMATE_SAMPLE:
            return candidates
        half = ESTIMATE_SAMPLE // 2
        middle = len(raw) // 2
        sample = raw[:half] + raw[middle : middle + half]
        sizes = {c: len(self.codecs[c].encode(sample)) for c in candidates}
        best = min(sizes.values())
        return tuple(c for c in candidates if sizes[c] <= best * (1 + ESTIMATE_MARGIN))


def _runner(
    codecs: CodecSet, workers: int | None, cluster: str | None, source: Any = None
) -> Runner:
    """Where batches run: actors on the Ray cluster at `cluster`, else local processes."""
    if cluster is None:
        return BatchRunner(codecs, resolve_workers(workers))
    from nacrith.cluster.runner import ClusterRunner

    return ClusterRunner(codecs, cluster, workers, source)


def compress_stream(
    reader: IO[bytes],
    writer: IO[bytes],
    settings: Settings,
    original_size: int | None = None,
    progress: Progress | None = None,
    cache: dict[str, Codec] | None = None,
) -> int:
    """Compress everything `reader` yields into one archive member on `writer`; return its size.

    `cache` maps codec ids to encoder codecs built with `settings` and is reused across calls
    (a `Compressor` keeps its loaded model there); codecs in it are not closed. With method
    ``auto``, an input of at most `SMALL_INPUT` bytes is also coded as plain zstd and as plain xz,
    and the smallest archive is kept: on tiny inputs a model's header can outweigh what it saves,
    and cutting a small binary into text and binary chunks can cost more than it gains.
    """
    own_cache = cache is None
    cache = {} if cache is None else cache
    try:
        source = None
        if settings.cluster is not None:
            from nacrith.cluster.shared import shared_source

            source = shared_source(reader)  # before reading: where the input starts
        first = read_exactly(reader, BLOCK_SIZE)
        if settings.method != "auto" or len(first) > SMALL_INPUT:
            return _compress_long_range(
                first, reader, writer, settings, original_size, progress, cache, source
            )
        candidates = []
        for method in ("auto", "zstd", "xz"):
            out = io.BytesIO()
            # the plain alternates take milliseconds: never a cluster (or pool) of their own
            alt = replace(settings, method=method)
            if method != "auto":
                alt = replace(alt, cluster=None, workers=None)
            _compress_member(first, io.BytesIO(), out, alt, len(first), None, cache)
            candidates.append(out.getvalue())
        best = min(candidates, key=len)
        writer.write(best)
        if progress is not None:
            progress(len(first))
        return len(best)
    finally:
        if own_cache:
            for codec in cache.values():
                codec.close()


def _long_range_distance(settings: Settings) -> int:
    """The nearest repeat the long-range pass takes: a text chunk of `settings` (repeats
    nearer than that mostly lie in one chunk, whose codec sees them), at least
    `LONG_RANGE_MIN_DISTANCE` unless chunks were asked smaller."""
    from nacrith.codecs.registry import codec_class, known_codecs

    if settings.chunk_size is not None:
        return max(MIN_MATCH, settings.chunk_size)
    if settings.method == "fast":
        return LONG_RANGE_MIN_DISTANCE  # its PPMd chunks see no repeat a few MiB back
    text = "llm" if settings.method == "auto" else settings.method
    chunk = DEFAULT_CHUNK_SIZE
    if text in known_codecs():
        chunk = getattr(codec_class(text), "default_chunk_size", DEFAULT_CHUNK_SIZE)
    return max(LONG_RANGE_MIN_DISTANCE, chunk)


def _looks_like_logs(sample: bytes) -> bool:
    from nacrith.formats.logs.detect import looks_like_logs

    return looks_like_logs(sample)


def _compress_long_range(
    first: bytes,
    reader: IO[bytes],
    writer: IO[bytes],
    settings: Settings,
    original_size: int | None,
    progress: Progress | None,
    cache: dict[str, Codec],
    source: Any = None,
) -> int:
    """One member, long-range coded where that pays (see `formats.long_range`), else as
    `_compress_member` writes it.

    The pass searches up to the first `LONG_RANGE_LOOKAHEAD` bytes (read ahead and held, a
    block at a time until the estimated saving clears `formats.long_range.reader.pays`; a
    sampled probe first, see `formats.long_range.lookahead`) and is kept only when it does;
    the member is otherwise written byte for byte as without the pass. A kept pass runs over
    the whole input with a sliding window, so memory stays bounded for any input size. Input
    that looks like logs keeps its lines whole for the `logs` codec (no pass with `auto`,
    `fast`)."""
    distance = _long_range_distance(settings)
    if (
        settings.method in NO_LONG_RANGE
        or len(first) < min(BLOCK_SIZE, distance + MIN_MATCH)
        or (settings.method in ("auto", "fast") and _looks_like_logs(first[:SAMPLE]))
    ):
        return _compress_member(
            first, reader, writer, settings, original_size, progress, cache, source
        )
    ahead = look_ahead(
        first, reader, distance, LONG_RANGE_WINDOW_LOG, BLOCK_SIZE, LONG_RANGE_LOOKAHEAD
    )
    blocks, encoder, frames = ahead.blocks, ahead.encoder, ahead.frames
    del ahead
    if encoder is None or frames is None:
        rest = ChainReader(blocks[1:], reader)
        return _compress_member(
            first, rest, writer, settings, original_size, progress, cache, source
        )
    framed = zip([len(b) for b in blocks], frames)
    rest = ChainReader(blocks[len(frames) :], reader)
    stream = LongRangeReader(encoder, framed, rest, BLOCK_SIZE)
    del blocks, frames
    done = [0, 0]  # stream bytes coded, input bytes they stand for

    def input_progress(size: int) -> None:
        done[0] += size
        now = stream.input_done(done[0])
        if progress is not None:
            progress(now - done[1])
        done[1] = now

    head = read_exactly(stream, BLOCK_SIZE)
    member_progress = input_progress if progress is not None else None
    return _compress_member(
        head,
        stream,
        writer,
        settings,
        original_size,
        member_progress,
        cache,
        sample=first[:SAMPLE],
    )


def _compress_member(
    first: bytes,
    reader: IO[bytes],
    writer: IO[bytes],
    settings: Settings,
    original_size: int | None,
    progress: Progress | None,
    cache: dict[str, Codec],
    source: Any = None,
    sample: bytes | None = None,
) -> int:
    """One member from the block `first` and whatever `reader` still holds (`source`: the
    shared file they come from, for a cluster run). With `sample` (the input's first
    `SAMPLE` bytes, which pick the text codec), they are instead a long-range stream of
    `original_size` input bytes."""
    long_range = sample is not None
    plan = _Plan(settings, first[:SAMPLE] if sample is None else sample, cache)
    first_chunks = list(plan.chunks(first))
    # a block shorter than BLOCK_SIZE is the whole input: only its chunks' candidates count
    complete = len(first) < BLOCK_SIZE
    candidates = {c for ids, _raw in first_chunks for c in ids}
    plan.build_deferred(candidates if complete else plan.deferred)
    params = plan.params()
    if complete:  # the header names only the codecs some chunk may use
        params = {codec_id: p for codec_id, p in params.items() if codec_id in candidates}
    member = MemberWriter(writer, params, original_size, long_range=long_range)
    runtime = {codec_id: codec.runtime() for codec_id, codec in plan.codecs.items()}
    codecs = CodecSet(params, prebuilt=plan.codecs, runtime=runtime)
    runner = _runner(codecs, settings.workers, settings.cluster, source)

    count_cap = BATCH_CHUNKS

    def batches() -> Iterator[list[tuple[tuple[str, ...], bytes]]]:
        block, chunks = first, iter(first_chunks)
        done = 0
        while block:
            # a short block is the last one; before it, the input's size says how much is
            # left (a long-range stream is shorter than its input: not known, so the block is
            # spread over the workers as it is)
            remaining, to_end = len(block), len(block) < BLOCK_SIZE
            if not to_end and original_size is not None and not long_range:
                remaining, to_end = max(len(block), original_size - done), True
            yield from group_batches(
                chunks, lambda it: len(it[1]), remaining, runner.workers, count_cap, shrink=to_end
            )
            done += len(block)
            block = read_exactly(reader, BLOCK_SIZE)
            chunks = plan.chunks(block)

    try:
        for items, results in _zip_batches(batches(), runner, "encode"):
            for (_ids, raw), (codec_id, payload) in zip(items, results):
                member.write_chunk(codec_id, raw, payload)
                if progress is not None:
                    progress(len(raw))
        return member.finish()
    finally:
        runner.close()
        codecs.close()


def _zip_batches(
    batches: Iterator[list[Any]], runner: Runner, kind: str
) -> Iterator[tuple[list[Any], list[Any]]]:
    """Pair each batch with its results, keeping the inputs only while they are in flight."""
    held: list[list[Any]] = []

    def feed() -> Iterator[list[Any]]:
        for batch in batches:
            held.append(batch)
            yield batch

    for results in runner.run(feed(), kind):
        yield held.pop(0), results


def decompress_stream(
    reader: IO[bytes],
    writer: IO[bytes],
    workers: int | None = None,
    max_output_size: int | None = None,
    progress: Progress | None = None,
    shared: dict[tuple[str, str], Codec] | None = None,
    runtime: Mapping[str, Mapping[str, Any]] | None = None,
    cluster: str | None = None,
) -> int:
    """Decode every member of the archive on `reader` to `writer`; return the bytes written.

    Each chunk is written only after its checksum matched. On any error a `NacrithError` is
    raised; what was already written is correct but incomplete, so callers writing files
    must discard it (the CLI writes to a temporary file). `shared` keeps decoder codecs (a
    loaded model) across calls, keyed by codec id and parameters. `runtime` holds per-codec
    machine-local options for `from_params` (e.g. ``{"llm": {"gpu": True}}``). `cluster`: the
    address of a Ray cluster to decode on (`workers` then counts its actors).
    """
    total = 0
    resolve_workers(workers)  # raises on a bad value
    for member in iter_members(reader):
        declared = member.reader.original_size
        if (
            max_output_size is not None
            and declared is not None
            and total + declared > max_output_size
        ):
            raise OutputLimitError(
                f"archive declares {total + declared} bytes, above max_output_size "
                f"{max_output_size}"
            )
        total += _decode_member(
            member.reader,
            writer,
            workers,
            cluster,
            max_output_size,
            total,
            progress,
            shared,
            runtime,
        )
    return total


def _decode_member(
    reader: MemberReader,
    writer: IO[bytes],
    workers: int | None,
    cluster: str | None,
    max_output_size: int | None,
    already: int,
    progress: Progress | None,
    shared: dict[tuple[str, str], Codec] | None,
    runtime: Mapping[str, Mapping[str, Any]] | None,
) -> int:
    codecs = CodecSet(reader.codec_params, shared=shared, runtime=runtime)
    runner = _runner(codecs, workers, cluster)
    records: list[ChunkRecord] = []  # records of the batches in flight, in order

    def items() -> Iterator[DecodeItem]:
        declared = already
        while (record := reader.next_chunk()) is not None:
            declared += record.raw_size
            if max_output_size is not None and declared > max_output_size:
                raise OutputLimitError(
                    f"archive holds more than max_output_size ({max_output_size}) bytes"
                )
            records.append(record)
            yield (record.codec_id, record.read_payload(), record.raw_size)

    def jobs() -> Iterator[list[DecodeItem]]:
        # The group size follows the first chunk's codec (lockstep codecs want a few streams).
        stream = items()
        first = next(stream, None)
        if first is None:
            return
        count_cap = BATCH_CHUNKS
        yield from group_batches(
            itertools.chain([first], stream),
            lambda it: it[2],
            reader.original_size,
            runner.workers,
            count_cap,
        )

    written = 0
    expander = None
    if reader.long_range:
        limit = None if max_output_size is None else max_output_size - already
        expander = LongRangeDecoder(writer.write, limit)
    try:
        for raws in runner.run(jobs(), "decode"):
            for raw in raws:
                verify_chunk(records.pop(0), raw)
                reader.account(raw)
                if expander is None:
                    writer.write(raw)
                    size = len(raw)
                else:
                    expander.feed(raw)
                    size = expander.produced - written
                written += size
                if progress is not None:
                    progress(size)
        if expander is not None:
            expander.finish()
            if reader.original_size is not None and written != reader.original_size:
                raise CorruptDataError(
                    f"long-range member expands to {written} bytes, its header declares "
                    f"{reader.original_size}"
                )
        reader.finish()
        return written
    finally:
        runner.close()
        codecs.close()
