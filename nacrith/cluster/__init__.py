"""Coding batches of chunks on a Ray cluster (optional: ``pip install 'nacrith[cluster]'``).

`ClusterRunner` has `BatchRunner`'s interface; the pipeline uses it when `Settings.cluster` (or
`decompress_stream(cluster=...)`) names a cluster. Importing this package does not import ray:
only connecting does, so ``import nacrith`` never needs it.
"""

from nacrith.cluster.connect import ClusterError
from nacrith.cluster.shared import SharedSource, shared_source

__all__ = ["ClusterError", "ClusterRunner", "SharedSource", "shared_source"]


def __getattr__(name: str) -> object:
    if name == "ClusterRunner":
        from nacrith.cluster.runner import ClusterRunner

        return ClusterRunner
    raise AttributeError(name)
