"""Numeric variable columns of the `logs` codec: layout, formats, predictors, residual streams.

Columns. A variable's column is the path of template text *before* it: the i-th variable of
a line belongs to the trie node reached by (piece 0 + marker 0, ..., piece i + marker i). So
the header fields of all lines that share a header prefix (date, time, pid, host...) fall in the
same column whatever message follows, which keeps their sequences whole for delta coding, and
the column of variable i fixes the columns of variables 0..i-1 of the same line.

Formats (per column, how the digits are spelt): *natural* (no leading zeros), *fixed* width W
(zero padded), *padded* (a side stream of leading-zero counts) or, for hex columns whose letters
change case, *text*. Hex columns are lower or upper case.

Families. Columns whose paths agree once every run of letters is folded to one letter form a
*family*: ``Jun #`` and ``Jul #``, or the timestamps of ``node-# node status #`` and
``gige# gige temperature #``. Families share one sequence for the *family* predictor, and
columns are numbered (and streamed) family by family, in order of first use.

Predictors (per column, chosen by an entropy estimate): *none* (the value), *prev* (difference
from the previous value of the column), *ref k* (difference from the variable k places to the
left in the same line) or *family* (difference from the previous value of the column's family).
Residuals (the value itself for *none*, else the zigzagged difference) are LEB128-coded and
grouped by predictor into four streams, column after column, each column's values in line
order. A *wide* column (mostly random values, such as 64-bit block ids) stores its residuals
instead as big-endian byte strings of a fixed length in a fifth stream. The arithmetic wraps
modulo 2**64, so any value round-trips.

The per-column settings (format, predictor, ...) and their stream are defined in
`formats.logs.column_settings`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nacrith.errors import CorruptDataError
from nacrith.formats.logs.column_settings import (
    FIXED,
    MAX_DEPENDENT_DEPTH,
    MAX_REF,
    NATURAL,
    P_FAM,
    P_NONE,
    P_PREV,
    P_REF,
    PADDED,
    PREDICTORS,
    TEXT,
    ColumnSpec,
)
from nacrith.formats.logs.paths import template_paths
from nacrith.formats.logs.template import HEX, TIME, split_template
from nacrith.formats.logs.timestamps import FORMATS, MAX_EPOCH
from nacrith.formats.varint import decode_varints, encode_varints, unzigzag, varint, zigzag

__all__ = [
    "ColumnStreams",
    "Layout",
    "build_layout",
    "decode_values",
    "encode_columns",
    "render_format",
    "segment_cumsum",
    "static_lengths",
]

_POW10 = np.array([10**k for k in range(1, 20)], dtype=np.uint64)
_POW16 = np.array([16**k for k in range(1, 16)], dtype=np.uint64)
_POW256 = np.array([256**k for k in range(1, 8)], dtype=np.uint64)
_POW128 = np.array([128**k for k in range(1, 10)], dtype=np.uint64)


@dataclass
class Layout:
    """Where every variable of a chunk sits: its column, its place in the line, its order."""

    n_columns: int
    col_kind: np.ndarray  # per column: DEC, HEX or TIME
    col_depth: np.ndarray  # per column: index of the variable within its line
    template_cols: list[list[int]]  # per template: its columns, left to right
    colid: np.ndarray  # per variable (line order): column
    depth: np.ndarray  # per variable: index within its line
    order: np.ndarray  # variable indices sorted by (column, line): the stream order
    counts: np.ndarray  # per column: number of values
    col_family: np.ndarray  # per column: its family
    fam_order: np.ndarray  # variable indices sorted by (family, line)
    line_starts: np.ndarray = field(repr=False)  # per line: index of its first variable


def build_layout(templates: list[bytes], line_templates: np.ndarray, limit: int) -> Layout:
    """Columns of every variable, from the template table and the per-line template ids.

    `limit` bounds the number of variables (the decoder passes the chunk's raw size).
    """
    paths = template_paths(templates)
    template_cols = paths.template_cols()
    nv = np.array([len(c) for c in template_cols] or [0], dtype=np.int64)
    per_line = nv[line_templates]
    total = int(per_line.sum())
    if total > limit:
        raise CorruptDataError(f"logs chunk claims {total} variables, more than its size allows")
    line_starts = np.cumsum(per_line) - per_line
    flat_cols = paths.flat_cols if paths.flat_cols.size else np.zeros(1, dtype=np.int64)
    tstart = np.cumsum(nv) - nv
    within = np.arange(total, dtype=np.int64) - np.repeat(line_starts, per_line)
    colid = flat_cols[np.repeat(tstart[line_templates], per_line) + within]
    nc, col_family = paths.n_columns, paths.col_family
    order = _stable_order(colid, nc)
    counts = np.bincount(colid, minlength=nc)
    fam_order = _stable_order(col_family[colid], paths.n_families) if total else order
    return Layout(
        n_columns=nc,
        col_kind=paths.col_kind,
        col_depth=paths.col_depth,
        template_cols=template_cols,
        colid=colid,
        depth=within,
        order=order,
        counts=counts,
        col_family=col_family,
        fam_order=fam_order,
        line_starts=line_starts,
    )


def _stable_order(keys: np.ndarray, bound: int) -> np.ndarray:
    """Stable argsort of non-negative integer keys below `bound` (radix sort when they fit
    16 bits)."""
    if bound <= 1 << 16:
        keys = keys.astype(np.uint16)
    return np.argsort(keys, kind="stable")


@dataclass
class ColumnStreams:
    """The coded columns: per-column settings and the residual, pad and text streams."""

    meta: bytes
    residuals: dict[int, bytes]  # predictor -> LEB128 residuals, column by column
    pads: bytes
    text: bytes
    wide: bytes  # residuals of wide columns, big-endian, column by column


def _natural_len(values: np.ndarray, kind: np.ndarray) -> np.ndarray:
    dec = np.searchsorted(_POW10, values, side="right")
    hexl = np.searchsorted(_POW16, values, side="right")
    return 1 + np.where(kind == HEX, hexl, dec)


def _segments(counts: np.ndarray) -> np.ndarray:
    return np.cumsum(counts) - counts


def _entropy_cost(z: np.ndarray, cols: np.ndarray, n_columns: int) -> np.ndarray:
    """Per column, an estimate in bits of coding `z` (cols sorted): min of order-0 entropy of
    the values and (order-0 entropy of the bit lengths + the bits themselves)."""
    if z.size == 0:
        return np.zeros(n_columns)
    n = np.bincount(cols, minlength=n_columns).astype(np.float64)
    with np.errstate(divide="ignore"):
        blen = np.where(z > 0, np.floor(np.log2(z.astype(np.float64))) + 1, 0).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        nlogn = np.where(n > 0, n * np.log2(np.maximum(n, 1)), 0.0)
    keys, counts = np.unique(cols * 66 + np.minimum(blen, 65), return_counts=True)
    counts = counts.astype(np.float64)
    h_blen = nlogn - np.bincount(keys // 66, weights=counts * np.log2(counts), minlength=n_columns)
    cost_a = np.bincount(cols, weights=blen, minlength=n_columns) + h_blen
    idx = np.lexsort((z, cols))
    zs, cs = z[idx], cols[idx]
    change = np.empty(zs.size, dtype=bool)
    change[0] = True
    change[1:] = (zs[1:] != zs[:-1]) | (cs[1:] != cs[:-1])
    starts = np.flatnonzero(change)
    runs = np.diff(np.append(starts, zs.size)).astype(np.float64)
    run_cols = cs[starts]
    cost_b = nlogn - np.bincount(run_cols, weights=runs * np.log2(runs), minlength=n_columns)
    return np.minimum(cost_a, cost_b)


def _write_wide(z: np.ndarray, nbytes: np.ndarray) -> bytes:
    """Each value as its last `nbytes` big-endian bytes."""
    if z.size == 0:
        return b""
    mat = z.astype(">u8").view(np.uint8).reshape(-1, 8)
    keep = np.arange(8)[None, :] >= (8 - nbytes)[:, None]
    return mat[keep].tobytes()


def _read_wide(data: bytes, nbytes: np.ndarray) -> np.ndarray:
    """Inverse of `_write_wide`."""
    if int(nbytes.sum()) != len(data):
        raise CorruptDataError("logs wide column stream has the wrong length")
    mat = np.zeros((nbytes.size, 8), dtype=np.uint8)
    keep = np.arange(8)[None, :] >= (8 - nbytes)[:, None]
    mat[keep] = np.frombuffer(data, dtype=np.uint8)
    return mat.view(">u8").reshape(-1).astype(np.uint64)


def _shifted(seq: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """The previous element of `seq` within runs of equal `groups` (0 at each run start)."""
    out = np.zeros_like(seq)
    if seq.size > 1:
        out[1:] = seq[:-1]
        out[1:][groups[1:] != groups[:-1]] = 0
    return out


def _ref_choice(values: np.ndarray, layout: Layout) -> np.ndarray:
    """Per column, the distance k of the same-line variable whose difference from it is most
    often the same as on the column's previous line (0: none)."""
    nc = layout.n_columns
    best = np.zeros(nc, dtype=np.int64)
    best_count = np.zeros(nc, dtype=np.int64)
    max_depth = int(layout.depth.max()) if layout.depth.size else 0
    depth_s = layout.depth[layout.order]
    with np.errstate(over="ignore"):
        for k in range(1, min(MAX_REF, max_depth) + 1):
            sel = layout.order[depth_s >= k]
            if sel.size < 2:
                continue
            diff = values[sel] - values[sel - k]
            cols = layout.colid[sel]
            stable = (diff[1:] == diff[:-1]) & (cols[1:] == cols[:-1])
            cnt = np.bincount(cols[1:][stable], minlength=nc)
            better = cnt > best_count
            best[better] = k
            best_count[better] = cnt[better]
    return best


def encode_columns(values_text: list[bytes], layout: Layout) -> ColumnStreams:
    """Choose format and predictor for every column and code all variables."""
    nc, total = layout.n_columns, len(values_text)
    kind = layout.col_kind[layout.colid] if total else np.zeros(0, dtype=np.int8)
    if total and (layout.col_kind == HEX).any():
        is_hex = kind == HEX
        values = np.fromiter(
            (int(v, 16) if h else int(v) for v, h in zip(values_text, is_hex.tolist())),
            dtype=np.uint64,
            count=total,
        )
        bad_case = np.zeros(nc, dtype=bool)
        upper = np.zeros(nc, dtype=bool)
        lower = np.zeros(nc, dtype=bool)
        for i in np.flatnonzero(is_hex).tolist():
            v = values_text[i]
            c = layout.colid[i]
            if v.isupper():
                upper[c] = True
            elif v.islower():
                lower[c] = True
            elif not v.isdigit():
                bad_case[c] = True
        bad_case |= upper & lower
    else:
        values = np.fromiter(map(int, values_text), dtype=np.uint64, count=total)
        bad_case = upper = np.zeros(nc, dtype=bool)
    lengths = np.fromiter(map(len, values_text), dtype=np.int64, count=total)
    pad = lengths - _natural_len(values, kind)

    order = layout.order
    starts = _segments(layout.counts)
    nonempty = layout.counts > 0
    col_fmt = np.full(nc, NATURAL, dtype=np.int64)
    width = np.zeros(nc, dtype=np.int64)
    if total:
        ne_starts = starts[nonempty]
        maxpad = np.zeros(nc, dtype=np.int64)
        maxpad[nonempty] = np.maximum.reduceat(pad[order], ne_starts)
        lo = np.zeros(nc, dtype=np.int64)
        hi = np.zeros(nc, dtype=np.int64)
        lo[nonempty] = np.minimum.reduceat(lengths[order], ne_starts)
        hi[nonempty] = np.maximum.reduceat(lengths[order], ne_starts)
        col_fmt[maxpad > 0] = PADDED
        fixed = (maxpad > 0) & (lo == hi)
        col_fmt[fixed] = FIXED
        width[fixed] = lo[fixed]
    col_fmt[bad_case] = TEXT

    values[np.flatnonzero(col_fmt[layout.colid] == TEXT)] = 0  # text variables predict as 0

    # predictors, on the values sorted by (column, line)
    cols_s = layout.colid[order]
    with np.errstate(over="ignore"):
        z_none = values[order]
        z_prev = zigzag(values[order] - _shifted(values[order], cols_s))
        ref_k = _ref_choice(values, layout)
        kk = ref_k[layout.colid]
        ref_pred = np.zeros(total, dtype=np.uint64)
        has = np.flatnonzero(kk > 0)
        ref_pred[has] = values[has - kk[has]]
        z_ref = zigzag(values - ref_pred)[order]
        fo = layout.fam_order
        fam_pred = np.zeros(total, dtype=np.uint64)
        fam_pred[fo] = _shifted(values[fo], layout.col_family[layout.colid[fo]])
        z_fam = zigzag(values - fam_pred)[order]
    shallow = layout.col_depth < MAX_DEPENDENT_DEPTH
    costs = np.vstack(
        [
            _entropy_cost(z_none, cols_s, nc),
            _entropy_cost(z_prev, cols_s, nc) + 8,
            np.where((ref_k > 0) & shallow, _entropy_cost(z_ref, cols_s, nc) + 8, np.inf),
            np.where(shallow, _entropy_cost(z_fam, cols_s, nc) + 12, np.inf),
        ]
    )
    pred = np.argmin(costs, axis=0)
    pred[col_fmt == TEXT] = P_NONE
    pred_s = pred[cols_s]
    z = np.choose(pred_s, [z_none, z_prev, z_ref, z_fam])
    numeric_s = col_fmt[cols_s] != TEXT
    # wide columns: residuals as big-endian bytes of a fixed count, when that beats LEB128
    nbytes_s = 1 + np.searchsorted(_POW256, z, side="right")
    varint_s = 1 + np.searchsorted(_POW128, z, side="right")
    col_n = np.maximum(layout.counts, 1)
    col_nb = np.zeros(nc, dtype=np.int64)
    if total:
        col_nb[nonempty] = np.maximum.reduceat(nbytes_s, starts[nonempty])
    col_var = np.bincount(cols_s, weights=varint_s, minlength=nc)
    wide = (col_nb >= 3) & (col_nb * col_n < 0.95 * col_var) & (col_fmt != TEXT)
    wide_s = wide[cols_s]
    residuals = {p: encode_varints(z[numeric_s & (pred_s == p) & ~wide_s]) for p in PREDICTORS}
    wide_bytes = _write_wide(z[wide_s], col_nb[cols_s[wide_s]])
    pads = encode_varints(pad[order][col_fmt[cols_s] == PADDED].astype(np.uint64))
    text_idx = order[col_fmt[cols_s] == TEXT].tolist()
    text = b"\n".join(values_text[i] for i in text_idx)
    meta = bytearray()
    for c in range(nc):
        f, p = int(col_fmt[c]), int(pred[c])
        meta.append(f | p << 2 | int(upper[c]) << 4 | int(wide[c]) << 5)
        if f == FIXED:
            meta += varint(int(width[c]))
        if wide[c]:
            meta += varint(int(col_nb[c]))
        if p == P_REF:
            meta += varint(int(ref_k[c]))
    return ColumnStreams(bytes(meta), residuals, pads, text, wide_bytes)


@dataclass
class DecodedValues:
    """Every variable of a chunk, in line order."""

    values: np.ndarray  # uint64
    lengths: np.ndarray  # rendered length, ``0x`` included
    kind: np.ndarray  # DEC, HEX or TIME
    upper: np.ndarray  # hex in upper case
    padded: np.ndarray  # indices of padded-format variables
    text_idx: np.ndarray  # indices of text-format variables
    texts: list[bytes]
    time_format: int | None

    def objects(self, wanted: np.ndarray | None = None) -> list:
        """What the line formats take, per variable: an int, or bytes for padded, text and
        time variables. With a boolean mask `wanted`, only those variables are exact."""
        objects = self.values.tolist()
        padded, text_idx = self.padded, self.text_idx
        times = np.flatnonzero(self.kind == TIME)
        if wanted is not None:
            padded, times = padded[wanted[padded]], times[wanted[times]]
            keep = wanted[text_idx]
        if padded.size:
            is_hex = self.kind[padded] == HEX
            widths = (self.lengths[padded] - 2 * is_hex).tolist()
            spells = np.where(is_hex, np.where(self.upper[padded], 2, 1), 0).tolist()
            forms = (b"%0*d", b"%0*x", b"%0*X")
            for i, w, f in zip(padded.tolist(), widths, spells):
                objects[i] = forms[f] % (w, objects[i])
        for j, (i, t) in enumerate(zip(text_idx.tolist(), self.texts)):
            if wanted is None or keep[j]:
                objects[i] = t
        if times.size:
            assert self.time_format is not None
            render = FORMATS[self.time_format].render
            uniq, inverse = np.unique(self.values[times], return_inverse=True)
            spelt = [render(v) for v in uniq.tolist()]
            for i, j in zip(times.tolist(), inverse.tolist()):
                objects[i] = spelt[j]
        return objects


def decode_values(
    layout: Layout,
    spec: ColumnSpec,
    residuals: dict[int, bytes],
    pads: bytes,
    text: bytes,
    wide: bytes,
    time_format: int | None,
) -> DecodedValues:
    """Rebuild every variable from the residual, pad and text streams."""
    total = layout.colid.size
    order = layout.order
    cols_s = layout.colid[order]
    pred_s = spec.pred[cols_s]
    fmt_s = spec.fmt[cols_s]
    numeric_s = fmt_s != TEXT
    z = np.zeros(total, dtype=np.uint64)
    for p in PREDICTORS:
        sel = numeric_s & (pred_s == p) & ~spec.wide[cols_s]
        z[sel] = decode_varints(residuals.get(p, b""), int(sel.sum()), "logs varint stream")
    if spec.wide.any():
        sel = numeric_s & spec.wide[cols_s]
        z[sel] = _read_wide(wide, spec.nbytes[cols_s[sel]])
    r_s = np.where(pred_s == P_NONE, z, unzigzag(z))
    values = np.zeros(total, dtype=np.uint64)
    with np.errstate(over="ignore"):
        v_s = np.where(pred_s == P_NONE, r_s, 0).astype(np.uint64)
        prev_sel = pred_s == P_PREV
        if prev_sel.any():
            v_s = np.where(prev_sel, segment_cumsum(np.where(prev_sel, r_s, 0), cols_s), v_s)
        values[order] = v_s
        if (spec.pred >= P_REF).any():
            r_flat = np.zeros(total, dtype=np.uint64)
            r_flat[order] = r_s
            _resolve_dependent(values, r_flat, layout, spec)
    kind = layout.col_kind[layout.colid] if total else np.zeros(0, dtype=np.int8)
    natural = _natural_len(values, kind)
    fmt = spec.fmt[layout.colid]
    lengths = natural.copy()
    fixed = fmt == FIXED
    lengths[fixed] = np.maximum(natural[fixed], spec.width[layout.colid[fixed]])
    padded = order[fmt_s == PADDED]
    pad_values = decode_varints(pads, padded.size, "logs varint stream")
    if pad_values.size and int(pad_values.max()) > 1 << 40:
        raise CorruptDataError("logs pad count out of range")
    lengths[padded] += pad_values.astype(np.int64)
    text_idx = order[fmt_s == TEXT]
    texts = text.split(b"\n") if text_idx.size else []
    if len(texts) != text_idx.size:
        raise CorruptDataError("logs text column count does not match")
    if texts:
        lengths[text_idx] = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    lengths[kind == HEX] += 2
    upper = spec.upper[layout.colid] if total else np.zeros(0, dtype=bool)
    times = np.flatnonzero(kind == TIME)
    if times.size:
        if time_format is None:
            raise CorruptDataError("logs chunk has time variables but no time format")
        if int(values[times].max()) > MAX_EPOCH:
            raise CorruptDataError("logs time variable out of range")
        width = FORMATS[time_format].width
        if width is not None:
            lengths[times] = width
    return DecodedValues(values, lengths, kind, upper, padded, text_idx, texts, time_format)


def segment_cumsum(seq: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Running sums of `seq` (uint64, wrapping) restarted where `groups` changes."""
    csum = np.cumsum(seq.astype(np.uint64), dtype=np.uint64)
    if seq.size == 0:
        return csum
    starts = np.ones(seq.size, dtype=bool)
    starts[1:] = groups[1:] != groups[:-1]
    base_idx = np.maximum.accumulate(np.where(starts, np.arange(seq.size), 0))
    before = np.zeros(seq.size, dtype=np.uint64)
    nz = base_idx > 0
    before[nz] = csum[base_idx[nz] - 1]
    return csum - before


def _by_depth(idx: np.ndarray, depth: np.ndarray) -> dict[int, np.ndarray]:
    """Split variable indices by depth, keeping their order within each depth."""
    if idx.size == 0:
        return {}
    idx = idx[_stable_order(depth[idx], int(depth[idx].max()) + 1)]
    d = depth[idx]
    bounds = np.flatnonzero(np.diff(d)) + 1
    return {int(g_d[0]): g for g, g_d in zip(np.split(idx, bounds), np.split(d, bounds))}


def _resolve_dependent(
    values: np.ndarray, r_flat: np.ndarray, layout: Layout, spec: ColumnSpec
) -> None:
    """Fill in ref and family-predicted values, shallow variables first: a ref points further
    left in the line, a family predictor to an earlier line at the same depth."""
    pred_flat = spec.pred[layout.colid]
    ref_groups = _by_depth(np.flatnonzero(pred_flat == P_REF), layout.depth)
    fam_depths = set(np.unique(layout.depth[pred_flat == P_FAM]).tolist())
    fam_groups = _by_depth(layout.fam_order, layout.depth) if fam_depths else {}
    for d in sorted(set(ref_groups) | fam_depths):
        grp = ref_groups.get(d)
        if grp is not None:
            values[grp] = r_flat[grp] + values[grp - spec.ref_k[layout.colid[grp]]]
        if d in fam_depths:
            seq = fam_groups[d]
            is_fam = pred_flat[seq] == P_FAM
            fams = layout.col_family[layout.colid[seq]]
            # restart the running sum at every known value and at every family start
            groups = np.cumsum(~is_fam | np.r_[True, fams[1:] != fams[:-1]])
            arr = np.where(is_fam, r_flat[seq], values[seq])
            values[seq[is_fam]] = segment_cumsum(arr, groups)[is_fam]


def static_lengths(templates: list[bytes], escaped: bool) -> np.ndarray:
    """Bytes of constant text each template renders (markers and escapes excluded)."""
    out = np.zeros(len(templates), dtype=np.int64)
    for t, skeleton in enumerate(templates):
        marks = skeleton.count(b"\x00") + skeleton.count(b"\x01") + skeleton.count(b"\x03")
        out[t] = len(skeleton) - marks - (skeleton.count(b"\x02") if escaped else 0)
    return out


def render_format(
    skeleton: bytes, escaped: bool, cols: list[int], spec: ColumnSpec, kinds
) -> bytes:
    """The bytes %-format of one template: its constant pieces around one conversion per
    variable (``%s`` for time, padded and text variables, which come pre-rendered)."""
    pieces, _ = split_template(skeleton, escaped)
    out = [pieces[0].replace(b"%", b"%%")]
    for c, piece in zip(cols, pieces[1:]):
        kind, f = kinds[c], int(spec.fmt[c])
        prefix = b"0x" if kind == HEX else b""
        letter = (b"X" if spec.upper[c] else b"x") if kind == HEX else b"d"
        if kind == TIME or f in (PADDED, TEXT):
            out.append(prefix + b"%s")
        elif f == NATURAL:
            out.append(prefix + b"%" + letter)
        else:
            out.append(prefix + b"%0" + str(int(spec.width[c])).encode() + letter)
        out.append(piece.replace(b"%", b"%%"))
    return b"".join(out)
