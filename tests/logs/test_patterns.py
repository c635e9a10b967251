"""Search patterns: only str and bytes are patterns, and the literals a regex needs are only a
shortcut (search stays right when Python's private regex parser is not what we expect)."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from nacrith.logs import LogArchive, literals
from nacrith.logs.literals import required_literals
from tests.samples import synthetic_log

REGEXES = [rb"port (22|80)\b", rb"(?i)SSHD\[\d+\]", rb"user (root|admin) from 1\d\d\.", rb"\d+"]


@pytest.fixture()
def archive(tmp_path: Path) -> tuple[LogArchive, list[bytes]]:
    lines = synthetic_log(600).split(b"\n")[:-1]
    path = tmp_path / "a.ncz"
    with LogArchive(path, "w", chunk_lines=150) as writer:
        writer.write_lines(lines)
    return LogArchive(path, "r"), lines


@pytest.mark.parametrize("pattern", [5, 0, None, 1.5, ["x"], memoryview(b"x")])
def test_a_pattern_that_is_not_text_raises_type_error(
    archive: tuple[LogArchive, list[bytes]], pattern: object
) -> None:
    reader, _ = archive
    with pytest.raises(TypeError, match="search pattern must be str or bytes, not"):
        reader.search(pattern)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="search pattern must be str or bytes, not"):
        reader.search(pattern, regex=True)  # type: ignore[arg-type]


def test_literals_of_a_regex() -> None:
    assert required_literals(rb"port (22|80)\b") == ([[b"port "], [b"22", b"80"]], False)
    assert required_literals(rb"(?i)Failed PASSWORD") == ([[b"failed password"]], True)
    assert required_literals(rb"\d+") == ([], False)


def test_search_is_right_without_the_private_parser(
    archive: tuple[LogArchive, list[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A future Python whose ``re._parser`` has another shape gives no literals: every
    template is a candidate and the regex alone decides."""
    reader, lines = archive
    reshaped = [
        (SimpleNamespace(parse=lambda p, flags=0: [("NEW_OPCODE", p)]), SimpleNamespace()),
        (SimpleNamespace(parse=lambda p, flags=0: 42), literals._sre_c),
        (None, None),  # the module is gone
    ]
    for parser, constants in reshaped:
        monkeypatch.setattr(literals, "_sre_parse", parser)
        monkeypatch.setattr(literals, "_sre_c", constants)
        assert required_literals(rb"port (22|80)\b") == ([], False)
        assert required_literals(rb"(?i)port") == ([], True)
        for rx in REGEXES:
            want = [ln for ln in lines if re.search(rx, ln)]
            assert list(reader.search(rx, regex=True)) == want, rx
