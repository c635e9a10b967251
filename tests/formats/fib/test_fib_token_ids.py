"""`formats.fib.tokens.token_ids`: the encoder's ids and case flags in one pass, equal to the
case split of the tokens numbered in order of first appearance."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nacrith.formats.fib.tokens import apply_case, split_case, token_ids, tokenize
from tests.paths import CANTERBURY


def _reference(data: bytes) -> tuple[list[int], list[int], list[bytes]]:
    tokens, flags = split_case(tokenize(data))
    index: dict[bytes, int] = {}
    ids = [index.setdefault(t, len(index)) for t in tokens]
    return ids, flags, list(index)


def _check(data: bytes) -> None:
    ids, flags, vocab = token_ids(data)
    want_ids, want_flags, want_vocab = _reference(data)
    assert ids.tolist() == want_ids
    assert flags.tolist() == want_flags
    assert vocab == want_vocab
    assert b"".join(apply_case(vocab[i], f) for i, f in zip(ids.tolist(), flags.tolist())) == data


def test_token_ids_on_text_and_source() -> None:
    for name in ("alice29.txt", "cp.html", "fields.c", "grammar.lsp", "kennedy.xls"):
        _check((CANTERBURY / name).read_bytes()[:40000])


def test_token_ids_of_nothing() -> None:
    ids, flags, vocab = token_ids(b"")
    assert len(ids) == 0 and len(flags) == 0 and vocab == []


@given(st.lists(st.sampled_from(["The", "the", "THE", "tHe", "a", "A", " ", "\n", "42", "."])))
def test_token_ids_mixed_case(parts: list[str]) -> None:
    _check("".join(parts).encode())


@given(st.binary(max_size=300))
def test_token_ids_any_bytes(data: bytes) -> None:
    _check(data)
