"""`ncz compress/decompress --cluster ADDRESS` and $NACRITH_CLUSTER: the archive is the local
one, and decodes on the cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.ncz import ncz
from tests.samples import synthetic_log


def test_cluster_option_and_variable(cluster: str, tmp_path: Path):
    data = synthetic_log(3000, seed=3)
    (tmp_path / "app.log").write_bytes(data)
    local = ncz("compress", "-m", "logs", "-c", "app.log", cwd=tmp_path)
    assert local.returncode == 0, local.stderr.decode()
    remote = ncz("compress", "-m", "logs", "--cluster", cluster, "app.log", cwd=tmp_path)
    assert remote.returncode == 0, remote.stderr.decode()
    assert (tmp_path / "app.log.ncz").read_bytes() == local.stdout
    (tmp_path / "app.log").unlink()
    env = {"NACRITH_CLUSTER": cluster, "RAY_AUTH_MODE": "disabled"}
    decoded = ncz("decompress", "app.log.ncz", cwd=tmp_path, env=env)
    assert decoded.returncode == 0, decoded.stderr.decode()
    assert (tmp_path / "app.log").read_bytes() == data


def test_an_unreachable_cluster_is_an_error_that_names_it(tmp_path: Path):
    (tmp_path / "a.txt").write_bytes(b"hello\n" * 100)
    done = ncz("compress", "-m", "fib", "--cluster", "127.0.0.1:1", "a.txt", cwd=tmp_path)
    assert done.returncode != 0
    assert b"127.0.0.1:1" in done.stderr
    assert not (tmp_path / "a.txt.ncz").exists()


def test_a_url_input_is_read_by_the_actors_and_makes_the_local_archive(
    cluster: str, tmp_path: Path
):
    pytest.importorskip("fsspec")
    data = synthetic_log(3000, seed=5)
    (tmp_path / "app.log").write_bytes(data)
    local = ncz("compress", "-m", "logs", "-c", "app.log", cwd=tmp_path)
    url = (tmp_path / "app.log").as_uri()
    remote = ncz("compress", "-m", "logs", "--cluster", cluster, "-o", "url.ncz", url, cwd=tmp_path)
    assert remote.returncode == 0, remote.stderr.decode()
    assert (tmp_path / "url.ncz").read_bytes() == local.stdout
