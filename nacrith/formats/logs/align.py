"""Where a search literal can sit in a `logs` template: alignment of needles with skeletons.

A template skeleton is constant text with variable markers (see `formats.logs.template`): ``\\x00``
a decimal variable, ``\\x01`` a hex one (``0x`` + hex digits), ``\\x03\\x00`` a timestamp. In a
template whose markers are never adjacent, every maximal digit run of a rendered line that does not
come from a hex or time variable is exactly one decimal variable. So a needle such as ``from
173.234.31.186 port`` can only occur in a line of a template that holds ``from
\\x00.\\x00.\\x00.\\x00 port``, with the variables at those markers spelling ``173``, ``234``,
``31`` and ``186`` — and since the needle starts or ends inside its first and last digit runs, the
first variable must *end* with its digits and the last only *start* with them. This is the approach
of CLP (Rodrigues et al., OSDI 2021): the query is matched against the templates first, and only the
variables it pins down are checked.

Hex and time markers render more than digits, so the needle may also overlap their
renderings: at its start (a suffix of the rendering), at its end (a prefix), or wholly
(inside one, or one inside it; renderings are matched position by position against the time
format or the hex shape). `Aligner` turns a needle into one skeleton byte pattern per way it
can lie across the markers, each with the check on every decimal marker it crosses, and finds
their occurrences in the whole template table with `bytes.find`. Alignments across two hex or time
markers are not enumerated: `Aligner.simple` says when a template could have one, and such
templates, templates with adjacent markers and escaped tables are left to the caller's
coarser test.
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass

import numpy as np

from nacrith.formats.logs.timestamps import _DAYS, _MONTHS, FORMATS

__all__ = [
    "PREFIX",
    "SUFFIX",
    "WHOLE",
    "Aligner",
    "Check",
    "Clause",
    "Placement",
    "Table",
    "time_chars",
]

#: how a decimal variable must spell a check's digits: exactly, ending with them, or starting
#: with them
WHOLE, SUFFIX, PREFIX = 0, 1, 2
#: a check on one decimal variable: (its index in the line, digits, WHOLE / SUFFIX / PREFIX)
Check = tuple[int, bytes, int]

_DIGIT = frozenset(b"0123456789")
_DEC_MARK = b"\x00"
_TIME_MARK = b"\x03\x00"
_HEX_MARK = b"\x01"
_ANY_MARK_RE = re.compile(rb"\x03\x00|\x00|\x01")
_ADJACENT_RE = re.compile(rb"[\x00\x01][\x00\x01\x03]")
_HEX_VALUE_RE = re.compile(rb"0x[0-9a-fA-F]{1,16}")
_RUNS_RE = re.compile(rb"\d+|\D+")
_FIELD_DIGITS = {"Y": 4, "y": 2, "M": 2, "D": 2, "h": 2, "m": 2, "s": 2}


def time_chars(fmt: int) -> set[int]:
    """Bytes a rendered timestamp of format `fmt` can contain."""
    f = FORMATS[fmt]
    chars = set(re.sub(r"\{\w\}", "", f.template).encode()) | set(b"0123456789 ")
    if "N" in f.fields:
        chars |= set(b"JanFebMarAprMayJunJulAugSepOctNovDec")
    if "W" in f.fields:
        chars |= set(b"MonTueWedThuFriSatSun")
    return chars


def _fold(chars: set[int] | frozenset[int]) -> set[int]:
    """`chars` with both cases of every ASCII letter."""
    out = set(chars)
    for c in chars:
        if 0x41 <= (c & ~0x20) <= 0x5A:
            out |= {c | 0x20, c & ~0x20}
    return out


class _Shape:
    """Which strings a marker's rendering can contain, start with or end with."""

    def inside(self, s: bytes) -> bool:
        """Whether `s` can lie inside one rendering."""
        raise NotImplementedError

    def suffix(self, s: bytes) -> bool:
        """Whether a rendering can end with `s`."""
        raise NotImplementedError

    def prefix(self, s: bytes) -> bool:
        """Whether a rendering can start with `s`."""
        raise NotImplementedError


class _TimeShape(_Shape):
    """Renderings of a time format, as one set of possible bytes per position (every format
    has a fixed length)."""

    def __init__(self, fmt: int, ignore_case: bool) -> None:
        digits = set(b"0123456789")
        names = {"N": _MONTHS, "W": _DAYS}
        classes: list[set[int]] = []
        for i, part in enumerate(re.split(r"\{(\w)\}", FORMATS[fmt].template)):
            if i % 2 == 0:
                classes += [{c} for c in part.encode()]
            elif part in _FIELD_DIGITS:
                classes += [set(digits) for _ in range(_FIELD_DIGITS[part])]
            elif part == "d":
                classes += [digits | {0x20}, set(digits)]
            elif part == "e":
                classes += [{0x31}] + [set(digits) for _ in range(9)]
            else:
                classes += [{name[k] for name in names[part]} for k in range(3)]
        self.classes = [_fold(c) if ignore_case else c for c in classes]

    def _fits(self, s: bytes, at: int) -> bool:
        return all(c in self.classes[at + i] for i, c in enumerate(s))

    def inside(self, s: bytes) -> bool:
        """See `_Shape`."""
        return any(self._fits(s, at) for at in range(len(self.classes) - len(s) + 1))

    def suffix(self, s: bytes) -> bool:
        """See `_Shape`."""
        return len(s) <= len(self.classes) and self._fits(s, len(self.classes) - len(s))

    def prefix(self, s: bytes) -> bool:
        """See `_Shape`."""
        return len(s) <= len(self.classes) and self._fits(s, 0)


class _HexShape(_Shape):
    """Renderings of hex variables: ``0x`` and 1 to 16 hex digits."""

    def __init__(self, ignore_case: bool) -> None:
        flags = re.IGNORECASE if ignore_case else 0
        self._inside = re.compile(rb"(?:0?x)?[0-9a-fA-F]{0,16}|0", flags)
        self._suffix = re.compile(rb"(?:0?x)?[0-9a-fA-F]{1,16}", flags)
        self._prefix = re.compile(rb"0(?:x[0-9a-fA-F]{0,16})?", flags)

    def inside(self, s: bytes) -> bool:
        """See `_Shape`."""
        return self._inside.fullmatch(s) is not None

    def suffix(self, s: bytes) -> bool:
        """See `_Shape`."""
        return self._suffix.fullmatch(s) is not None

    def prefix(self, s: bytes) -> bool:
        """See `_Shape`."""
        return self._prefix.fullmatch(s) is not None


@dataclass
class _Alternative:
    """One way a needle can lie across a template: the skeleton bytes it must appear as (its
    constant text with the markers it crosses) and, for each of those markers in order, the
    check on that variable (None: none)."""

    pattern: bytes
    roles: list[tuple[bytes, int] | None]
    first_marker: int  # offset of the first marker in `pattern` (-1: none)


def _structure(fragment: bytes, left_open: bool, right_open: bool) -> tuple[bytes, list] | None:
    """Skeleton bytes and roles for a needle fragment made of constant text and decimal
    variables only (None if impossible). An open side continues in the line: a digit run
    there may be part of a longer variable (at the left: the variable ends with it; at the
    right: it starts with it)."""
    parts = _RUNS_RE.findall(fragment)
    pattern: list[bytes] = []
    roles: list[tuple[bytes, int] | None] = []
    for i, part in enumerate(parts):
        if part[0] not in _DIGIT:
            pattern.append(part)
            continue
        if len(part) > 19:
            return None  # a run over 19 digits needs adjacent variables
        open_left = i == 0 and left_open
        open_right = i == len(parts) - 1 and right_open
        pattern.append(_DEC_MARK)
        if open_left and open_right:
            roles.append(None)  # the needle inside one variable: nothing to check
        elif len(part) == 19 or not (open_left or open_right):
            roles.append((part, WHOLE))  # no variable has more than 19 digits
        elif len(part) == 1:
            roles.append(None)  # one digit at an end: a check would rule out too little
        else:
            roles.append((part, SUFFIX if open_left else PREFIX))
    return b"".join(pattern), roles


class Aligner:
    """Every way a needle can lie across a template (see the module docstring)."""

    def __init__(self, needle: bytes, fmt: int | None, ignore_case: bool) -> None:
        self.needle = needle.lower() if ignore_case else needle
        self.ignore_case = ignore_case
        needle = self.needle
        alts: list[tuple[bytes, list]] = []
        if not any(c < 4 for c in needle):  # an unescaped chunk never holds marker bytes
            whole = _structure(needle, True, True)
            if whole is not None:
                alts.append(whole)
            if fmt is not None:
                shape = _TimeShape(fmt, ignore_case)
                alts += self._across(_TIME_MARK, shape, FORMATS[fmt].regex, 1)
            alts += self._across(_HEX_MARK, _HexShape(ignore_case), _HEX_VALUE_RE, 0)
        self.alternatives = []
        for pattern, roles in dict((p, r) for p, r in alts).items():
            first = next((i for i, c in enumerate(pattern) if c in (0, 1, 3)), -1)
            self.alternatives.append(_Alternative(pattern, roles, first))

    def _across(self, mark: bytes, shape: _Shape, full: re.Pattern[bytes], group: int) -> list:
        """Alternatives where the needle overlaps one rendering of a hex or time marker."""
        needle, n = self.needle, len(self.needle)
        out: list[tuple[bytes, list] | None] = []
        if shape.inside(needle):
            out.append((mark, [None]))  # the needle inside one rendering
        for j in range(1, n):  # the needle starts inside a rendering
            if shape.suffix(needle[:j]):
                rest = _structure(needle[j:], False, True)
                out.append(None if rest is None else (mark + rest[0], [None, *rest[1]]))
        for j in range(n - 1, 0, -1):  # the needle ends inside a rendering
            if shape.prefix(needle[j:]):
                head = _structure(needle[:j], True, False)
                out.append(None if head is None else (head[0] + mark, [*head[1], None]))
        flags = re.IGNORECASE if self.ignore_case else 0
        for m in re.compile(full.pattern, flags).finditer(needle):  # a rendering inside it
            i, j = m.span(group)
            left, right = _structure(needle[:i], True, False), _structure(needle[j:], False, True)
            if i > 0 and j < n and left is not None and right is not None:
                out.append((left[0] + mark + right[0], [*left[1], None, *right[1]]))
        return [x for x in out if x is not None]

    def simple(self, template: bytes) -> bool:
        """Whether the alternatives cover every way the needle can lie in `template`: no two
        adjacent markers, and no stretch between two hex or time markers that the needle
        could span."""
        if _ADJACENT_RE.search(template):
            return False
        marks = [m for m in _ANY_MARK_RE.finditer(template) if m.group() != b"\x00"]
        needle = self.needle
        for a, b in itertools.pairwise(marks):
            pieces = template[a.end() : b.start()].split(b"\x00")
            if self.ignore_case:
                pieces = [p.lower() for p in pieces]
            if not all(p in needle for p in pieces):
                continue  # the needle cannot span this stretch
            rx = rb"\d+".join(re.escape(p) for p in pieces)
            if re.search(rx, needle):
                return False
        return True

    def place(self, table: Table) -> list[Placement]:
        """Every alignment of the needle in `table`, one `Placement` per alternative found."""
        text, n_t = table.text, len(table.templates)
        out: list[Placement] = []
        for alt in self.alternatives:
            if not alt.pattern:  # the empty needle: anywhere
                every = np.arange(n_t, dtype=np.int64)
                return [Placement([], every, np.zeros(n_t, dtype=np.int64))]
            checks = [(k, r[0], r[1]) for k, r in enumerate(alt.roles) if r is not None]
            found: list[int] = []
            pos = text.find(alt.pattern)
            while pos >= 0:
                if alt.pattern[0] == 0 and pos and text[pos - 1] == 3:
                    pos = text.find(alt.pattern, pos + 1)  # a time marker's 0x00
                    continue
                found.append(pos)
                if not checks:  # one occurrence per template is enough: skip to the next
                    nxt = bisect.bisect_right(table.start_list, pos)
                    if nxt >= len(table.start_list):
                        break
                    pos = text.find(alt.pattern, table.start_list[nxt])
                else:
                    pos = text.find(alt.pattern, pos + 1)
            if not found:
                continue
            at = np.array(found, dtype=np.int64)
            tpl = np.searchsorted(table.starts, at, side="right") - 1
            if alt.first_marker < 0 or not checks:
                out.append(Placement([], tpl, np.zeros(tpl.size, dtype=np.int64)))
                continue
            marks, first = table.markers()
            out.append(
                Placement(checks, tpl, np.searchsorted(marks, at + alt.first_marker) - first[tpl])
            )
        return out


@dataclass
class Placement:
    """Where one way of aligning a needle occurs: in template ``templates[i]`` with the
    ``first[i]``-th variable of the line as the first it crosses; each check
    (offset, digits, mode) is on variable ``first[i] + offset``, which must be decimal and
    spell the digits (mode WHOLE), end with them (SUFFIX) or start with them (PREFIX)."""

    checks: list[Check]
    templates: np.ndarray
    first: np.ndarray


@dataclass
class Clause:
    """What a line must hold for one clause of a search: one of the `placements` (its checks
    all passing), unless its template is `free` (it may match without any check)."""

    placements: list[Placement]
    free: np.ndarray  # bool per template


class Table:
    """A template table prepared for `Aligner.align`: joined with ``\\n`` (lower case if the
    search ignores case), with template starts and marker positions."""

    def __init__(self, templates: list[bytes], ignore_case: bool) -> None:
        self.templates = templates
        text = b"\n".join(templates)
        self.text = text.lower() if ignore_case else text
        self.bytes = np.frombuffer(self.text, dtype=np.uint8)
        lens = np.fromiter(map(len, templates), dtype=np.int64, count=len(templates))
        self.starts = np.cumsum(lens + 1) - (lens + 1)
        self.start_list = self.starts.tolist()
        self._marks: tuple[np.ndarray, np.ndarray] | None = None

    def text_of(self, t: int) -> bytes:
        """Template `t` as in `text`."""
        a = int(self.starts[t])
        return self.text[a : a + len(self.templates[t])]

    def markers(self) -> tuple[np.ndarray, np.ndarray]:
        """(start of every marker, ascending; index of each template's first marker)."""
        if self._marks is None:
            arr = self.bytes
            start = (arr == 1) | (arr == 3)
            start[0:1] |= arr[0:1] == 0
            start[1:] |= (arr[1:] == 0) & (arr[:-1] != 3)
            marks = np.flatnonzero(start)
            self._marks = (marks, np.searchsorted(marks, self.starts))
        return self._marks

    def irregular(self) -> list[int]:
        """Templates with adjacent markers or two or more hex or time markers, for which
        `Aligner.simple` must be asked."""
        arr = self.bytes
        odd = np.flatnonzero((arr == 1) | (arr == 3))
        adjacent = np.flatnonzero((arr[:-1] <= 1) & ((arr[1:] <= 1) | (arr[1:] == 3)))
        tpl = np.searchsorted(self.starts, odd, side="right") - 1
        many = np.bincount(tpl, minlength=len(self.starts)) >= 2
        many[np.searchsorted(self.starts, adjacent, side="right") - 1] = True
        return np.flatnonzero(many).tolist()
