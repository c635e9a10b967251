"""High-entropy identifiers of the `logs` codec: hex ids, UUIDs and hashes as digit columns.

An *identifier* is a run of hex digits, whole or in dash-separated groups (``3d2a1f6e``,
``38101a0b-2096-447d-96ea-a692162415ae``, a 40-digit hash), that has no ASCII letter or digit
on either side (or, for a single run of more than 16 digits, ``0x`` before it), holds
`MIN_DIGITS` to `MAX_DIGITS` digits in at most `MAX_GROUPS` groups, and at least one decimal
digit and one letter a-f. Its *shape* is its group lengths and its case:
lower (no letter A-F), upper (no letter a-f) or mixed.

Before templates are built, every identifier whose shape is among the chunk's first
`MAX_SHAPES` shapes is replaced in the chunk by a *placeholder*: byte 0x04 followed by the
letter that names its shape (``a``-``z`` then ``A``-``Z``: shapes 0-51, in order of first
use). The template model codes the rest; a chunk holding byte 0x04 has no identifiers.

Identifier section (LEB128 integers)::

    n_shapes, per shape: u8 case (0 lower, 1 upper, 2 mixed), n_groups, group lengths
    n_ids
    then three streams (refs, digits, cases), whose bytes the payload stores elsewhere

*refs*, LEB128, shape by shape, each shape's identifiers in chunk order: 0 for an identifier
not seen before in the chunk; 1 + r when it is the r-th most recently used distinct identifier
of its shape (r from 0, below `WINDOW`); else `WINDOW` + 1 + its index among the shape's
distinct identifiers in order of first use. After each identifier, new or not, it moves to the
front of its shape's recency list, which keeps the `WINDOW` most recent.

*digits*: the new identifiers' digits, shape by shape, as an n x L matrix (n new identifiers
of L digits) stored column by column, two digits a byte, high nibble first, the last byte of
a shape padded with a zero nibble. *cases*: for shapes of mixed case, per new identifier in
order, one bit per letter digit (1: upper case), shape by shape, packed most significant bit
first, each shape's last byte padded with zero bits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from nacrith.errors import CorruptDataError
from nacrith.formats.logs.streams import Reader
from nacrith.formats.varint import decode_varints, encode_varints, varint

__all__ = [
    "MARK",
    "PLACEHOLDER_RE",
    "Idents",
    "Shape",
    "chunk_identifiers",
    "extract",
    "fill",
    "read_section",
    "restore",
    "shape_indices",
]

MARK = b"\x04"
MIN_DIGITS, MAX_DIGITS, MAX_GROUPS, MAX_SHAPES = 8, 64, 8, 52
WINDOW = 1024
_HEX_VARIABLE = 16  # digits after 0x that `formats.logs.template` takes as a hex variable
LOWER, UPPER, MIXED = 0, 1, 2
_LETTERS = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SHAPE_OF_LETTER = {bytes([c]): i for i, c in enumerate(_LETTERS)}
_ID_RE = re.compile(  # the lookaheads skip short tokens and numbers early
    rb"(?:(?<![0-9A-Za-z])|(?<=(?<![0-9A-Za-z])0x))(?=[0-9a-fA-F-]{8})(?=[0-9-]*[a-fA-F])"
    rb"[0-9a-fA-F]+(?:-[0-9a-fA-F]+)*(?![0-9A-Za-z])"
)
PLACEHOLDER_RE = re.compile(rb"\x04(.?)", re.S)
_NIBBLE = np.full(256, 255, dtype=np.uint8)
_NIBBLE[np.frombuffer(b"0123456789abcdef", dtype=np.uint8)] = np.arange(16, dtype=np.uint8)
_NIBBLE[np.frombuffer(b"ABCDEF", dtype=np.uint8)] = np.arange(10, 16, dtype=np.uint8)
_HEX_LOWER = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


@dataclass(frozen=True)
class Shape:
    """Group lengths and case of an identifier."""

    case: int
    groups: tuple[int, ...]

    @property
    def digits(self) -> int:
        """Digits of one identifier of this shape."""
        return sum(self.groups)


@dataclass
class Idents:
    """The identifiers of one chunk: their shapes, their count and the three streams."""

    shapes: list[Shape]
    n_ids: int
    refs: bytes
    digits: bytes
    cases: bytes

    def header(self) -> bytes:
        """The section's fields before its streams (see the module docstring)."""
        out = bytearray(varint(len(self.shapes)))
        for s in self.shapes:
            out.append(s.case)
            out += varint(len(s.groups)) + b"".join(varint(g) for g in s.groups)
        return bytes(out + varint(self.n_ids))


def _shape(token: bytes) -> Shape | None:
    """The shape of `token` (a match of `_ID_RE`), or None if it is not an identifier."""
    groups = token.split(b"-")
    hexes = b"".join(groups)
    if not MIN_DIGITS <= len(hexes) <= MAX_DIGITS or len(groups) > MAX_GROUPS:
        return None
    if not hexes.translate(None, b"abcdefABCDEF") or hexes.isdigit():
        return None  # no decimal digit, or no letter
    lower, upper = hexes.upper() != hexes, hexes.lower() != hexes
    case = MIXED if lower and upper else (UPPER if upper else LOWER)
    return Shape(case, tuple(len(g) for g in groups))


def extract(data: bytes) -> tuple[bytes, Idents] | None:
    """The chunk with its identifiers replaced by placeholders, and the identifiers coded;
    None when the chunk has none (or holds the placeholder byte)."""
    if MARK in data:
        return None
    shapes: dict[Shape, int] = {}
    found: list[tuple[int, bytes]] = []  # (shape index, identifier)

    known: dict[bytes, int] = {}  # token -> shape index, or -1: not an identifier

    def replace(match: re.Match[bytes]) -> bytes:
        token = match.group()
        at = match.start()
        if data[at - 2 : at] == b"0x" and (len(token) <= _HEX_VARIABLE or b"-" in token):
            return token  # a hex variable of the template model
        idx = known.get(token)
        if idx is None:
            shape = _shape(token)
            idx = -1 if shape is None else shapes.setdefault(shape, len(shapes))
            known[token] = idx = idx if idx < MAX_SHAPES else -1
        if idx < 0:
            return token
        found.append((idx, token))
        return MARK + _LETTERS[idx : idx + 1]

    text = _ID_RE.sub(replace, data)
    if not found:
        return None
    shape_list = list(shapes)[:MAX_SHAPES]
    by_shape: list[list[bytes]] = [[] for _ in shape_list]
    for idx, token in found:
        by_shape[idx].append(token)
    refs, digits, cases = [], [], []
    for shape, tokens in zip(shape_list, by_shape):
        shape_refs, new = _references(tokens)
        refs.append(shape_refs)
        nib = _NIBBLE[np.frombuffer(b"".join(new).replace(b"-", b""), dtype=np.uint8)]
        digits.append(_pack_nibbles(nib.reshape(len(new), shape.digits).T.ravel()))
        if shape.case == MIXED:
            flat = np.frombuffer(b"".join(new).replace(b"-", b""), dtype=np.uint8)
            cases.append(np.packbits(flat[nib >= 10] < 97).tobytes())
    return text, Idents(
        shape_list,
        len(found),
        encode_varints(np.concatenate(refs).astype(np.uint64)),
        b"".join(digits),
        b"".join(cases),
    )


def _references(tokens: list[bytes]) -> tuple[np.ndarray, list[bytes]]:
    """The refs of one shape's identifiers (see the module docstring) and its new ones."""
    recent: list[bytes] = []  # most recent first, at most WINDOW
    first: dict[bytes, int] = {}
    new: list[bytes] = []
    refs = np.zeros(len(tokens), dtype=np.int64)
    for i, token in enumerate(tokens):
        index = first.get(token)
        if index is None:
            first[token] = len(new)
            new.append(token)
        elif token in recent:
            rank = recent.index(token)
            del recent[rank]
            refs[i] = 1 + rank
        else:
            refs[i] = WINDOW + 1 + index
        recent.insert(0, token)
        if len(recent) > WINDOW:
            recent.pop()
    return refs, new


def _pack_nibbles(nib: np.ndarray) -> bytes:
    if nib.size % 2:
        nib = np.append(nib, np.uint8(0))
    return ((nib[0::2] << 4) | nib[1::2]).astype(np.uint8).tobytes()


def read_section(r: Reader) -> tuple[list[Shape], int]:
    """Read the shape table and identifier count that `Idents.header` wrote."""
    shapes = []
    for _ in range(r.varint(MAX_SHAPES)):
        case = r.byte()
        n_groups = r.varint(MAX_GROUPS)
        groups = tuple(r.varint(MAX_DIGITS) for _ in range(n_groups))
        if case > MIXED or not groups or min(groups) < 1:
            raise CorruptDataError("logs identifier shape is malformed")
        if not MIN_DIGITS <= sum(groups) <= MAX_DIGITS:
            raise CorruptDataError("logs identifier shape has a bad digit count")
        shapes.append(Shape(case, groups))
    return shapes, r.varint(1 << 40)


def restore(
    text: bytes, shapes: list[Shape], n_ids: int, refs: bytes, digits: bytes, cases: bytes
) -> bytes:
    """Put the identifiers back into `text` (the chunk with placeholders)."""
    pieces = PLACEHOLDER_RE.split(text)
    letters = pieces[1::2]
    if len(letters) != n_ids:
        raise CorruptDataError(f"logs chunk holds {len(letters)} placeholders, not {n_ids}")
    return fill(pieces, chunk_identifiers(shape_indices(letters), shapes, refs, digits, cases))


def fill(pieces: list[bytes], tokens: list[bytes]) -> bytes:
    """The text that `PLACEHOLDER_RE.split` cut into `pieces`, with `tokens` in place of its
    placeholders, in order."""
    joined = pieces[0::2]
    result = [joined[0]]
    for token, piece in zip(tokens, joined[1:]):
        result.append(token)
        result.append(piece)
    return b"".join(result)


def shape_indices(letters: list[bytes]) -> np.ndarray:
    """The shape index each placeholder letter of `letters` (one byte each) names."""
    try:
        return np.array([_SHAPE_OF_LETTER[c] for c in letters], dtype=np.int64)
    except KeyError:
        raise CorruptDataError("logs placeholder names no identifier shape") from None


def chunk_identifiers(
    kinds: np.ndarray, shapes: list[Shape], refs: bytes, digits: bytes, cases: bytes
) -> list[bytes]:
    """The identifiers of a chunk in chunk order, from the shape index of each placeholder
    (`kinds`, in chunk order) and the section's three streams."""
    n_ids = kinds.size
    if kinds.size and int(kinds.max()) >= len(shapes):
        raise CorruptDataError("logs placeholder names no identifier shape")
    ref_values = decode_varints(refs, n_ids, "logs identifier refs").astype(np.int64)
    order = np.argsort(kinds, kind="stable")
    counts = np.bincount(kinds, minlength=len(shapes))
    out: list[bytes] = [b""] * n_ids
    pos_ref = pos_dig = pos_case = 0
    for s, shape in enumerate(shapes):
        at = order[pos_ref : pos_ref + int(counts[s])].tolist()
        shape_refs = ref_values[pos_ref : pos_ref + int(counts[s])]
        pos_ref += int(counts[s])
        n_new = int((shape_refs == 0).sum())
        n_dig = (n_new * shape.digits + 1) // 2
        chunk = digits[pos_dig : pos_dig + n_dig]
        pos_dig += n_dig
        if len(chunk) != n_dig:
            raise CorruptDataError("logs identifier digits end early")
        new, pos_case = _spell(chunk, n_new, shape, cases, pos_case)
        for i, token in zip(at, _resolve(shape_refs, new)):
            out[i] = token
    if pos_dig != len(digits) or pos_case != len(cases):
        raise CorruptDataError("logs identifier streams have trailing bytes")
    return out


def _spell(
    chunk: bytes, n_new: int, shape: Shape, cases: bytes, pos: int
) -> tuple[list[bytes], int]:
    """The new identifiers of one shape from its digit bytes (and case bits at `pos`)."""
    if n_new == 0:
        return [], pos
    raw = np.frombuffer(chunk, dtype=np.uint8)
    nib = np.empty(raw.size * 2, dtype=np.uint8)
    nib[0::2], nib[1::2] = raw >> 4, raw & 15
    total = n_new * shape.digits
    if nib.size > total and nib[total]:
        raise CorruptDataError("logs identifier digits have a nonzero pad")
    chars = _HEX_LOWER[nib[:total].reshape(shape.digits, n_new).T.ravel()]
    if shape.case == UPPER:
        chars = np.where(chars >= 97, chars - 32, chars).astype(np.uint8)
    elif shape.case == MIXED:
        letters = np.flatnonzero(chars >= 97)
        n_bytes = (letters.size + 7) // 8
        if pos + n_bytes > len(cases):
            raise CorruptDataError("logs identifier case bits end early")
        bits = np.unpackbits(np.frombuffer(cases[pos : pos + n_bytes], dtype=np.uint8))
        if bits[letters.size :].any():
            raise CorruptDataError("logs identifier case bits have a nonzero pad")
        chars[letters[bits[: letters.size] == 1]] -= 32
        pos += n_bytes
    rows = chars.reshape(n_new, shape.digits)
    cuts = np.cumsum(shape.groups)[:-1]
    if cuts.size:  # the dashes between groups
        rows = np.insert(rows, cuts, np.uint8(ord("-")), axis=1)
    flat = rows.tobytes()
    width = rows.shape[1]
    return [flat[k : k + width] for k in range(0, n_new * width, width)], pos


def _resolve(refs: np.ndarray, new: list[bytes]) -> list[bytes]:
    """The identifiers one shape's refs name, new ones taken in order from `new`."""
    recent: list[bytes] = []
    distinct: list[bytes] = []
    out = []
    for ref in refs.tolist():
        if ref == 0:
            token = new[len(distinct)]
            distinct.append(token)
        elif ref <= WINDOW:
            if ref > len(recent):
                raise CorruptDataError("logs identifier refers past its recency list")
            token = recent.pop(ref - 1)
        else:
            if ref - WINDOW - 1 >= len(distinct):
                raise CorruptDataError("logs identifier refers to an unknown identifier")
            token = distinct[ref - WINDOW - 1]
        recent.insert(0, token)
        if len(recent) > WINDOW:
            recent.pop()
        out.append(token)
    return out
