"""Golden archives: every archive in tests/golden/*.ncz must decode byte-exactly, forever.

Each `NAME.ncz` decodes to the bytes whose sha256 is in `NAME.sha256`. New goldens are written
only with NACRITH_REGEN_GOLDEN=1 (and never overwrite an existing archive: old formats must
keep decoding, so a new format version gets new files).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

import nacrith
from tests.paths import CANTERBURY, GOLDEN, LOGHUB

INPUT = (
    (CANTERBURY / "grammar.lsp").read_bytes()
    + bytes(range(256)) * 2
    + "UTF-8 tail: naïve café 東京\r\n".encode()
)

# v1-*: settings stored raw or zlib'd; v1d-*: deflated against preset dictionary 1;
# v2-*: container format version 2 (settings as baseline references; v2-fast: several codecs)
FOUNDATION = {
    "v1-stored": "stored",
    "v1-zstd": "zstd",
    "v1d-stored": "stored",
    "v1d-zstd": "zstd",
    "v2-stored": "stored",
    "v2-zstd": "zstd",
    "v2-fast": "fast",
    "v2-forms": "forms",
}


#: goldens of other inputs: name -> (method, input, codec ids the archive must hold)
#: v2-fast-ppmd: `fast` with ppmd chunks; v2-logs-ppmd: the logs codec with PPMd sub-streams
MORE = {
    "v2-fast-ppmd": ("fast", INPUT, {"ppmd"}),
    "v2-logs-ppmd": (
        "logs",
        (LOGHUB / "OpenSSH" / "OpenSSH_2k.log").read_bytes()[:40_000],
        {"logs"},
    ),
}


def _forms_archive(data: bytes) -> bytes:
    """Two version-2 members holding every settings form and an inline codec: zstd level 3 (a
    diff against its baseline), a stored chunk the header lacks, zstd with no parameters (the
    explicit form) and xz preset 6 (a diff)."""
    import io

    from nacrith.codecs.basic import ZstdCodec
    from nacrith.codecs.xz import XzCodec
    from nacrith.formats.container import write_member

    out = io.BytesIO()
    first, second = data[:3000], data[3000:]
    zstd3 = ZstdCodec(3)
    chunks = [("zstd", first[:1500], zstd3.encode(first[:1500]))]
    chunks.append(("stored", first[1500:], first[1500:]))
    write_member(out, {"zstd": zstd3.params()}, chunks, len(first))
    xz6 = XzCodec(6)
    chunks = [("xz", second[:600], xz6.encode(second[:600]))]
    chunks.append(("zstd", second[600:], ZstdCodec().encode(second[600:])))
    write_member(out, {"zstd": {}, "xz": xz6.params()}, chunks)
    return out.getvalue()


def _regenerate() -> None:
    for name, method in FOUNDATION.items():
        archive = GOLDEN / f"{name}.ncz"
        if archive.exists():
            continue
        if method == "forms":
            archive.write_bytes(_forms_archive(INPUT))
        else:
            archive.write_bytes(nacrith.compress(INPUT, method=method, chunk_size=1500))
        (GOLDEN / f"{name}.sha256").write_text(hashlib.sha256(INPUT).hexdigest() + "\n")
    for name, (method, data, _ids) in MORE.items():
        archive = GOLDEN / f"{name}.ncz"
        if not archive.exists():
            size = 1500 if method == "fast" else None
            archive.write_bytes(nacrith.compress(data, method=method, chunk_size=size))
            (GOLDEN / f"{name}.sha256").write_text(hashlib.sha256(data).hexdigest() + "\n")


if os.environ.get("NACRITH_REGEN_GOLDEN") == "1":
    _regenerate()

ARCHIVES = sorted(GOLDEN.glob("*.ncz"))


def test_foundation_goldens_present() -> None:
    names = {p.stem for p in ARCHIVES}
    assert set(FOUNDATION) <= names
    assert set(MORE) <= names


@pytest.mark.parametrize("name", sorted(MORE))
def test_more_goldens_hold_their_codecs(name: str) -> None:
    import io

    from nacrith.formats.container import iter_members

    _method, data, wanted = MORE[name]
    archive = (GOLDEN / f"{name}.ncz").read_bytes()
    ids = set()
    for member in iter_members(io.BytesIO(archive)):
        ids |= {record.codec_id for record in member.chunks}
    assert wanted <= ids
    assert nacrith.decompress(archive) == data


@pytest.mark.parametrize("archive", ARCHIVES, ids=lambda p: p.name)
def test_golden_decodes(archive: Path) -> None:
    if any(tag in archive.stem for tag in ("llm",)):
        pytest.skip("LLM goldens are checked in the llm test module (they need the model)")
    expected = (archive.with_suffix(".sha256")).read_text().split()[0]
    data = nacrith.decompress(archive.read_bytes())
    assert hashlib.sha256(data).hexdigest() == expected


def test_stored_golden_bytes_are_stable() -> None:
    from tests.formats.container_helpers import rewrap

    archive = nacrith.compress(INPUT, method="stored", chunk_size=1500)
    assert (GOLDEN / "v2-stored.ncz").read_bytes() == archive
    assert (GOLDEN / "v1d-stored.ncz").read_bytes() == rewrap(archive, INPUT, version=1)
