"""The `logs` codec: lossless template extraction for log files.

Each line becomes a template (its constant text, see `formats.logs.template`) and numeric variables
(see `formats.logs.columns`). A payload is a small uncompressed directory followed by independently
coded sub-streams, so a reader can decode the template table alone (to rule a chunk out of a
search) or skip the variables of lines it will not print.

Payload, version 1 (all integers LEB128)::

    u8 version = 1
    u8 mode           0: stored raw chunk;  1: one back end over the whole chunk;
                      2: template model (below)
    mode 1:  u8 back end, then the back end's stream (see `formats.logs.streams`)
    mode 2:  u8 flags          bit 0: time range present; bit 1: chunk was escaped;
                               bit 2: the chunk ends with ``\n``
             n_lines, n_templates
             [time: u8 format (index in formats.logs.timestamps.FORMATS), zigzag(first second),
              last - first]   (POSIX seconds, all timestamps of that format in the chunk)
             n_streams, then per stream: u8 kind, u8 back end, raw length, coded length
             the coded streams, in directory order

Stream kinds: 1 template table (templates joined by ``\\n``, in order of first use),
2 template of each line (0 for a template's first line, else its id + 1),
3 column settings, 4-6 residuals of the none/prev/ref predictors, 7 leading-zero counts,
8 text variables, 9 residuals of the family predictor, 10 residuals of wide columns.
A stream that would be empty is left out.

Payload, version 2: a chunk with high-entropy identifiers (hex ids, UUIDs, hashes), coded as
digit columns and references (see `formats.logs.idents`, whose section it holds)::

    u8 version = 2
    u8 mode = 3
    the identifier section's shape table and identifier count
    per stream (refs, digits, cases): u8 back end, raw length, coded length
    LEB128 length of the chunk with placeholders
    the coded streams, then a version-1 payload of the chunk with placeholders

A decoder that knows only version 1 rejects it as an unsupported version.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import zstandard

from nacrith.codecs.base import Codec
from nacrith.errors import CorruptDataError, FormatError
from nacrith.formats.logs import idents
from nacrith.formats.logs import streams as ls
from nacrith.formats.logs.align import Clause
from nacrith.formats.logs.column_settings import P_FAM, P_NONE, P_PREV, P_REF, read_meta
from nacrith.formats.logs.columns import (
    build_layout,
    decode_values,
    encode_columns,
    render_format,
    static_lengths,
)
from nacrith.formats.logs.filters import line_times, number_filter
from nacrith.formats.logs.select import select_lines
from nacrith.formats.logs.template import split_template, tokenize
from nacrith.formats.logs.timestamps import FORMATS
from nacrith.formats.varint import decode_varints, encode_varints, varint

__all__ = ["LogsCodec", "PayloadInfo"]

VERSION, VERSION_IDENTS = 1, 2
MODE_STORED, MODE_WHOLE, MODE_MODEL, MODE_IDENTS = 0, 1, 2, 3
S_TABLE, S_IDS, S_META, S_RES_NONE, S_RES_PREV, S_RES_REF, S_PADS, S_TEXT = range(1, 9)
S_RES_FAM, S_WIDE = 9, 10
_RESIDUAL_KINDS = {P_NONE: S_RES_NONE, P_PREV: S_RES_PREV, P_REF: S_RES_REF, P_FAM: S_RES_FAM}
_ROLES = {"meta": S_META, "pads": S_PADS, "text": S_TEXT, "wide": S_WIDE}
_TEXTUAL = {S_TABLE, S_TEXT}
#: a sub-stream is at most this many times the chunk size (LEB128 of 1-digit values near
#: huge ones can exceed the text), plus a little; anything larger is corrupt
_STREAM_FACTOR = 12
EFFORTS = ("fast", "max")
FAST_TABLE = 1 << 16
#: a version-2 payload must be at least 1/IDENTS_GAIN smaller than the version-1 one
IDENTS_GAIN = 32
_ZSTD_FAST = zstandard.ZstdCompressor(level=3)


@dataclass(frozen=True)
class PayloadInfo:
    """What the directory of one payload says, read without decoding any stream."""

    mode: int
    n_lines: int
    n_templates: int
    ends_with_newline: bool | None  # None for modes 0, 1 and 3 (not recorded)
    time_format: int | None  # index in `formats.logs.timestamps.FORMATS`
    time_range: tuple[int, int] | None  # POSIX seconds of the earliest and latest timestamp


@dataclass
class _Stream:
    backend: int
    raw_len: int
    coded: bytes


class _Parsed:
    """A parsed model payload: directory plus lazily decoded streams."""

    def __init__(self, payload: bytes, raw_size: int | None) -> None:
        r = ls.Reader(payload)
        if r.byte() != VERSION:
            raise FormatError(f"logs payload version {payload[0]} is not supported (knows 1, 2)")
        self.mode = r.byte()
        self.payload = payload
        self.streams: dict[int, _Stream] = {}
        self.cache: dict[int, bytes] = {}
        self.time_range: tuple[int, int] | None = None
        self.time_format: int | None = None
        self.n_lines = self.n_templates = 0
        self.escaped = False
        self.ends_with_newline: bool | None = None
        bound = (1 << 40) if raw_size is None else raw_size
        if self.mode in (MODE_STORED, MODE_WHOLE):
            self.body = r
            return
        if self.mode != MODE_MODEL:
            raise CorruptDataError(f"logs payload has unknown mode {self.mode}")
        flags = r.byte()
        if flags >> 3:
            raise CorruptDataError(f"logs payload has unknown flags {flags:#x}")
        self.escaped = bool(flags & 2)
        self.ends_with_newline = bool(flags & 4)
        self.n_lines = r.varint(bound + 1)
        self.n_templates = r.varint(max(self.n_lines, 1))
        if self.n_lines < 1 or self.n_templates < 1:
            raise CorruptDataError("logs payload has no lines")
        if flags & 1:
            self.time_format = r.byte()
            if self.time_format >= len(FORMATS):
                raise CorruptDataError(f"logs payload has unknown time format {self.time_format}")
            first = r.varint()
            first = (first >> 1) ^ -(first & 1)
            self.time_range = (first, first + r.varint())
        n_streams = r.varint(16)
        dirs = []
        for _ in range(n_streams):
            kind, backend = r.byte(), r.byte()
            raw_len = r.varint(_STREAM_FACTOR * bound + 1024)
            coded_len = r.varint(len(payload))
            if not S_TABLE <= kind <= S_WIDE or kind in self.streams:
                raise CorruptDataError(f"logs payload has a bad stream kind {kind}")
            dirs.append((kind, backend, raw_len, coded_len))
            self.streams[kind] = _Stream(backend, raw_len, b"")
        for kind, _backend, _raw_len, coded_len in dirs:
            self.streams[kind].coded = r.take(coded_len)
        if r.pos != len(payload):
            raise CorruptDataError("logs payload has trailing bytes")

    def check_size(self, raw_size: int | None) -> None:
        """Check a directory read without the chunk's raw size against it (as `__init__` does
        when given the size): at most one line per byte (plus one), no stream larger than
        `_STREAM_FACTOR` times the chunk."""
        if raw_size is None or self.mode != MODE_MODEL:
            return
        if self.n_lines > raw_size + 1:
            raise CorruptDataError(f"logs payload field {self.n_lines} exceeds its bound")
        for s in self.streams.values():
            if s.raw_len > _STREAM_FACTOR * raw_size + 1024:
                raise CorruptDataError(f"logs payload field {s.raw_len} exceeds its bound")

    def stream(self, kind: int) -> bytes:
        """The decoded bytes of one stream (empty if the payload has none of that kind)."""
        if kind not in self.cache:
            s = self.streams.get(kind)
            self.cache[kind] = (
                b"" if s is None else ls.decompress_stream(s.coded, s.backend, s.raw_len)
            )
        return self.cache[kind]

    def templates(self) -> list[bytes]:
        """The template table."""
        table = self.stream(S_TABLE).split(b"\n")
        if len(table) != self.n_templates:
            raise CorruptDataError(
                f"logs template table holds {len(table)} templates, directory says "
                f"{self.n_templates}"
            )
        return table

    def line_templates(self) -> np.ndarray:
        """Template id of every line (the stream holds 0 for a template's first line, which
        is always the next id, and id + 1 for the others)."""
        coded = decode_varints(self.stream(S_IDS), self.n_lines, "logs varint stream").astype(
            np.int64
        )
        new = coded == 0
        seen = np.cumsum(new)
        if int(seen[-1]) != self.n_templates or ((coded > seen - new) & ~new).any():
            raise CorruptDataError("logs line refers to a template that does not exist")
        return np.where(new, seen - 1, coded - 1)


def _escape_new(tids: np.ndarray) -> np.ndarray:
    """Template ids in first-use order as stored: 0 for a first use, else id + 1."""
    seen_before = np.maximum.accumulate(np.r_[-1, tids[:-1]])
    return np.where(tids > seen_before, 0, tids + 1).astype(np.uint64)


class IdentParts:
    """A version-2 payload: the identifier section and the version-1 payload it wraps."""

    def __init__(self, payload: bytes, raw_size: int | None) -> None:
        r = ls.Reader(payload)
        r.byte()
        if r.byte() != MODE_IDENTS:
            raise CorruptDataError("logs version-2 payload has an unknown mode")
        bound = (1 << 40) if raw_size is None else raw_size
        self.shapes, self.n_ids = idents.read_section(r)
        if self.n_ids > bound:
            raise CorruptDataError(f"logs payload field {self.n_ids} exceeds its bound")
        dirs = [
            (r.byte(), r.varint(_STREAM_FACTOR * bound + 1024), r.varint(len(payload)))
            for _ in range(3)
        ]
        self.inner_size = r.varint(bound)
        self.coded = [(r.take(n), b, raw) for b, raw, n in dirs]
        self.inner = r.rest()
        if _is_idents(self.inner):
            raise CorruptDataError("logs version-2 payload wraps another version-2 payload")

    def decode(self, codec: LogsCodec, raw_size: int) -> bytes:
        """The chunk: the inner payload decoded, its placeholders replaced."""
        text = codec.decode(self.inner, self.inner_size)
        streams = [ls.decompress_stream(*c) for c in self.coded]
        out = idents.restore(text, self.shapes, self.n_ids, *streams)
        if len(out) != raw_size:
            raise CorruptDataError(f"logs chunk decoded to {len(out)} bytes, expected {raw_size}")
        return out


def _is_idents(payload: bytes) -> bool:
    return payload[:1] == bytes([VERSION_IDENTS])


class LogsCodec(Codec):
    """Log lines as templates plus numeric columns, each sub-stream coded by the best back end.

    `effort` chooses how many back ends are tried per sub-stream: "fast" (the default) tries
    the one or two that usually win for that kind of stream, "max" tries all of them.
    `identifiers` False writes version-1 payloads only (what earlier builds wrote); decoding
    needs neither setting.
    """

    codec_id: ClassVar[str] = "logs"

    def __init__(self, effort: str = "fast", identifiers: bool = True) -> None:
        if effort not in EFFORTS:
            raise ValueError(f"logs effort must be one of {EFFORTS}, got {effort!r}")
        self.effort = effort
        self.identifiers = identifiers
        self._last: tuple[bytes, _Parsed] | None = None

    def _parse(self, payload: bytes, raw_size: int | None) -> _Parsed:
        """The parsed payload, reused (with its decoded streams) when the same payload object
        was parsed last: a search reads the template table, then decodes some lines."""
        last = self._last
        if last is not None and last[0] is payload:
            last[1].check_size(raw_size)
            return last[1]
        p = _Parsed(payload, raw_size)
        self._last = (payload, p)
        return p

    def params(self) -> dict[str, Any]:
        """The effort is informational: decoding needs no settings."""
        return {"effort": self.effort}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> LogsCodec:
        """Rebuild from header params."""
        effort = params.get("effort", "fast")
        if effort not in EFFORTS or set(params) - {"effort"}:
            raise FormatError(f"bad logs codec parameters {dict(params)!r}")
        return cls(effort)

    # --- encoding ------------------------------------------------------------------------

    def _backends(self, kind: int, size: int = 0) -> list[int]:
        """Back ends to try for a stream of `kind` and `size` raw bytes: all with effort
        "max"; else PPMd (order 16 for text, 6 for numbers) and xz, or xz and bzip2 without
        pyppmd. A template table of `FAST_TABLE` bytes or more gets xz only: a search
        decodes the table of every chunk it looks at, and xz decodes it several times faster
        than PPMd, for a slightly larger chunk (BENCHMARKS.md, "Logs codec")."""
        avail = ls.available_backends()
        if self.effort == "max":
            return avail
        if kind == S_TABLE and size >= FAST_TABLE:
            return [ls.LZMA]
        if ls.PPMD_ORDER16 not in avail:
            return [ls.LZMA, ls.BZ2]
        return [ls.PPMD_ORDER16 if kind in _TEXTUAL else ls.PPMD_ORDER6, ls.LZMA]

    def _encode_model(self, data: bytes) -> bytes:
        tok = tokenize(data)
        tids = np.array(tok.line_templates, dtype=np.int64)
        layout = build_layout(tok.templates, tids, len(tok.values))
        cols = encode_columns(tok.values, layout)
        streams = {
            S_TABLE: b"\n".join(tok.templates),
            S_IDS: encode_varints(_escape_new(tids)),
            S_META: cols.meta,
            S_PADS: cols.pads,
            S_TEXT: cols.text,
            S_WIDE: cols.wide,
        }
        for pred, kind in _RESIDUAL_KINDS.items():
            streams[kind] = cols.residuals[pred]
        time_range = None
        if tok.time_format is not None and tok.time_range is not None:
            time_range = (tok.time_format, *tok.time_range)
        flags = (time_range is not None) | tok.escaped << 1 | data.endswith(b"\n") << 2
        head = bytearray([VERSION, MODE_MODEL, flags])
        head += varint(len(tids)) + varint(len(tok.templates))
        if time_range is not None:
            fmt, first, last = time_range
            head.append(fmt)
            head += varint(first * 2 if first >= 0 else -2 * first - 1)
            head += varint(last - first)
        present = [(k, v) for k, v in sorted(streams.items()) if v or k in (S_TABLE, S_IDS)]
        head += varint(len(present))
        bodies = []
        for kind, raw in present:
            backend, coded = ls.compress_best(raw, self._backends(kind, len(raw)))
            head += bytes([kind, backend]) + varint(len(raw)) + varint(len(coded))
            bodies.append(coded)
        return bytes(head) + b"".join(bodies)

    def encode(self, data: bytes) -> bytes:
        """Code one chunk; falls back to one back end over the whole chunk when that is smaller.
        A chunk with identifiers (see `formats.logs.idents`) is also coded with them taken out
        (version 2), kept when smaller by at least `IDENTS_GAIN`, since a search that may touch
        identifiers must decode them (see `nacrith.logs.idsearch`)."""
        data = bytes(data)
        best = self._encode_plain(data)
        found = idents.extract(data) if self.identifiers else None
        if found is None:
            return best
        text, ids = found
        head = bytearray([VERSION_IDENTS, MODE_IDENTS]) + ids.header()
        bodies = []
        for raw in (ids.refs, ids.digits, ids.cases):
            backend, coded = ls.compress_best(raw, self._backends(S_RES_NONE))
            head += bytes([backend]) + varint(len(raw)) + varint(len(coded))
            bodies.append(coded)
        head += varint(len(text))
        candidate = bytes(head) + b"".join(bodies) + self._encode_plain(text)
        return candidate if len(candidate) * IDENTS_GAIN < len(best) * (IDENTS_GAIN - 1) else best

    def _encode_plain(self, data: bytes) -> bytes:
        """A version-1 payload of `data`."""
        if not data:
            return bytes([VERSION, MODE_STORED])
        best = self._encode_model(data)
        if len(best) * 10 > len(data) * 9 and len(_ZSTD_FAST.compress(data)) * 20 > len(data) * 19:
            return bytes([VERSION, MODE_STORED]) + data  # incompressible: stop here
        if len(best) * 6 > len(data):  # poor ratio: maybe not a log at all
            fast = ls.PPMD_ORDER6 if ls.PPMD_ORDER6 in ls.available_backends() else ls.LZMA
            for backend in self._backends(S_TEXT) if self.effort == "max" else [fast]:
                coded = ls.compress_stream(data, backend)
                if coded is not None and len(coded) + 3 < len(best):
                    best = bytes([VERSION, MODE_WHOLE, backend]) + coded
        if len(best) > len(data) + 2:
            best = bytes([VERSION, MODE_STORED]) + data
        return best

    # --- decoding ------------------------------------------------------------------------

    def info(self, payload: bytes) -> PayloadInfo:
        """The directory of a payload: mode, line and template counts, time range."""
        if _is_idents(payload):
            inner = self.info(IdentParts(payload, None).inner)
            return PayloadInfo(
                MODE_IDENTS,
                inner.n_lines,
                inner.n_templates,
                None,
                inner.time_format,
                inner.time_range,
            )
        p = _Parsed(payload, None)
        return PayloadInfo(
            p.mode, p.n_lines, p.n_templates, p.ends_with_newline, p.time_format, p.time_range
        )

    def templates(self, payload: bytes) -> list[tuple[list[bytes], list[int]]] | None:
        """(constant pieces, variable kinds) of every template, decoding only the template
        table; kinds are `formats.logs.template.DEC`, `HEX` or `TIME`. A line of template t is
        pieces[0] var[0] pieces[1] ... var[n-1] pieces[n].

        None for payloads without templates (stored or whole-chunk modes, and version 2, whose
        templates hold identifier placeholders: a search uses the inner templates, see
        `nacrith.logs.idsearch`).
        """
        if _is_idents(payload):
            return None
        p = self._parse(payload, None)
        if p.mode != MODE_MODEL:
            return None
        return [split_template(t, p.escaped) for t in p.templates()]

    def template_table(
        self, payload: bytes, raw_size: int | None = None
    ) -> tuple[list[bytes], bool] | None:
        """The raw template table (skeletons with marker bytes, see `formats.logs.template`) and
        whether it is escaped, decoding nothing else; None for payloads without templates.
        Cheaper than `templates` for a scan over all of them."""
        if _is_idents(payload):
            return None
        p = self._parse(payload, raw_size)
        if p.mode != MODE_MODEL:
            return None
        return p.templates(), p.escaped

    def ident_parts(self, payload: bytes, raw_size: int | None) -> IdentParts | None:
        """The identifier section and inner payload of a version-2 payload; None for others."""
        return IdentParts(payload, raw_size) if _is_idents(payload) else None

    def line_templates(self, payload: bytes, raw_size: int | None) -> np.ndarray:
        """The template id of every line of a template-model payload (version 1)."""
        return self._parse(payload, raw_size).line_templates()

    def select_lines(
        self,
        payload: bytes,
        raw_size: int,
        wanted: Collection[int],
        clauses: Sequence[Clause] = (),
        only: np.ndarray | None = None,
    ) -> list[tuple[int, bytes]]:
        """(line number, line) of the lines of a template-model payload (version 1) whose
        template is in `wanted`, that pass every one of `clauses` and, with `only` (a mask
        over lines), that it selects; only the columns those lines need are decoded (see
        `formats.logs.select`)."""
        p = self._parse(payload, raw_size)
        return self._select(p, raw_size, wanted, clauses, only)

    def decode(self, payload: bytes, raw_size: int) -> bytes:
        """Decode one chunk into exactly `raw_size` bytes."""
        if _is_idents(payload):
            return IdentParts(payload, raw_size).decode(self, raw_size)
        p = _Parsed(payload, raw_size)
        if p.mode != MODE_MODEL:
            return self._decode_plain(p, raw_size)
        lines = self._render(p, raw_size, None)
        out = b"\n".join(line for _, line in lines)
        if len(out) != raw_size:
            raise CorruptDataError(f"logs chunk decoded to {len(out)} bytes, expected {raw_size}")
        return out

    def decode_lines(
        self,
        payload: bytes,
        raw_size: int,
        templates: Collection[int] | None = None,
        numbers: Sequence[tuple[bytes, bool]] = (),
        time_range: tuple[float | None, float | None] | None = None,
        *,
        clauses: Sequence[Clause] = (),
    ) -> Iterator[tuple[int, bytes]]:
        """(line number, line) for the lines that may match, without their ``\\n``; other
        lines are never rendered. A line may match when its template id is in `templates`
        (any template when None) and, for each (digits, whole) of `numbers`, one of its
        decimal variables is spelt `digits` (whole) or ends with `digits` (not whole), or its
        hex or time variables could spell them. With `time_range` = (since, until), either
        bound None, a line must also have a time within it (see `line_times`). Modes 0, 1 and
        3 yield every line.

        With `templates` and neither `numbers` nor `time_range`, only the columns the lines
        need are decoded (see `formats.logs.select`), and a line must also pass every one of
        `clauses` (alignments of search literals with its template, see `formats.logs.align`);
        in the other cases `clauses` are not applied."""
        if _is_idents(payload):
            yield from enumerate(self.decode(payload, raw_size).split(b"\n"))
            return
        p = self._parse(payload, raw_size)
        if p.mode != MODE_MODEL:
            yield from enumerate(self._decode_plain(p, raw_size).split(b"\n"))
            return
        yield from self._render(p, raw_size, templates, numbers, time_range, clauses)

    def _decode_plain(self, p: _Parsed, raw_size: int) -> bytes:
        rest = p.body.take(len(p.payload) - p.body.pos)
        if p.mode == MODE_STORED:
            if len(rest) != raw_size:
                raise CorruptDataError(f"stored logs chunk holds {len(rest)} of {raw_size} bytes")
            return rest
        if not rest:
            raise CorruptDataError("logs payload ends early")
        return ls.decompress_stream(rest[1:], rest[0], raw_size)

    def _select(
        self,
        p: _Parsed,
        raw_size: int,
        wanted: Collection[int],
        clauses: Sequence[Clause],
        only: np.ndarray | None,
    ) -> list[tuple[int, bytes]]:
        def streams(role: int | str) -> bytes:
            return p.stream(_RESIDUAL_KINDS[role] if isinstance(role, int) else _ROLES[role])

        return select_lines(
            p.templates(),
            p.escaped,
            p.line_templates(),
            streams,
            p.time_format,
            raw_size,
            wanted,
            clauses,
            only,
        )

    def _render(
        self,
        p: _Parsed,
        raw_size: int,
        wanted: Collection[int] | None,
        numbers: Sequence[tuple[bytes, bool]] = (),
        time_range: tuple[float | None, float | None] | None = None,
        clauses: Sequence[Clause] = (),
    ) -> list[tuple[int, bytes]]:
        if wanted is not None and time_range is None and not numbers:
            return self._select(p, raw_size, wanted, clauses, None)
        templates = p.templates()
        tids = p.line_templates()
        layout = build_layout(templates, tids, raw_size)
        spec = read_meta(p.stream(S_META), layout)
        residuals = {pred: p.stream(kind) for pred, kind in _RESIDUAL_KINDS.items()}
        vals = decode_values(
            layout,
            spec,
            residuals,
            p.stream(S_PADS),
            p.stream(S_TEXT),
            p.stream(S_WIDE),
            p.time_format,
        )
        static_len = static_lengths(templates, p.escaped)
        total = int(static_len[tids].sum()) + int(vals.lengths.sum()) + len(tids) - 1
        if total != raw_size:
            raise CorruptDataError(f"logs chunk would decode to {total} bytes, not {raw_size}")
        starts = layout.line_starts.tolist()
        nv = [len(c) for c in layout.template_cols]
        tid_list = tids.tolist()
        if wanted is None and not numbers and time_range is None:
            picked = range(len(tid_list))
            objs = vals.objects()
        else:
            keep = np.ones(len(templates), dtype=bool)
            if wanted is not None:
                keep[:] = False
                keep[[t for t in wanted if 0 <= t < len(templates)]] = True
            line_mask = keep[tids]
            per_line = np.diff(np.append(layout.line_starts, layout.colid.size))
            if numbers:
                line_mask &= number_filter(templates, tids, layout, vals, per_line, numbers)
            if time_range is not None:
                times = line_times(vals, per_line)
                lo, hi = time_range
                with np.errstate(invalid="ignore"):
                    if lo is not None:
                        line_mask &= times >= lo
                    if hi is not None:
                        line_mask &= times <= hi
            objs = vals.objects(np.repeat(line_mask, per_line))
            picked = np.flatnonzero(line_mask).tolist()
        fmts: list[bytes | None] = [None] * len(templates)
        kinds = layout.col_kind.tolist()
        out = []
        for i in picked:
            t = tid_list[i]
            fmt = fmts[t]
            if fmt is None:
                cols = layout.template_cols[t]
                fmt = fmts[t] = render_format(templates[t], p.escaped, cols, spec, kinds)
            s = starts[i]
            out.append((i, fmt % tuple(objs[s : s + nv[t]])))
        return out
