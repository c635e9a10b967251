"""Connecting this process to a Ray cluster, once, and sizing the coder actors on it."""

from __future__ import annotations

import importlib
import logging
import re
import socket
from types import ModuleType

from nacrith.errors import NacrithError

__all__ = ["ClusterError", "actor_resources", "connect", "import_ray"]

#: the Ray namespace the coder actors live in
NAMESPACE = "nacrith"
#: seconds to wait for a cluster's head to answer (Ray itself waits much longer)
REACH_TIMEOUT = 10.0


class ClusterError(NacrithError):
    """The cluster cannot be reached or used, or lost a batch more times than allowed."""


def import_ray() -> ModuleType:
    """The `ray` module; `ClusterError` naming the extra to install when it is missing."""
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise ClusterError(
            "running on a cluster needs Ray: pip install 'nacrith[cluster]'"
        ) from None


def connect(address: str) -> ModuleType:
    """Join the cluster at `address` (as `ray.init` takes it: ``host:port``,
    ``ray://host:10001``, ``auto``; or ``local``, a private instance started here by
    `nacrith.cluster.local`) unless this process is already connected (then that connection is
    used, whatever `address` says)."""
    if not isinstance(address, str) or not address:
        raise ValueError(f"cluster must be a non-empty address string, got {address!r}")
    ray = import_ray()
    if not ray.is_initialized():
        if address == "local":
            from nacrith.cluster.local import start_private

            address = start_private().address
        _check_reachable(address)
        try:
            ray.init(
                address=address,
                namespace=NAMESPACE,
                log_to_driver=False,
                logging_level=logging.WARNING,
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ClusterError(f"cannot connect to the Ray cluster at {address!r}: {exc}") from exc
    return ray


def _check_reachable(address: str) -> None:
    """`ClusterError` at once when a ``host:port`` address does not accept connections."""
    match = re.fullmatch(r"\[?([^\[\]/]+?)\]?:(\d+)", address)
    if match is None:
        return
    try:
        socket.create_connection((match.group(1), int(match.group(2))), REACH_TIMEOUT).close()
    except OSError as exc:
        raise ClusterError(f"cannot reach the Ray cluster at {address!r}: {exc}") from None


def actor_resources(ray: ModuleType, wanted: int | None, gpu: bool) -> tuple[int, float]:
    """(number of coder actors, CPUs or GPUs each asks for).

    `wanted` None or 0: one actor per CPU of the cluster (per GPU with `gpu`), each asking for
    a whole one; N: N actors; when they outnumber the CPUs each asks for 1/k of one, k the
    fewest actors per CPU that fits them all (on nodes of whole CPUs).
    """
    kind = "GPU" if gpu else "CPU"
    total = int(ray.cluster_resources().get(kind, 0.0))
    if total <= 0:
        raise ClusterError(f"the Ray cluster has no whole {kind}")
    count = wanted or total
    return count, 1.0 / -(-count // total)
