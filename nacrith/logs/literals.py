"""The literal text every match of a regular expression must contain.

Search uses these literals only to skip chunks and lines that cannot match; the regex itself
decides. They are read from the parse tree of Python's private ``re._parser`` (``sre_parse``
before 3.11), the one module here that depends on a private interface. If that module is
missing or changes shape, `required_literals` returns no literals: search then stays correct
and only decodes more.
"""

from __future__ import annotations

import re
from typing import Any

try:  # Python 3.11+
    from re import _constants as _sre_c  # type: ignore[attr-defined]
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    try:
        import sre_constants as _sre_c  # type: ignore[no-redef]
        import sre_parse as _sre_parse  # type: ignore[no-redef]
    except ImportError:
        _sre_c = _sre_parse = None  # type: ignore[assignment]

__all__ = ["Clauses", "required_literals"]

Clauses = list[list[bytes]]


def required_literals(pattern: bytes) -> tuple[Clauses, bool]:
    """What every match of the regex `pattern` must contain, as clauses of alternatives (each
    clause: at least one of its byte strings), and whether the regex ignores case (then the
    strings are lower case). Runs of literals become one-alternative clauses; a group of
    pure-literal alternatives such as ``(refused|reset)`` becomes a clause of its
    alternatives. Raises `re.error` for an invalid pattern; returns no clauses when the
    private parser is unavailable or unrecognisable."""
    ignore_case = bool(re.compile(pattern).flags & re.IGNORECASE)
    try:
        clauses = _walk_parse_tree(pattern)
    except Exception:  # a private module of another shape: no literals
        return [], ignore_case
    if not all(isinstance(a, bytes) for clause in clauses for a in clause):
        return [], ignore_case
    if ignore_case:
        clauses = [[a.lower() for a in clause] for clause in clauses]
    return clauses, ignore_case


def _walk_parse_tree(pattern: bytes) -> Clauses:
    """The clauses, read from the parse tree of ``re._parser``."""
    if _sre_parse is None:
        return []
    c = _sre_c
    parsed = _sre_parse.parse(pattern, 0)
    clauses: Clauses = []
    cur = bytearray()

    def flush() -> None:
        if cur:
            clauses.append([bytes(cur)])
            cur.clear()

    def pure(items: Any) -> bytes | None:
        out = bytearray()
        for op, av in items:
            if op is c.LITERAL:
                out.append(av)
            elif op is c.SUBPATTERN and not (av[1] or av[2]):
                inner = pure(av[3])
                if inner is None:
                    return None
                out += inner
            else:
                return None
        return bytes(out)

    def walk(items: Any) -> None:
        for op, av in items:
            if op is c.LITERAL:
                cur.append(av)
            elif op is c.SUBPATTERN and not (av[1] or av[2]):
                walk(av[3])
            elif op is c.BRANCH:
                flush()
                alternatives = [pure(branch) for branch in av[1]]
                if alternatives and all(alternatives):
                    clauses.append([a for a in alternatives if a is not None])
            else:
                flush()

    walk(parsed)
    flush()
    return clauses
