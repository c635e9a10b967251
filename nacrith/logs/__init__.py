"""Log archives: append lines from a running program, read them back, search them.

A log archive is an ordinary ``.ncz`` archive whose chunks are coded by the `logs` codec. Each
flush appends one complete member (header, one chunk, end record) and fsyncs it, so a crash
loses at most the lines not yet flushed and never earlier data; ``ncz -d`` decodes the file
like any other archive.

Archive a program's own logs with two lines::

    handler = nacrith.logs.LogArchiveHandler("app.log.ncz")
    logging.getLogger().addHandler(handler)

Read and search::

    with nacrith.logs.LogArchive("app.log.ncz", "r") as archive:
        for line in archive.search("Connection refused", since="2024-05-01 00:00:00"):
            print(line)

Search decodes only what can match: a chunk whose time range misses the query is skipped from
its directory; otherwise the pattern's literals are aligned with the chunk's templates (see
`nacrith.formats.logs.align`), so a chunk none of whose templates can hold them is skipped after
reading its template table. In the other chunks the digits a literal pins to variables (the
``234`` of ``173.234.31.186``) are checked against those columns first, most of them in bulk
over their residual streams, and only the lines still possible are rendered (see
`nacrith.formats.logs.select`).

Times: a line's time is its first timestamp in its chunk's time format (see
`nacrith.formats.logs.timestamps`), else the time of the nearest timestamped line before it in the
chunk, else of the first one after it. Lines of a chunk without timestamps never match a time
filter.

Patterns are matched against the lines' bytes (a str pattern is UTF-8 encoded); `ignore_case`
folds ASCII letters only. Reading a file that another process is appending to may end inside
the member being written: iteration then raises `TruncatedError` after everything before it.
"""

from __future__ import annotations

import bisect
import errno
import io
import itertools
import logging
import os
import re
import threading
import time
import warnings
from collections.abc import Iterable, Iterator
from typing import IO, Any

import numpy as np

from nacrith.codecs.base import Codec
from nacrith.codecs.logs import MODE_MODEL, LogsCodec
from nacrith.errors import NacrithError
from nacrith.formats.container import MAGIC, decode_chunk, iter_members, write_member
from nacrith.formats.logs.align import Aligner, Clause, Placement, Table, time_chars
from nacrith.formats.logs.template import HEX, TIME, split_template
from nacrith.formats.logs.timestamps import detect_format, line_time, parse_time

try:  # Python 3.11+
    from re import _constants as _sre_c  # type: ignore[attr-defined]
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as _sre_c  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["DEFAULT_CHUNK_BYTES", "LogArchive", "LogArchiveHandler"]

DEFAULT_CHUNK_BYTES = 4 << 20
Line = str | bytes


# --- matching ------------------------------------------------------------------------------


def _required_literals(pattern: bytes) -> tuple[list[list[bytes]], bool]:
    """What every match of the regex must contain, as clauses of alternatives (each clause:
    at least one of its byte strings), and whether the regex ignores case (then the strings
    are lower case). Runs of literals become one-alternative clauses; a group of pure-literal
    alternatives such as ``(refused|reset)`` becomes a clause of its alternatives."""
    parsed = _sre_parse.parse(pattern, 0)
    ignore_case = bool(parsed.state.flags & _sre_c.SRE_FLAG_IGNORECASE)
    clauses: list[list[bytes]] = []
    cur = bytearray()

    def flush() -> None:
        if cur:
            clauses.append([bytes(cur)])
            cur.clear()

    def pure(items: Any) -> bytes | None:
        out = bytearray()
        for op, av in items:
            if op is _sre_c.LITERAL:
                out.append(av)
            elif op is _sre_c.SUBPATTERN and not (av[1] or av[2]):
                inner = pure(av[3])
                if inner is None:
                    return None
                out += inner
            else:
                return None
        return bytes(out)

    def walk(items: Any) -> None:
        for op, av in items:
            if op is _sre_c.LITERAL:
                cur.append(av)
            elif op is _sre_c.SUBPATTERN and not (av[1] or av[2]):
                walk(av[3])
            elif op is _sre_c.BRANCH:
                flush()
                alternatives = [pure(branch) for branch in av[1]]
                if alternatives and all(alternatives):
                    clauses.append([a for a in alternatives if a is not None])
            else:
                flush()

    walk(parsed)
    flush()
    if ignore_case:
        clauses = [[a.lower() for a in clause] for clause in clauses]
    return clauses, ignore_case


class _Matcher:
    """A substring or regex test on lines, plus the constant text a match needs."""

    def __init__(self, pattern: Line, regex: bool, ignore_case: bool) -> None:
        raw = pattern.encode("utf-8", "surrogateescape") if isinstance(pattern, str) else pattern
        raw = bytes(raw)
        self.ignore_case = ignore_case
        if regex:
            try:
                self._rx = re.compile(raw, re.IGNORECASE if ignore_case else 0)
            except re.error as exc:
                raise ValueError(f"bad regular expression {pattern!r}: {exc}") from exc
            self.clauses, rx_ic = _required_literals(raw)
            self.ignore_case = ignore_case or rx_ic
            if ignore_case:
                self.clauses = [[a.lower() for a in clause] for clause in self.clauses]
            self.match = lambda line: self._rx.search(line) is not None
        else:
            self.clauses = [[raw.lower() if ignore_case else raw]]
            if ignore_case:
                low = raw.lower()
                self.match = lambda line: low in line.lower()
            else:
                self.match = lambda line: raw in line
        self._splitters: dict[tuple[bool, bool, int | None], re.Pattern[bytes]] = {}
        self._texts: tuple | None = None
        self.numbers = _digit_constraints([c[0] for c in self.clauses if len(c) == 1])

    def _splitter(self, has_hex: bool, has_time: bool, fmt: int | None) -> re.Pattern[bytes]:
        """Splits a literal into the parts made only of bytes that no variable of such a
        template can spell: each part must then lie inside one constant piece."""
        key = (has_hex, has_time, fmt)
        if key not in self._splitters:
            chars = set(b"0123456789")
            if has_hex:
                chars |= set(b"0123456789abcdefABCDEFx")
            if has_time and fmt is not None:
                chars |= time_chars(fmt)
            if self.ignore_case:
                chars |= {c ^ 0x20 for c in chars if 0x41 <= (c & ~0x20) <= 0x5A}
            cls = b"[" + b"".join(re.escape(bytes([c])) for c in sorted(chars)) + b"]+"
            self._splitters[key] = re.compile(cls)
        return self._splitters[key]

    def candidates(
        self, templates: list[tuple[list[bytes], list[int]]], fmt: int | None
    ) -> list[int]:
        """Ids of the templates whose lines could match."""
        clauses = [[a for a in clause if b"\n" not in a] for clause in self.clauses]
        if not all(clauses):
            return []  # a line never holds a newline
        out = []
        for t, (pieces, kinds) in enumerate(templates):
            split = self._splitter(HEX in kinds, TIME in kinds, fmt).split
            text = b"\n".join(pieces)
            if self.ignore_case:
                text = text.lower()
            if all(
                any(all(part in text for part in split(alt) if part) for alt in clause)
                for clause in clauses
            ):
                out.append(t)
        return out

    def candidates_raw(self, table: list[bytes], escaped: bool, fmt: int | None) -> list[int]:
        """`candidates` straight from a raw template table (see `LogsCodec.template_table`),
        each literal part looked up once in the whole table: a looser test than `plan`."""
        if escaped:  # rare: pieces need unescaping first
            return self.candidates([split_template(t, True) for t in table], fmt)
        keep: set[int] | None = None
        for clause in self._clauses():
            union: set[int] = set()
            for alt in clause:
                union |= self._loose(table, alt, fmt, None)
            keep = union if keep is None else keep & union
        return sorted(keep or ())

    def _clauses(self) -> list[list[bytes]]:
        """The clauses, without alternatives a line cannot hold (a newline); [] if a clause
        has none left, as then nothing matches."""
        clauses = [[a for a in clause if b"\n" not in a] for clause in self.clauses]
        return clauses if all(clauses) else [[]]

    def _loose(
        self, table: list[bytes], alt: bytes, fmt: int | None, subset: list[int] | None
    ) -> set[int]:
        """Templates (of `subset`, or all) whose constant text holds every part of `alt`
        that no variable of theirs could spell."""
        if subset is not None:  # a few templates: test each
            out = set()
            for t in subset:
                text = table[t].translate(_MARKS_TO_NEWLINE)
                text = text.lower() if self.ignore_case else text
                split = self._splitter(b"\x01" in table[t], b"\x03" in table[t], fmt).split
                if all(part in text for part in split(alt) if part):
                    out.add(t)
            return out
        cache = self._texts
        if cache is None or cache[0] is not table:
            text = b"\n".join(table).translate(_MARKS_TO_NEWLINE)
            if self.ignore_case:
                text = text.lower()
            sizes = [len(t) for t in table]
            starts = list(itertools.accumulate([0, *sizes[:-1]], lambda a, b: a + b + 1))
            groups: dict[tuple[bool, bool], set[int]] = {}
            for i, t in enumerate(table):
                groups.setdefault((b"\x01" in t, b"\x03" in t), set()).add(i)
            cache = self._texts = (table, text, starts, sizes, groups)
        _, text, starts, sizes, groups = cache

        def holding(part: bytes) -> set[int]:
            """Templates whose constant text holds `part`."""
            out: set[int] = set()
            at = text.find(part)
            while at >= 0:
                t = bisect.bisect_right(starts, at) - 1
                out.add(t)
                nxt = starts[t + 1] if t + 1 < len(starts) else len(text)
                at = text.find(part, nxt)
            return out

        union: set[int] = set()
        for (has_hex, has_time), members in groups.items():
            parts = sorted(filter(None, self._splitter(has_hex, has_time, fmt).split(alt)))
            parts.sort(key=len, reverse=True)
            hit = members & holding(parts[0]) if parts else members
            for part in parts[1:]:
                hit = {t for t in hit if part in text[starts[t] : starts[t] + sizes[t]]}
            union |= hit
        return union

    def plan(
        self, table: list[bytes], escaped: bool, fmt: int | None
    ) -> tuple[list[int], list[Clause]]:
        """(ids of the templates whose lines could match, the clauses their lines must
        pass), see `logs_align`. Templates the alignments cannot describe get the looser test
        of `candidates_raw` and are free in the clauses."""
        n_t = len(table)
        if escaped:
            return self.candidates_raw(table, escaped, fmt), []
        prepared = Table(table, self.ignore_case)
        irregular = prepared.irregular()
        keep = np.ones(n_t, dtype=bool)
        clauses: list[Clause] = []
        for alts in self._clauses():
            free = np.zeros(n_t, dtype=bool)
            placed = np.zeros(n_t, dtype=bool)
            placements: list[Placement] = []
            for alt in alts:
                aligner = Aligner(alt, fmt, self.ignore_case)
                loose = [t for t in irregular if not aligner.simple(prepared.text_of(t))]
                exact = np.ones(n_t, dtype=bool)
                if loose:
                    exact[loose] = False
                    free[sorted(self._loose(table, alt, fmt, loose))] = True
                for pl in aligner.place(prepared):
                    sel = exact[pl.templates]
                    pl = Placement(pl.checks, pl.templates[sel], pl.first[sel])
                    if not pl.checks:
                        free[pl.templates] = True
                    else:
                        placed[pl.templates] = True
                        placements.append(pl)
            keep &= free | placed
            clauses.append(Clause(placements, free))
        return np.flatnonzero(keep).tolist(), clauses


def _digit_constraints(needles: list[bytes]) -> list[tuple[bytes, bool]]:
    """(digits, whole) for the digit runs of the needles that a matching line must spell as a
    whole number (a run with other bytes on both sides) or at the end of one (a run that
    starts the needle); see `LogsCodec.decode_lines`."""
    out = []
    for needle in needles:
        for m in re.finditer(rb"\d+", needle):
            if m.end() < len(needle):
                out.append((m.group(), m.start() > 0))
    return out


_MARKS_TO_NEWLINE = bytes.maketrans(b"\x00\x01\x03", b"\n\n\n")


def _line_times(lines: list[bytes], fmt: int | None) -> list[int | None]:
    """Each line's time: its own timestamp, else the previous line's, else the next one's."""
    if fmt is None:
        return [None] * len(lines)
    times = [line_time(ln, fmt) for ln in lines]
    last = None
    for i, t in enumerate(times):
        if t is None:
            times[i] = last
        else:
            last = t
    first = next((t for t in times if t is not None), None)
    return [first if t is None else t for t in times]


# --- the archive ---------------------------------------------------------------------------


class LogArchive:
    """An append-only log archive file.

    `mode` is "r" (read and search), "a" (append; creates the file) or "w" (truncate, then
    append). Lines given to `append` are buffered and coded as one chunk when the buffer holds
    `chunk_bytes` bytes or `chunk_lines` lines, and on `flush` and `close`. Reading methods
    (`lines`, iteration, `search`, `read`) see every flushed chunk plus this object's buffer.
    Writing methods are thread-safe; each chunk is appended under an exclusive `flock`, so
    several processes may append to one archive.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        mode: str = "a",
        *,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        chunk_lines: int | None = None,
        effort: str = "fast",
        fsync: bool = True,
    ) -> None:
        if mode not in ("r", "a", "w"):
            raise ValueError(f"invalid mode {mode!r} (use 'r', 'a' or 'w')")
        if not isinstance(chunk_bytes, int) or chunk_bytes < 1:
            raise ValueError(f"chunk_bytes must be a positive integer, got {chunk_bytes!r}")
        if chunk_lines is not None and (not isinstance(chunk_lines, int) or chunk_lines < 1):
            raise ValueError(f"chunk_lines must be a positive integer or None, got {chunk_lines!r}")
        self.path = os.fspath(path)
        self.mode = mode
        self.chunk_bytes = chunk_bytes
        self.chunk_lines = chunk_lines
        self._codec = LogsCodec(effort)
        self._fsync = fsync
        self._buf = bytearray()
        self._buf_lines = 0
        self._file: IO[bytes] | None = None
        self._closed = False
        self._lock = threading.RLock()
        if mode == "r":
            if not os.path.exists(self.path):
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(self.path))
        elif mode == "w":
            self._file = open(self.path, "wb")  # noqa: SIM115 - held until close()
        else:
            _repair_tail(self.path)
            self._file = open(self.path, "ab")  # noqa: SIM115 - held until close()

    # -- writing --

    def _check_writable(self) -> None:
        if self._closed:
            raise ValueError("I/O operation on a closed log archive")
        if self._file is None:
            raise io.UnsupportedOperation("log archive is open for reading only")

    def append(self, record: Line) -> None:
        """Add one line (a newline is added unless `record` ends with one)."""
        raw = record.encode("utf-8", "surrogateescape") if isinstance(record, str) else record
        with self._lock:
            self._check_writable()
            self._buf += raw
            if not raw.endswith(b"\n"):
                self._buf += b"\n"
            self._buf_lines += raw.count(b"\n") + (not raw.endswith(b"\n"))
            self._maybe_flush()

    def write_lines(self, records: Iterable[Line]) -> None:
        """`append` each record."""
        for record in records:
            self.append(record)

    def write(self, data: bytes) -> int:
        """Add raw bytes verbatim (automatic chunks end after a newline when there is one)."""
        with self._lock:
            self._check_writable()
            self._buf += data
            self._buf_lines += data.count(b"\n")
            self._maybe_flush()
        return len(data)

    def _maybe_flush(self) -> None:
        while len(self._buf) >= self.chunk_bytes or (
            self.chunk_lines is not None and self._buf_lines >= self.chunk_lines
        ):
            if self.chunk_lines is not None and self._buf_lines >= self.chunk_lines:
                cut = _nth_newline(self._buf, self.chunk_lines) + 1
            else:
                cut = self._buf.rfind(b"\n", 0, self.chunk_bytes) + 1 or self.chunk_bytes
            chunk = bytes(self._buf[:cut])
            del self._buf[:cut]
            self._buf_lines -= chunk.count(b"\n")
            self._write_chunk(chunk)

    def flush(self) -> None:
        """Code the buffered lines as one chunk and append it durably (no-op when empty)."""
        with self._lock:
            self._check_writable()
            if self._buf:
                chunk = bytes(self._buf)
                self._buf.clear()
                self._buf_lines = 0
                self._write_chunk(chunk)

    def _write_chunk(self, raw: bytes) -> None:
        assert self._file is not None
        out = io.BytesIO()
        write_member(out, {"logs": self._codec.params()}, [("logs", raw, self._codec.encode(raw))])
        fd = self._file.fileno()
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            self._file.write(out.getvalue())
            self._file.flush()
            if self._fsync:
                os.fsync(fd)
        finally:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Flush and close; closing twice is allowed."""
        with self._lock:
            if self._closed:
                return
            try:
                if self._file is not None:
                    self.flush()
            finally:
                self._closed = True
                if self._file is not None:
                    self._file.close()
                    self._file = None

    @property
    def pending_bytes(self) -> int:
        """Bytes appended but not yet written as a chunk."""
        return len(self._buf)

    @property
    def closed(self) -> bool:
        """Whether `close` was called."""
        return self._closed

    def __enter__(self) -> LogArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading --

    def _chunks(self) -> Iterator[tuple[Codec, Any, bytes, Any]]:
        """(codec, chunk record, payload, member reader) for every flushed chunk."""
        if self._closed:
            raise ValueError("I/O operation on a closed log archive")
        if not os.path.exists(self.path) or os.path.getsize(self.path) == 0:
            return
        from nacrith.codecs.registry import codec_class

        codecs: dict[tuple[str, str], Codec] = {}
        with open(self.path, "rb") as f:
            for member in iter_members(f):
                for record in member.chunks:
                    params = member.codec_params.get(record.codec_id, {})
                    key = (record.codec_id, repr(sorted(params.items())))
                    if key not in codecs:
                        codecs[key] = codec_class(record.codec_id).from_params(params)
                    yield codecs[key], record, record.read_payload(), member.reader

    def _raw_chunks(self) -> Iterator[bytes]:
        for codec, record, payload, reader in self._chunks():
            raw = decode_chunk(record, codec, payload)
            reader.account(raw)
            yield raw
        if self._buf:
            yield bytes(self._buf)

    def read(self) -> bytes:
        """Everything in the archive (and in this object's buffer), as bytes."""
        return b"".join(self._raw_chunks())

    def lines(self, *, binary: bool = False) -> Iterator[Line]:
        """Every line, without its newline, as str (UTF-8, undecodable bytes as surrogate
        escapes, so encoding them back is exact) or, with `binary`, as bytes."""
        for line in _split_lines(self._raw_chunks()):
            yield line if binary else line.decode("utf-8", "surrogateescape")

    def __iter__(self) -> Iterator[Line]:
        return self.lines()

    def search(
        self,
        pattern: Line,
        *,
        regex: bool = False,
        ignore_case: bool = False,
        since: Any = None,
        until: Any = None,
    ) -> Iterator[Line]:
        """Lines that contain `pattern` (or match it anywhere, with `regex`), in order.

        A bytes pattern yields bytes lines, a str pattern str lines. `since`/`until` (POSIX
        seconds, `datetime`, or a string in ISO 8601 or in the log's own time format) keep
        only lines whose time is within [since, until].
        """
        binary = isinstance(pattern, (bytes, bytearray))
        matcher = _Matcher(pattern, regex, ignore_case)
        lo = parse_time(since) if since is not None else None
        hi = parse_time(until) if until is not None else None
        for line in self._search(matcher, lo, hi):
            yield line if binary else line.decode("utf-8", "surrogateescape")

    def _search(self, m: _Matcher, lo: float | None, hi: float | None) -> Iterator[bytes]:
        timed = lo is not None or hi is not None
        carry = b""
        for codec, record, payload, reader in self._chunks():
            fmt: int | None = -1  # -1: detect from the lines
            if not carry and isinstance(codec, LogsCodec):
                info = codec.info(payload)
                if info.mode == MODE_MODEL:
                    fmt = info.time_format
                if info.ends_with_newline:
                    plan = _plan_chunk(info, lo, hi) if timed else "templates"
                    if plan == "skip":
                        reader.skip_content(record)
                        continue
                    reader.skip_content(record)
                    span = (lo, hi) if plan == "full" else None
                    yield from _search_templates(codec, record, payload, info, m, span)
                    continue
            raw = decode_chunk(record, codec, payload)
            reader.account(raw)
            lines = (carry + raw).split(b"\n")
            carry = lines.pop()
            yield from _filter_lines(lines, m, lo, hi, fmt)
        tail = [carry] if carry else []
        if self._buf:
            tail = (carry + bytes(self._buf)).split(b"\n")
            if not tail[-1]:
                tail.pop()
        yield from _filter_lines(tail, m, lo, hi, -1)


def _plan_chunk(info: Any, lo: float | None, hi: float | None) -> str:
    """ "skip", "templates" (every line is in the time range) or "full" (check each line)."""
    if info.time_range is None:
        return "skip"
    first, last = info.time_range
    if (lo is not None and last < lo) or (hi is not None and first > hi):
        return "skip"
    if (lo is None or first >= lo) and (hi is None or last <= hi):
        return "templates"
    return "full"


def _search_templates(
    codec: LogsCodec,
    record: Any,
    payload: bytes,
    info: Any,
    m: _Matcher,
    span: tuple[float | None, float | None] | None,
) -> Iterator[bytes]:
    table = codec.template_table(payload, record.raw_size)
    assert table is not None
    wanted, clauses = m.plan(*table, info.time_format)
    if not wanted:
        return
    last = info.n_lines - 1  # the empty "line" after the final newline
    if span is None:
        lines = codec.decode_lines(payload, record.raw_size, wanted, clauses=clauses)
    else:
        lines = codec.decode_lines(payload, record.raw_size, wanted, m.numbers, span)
    for i, line in lines:
        if i != last and m.match(line):
            yield line


def _filter_lines(
    lines: list[bytes], m: _Matcher, lo: float | None, hi: float | None, fmt: int | None
) -> Iterator[bytes]:
    """The matching lines; `fmt` is the chunk's time format (-1: detect it from the lines)."""
    if lo is None and hi is None:
        yield from (ln for ln in lines if m.match(ln))
        return
    times = _line_times(lines, detect_format(lines) if fmt == -1 else fmt)
    for line, t in zip(lines, times):
        if t is None or (lo is not None and t < lo) or (hi is not None and t > hi):
            continue
        if m.match(line):
            yield line


def _split_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    carry = b""
    for raw in chunks:
        lines = (carry + raw).split(b"\n")
        carry = lines.pop()
        yield from lines
    if carry:
        yield carry


def _nth_newline(buf: bytearray, n: int) -> int:
    pos = -1
    for _ in range(n):
        pos = buf.index(b"\n", pos + 1)
    return pos


def _repair_tail(path: str) -> None:
    """Before appending: drop a torn last member left by a crash (with a warning). Damage
    followed by more members is not a torn tail: that raises, and nothing is changed. Runs
    under the appenders' lock, so a member another process is writing is not taken for one."""
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return
    with open(path, "r+b") as f:
        if fcntl is not None:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # released when `f` is closed
        good = 0
        try:
            for member in iter_members(f):
                for _ in member.chunks:
                    pass
                good = f.tell()
            return
        except NacrithError as exc:
            f.seek(good)
            rest = f.read()
            if MAGIC in rest[1:]:
                raise
            message = f"{path}: dropping {len(rest)} bytes of an incomplete last chunk ({exc})"
        warnings.warn(message, RuntimeWarning, stacklevel=3)
        f.truncate(good)
        f.flush()
        os.fsync(f.fileno())


# --- logging -------------------------------------------------------------------------------


class LogArchiveHandler(logging.Handler):
    """A `logging.Handler` that appends formatted records to a log archive.

    A chunk is written every `chunk_lines` records or `chunk_bytes` bytes, when a record comes
    more than `max_delay` seconds after the oldest buffered one (if set), on `flush()` and on
    `close()` (which `logging.shutdown` calls at exit). Records not yet written are lost if the
    process dies. Without a formatter, records are formatted as
    ``2024-05-01 12:00:00,123 INFO name: message``.
    """

    DEFAULT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        chunk_lines: int = 10_000,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        max_delay: float | None = None,
        level: int = logging.NOTSET,
        effort: str = "fast",
    ) -> None:
        super().__init__(level)
        self.archive = LogArchive(
            path, "a", chunk_bytes=chunk_bytes, chunk_lines=chunk_lines, effort=effort
        )
        self.max_delay = max_delay
        self._oldest: float | None = None
        self.setFormatter(logging.Formatter(self.DEFAULT_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        """Format and buffer one record."""
        try:
            text = self.format(record)
            now = time.monotonic()
            if self._oldest is None:
                self._oldest = now
            self.archive.append(text)
            if not self.archive.pending_bytes:
                self._oldest = None
            elif self.max_delay is not None and now - self._oldest >= self.max_delay:
                self.flush()
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        """Write the buffered records as one chunk."""
        self.acquire()
        try:
            if not self.archive.closed:
                self.archive.flush()
            self._oldest = None
        finally:
            self.release()

    def close(self) -> None:
        """Flush and close the archive."""
        self.acquire()
        try:
            self.archive.close()
        finally:
            self.release()
            super().close()
