"""Partial decoding for search: the variables of a few templates, without the rest.

The residual streams of a `logs` payload hold the columns one after another (see
`formats.logs.columns`), and each column's count follows from the template ids alone, so a column's
slice of its stream is known without decoding any other column. `ColumnDecoder` decodes the
columns a search needs (those of the candidate templates, plus what their predictors refer to:
the column k places to the left for *ref*, the column's family for *family*) and renders the
lines of those templates; the other columns are never built.

A search literal pins digits to particular variables of a template (see `formats.logs.align`): in
``from \x00.\x00.\x00.\x00`` the needle ``173.234.31.186`` needs the second variable to be
234, and so on. Before any line is rendered, each such check is asked of the variable's
column as a whole: for columns coded as plain values or as differences from the previous
value (nearly all), all at once over their residual streams, which thus serve as the chunk's
value index; the few other columns are decoded. Only templates left with a possible
alignment are decoded line by line.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

import numpy as np

from nacrith.errors import CorruptDataError
from nacrith.formats.logs.align import PREFIX, SUFFIX, WHOLE, Clause
from nacrith.formats.logs.column_settings import (
    FIXED,
    P_FAM,
    P_NONE,
    P_PREV,
    P_REF,
    PADDED,
    PREDICTORS,
    TEXT,
    ColumnSpec,
    read_meta,
)
from nacrith.formats.logs.columns import render_format, segment_cumsum
from nacrith.formats.logs.paths import Paths, template_paths
from nacrith.formats.logs.template import DEC, HEX, TIME
from nacrith.formats.logs.timestamps import FORMATS, MAX_EPOCH
from nacrith.formats.varint import decode_varints, unzigzag, varint_ends

__all__ = ["ColumnDecoder", "select_lines"]

#: stream roles a `ColumnDecoder` asks its `streams` callable for
META, PADS, TEXTS, WIDE = "meta", "pads", "text", "wide"
_POW10 = np.array([10**k for k in range(1, 20)], dtype=np.uint64)
_POW10_0 = np.array([10**k for k in range(20)], dtype=np.uint64)
_POW16 = np.array([16**k for k in range(1, 16)], dtype=np.uint64)
_VARINTS = "logs varint stream"


class _Varints:
    """A LEB128 stream of a known count, decoded a slice at a time (or all at once)."""

    def __init__(self, data: bytes, count: int) -> None:
        self.ends = varint_ends(data, count, _VARINTS)
        self.data = data
        self.count = count
        self._all: np.ndarray | None = None
        self._asked = 0

    def all(self) -> np.ndarray:
        """Every value (uint64)."""
        if self._all is None:
            self._all = decode_varints(self.data, self.count, _VARINTS)
        return self._all

    def slice(self, a: int, n: int) -> np.ndarray:
        """Values a..a+n-1 (decoding them alone, until so many were asked for that decoding
        the whole stream is cheaper)."""
        self._asked += n + 1024  # a slice costs about as much as decoding a thousand values
        if self._all is not None or self._asked * 4 > self.count:
            return self.all()[a : a + n]
        if n == 0:
            return np.zeros(0, dtype=np.uint64)
        start = int(self.ends[a - 1]) + 1 if a else 0
        return decode_varints(self.data[start : int(self.ends[a + n - 1]) + 1], n, _VARINTS)


class ColumnDecoder:
    """Decodes single columns of one model payload on demand.

    `streams(role)` returns the decoded bytes of a stream: a predictor id (0-3) for the
    residuals of that predictor, or one of "meta", "pads", "text", "wide".
    """

    def __init__(
        self,
        templates: list[bytes],
        tids: np.ndarray,
        streams: Callable[[int | str], bytes],
        time_format: int | None,
        limit: int,
    ) -> None:
        self.paths: Paths = template_paths(templates)
        self.tids = tids
        self._streams = streams
        self.time_format = time_format
        paths = self.paths
        n_t, nc = len(templates), paths.n_columns
        self.tcount = np.bincount(tids, minlength=n_t)
        per_tpl = np.diff(paths.tpl_starts)
        if int((self.tcount * per_tpl).sum()) > limit:
            raise CorruptDataError("logs chunk claims more variables than its size allows")
        self.flat_tpl = np.repeat(np.arange(n_t, dtype=np.int64), per_tpl)
        self.counts = np.bincount(
            paths.flat_cols, weights=self.tcount[self.flat_tpl], minlength=nc
        ).astype(np.int64)
        self.spec: ColumnSpec = read_meta(streams(META), paths)
        spec = self.spec
        self._by_line = np.argsort(tids, kind="stable")
        self._tpl_first = np.cumsum(self.tcount) - self.tcount
        self._by_col = np.argsort(paths.flat_cols, kind="stable")
        col_n = np.bincount(paths.flat_cols, minlength=nc)
        self._col_first = np.cumsum(col_n) - col_n
        self._col_n = col_n
        numeric = spec.fmt != TEXT
        self.offset = np.zeros(nc, dtype=np.int64)  # in its residual, wide or text stream
        self.pad_offset = np.zeros(nc, dtype=np.int64)
        self._totals: dict[int | str, int] = {}
        for p in PREDICTORS:
            self._place(p, numeric & ~spec.wide & (spec.pred == p), self.counts)
        self._place(WIDE, numeric & spec.wide, self.counts * spec.nbytes)
        self._place(PADS, spec.fmt == PADDED, self.counts, self.pad_offset)
        self._place(TEXTS, spec.fmt == TEXT, self.counts)
        self._arrays: dict[int | str, object] = {}
        self._values: dict[int, np.ndarray] = {}
        self._lines: dict[int, np.ndarray] = {}
        self._hits: dict[tuple[bytes, int], np.ndarray] = {}
        self._found: dict[tuple[tuple[bytes, int], int], np.ndarray] = {}
        self._seen: dict[tuple[bytes, int], np.ndarray] = {}
        #: decimal columns whose values the residual streams give directly or by running sums
        self._bulk = (
            (spec.fmt != TEXT) & ~spec.wide & (spec.pred <= P_PREV) & (paths.col_kind == DEC)
        )
        self._exact: dict[tuple[bytes, int], set[int]] = {}
        self._stream_values: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.kinds = paths.col_kind.tolist()

    def _place(
        self, role: int | str, sel: np.ndarray, sizes: np.ndarray, into: np.ndarray | None = None
    ) -> None:
        """Offsets of the selected columns within the stream of `role`, in column order."""
        s = sizes[sel]
        (self.offset if into is None else into)[sel] = np.cumsum(s) - s
        self._totals[role] = int(s.sum())

    def array(self, role: int | str) -> object:
        """A whole stream: `_Varints`, bytes (wide) or a list of texts."""
        if role not in self._arrays:
            total = self._totals[role]
            data = self._streams(role)
            if role == WIDE:
                if len(data) != total:
                    raise CorruptDataError("logs wide column stream has the wrong length")
                out: object = data
            elif role == TEXTS:
                out = data.split(b"\n") if total else []
                if len(out) != total:  # type: ignore[arg-type]
                    raise CorruptDataError("logs text column count does not match")
            else:
                out = _Varints(data, total)
            self._arrays[role] = out
        return self._arrays[role]

    # --- structure ---------------------------------------------------------------------

    def template_lines(self, t: int) -> np.ndarray:
        """Line numbers of template `t`, ascending."""
        a = self._tpl_first[t]
        return self._by_line[a : a + self.tcount[t]]

    def column_templates(self, c: int) -> np.ndarray:
        """Templates that have column `c`, ascending."""
        a = self._col_first[c]
        return self.flat_tpl[self._by_col[a : a + self._col_n[c]]]

    def column_lines(self, c: int) -> np.ndarray:
        """Line numbers whose template has column `c`, ascending: the column's value order."""
        if c not in self._lines:
            tpls = self.column_templates(c)
            if tpls.size > 16:  # a header column: a mask over the lines is cheaper
                member = np.zeros(self.tcount.size, dtype=bool)
                member[tpls] = True
                lines = np.flatnonzero(member[self.tids])
            else:
                parts = [self.template_lines(t) for t in tpls.tolist()]
                lines = parts[0] if len(parts) == 1 else np.sort(np.concatenate(parts))
            self._lines[c] = lines
        return self._lines[c]

    def ranks(self, c: int, lines: np.ndarray) -> np.ndarray:
        """Positions of `lines` (all of them lines of column `c`) in the column."""
        return np.searchsorted(self.column_lines(c), lines)

    # --- values --------------------------------------------------------------------------

    def _residuals(self, c: int) -> np.ndarray:
        a, n = int(self.offset[c]), int(self.counts[c])
        if self.spec.wide[c]:
            nb = int(self.spec.nbytes[c])
            data = self.array(WIDE)[a : a + n * nb]  # type: ignore[index]
            mat = np.zeros((n, 8), dtype=np.uint8)
            mat[:, 8 - nb :] = np.frombuffer(data, dtype=np.uint8).reshape(n, nb)
            return mat.view(">u8").reshape(-1).astype(np.uint64)
        return self.array(int(self.spec.pred[c])).slice(a, n)  # type: ignore[attr-defined]

    def may_hold(
        self,
        digits: bytes,
        mode: int,
        among: np.ndarray | None = None,
        exact: Collection[int] = (),
    ) -> np.ndarray:
        """Per column, whether it may hold a value spelling `digits` as `mode` says (see
        `_spells`). Exact (digit counts aside, except for PREFIX) for the decimal columns
        `among` (all when None) coded as plain values or differences from the previous value,
        checked together over their residual streams, and for the other columns of `exact`,
        decoded one by one; True for the rest."""
        key = (digits, mode)
        if key not in self._hits:
            self._hits[key] = np.ones(self.paths.n_columns, dtype=bool)
            self._exact[key] = set()
            self._seen[key] = np.zeros(self.paths.n_columns, dtype=bool)
        hit, done, seen = self._hits[key], self._exact[key], self._seen[key]
        spec = self.spec
        bulk = self._bulk
        todo = bulk & ~seen
        if among is not None:
            cols = np.asarray(among, dtype=np.int64)
            picked = np.zeros(bulk.size, dtype=bool)
            picked[cols[cols >= 0]] = True
            todo &= picked
        for p in (P_NONE, P_PREV):
            mine = np.flatnonzero(todo & (spec.pred == p))
            if not mine.size:
                continue
            owners, ends, vals = self._stream(p)
            n = self.counts[mine]
            idx = np.searchsorted(owners, mine)
            pos = np.repeat(ends[idx] - n - np.cumsum(n) + n, n) + np.arange(int(n.sum()))
            sub = vals[pos]
            if mode == PREFIX:  # needs digit counts: fixed widths known, padded ones not
                fixed = np.repeat(np.where(spec.fmt[mine] == FIXED, spec.width[mine], 0), n)
                lengths = np.maximum(1 + np.searchsorted(_POW10, sub, side="right"), fixed)
                found = _spells(sub, lengths, digits, mode)
                found |= np.repeat(spec.fmt[mine] == PADDED, n)
            else:
                found = _spells(sub, None, digits, mode)
            full = self._found.setdefault((key, p), np.zeros(vals.size, dtype=bool))
            full[pos] = found
            seen[mine] = True
            hit[mine] = False
            hit[mine[np.searchsorted(np.cumsum(n), np.flatnonzero(found), side="right")]] = True
        for c in exact:
            if c not in done and hit[c] and self.kinds[c] == DEC and not bulk[c]:
                done.add(c)
                vals = self.values(c)
                lengths = self.lengths(c, vals, np.arange(vals.size))
                hit[c] = bool(_spells(vals, lengths, digits, mode).any())
        return hit

    def bulk_lines(self, c: int, digits: bytes, mode: int) -> np.ndarray | None:
        """The lines (ascending) whose value in column `c` may spell `digits` as `mode` says,
        from the bulk check of `may_hold` (which must have covered `c`'s stream); None when
        `c` is not checked in bulk."""
        spec = self.spec
        p = int(spec.pred[c])
        found = self._found.get(((digits, mode), p))
        if found is None or not self._bulk[c] or not self._seen[(digits, mode)][c]:
            return None
        owners, ends, _ = self._stream_values[p]
        end = int(ends[np.searchsorted(owners, c)])
        return self.column_lines(c)[np.flatnonzero(found[end - int(self.counts[c]) : end])]

    def _stream(self, p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(columns, their cumulative counts, every value) of residual stream `p` (plain
        values or previous-value differences), decoded once."""
        if p not in self._stream_values:
            spec = self.spec
            owners = np.flatnonzero((spec.fmt != TEXT) & ~spec.wide & (spec.pred == p))
            vals = self.array(p).all()  # type: ignore[attr-defined]
            n = self.counts[owners]
            if p == P_PREV:  # running sums, restarted at each column
                csum = np.cumsum(unzigzag(vals), dtype=np.uint64)
                base = np.zeros(n.size, dtype=np.uint64)
                at = np.cumsum(n) - n
                base[at > 0] = csum[at[at > 0] - 1]
                vals = csum - np.repeat(base, n)
            self._stream_values[p] = (owners, np.cumsum(n), vals)
        return self._stream_values[p]

    def values(self, c: int) -> np.ndarray:
        """Every value of column `c` (uint64), in line order; text columns read as 0."""
        if c in self._values:
            return self._values[c]
        spec = self.spec
        p = int(spec.pred[c])
        if spec.fmt[c] == TEXT:
            out = np.zeros(int(self.counts[c]), dtype=np.uint64)
        elif p == P_NONE:
            out = self._residuals(c)
        elif p == P_PREV:
            out = np.cumsum(unzigzag(self._residuals(c)), dtype=np.uint64)
        elif p == P_REF:
            t0 = int(self.column_templates(c)[0])
            a = int(self.paths.columns_of(t0)[self.paths.col_depth[c] - spec.ref_k[c]])
            with np.errstate(over="ignore"):
                base = self.values(a)[self.ranks(a, self.column_lines(c))]
                out = unzigzag(self._residuals(c)) + base
        else:
            self._resolve_family(int(self.paths.col_family[c]))
            out = self._values[c]
        if self.kinds[c] == TIME and out.size and int(out.max()) > MAX_EPOCH:
            raise CorruptDataError("logs time variable out of range")
        self._values[c] = out
        return out

    def _resolve_family(self, family: int) -> None:
        """Values of the family-predicted columns of `family`: each adds its residual to the
        family's previous value, and a column with another predictor restarts the chain."""
        members = np.flatnonzero(self.paths.col_family == family).tolist()
        lines, arrs, fam_flags = [], [], []
        for m in members:
            is_fam = int(self.spec.pred[m]) == P_FAM and self.spec.fmt[m] != TEXT
            lines.append(self.column_lines(m))
            arrs.append(unzigzag(self._residuals(m)) if is_fam else self.values(m))
            fam_flags.append(np.full(int(self.counts[m]), is_fam))
        merged = np.concatenate(lines)
        order = np.argsort(merged, kind="stable")
        arr = np.concatenate(arrs)[order]
        is_fam = np.concatenate(fam_flags)[order]
        resolved = np.empty_like(arr)
        resolved[order] = segment_cumsum(arr, np.cumsum(~is_fam))
        pos = 0
        for m, flag in zip(members, fam_flags):
            n = flag.size
            if n and flag[0]:
                self._values[m] = resolved[pos : pos + n]
            pos += n

    def lengths(self, c: int, values: np.ndarray, ranks: np.ndarray) -> np.ndarray:
        """Rendered digit counts (without ``0x``) of `values`, the entries `ranks` of `c`."""
        table = _POW16 if self.kinds[c] == HEX else _POW10
        natural = 1 + np.searchsorted(table, values, side="right")
        f = int(self.spec.fmt[c])
        if f == FIXED:
            return np.maximum(natural, int(self.spec.width[c]))
        if f == PADDED:
            pads = self.array(PADS).slice(int(self.pad_offset[c]), int(self.counts[c]))  # type: ignore[attr-defined]
            if pads.size and int(pads.max()) > 1 << 40:
                raise CorruptDataError("logs pad count out of range")
            return natural + pads[ranks].astype(np.int64)
        return natural

    def objects(self, c: int, ranks: np.ndarray) -> list:
        """What `render_format` takes for the entries `ranks` of column `c`."""
        f, kind = int(self.spec.fmt[c]), self.kinds[c]
        if f == TEXT:
            texts, a = self.array(TEXTS), int(self.offset[c])
            return [texts[a + r] for r in ranks.tolist()]  # type: ignore[index]
        vals = self.values(c)[ranks]
        if kind == TIME:
            if self.time_format is None:
                raise CorruptDataError("logs chunk has time variables but no time format")
            render = FORMATS[self.time_format].render
            uniq, inverse = np.unique(vals, return_inverse=True)
            spelt = [render(v) for v in uniq.tolist()]
            return [spelt[j] for j in inverse.tolist()]
        if f == PADDED:
            widths = self.lengths(c, vals, ranks).tolist()
            form = b"%0*d" if kind == DEC else b"%0*X" if self.spec.upper[c] else b"%0*x"
            return [form % (w, v) for w, v in zip(widths, vals.tolist())]
        return vals.tolist()


def _possible(dec: ColumnDecoder, clauses: Sequence[Clause]) -> np.ndarray:
    """Per template, whether every clause has a placement in it whose checked columns may
    all hold their digits (`ColumnDecoder.may_hold`), for all templates at once: first with
    what the residual streams tell in bulk, then decoding the other columns the surviving
    placements need."""
    paths = dec.paths
    n_t = paths.tpl_starts.size - 1
    ok = np.ones(n_t, dtype=bool)
    is_dec = paths.col_kind == DEC
    width = np.diff(paths.tpl_starts)
    last = paths.flat_cols.size - 1
    for clause in clauses:
        passed = clause.free.copy()
        for pl in clause.placements:
            good = ~passed[pl.templates]
            checks = []
            # the most selective first, so the others are asked of fewer columns
            for off, digits, mode in sorted(pl.checks, key=lambda x: (x[2] != WHOLE, -len(x[1]))):
                at = pl.first + off
                inside = (at < width[pl.templates]) & (last >= 0)
                flat = np.clip(paths.tpl_starts[pl.templates] + at, 0, max(last, 0))
                cols = np.where(inside, paths.flat_cols[flat] if last >= 0 else 0, -1)
                checked = inside & is_dec[np.maximum(cols, 0)]  # always, in a sound table
                checks.append((cols, checked, digits, mode))
                hold = dec.may_hold(digits, mode, cols[good & checked])
                good &= ~checked | hold[np.maximum(cols, 0)]
            if len(checks) > 1 and good.any():
                good &= _lines_agree(dec, pl.templates, checks, good)
            for cols, checked, digits, mode in checks:  # decode what bulk could not tell
                need = good & checked
                if need.any():
                    exact = set(np.unique(cols[need]).tolist())
                    hold = dec.may_hold(digits, mode, cols[need], exact)
                    good &= ~checked | hold[np.maximum(cols, 0)]
            passed[pl.templates[good]] = True
        ok &= passed
    return ok


def _lines_agree(
    dec: ColumnDecoder, templates: np.ndarray, checks: list, good: np.ndarray
) -> np.ndarray:
    """For the `good` rows of a placement, whether one line of the row's template passes all
    its checks on bulk-checked columns at once (rows with the same columns share the work)."""
    out = good.copy()
    groups: dict[tuple[int, ...], list[int]] = {}
    for r in np.flatnonzero(good).tolist():
        groups.setdefault(tuple(int(cols[r]) for cols, _, _, _ in checks), []).append(r)
    for key, rows in groups.items():
        lines = None
        for c, (_, checked, digits, mode) in zip(key, checks):
            hits = dec.bulk_lines(c, digits, mode) if checked[rows[0]] else None
            if hits is None:
                continue
            lines = hits if lines is None else np.intersect1d(lines, hits, assume_unique=True)
            if not lines.size:
                break
        if lines is not None:
            rows_arr = np.array(rows)
            out[rows_arr[~np.isin(templates[rows_arr], dec.tids[lines])]] = False
    return out


def _checked(
    dec: ColumnDecoder, t: int, cols: list[int], lines: np.ndarray, clauses: Sequence[Clause]
) -> np.ndarray:
    """Which of `lines` (of template `t`, whose columns are `cols`) pass `clauses`."""
    keep = np.ones(lines.size, dtype=bool)
    for clause in clauses:
        if clause.free[t]:
            continue
        ok = np.zeros(lines.size, dtype=bool)
        for pl in clause.placements:
            for first in pl.first[pl.templates == t].tolist():
                todo = [
                    (cols[first + off], digits, mode)
                    for off, digits, mode in pl.checks
                    if first + off < len(cols) and dec.kinds[cols[first + off]] == DEC
                ]
                if not all(
                    dec.may_hold(digits, mode, np.array([c]))[c] for c, digits, mode in todo
                ):
                    continue
                passes = np.ones(lines.size, dtype=bool)
                for c, digits, mode in sorted(todo, key=lambda x: (x[2] != WHOLE, -len(x[1]))):
                    ranks = dec.ranks(c, lines[passes])
                    vals = dec.values(c)[ranks]
                    passes[passes] = _spells(vals, dec.lengths(c, vals, ranks), digits, mode)
                    if not passes.any():
                        break
                ok |= passes
        keep &= ok
        if not keep.any():
            break
    return keep


def _spells(values: np.ndarray, lengths: np.ndarray | None, digits: bytes, mode: int) -> np.ndarray:
    """Which decimal values, of `lengths` digits (None: not checked, a superset), spell
    `digits`: exactly (WHOLE), at their end (SUFFIX) or at their start (PREFIX, which needs
    the lengths)."""
    width, target = len(digits), np.uint64(int(digits))
    with np.errstate(over="ignore"):
        if mode == WHOLE:
            ok = values == target
            return ok if lengths is None else ok & (lengths == width)
        if mode == SUFFIX:
            ok = values % _POW10_0[width] == target
            return ok if lengths is None else ok & (lengths >= width)
        assert lengths is not None
        drop = np.clip(lengths - width, 0, 19)
        return (lengths >= width) & (values // _POW10_0[drop] == target)


def select_lines(
    templates: list[bytes],
    escaped: bool,
    tids: np.ndarray,
    streams: Callable[[int | str], bytes],
    time_format: int | None,
    limit: int,
    wanted: Collection[int],
    clauses: Sequence[Clause] = (),
    only: np.ndarray | None = None,
) -> list[tuple[int, bytes]]:
    """(line number, line) for the lines of the `wanted` templates that pass `clauses` (and
    are True in the per-line mask `only`, when given), in line order; only the columns those
    lines need are decoded."""
    dec = ColumnDecoder(templates, tids, streams, time_format, limit)
    keep_tpl = np.zeros(len(templates), dtype=bool)
    keep_tpl[[t for t in wanted if 0 <= t < len(templates)]] = True
    keep_tpl &= dec.tcount > 0
    if clauses:
        keep_tpl &= _possible(dec, clauses)
    out: list[tuple[int, bytes]] = []
    for t in np.flatnonzero(keep_tpl).tolist():
        cols = dec.paths.columns_of(t).tolist()
        lines = dec.template_lines(t)
        if only is not None:
            lines = lines[only[lines]]
        if clauses:
            lines = lines[_checked(dec, t, cols, lines, clauses)]
        if not lines.size:
            continue
        fmt = render_format(templates[t], escaped, cols, dec.spec, dec.kinds)
        objs = [dec.objects(c, dec.ranks(c, lines)) for c in cols]
        rows = zip(*objs) if objs else [()] * lines.size
        out.extend(zip(lines.tolist(), (fmt % tuple(row) for row in rows)))
    out.sort(key=lambda item: item[0])
    return out
