"""File hashes of the model registry (`file_hexdigest`, `file_sha256`), shared with `corpora`."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from nacrith.models.llm.registry import file_hexdigest, file_sha256


@pytest.fixture
def sample(tmp_path: Path) -> tuple[Path, bytes]:
    data = bytes(range(256)) * 5000 + b"tail"  # several blocks of `hashlib.file_digest`
    path = tmp_path / "sample.bin"
    path.write_bytes(data)
    return path, data


def test_digests_match_hashlib(sample: tuple[Path, bytes]) -> None:
    path, data = sample
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    assert file_hexdigest(path, "md5") == hashlib.md5(data).hexdigest()
    assert file_hexdigest(path, "sha1") == hashlib.sha1(data).hexdigest()


def test_progress_reports_every_byte(sample: tuple[Path, bytes]) -> None:
    path, data = sample
    seen: list[int] = []
    assert file_sha256(path, seen.append) == hashlib.sha256(data).hexdigest()
    assert sum(seen) == len(data)
    assert len(seen) > 1


@pytest.mark.parametrize("limit", [0, 1, 1000, 262_144, 262_145, 10**9])
def test_limit_hashes_a_prefix(sample: tuple[Path, bytes], limit: int) -> None:
    path, data = sample
    assert file_hexdigest(path, limit=limit) == hashlib.sha256(data[:limit]).hexdigest()


def test_unknown_algorithm_is_refused(sample: tuple[Path, bytes]) -> None:
    with pytest.raises(ValueError, match="unsupported hash type"):
        file_hexdigest(sample[0], "no-such-hash")
