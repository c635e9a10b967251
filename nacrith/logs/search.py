"""Searching the chunks of a log archive: skip what cannot match, decode as little as possible.

A chunk whose time range misses the query window is skipped from its directory. A chunk
wholly inside the window (or any chunk, without a window) is searched through its templates
(see `Matcher.plan`): only the lines that can match are rendered; a chunk with identifier
columns likewise, without a window (see `nacrith.logs.idsearch`). A chunk across an edge of
the window is decoded and each line's exact time compared with the window.

A line's time is its first timestamp in its chunk's time format (the format most of the
chunk's first lines use, see `nacrith.formats.logs.timestamps`), with the fraction of a second
written right after it. A line without one (a stack trace, or a line stamped in another
format) takes the time of the nearest such line before it in the chunk, else of the first one
after it: lines of another format go with their neighbours, and are neither read in their own
format nor dropped. A chunk without timestamps matches no time window.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from nacrith.codecs.base import Codec
from nacrith.codecs.logs import MODE_MODEL, LogsCodec
from nacrith.formats.container import decode_chunk
from nacrith.formats.logs.timestamps import Instant, detect_format, line_instant
from nacrith.logs.idsearch import ident_chunk
from nacrith.logs.matcher import Matcher

__all__ = ["TimeWindow", "filter_lines", "search_chunks"]

DETECT = -1  # as a chunk's time format: detect it from the lines


@dataclass(frozen=True)
class TimeWindow:
    """The instants since <= t <= until (both inclusive; a None bound is open)."""

    since: Instant | None = None
    until: Instant | None = None

    def contains(self, t: Instant | None) -> bool:
        """Whether a line of time `t` (None: no time) lies in the window."""
        if t is None:
            return False
        return (self.since is None or t >= self.since) and (self.until is None or t <= self.until)

    def plan(self, time_range: tuple[int, int] | None) -> str:
        """For a chunk whose timestamps' whole seconds span `time_range`: "skip" (no line is
        in the window), "all" (every line is) or "check" (compare each line)."""
        if time_range is None:
            return "skip"
        first, last = time_range
        end = last + 1  # a fraction of a second may follow `last`
        if (self.since is not None and end <= self.since) or (
            self.until is not None and first > self.until
        ):
            return "skip"
        if (self.since is None or first >= self.since) and (
            self.until is None or end <= self.until
        ):
            return "all"
        return "check"


def search_chunks(
    chunks: Iterator[tuple[Codec, Any, bytes, Any]],
    pending: Callable[[], bytes],
    m: Matcher,
    window: TimeWindow | None,
) -> Iterator[bytes]:
    """The matching lines of `chunks` ((codec, record, payload, member reader) each, see
    `LogArchive`), then of the bytes not yet written that `pending` returns at the end."""
    carry = b""
    for codec, record, payload, reader in chunks:
        fmt: int | None = DETECT
        if not carry and isinstance(codec, LogsCodec):
            info = codec.info(payload)
            if info.mode == MODE_MODEL:
                fmt = info.time_format
            plan = window.plan(info.time_range) if window else "all"
            if window is None and (found := ident_chunk(codec, payload, record.raw_size)):
                reader.skip_content(record)
                yield from found.search(m)
                continue
            if info.ends_with_newline and plan in ("skip", "all"):
                reader.skip_content(record)
                if plan == "all":
                    yield from _search_templates(codec, record, payload, info, m)
                continue
        raw = decode_chunk(record, codec, payload)
        reader.account(raw)
        lines = (carry + raw).split(b"\n")
        carry = lines.pop()
        yield from filter_lines(lines, m, window, fmt)
    tail = [carry] if carry else []
    if rest := pending():
        tail = (carry + rest).split(b"\n")
        if not tail[-1]:
            tail.pop()
    yield from filter_lines(tail, m, window, DETECT)


def _search_templates(
    codec: LogsCodec, record: Any, payload: bytes, info: Any, m: Matcher
) -> Iterator[bytes]:
    """The matching lines of one model chunk, rendering only those its templates allow."""
    table = codec.template_table(payload, record.raw_size)
    assert table is not None
    wanted, clauses = m.plan(*table, info.time_format)
    if not wanted:
        return
    last = info.n_lines - 1  # the empty "line" after the final newline
    for i, line in codec.decode_lines(payload, record.raw_size, wanted, clauses=clauses):
        if i != last and m.match(line):
            yield line


def filter_lines(
    lines: list[bytes], m: Matcher, window: TimeWindow | None, fmt: int | None
) -> Iterator[bytes]:
    """The lines of one chunk that match and lie in `window`; `fmt` is the chunk's time
    format (`DETECT`: detect it from the lines)."""
    if window is None:
        yield from (ln for ln in lines if m.match(ln))
        return
    times = line_times(lines, detect_format(lines) if fmt == DETECT else fmt)
    for line, t in zip(lines, times):
        if window.contains(t) and m.match(line):
            yield line


def line_times(lines: list[bytes], fmt: int | None) -> list[Instant | None]:
    """Each line's time: its own timestamp, else the previous line's, else the next one's."""
    if fmt is None:
        return [None] * len(lines)
    times = [line_instant(ln, fmt) for ln in lines]
    last = None
    for i, t in enumerate(times):
        if t is None:
            times[i] = last
        else:
            last = t
    first = next((t for t in times if t is not None), None)
    return [first if t is None else t for t in times]
