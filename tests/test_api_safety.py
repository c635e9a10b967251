"""The Python API keeps data safe and rejects bad arguments with messages naming them.

- `nacrith.open` checks settings and builds codecs (a missing model) before touching the target,
  and writes a path all or nothing: a failure at close, or a `with` block that raises, leaves
  the old archive as it was and no temporary file beside it.
- Data must be a bytes-like object (no `bytes(5)` surprise), everywhere the API takes data.
- Bad settings raise ValueError / TypeError naming the setting, never an internal error.
"""

from __future__ import annotations

import array
import io
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import nacrith

OLD = b"the old archive's contents\n" * 50
NEW = b"new data that must not half-replace the old\n" * 2000


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """An existing archive of OLD, alone in its directory."""
    path = tmp_path / "old.ncz"
    path.write_bytes(nacrith.compress(OLD, method="zstd"))
    return path


def _unchanged(path: Path) -> None:
    assert nacrith.decompress(path.read_bytes()) == OLD
    assert [p.name for p in path.parent.iterdir()] == [path.name]


# --- item 4: nothing is touched before the settings hold; writes are all or nothing -------


@pytest.mark.parametrize("method", ["llm", "auto"])
@pytest.mark.parametrize("mode", ["wb", "ab", "wt"])
def test_a_missing_model_raises_at_open_and_leaves_the_archive(
    archive: Path, method: str, mode: str
) -> None:
    with pytest.raises(nacrith.ModelNotFoundError, match=r"no model '/nonexistent\.gguf'"):
        nacrith.open(archive, mode, method=method, model="/nonexistent.gguf")
    _unchanged(archive)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"method": "zstd", "options": {"zstd": {"levle": 3}}}, ValueError, "levle"),
        ({"method": "nope"}, ValueError, "unknown method 'nope'"),
        ({"method": "zstd", "options": {"zstdd": {}}}, ValueError, "unknown codec 'zstdd'"),
        ({"method": "zstd", "workers": "2"}, TypeError, "workers"),
    ],
)
def test_bad_settings_raise_at_open_and_leave_the_archive(
    archive: Path, kwargs: dict, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        nacrith.open(archive, "wb", **kwargs)
    _unchanged(archive)


def test_exclusive_mode_refuses_an_existing_file(archive: Path) -> None:
    with pytest.raises(FileExistsError, match="File exists"):
        nacrith.open(archive, "xb", method="zstd")
    _unchanged(archive)


def test_exclusive_mode_writes_a_new_file(tmp_path: Path) -> None:
    path = tmp_path / "new.ncz"
    with nacrith.open(path, "xb", method="zstd") as f:
        f.write(NEW)
    assert nacrith.decompress(path.read_bytes()) == NEW
    assert [p.name for p in tmp_path.iterdir()] == ["new.ncz"]


@pytest.mark.parametrize("mode", ["wb", "ab", "xb"])
def test_a_with_block_that_raises_writes_nothing(tmp_path: Path, archive: Path, mode: str) -> None:
    target = tmp_path / "fresh.ncz" if mode == "xb" else archive
    with pytest.raises(RuntimeError, match="stop"), nacrith.open(target, mode, method="zstd") as f:
        f.write(NEW)
        raise RuntimeError("stop")
    assert not (tmp_path / "fresh.ncz").exists()
    _unchanged(archive)


def test_a_text_with_block_that_raises_writes_nothing(archive: Path) -> None:
    with (
        pytest.raises(RuntimeError, match="stop"),
        nacrith.open(archive, "wt", method="zstd", encoding="utf-8") as f,
    ):
        f.write("new text\n")
        raise RuntimeError("stop")
    _unchanged(archive)


FAILING_WRITE = """\
import resource, signal, sys
import nacrith
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death
path, mode, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
with nacrith.open(path, mode, method="stored") as f:
    f.write(b"x" * (4 * limit))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
"""


@pytest.mark.parametrize("mode", ["wb", "ab"])
def test_a_write_that_fails_at_close_leaves_the_old_archive(archive: Path, mode: str) -> None:
    """A real failure mid-way (the file size limit, like a quota, hit while writing)."""
    limit = archive.stat().st_size + 1000
    r = subprocess.run(
        [sys.executable, "-c", FAILING_WRITE, str(archive), mode, str(limit)],
        capture_output=True,
    )
    assert r.returncode == 1
    assert b"File too large" in r.stderr
    _unchanged(archive)


def test_a_path_write_keeps_the_mode_and_follows_a_symlink(tmp_path: Path, archive: Path) -> None:
    archive.chmod(0o640)
    link = tmp_path / "link.ncz"
    link.symlink_to(archive.name)
    with nacrith.open(link, "wb", method="zstd") as f:
        f.write(NEW)
    assert link.is_symlink()
    assert nacrith.decompress(archive.read_bytes()) == NEW
    assert stat.S_IMODE(archive.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.ncz", "old.ncz"]


def test_a_new_file_gets_the_umask_mode(tmp_path: Path) -> None:
    umask = os.umask(0o027)
    try:
        with nacrith.open(tmp_path / "new.ncz", "wb", method="stored") as f:
            f.write(b"data")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "new.ncz").stat().st_mode) == 0o640


def test_a_missing_directory_fails_at_open(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="No such file"):
        nacrith.open(tmp_path / "absent" / "a.ncz", "wb", method="stored")
    assert list(tmp_path.iterdir()) == []


def test_append_adds_a_member_and_keeps_the_old_one(archive: Path) -> None:
    with nacrith.open(archive, "ab", method="zstd") as f:
        f.write(NEW)
    assert nacrith.decompress(archive.read_bytes()) == OLD + NEW
    assert [p.name for p in archive.parent.iterdir()] == [archive.name]


# --- item 6: data is bytes-like -----------------------------------------------------------

NOT_BYTES = [(5, "int"), ([1, 2, 3], "list"), ("text", "str"), (None, "NoneType")]


@pytest.mark.parametrize(("value", "type_name"), NOT_BYTES)
def test_data_must_be_bytes_like(value: object, type_name: str) -> None:
    message = f"a bytes-like object is required, not '{type_name}'"
    calls = [
        lambda: nacrith.compress(value, method="stored"),  # type: ignore[arg-type]
        lambda: nacrith.decompress(value),  # type: ignore[arg-type]
        lambda: nacrith.Compressor("stored").compress(value),  # type: ignore[arg-type]
        lambda: nacrith.Decompressor().decompress(value),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(TypeError, match=message):
            call()
    with nacrith.open(io.BytesIO(), "wb", method="stored") as f:
        with pytest.raises(TypeError, match=message):
            f.write(value)
        f.write(b"ok")


def test_any_buffer_is_data() -> None:
    ints = array.array("i", range(1000))
    strided = memoryview(bytes(range(256)) * 8)[::3]
    for value in (bytearray(b"abc" * 100), memoryview(b"xyz" * 100), ints, strided):
        raw = memoryview(value).tobytes()
        archive = nacrith.compress(value, method="zstd")
        assert nacrith.decompress(archive) == raw
        assert nacrith.decompress(bytearray(archive)) == raw
        assert nacrith.decompress(memoryview(archive)) == raw
        out = io.BytesIO()
        with nacrith.open(out, "wb", method="zstd") as f:
            assert f.write(value) == len(raw)
        assert nacrith.decompress(out.getvalue()) == raw


# --- item 9: bad arguments name the setting -----------------------------------------------

BAD_COMPRESS_ARGUMENTS = [
    ({"options": [1]}, TypeError, "options must be a mapping of codec id to settings, not 'list'"),
    ({"options": {"zstd": 5}}, TypeError, r"options\['zstd'\] must be a mapping of zstd settings"),
    ({"options": {"zstd": {"levle": 3}}}, ValueError, r"zstd setting 'levle' \(known: level\)"),
    ({"options": {"zstdd": {}}}, ValueError, "options names an unknown codec 'zstdd'"),
    ({"options": {"stored": {"x": 1}}}, ValueError, r"unknown stored setting 'x' \(known: none\)"),
    ({"level": 99}, ValueError, "zstd level must be an integer in 1..22"),
    ({"workers": -1}, ValueError, "workers must be non-negative"),
    ({"workers": 1.5}, TypeError, "workers must be None or an integer, not 'float'"),
    ({"chunk_size": True}, ValueError, "chunk_size must be an integer"),
    ({"model": 5}, TypeError, "model must be a name or a path, not 'int'"),
]  # fmt: skip


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD_COMPRESS_ARGUMENTS)
def test_bad_compress_arguments(kwargs: dict, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        nacrith.compress(b"data", method="zstd", **kwargs)
    with pytest.raises(error, match=message):
        nacrith.Compressor("zstd", **kwargs)


BAD_DECOMPRESS_ARGUMENTS = [
    ({"max_output_size": "100"}, TypeError, "max_output_size must be None or an integer"),
    ({"max_output_size": -1}, ValueError, "max_output_size must be non-negative"),
    ({"workers": "2"}, TypeError, "workers must be None or an integer, not 'str'"),
    ({"options": {"zstd": {"level": 3}}}, ValueError, r"unknown zstd decoder option 'level'"),
    ({"options": {"llm": {"n_thread": 2}}}, ValueError, "unknown llm decoder option 'n_thread'"),
    ({"options": {"nope": {}}}, ValueError, "options names an unknown codec 'nope'"),
    ({"options": ["llm"]}, TypeError, "options must be a mapping"),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD_DECOMPRESS_ARGUMENTS)
def test_bad_decompress_arguments(kwargs: dict, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        nacrith.Decompressor(**kwargs)


def test_bad_stream_arguments() -> None:
    compressor = nacrith.Compressor("zstd")
    with pytest.raises(ValueError, match="size must be non-negative, got -1"):
        compressor.compress_stream(io.BytesIO(b"x"), io.BytesIO(), size=-1)
    with pytest.raises(TypeError, match="size must be None or an integer, not 'str'"):
        compressor.compress_stream(io.BytesIO(b"x"), io.BytesIO(), size="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="progress must be callable, not 'int'"):
        compressor.compress_stream(io.BytesIO(b"x"), io.BytesIO(), progress=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="progress must be callable"):
        nacrith.Decompressor().decompress_stream(io.BytesIO(), io.BytesIO(), progress="x")  # type: ignore[arg-type]


def test_a_bad_setting_value_of_the_method_raises_at_construction(archive: Path) -> None:
    with pytest.raises(ValueError, match="min_phrase must be an integer"):
        nacrith.open(archive, "wb", method="fib", options={"fib": {"min_phrase": 1}})
    _unchanged(archive)


def test_known_settings_are_accepted() -> None:
    data = b"some text to compress\n" * 100
    archive = nacrith.compress(
        data, method="fib", options={"fib": {"min_phrase": 5}, "zstd": {"level": 3}}
    )
    assert nacrith.decompress(archive) == data
    decoder = nacrith.Decompressor(options={"llm": {"n_threads": 2}, "zstd": {}})
    assert decoder.decompress(archive) == data
