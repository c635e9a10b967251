"""Searching a chunk with identifier columns (logs payload version 2) through its templates.

Such a payload wraps a version-1 payload of the chunk with each identifier replaced by a
placeholder (see `nacrith.formats.logs.idents`), which only ever lies in template text.

- A query none of whose literals can share bytes with an identifier (`may_overlap`) is
  searched as in a version-1 chunk (`Matcher.plan`), placeholders being constant text.
- A single literal that can: the lines where it lies outside identifiers are found that way,
  and the identifiers are decoded (their streams only) to find the lines holding one that
  contains a run of the literal that could lie inside an identifier (`overlap_runs`); only
  those lines are rendered.
- Other queries that can: the templates with placeholders are tested with each placeholder
  a wildcard for hex digits and dashes (`Matcher.placeholder_candidates`), and their lines
  are rendered with every clause free.

Identifiers are put back into every rendered line before it is matched. Where the lines to
render exceed `FULL_DECODE_SHARE` of the chunk, it is decoded in full instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import numpy as np

from nacrith.codecs.logs import MODE_MODEL, IdentParts, LogsCodec
from nacrith.errors import CorruptDataError
from nacrith.formats.logs import idents
from nacrith.formats.logs import streams as ls
from nacrith.formats.logs.align import Clause
from nacrith.logs.matcher import Matcher

__all__ = ["IdentChunk", "ident_chunk", "may_overlap", "overlap_runs"]

#: above this share of a chunk's lines to render with identifiers, decode the chunk in full
FULL_DECODE_SHARE = 0.25


class IdentChunk:
    """A version-2 model chunk whose inner template table a search can use."""

    def __init__(
        self,
        codec: LogsCodec,
        payload: bytes,
        raw_size: int,
        parts: IdentParts,
        table: list[bytes],
        info: Any,
    ) -> None:
        self.codec = codec
        self.payload = payload
        self.raw_size = raw_size
        self.parts = parts
        self.table = table
        self.info = info

    def search(self, m: Matcher) -> Iterator[bytes]:
        """The lines of the chunk that `m` matches, in line order."""
        table, fmt = self.table, self.info.time_format
        wanted, clauses = m.plan(table, False, fmt)
        if any(may_overlap(alt) for clause in m.clauses for alt in clause):
            marked = np.array([idents.MARK in t for t in table], dtype=bool)
            plain = [t for t in wanted if not marked[t]]
            ids = m.placeholder_candidates(table, np.flatnonzero(marked).tolist(), fmt)
            single = len(m.clauses) == 1 and len(m.clauses[0]) == 1
            if single and ids and self._share(set(wanted)) <= FULL_DECODE_SHARE:
                yield from self._through_identifiers(m, wanted, clauses, ids)
                return
            if ids and self._share(ids) > FULL_DECODE_SHARE:
                raw = self.codec.decode(self.payload, self.raw_size)
                yield from filter(m.match, raw.split(b"\n")[:-1])
                return
            wanted = sorted(set(plain) | ids)
            clauses = [Clause(c.placements, c.free | marked) for c in clauses]
        if not wanted:
            return
        inner, size = self.parts.inner, self.parts.inner_size
        last = self.info.n_lines - 1  # the empty "line" after the final newline
        found = self.codec.decode_lines(inner, size, wanted, clauses=clauses)
        tokens: list[bytes] | None = None
        starts: np.ndarray | None = None
        for i, line in found:
            if i == last:
                continue
            if idents.MARK in line:
                if tokens is None:
                    tokens, starts = self._identifiers()
                assert starts is not None
                line = _put_back(line, tokens, int(starts[i]))
            if m.match(line):
                yield line

    def _through_identifiers(
        self, m: Matcher, wanted: list[int], clauses: list[Clause], ids: set[int]
    ) -> Iterator[bytes]:
        """The matching lines for a single literal that may share bytes with identifiers:
        the lines where it lies outside them (found as in a version-1 chunk, placeholders
        constant) and the lines of `ids` templates holding an identifier that contains a run
        of the literal that could lie inside one (`overlap_runs`)."""
        literal = m.clauses[0][0]
        runs = overlap_runs(literal)
        tokens, starts = self._identifiers()
        tids = self._tids()
        n_lines = tids.size
        hit = _holding(tokens, runs, m.ignore_case)
        only = np.zeros(n_lines, dtype=bool)
        only[np.searchsorted(starts, hit, side="right") - 1] = True
        in_ids = np.zeros(len(self.table), dtype=bool)
        in_ids[sorted(ids)] = True
        only &= in_ids[tids]
        if int(only.sum()) > FULL_DECODE_SHARE * n_lines:
            text = self.codec.decode(self.parts.inner, self.parts.inner_size)
            raw = idents.fill(idents.PLACEHOLDER_RE.split(text), tokens)
            if len(raw) != self.raw_size:
                raise CorruptDataError(
                    f"logs chunk decoded to {len(raw)} bytes, not {self.raw_size}"
                )
            yield from filter(m.match, raw.split(b"\n")[:-1])
            return
        outside = _select(self, wanted, clauses, None)
        inside = _select(self, sorted(ids), [], only) if only.any() else []
        merged = dict(outside)
        merged.update(inside)
        last = self.info.n_lines - 1
        for i in sorted(merged):
            if i == last:
                continue
            line = merged[i]
            if idents.MARK in line:
                line = _put_back(line, tokens, int(starts[i]))
            if m.match(line):
                yield line

    def _tids(self) -> np.ndarray:
        """The template id of each line of the inner payload."""
        return self.codec.line_templates(self.parts.inner, self.parts.inner_size)

    def _share(self, templates: set[int]) -> float:
        """The share of the chunk's lines whose template is among `templates`."""
        counts = np.bincount(self._tids(), minlength=len(self.table))
        return float(counts[sorted(templates)].sum()) / max(1, self.info.n_lines - 1)

    def _identifiers(self) -> tuple[list[bytes], np.ndarray]:
        """(every identifier in chunk order, the index of each line's first one)."""
        parts = self.parts
        tids = self._tids()
        letters = [idents.PLACEHOLDER_RE.findall(t) for t in self.table]
        count = np.array([len(x) for x in letters], dtype=np.int64)
        per_line = count[tids]
        if int(per_line.sum()) != parts.n_ids:
            raise CorruptDataError(
                f"logs chunk holds {int(per_line.sum())} placeholders, not {parts.n_ids}"
            )
        kinds = [idents.shape_indices(x) for x in letters]
        flat = [kinds[t] for t in tids[per_line > 0].tolist()]
        order = np.concatenate(flat) if flat else np.zeros(0, dtype=np.int64)
        streams = [ls.decompress_stream(*c) for c in parts.coded]
        tokens = idents.chunk_identifiers(order, parts.shapes, *streams)
        return tokens, np.cumsum(per_line) - per_line


def ident_chunk(codec: LogsCodec, payload: bytes, raw_size: int) -> IdentChunk | None:
    """The version-2 chunk `payload` ready for a template search; None when it is not one
    (or wraps no unescaped template model, or does not end with a newline), and then a
    search decodes it in full."""
    parts = codec.ident_parts(payload, raw_size)
    if parts is None:
        return None
    info = codec.info(parts.inner)
    if info.mode != MODE_MODEL or not info.ends_with_newline:
        return None
    got = codec.template_table(parts.inner, parts.inner_size)
    if got is None or got[1]:
        return None
    return IdentChunk(codec, payload, raw_size, parts, got[0], info)


def may_overlap(literal: bytes) -> bool:
    """Whether an occurrence of `literal` in a line could share bytes with an identifier:
    some nonempty run of it made of hex digits and dashes could start an identifier (at the
    literal's start, or after a byte that is not a letter or digit, or after ``0x``) and end
    one (at the literal's end, or before such a byte)."""
    return bool(overlap_runs(literal))


_ID_BYTES = frozenset(b"0123456789abcdefABCDEF-")


def overlap_runs(literal: bytes) -> list[bytes]:
    """For each place an identifier could start inside `literal` (see `may_overlap`), the
    shortest run from there that it then must contain."""
    n = len(literal)
    out = []
    for k in range(n):
        after_0x = literal[max(0, k - 2) : k] in (b"0x", b"0X", b"x", b"X")
        if k and _ALNUM[literal[k - 1]] and not after_0x:
            continue
        j = k
        while j < n and literal[j] in _ID_BYTES:
            j += 1
            if j == n or not _ALNUM[literal[j]]:
                out.append(literal[k:j])
                break
    return out


_ALNUM = [bytes([c]).isalnum() for c in range(256)]


def _select(
    chunk: IdentChunk, wanted: list[int], clauses: list[Clause], only: np.ndarray | None
) -> list[tuple[int, bytes]]:
    """`LogsCodec.select_lines` on the chunk's inner payload."""
    parts = chunk.parts
    return chunk.codec.select_lines(parts.inner, parts.inner_size, wanted, clauses, only)


def _holding(tokens: list[bytes], runs: list[bytes], fold: bool) -> np.ndarray:
    """Indices (ascending) of the `tokens` that contain one of `runs` (ASCII case folded
    when `fold`, `runs` being folded already)."""
    rx = re.compile(b"|".join(re.escape(r) for r in runs), re.IGNORECASE if fold else 0)
    search = rx.search
    return np.array([i for i, t in enumerate(tokens) if search(t)], dtype=np.int64)


def _put_back(line: bytes, tokens: list[bytes], first: int) -> bytes:
    """`line` with its placeholders replaced by the identifiers from `tokens[first]` on."""
    mine = tokens[first : first + line.count(idents.MARK)]
    if len(mine) != line.count(idents.MARK):
        raise CorruptDataError("logs line holds more placeholders than the chunk has identifiers")
    it = iter(mine)
    return idents.PLACEHOLDER_RE.sub(lambda _: next(it), line)
