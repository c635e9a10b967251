"""Column and family numbering of the `logs` codec, from the template table alone.

A variable's *column* is the template text up to and including its marker (its *path*, see
`formats.logs.columns`); its *family* is that path with every run of ASCII letters folded to one
letter. Columns are first numbered in order of first use (template by template, left to
right), families likewise, and the columns are then renumbered family by family (stably), which
is the order of the residual streams.

Markers are found with numpy over the whole table and paths are dictionary keys, so numbering
a table of thousands of templates costs a few milliseconds; a search uses it to find the
columns of a few templates without touching any variable.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import numpy as np

__all__ = ["Paths", "template_paths"]

DEC, HEX, TIME = 0, 1, 2  # as in `formats.logs.template`
_SHAPE_RE = re.compile(rb"[A-Za-z]+")


@dataclass
class Paths:
    """Columns of every template, and kind, depth and family of every column."""

    n_columns: int
    n_families: int
    flat_cols: np.ndarray  # the columns of every template, template after template
    tpl_starts: np.ndarray  # per template + 1: offset of its first column in `flat_cols`
    col_kind: np.ndarray  # per column: DEC, HEX or TIME (int8)
    col_depth: np.ndarray  # per column: index of its variable within the line
    col_family: np.ndarray  # per column: family, numbered in order of first use

    def columns_of(self, t: int) -> np.ndarray:
        """The columns of template `t`, left to right."""
        return self.flat_cols[self.tpl_starts[t] : self.tpl_starts[t + 1]]

    def template_cols(self) -> list[list[int]]:
        """`columns_of` for every template, as lists."""
        cols = self.flat_cols.tolist()
        bounds = self.tpl_starts.tolist()
        return [cols[a:b] for a, b in itertools.pairwise(bounds)]


def _markers(table: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(end offset, kind) of every variable marker of a ``\\n``-joined template table: 0x00
    (decimal, or time when it follows 0x03) and 0x01 (hex)."""
    arr = np.frombuffer(table, dtype=np.uint8)
    pos = np.flatnonzero(arr <= 1)
    kind = np.where(arr[pos] == 1, HEX, DEC).astype(np.int8)
    kind[(kind == DEC) & (arr[np.maximum(pos - 1, 0)] == 3) & (pos > 0)] = TIME
    return pos + 1, kind


def _fold(table: bytes) -> tuple[bytes, np.ndarray]:
    """The table with every run of ASCII letters folded to one ``a``, and for each offset
    0..len(table) of `table` the number of folded bytes before it."""
    arr = np.frombuffer(table, dtype=np.uint8)
    low = arr | 0x20
    letter = (low >= 0x61) & (low <= 0x7A)
    keep = ~letter
    keep[1:] |= letter[1:] & ~letter[:-1]
    if arr.size:
        keep[0] = True
    folded = np.where(letter, np.uint8(0x61), arr)[keep]
    return folded.tobytes(), np.r_[0, np.cumsum(keep)]


def _prefix_classes(
    strings: list[bytes], owner: np.ndarray, end: np.ndarray, depth: np.ndarray
) -> np.ndarray:
    """A class per marker such that two markers share it iff their prefixes are equal; marker
    j ends `end[j]` bytes into `strings[owner[j]]` and is the `depth[j]`-th of it.

    Sorted, strings with a common prefix are adjacent, so a marker shares the prefix of the
    marker at the same depth in the string just before it in sorted order when the two
    strings' common prefix is at least as long as the marker's; common prefixes of adjacent
    strings are found by comparing their bytes all at once."""
    n = len(strings)
    order = np.array(sorted(range(n), key=strings.__getitem__), dtype=np.int64)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    k = rank[owner]
    reach = np.zeros(n, dtype=np.int64)  # the last marker end of each string, sorted
    reach[k] = end  # markers come in order, so the last write is the last marker
    lcp = np.full(n, -1, dtype=np.int64)  # with the string before in sorted order (as far as
    if n > 1:  # the string's last marker: no further byte matters)
        lens = np.fromiter((len(strings[i]) for i in order.tolist()), dtype=np.int64, count=n)
        m = np.minimum(lens[:-1], reach[1:])
        lcp[1:] = m
        words = _words(strings, order.tolist())
        wstart = np.cumsum((lens + 7) // 8) - (lens + 7) // 8
        mw = (m + 7) // 8  # compare 8 bytes at a time
        pair = np.repeat(np.arange(1, n), mw)
        j = np.arange(pair.size) - np.repeat(np.cumsum(mw) - mw, mw)
        a, b = words[wstart[pair - 1] + j], words[wstart[pair] + j]
        differ = np.flatnonzero(a != b)
        if differ.size:
            p = pair[differ]
            first = differ[np.r_[True, p[1:] != p[:-1]]]
            x = a[first] ^ b[first]
            low_bit = x & (~x + np.uint64(1))
            byte = (np.log2(low_bit.astype(np.float64)).astype(np.int64)) // 8
            at = pair[first]
            lcp[at] = np.minimum(j[first] * 8 + byte, m[at - 1])
    new = end > lcp[k]
    # markers by (depth, string in sorted order): markers come grouped by string, in order
    per = np.bincount(owner, minlength=n)
    first = np.cumsum(per) - per
    by_rank = np.repeat(first[order] - (np.cumsum(per[order]) - per[order]), per[order])
    by_rank += np.arange(owner.size)
    keys = depth[by_rank]
    seq = by_rank[
        np.argsort(
            keys.astype(np.uint16) if owner.size and keys.max() < 1 << 16 else keys, kind="stable"
        )
    ]
    classes = np.empty(owner.size, dtype=np.int64)
    classes[seq] = np.cumsum(new[seq]) - 1
    return classes


def _words(strings: list[bytes], order: list[int]) -> np.ndarray:
    """The strings in `order`, each zero-padded to a multiple of 8 bytes, as little-endian
    uint64 words."""
    buf = b"".join(s + bytes(-len(s) % 8) for s in map(strings.__getitem__, order))
    return np.frombuffer(buf, dtype="<u8")


def _first_use_order(classes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Renumber classes 0..n-1 by their first occurrence in `classes`: (new id of each class,
    index of each new id's first occurrence)."""
    first = np.full(n, classes.size, dtype=np.int64)
    np.minimum.at(first, classes, np.arange(classes.size, dtype=np.int64))
    creation = np.argsort(first, kind="stable")
    new_id = np.empty(n, dtype=np.int64)
    new_id[creation] = np.arange(n)
    return new_id, first[creation]


def template_paths(templates: list[bytes]) -> Paths:
    """Number the columns and families of a template table (see the module docstring)."""
    n_t = len(templates)
    table = b"\n".join(templates)
    lens = np.fromiter(map(len, templates), dtype=np.int64, count=n_t)
    starts = np.cumsum(lens + 1) - (lens + 1)
    ends, kinds = _markers(table)
    tpl = np.searchsorted(starts, ends - 1, side="right") - 1
    per_tpl = np.bincount(tpl, minlength=n_t) if n_t else np.zeros(0, dtype=np.int64)
    tpl_starts = np.zeros(n_t + 1, dtype=np.int64)
    np.cumsum(per_tpl, out=tpl_starts[1:])
    depth = np.arange(ends.size, dtype=np.int64) - tpl_starts[tpl]
    if not ends.size:
        empty = np.zeros(0, dtype=np.int64)
        return Paths(0, 0, empty, tpl_starts, np.zeros(0, dtype=np.int8), empty, empty)
    prov = _prefix_classes(templates, tpl, ends - starts[tpl], depth)
    nc = int(prov.max()) + 1
    new_id, first = _first_use_order(prov, nc)
    cols = new_id[prov]
    # families: the same on the folded templates (a new family always comes with a new
    # column, so numbering families by first use over the markers matches the columns)
    folded, before = _fold(table)
    f_starts = before[starts]
    f_prov = _prefix_classes(folded.split(b"\n"), tpl, before[ends] - f_starts[tpl], depth)
    n_fam = int(f_prov.max()) + 1
    f_new, _ = _first_use_order(f_prov, n_fam)
    family = f_new[f_prov[first]]
    # renumber the columns family by family
    by_family = np.argsort(family.astype(np.uint16) if n_fam <= 1 << 16 else family, kind="stable")
    rank = np.empty(nc, dtype=np.int64)
    rank[by_family] = np.arange(nc)
    return Paths(
        n_columns=nc,
        n_families=n_fam,
        flat_cols=rank[cols],
        tpl_starts=tpl_starts,
        col_kind=kinds[first][by_family],
        col_depth=depth[first][by_family],
        col_family=family[by_family],
    )
