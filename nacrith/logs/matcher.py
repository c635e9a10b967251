"""The test a search applies to lines, and what it tells about templates before decoding.

A `Matcher` holds a substring or regular expression, tested on a line's bytes (a str pattern
is UTF-8 encoded; `ignore_case` folds ASCII letters only), plus the constant text every match
needs (see `nacrith.logs.literals`). From that text it picks the templates of a chunk whose
lines could match (see `nacrith.formats.logs.align`) and the digits a match pins to their
variables, so that most lines are never rendered.
"""

from __future__ import annotations

import bisect
import itertools
import re

import numpy as np

from nacrith.formats.logs.align import Aligner, Clause, Placement, Table, time_chars
from nacrith.formats.logs.idents import PLACEHOLDER_RE
from nacrith.formats.logs.template import HEX, TIME, split_template
from nacrith.logs.literals import required_literals

__all__ = ["Line", "Matcher", "pattern_bytes"]

Line = str | bytes


def pattern_bytes(pattern: object) -> bytes:
    """The bytes a search pattern stands for; TypeError unless it is str, bytes or bytearray."""
    if isinstance(pattern, str):
        return pattern.encode("utf-8", "surrogateescape")
    if isinstance(pattern, (bytes, bytearray)):
        return bytes(pattern)
    raise TypeError(f"a search pattern must be str or bytes, not {type(pattern).__name__}")


class Matcher:
    """A substring or regex test on lines, plus the constant text a match needs."""

    def __init__(self, pattern: Line, regex: bool, ignore_case: bool) -> None:
        raw = pattern_bytes(pattern)
        self.ignore_case = ignore_case
        if regex:
            try:
                self._rx = re.compile(raw, re.IGNORECASE if ignore_case else 0)
            except re.error as exc:
                raise ValueError(f"bad regular expression {pattern!r}: {exc}") from exc
            self.clauses, rx_ic = required_literals(raw)
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
        self._splitters: dict[tuple, re.Pattern[bytes]] = {}
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
        return list(range(len(table))) if keep is None else sorted(keep)

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

    def placeholder_candidates(
        self, table: list[bytes], subset: list[int], fmt: int | None
    ) -> set[int]:
        """Templates of `subset` (unescaped, holding identifier placeholders, see
        `formats.logs.idents`) whose lines could match once their identifiers are put back:
        each part of a literal that neither a variable nor an identifier (hex digits and
        dashes) could spell must lie in one constant piece."""
        out = set(subset)
        for clause in self._clauses():
            union: set[int] = set()
            for alt in clause:
                for t in out - union:
                    text = PLACEHOLDER_RE.sub(b"\n", table[t]).translate(_MARKS_TO_NEWLINE)
                    text = text.lower() if self.ignore_case else text
                    split = self._id_splitter(b"\x03" in table[t], fmt).split
                    if all(part in text for part in split(alt) if part):
                        union.add(t)
            out &= union
        return out

    def _id_splitter(self, has_time: bool, fmt: int | None) -> re.Pattern[bytes]:
        """`_splitter` of a template with hex variables, the dash of identifiers added."""
        key = (True, has_time, fmt, "id")
        if key not in self._splitters:
            hex_class = self._splitter(True, has_time, fmt).pattern
            self._splitters[key] = re.compile(hex_class[:-2] + b"\\-]+")  # type: ignore[index]
        return self._splitters[key]

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
