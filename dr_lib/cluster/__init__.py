"""Clusters to run k3s-dr against: ``local`` (binaries on this machine), ``k3d``, ``kubeconfig``.

The contract other areas use::

    handle = start_cluster(ClusterSpec("name", nodes=3))
    handle.kubeconfig, handle.server, handle.db_path    # kine's SQLite: <dir>/server/db/state.db
    handle.stop_control_plane(); ...; handle.start_control_plane()   # keep the dir (datastore restore)
    handle.stop()                                       # stop everything, remove the dir
"""

from __future__ import annotations

from dr_lib.cluster.local import LocalCluster, open_local, start_local
from dr_lib.cluster.spec import ClusterHandle, ClusterSpec


def start_cluster(spec: ClusterSpec) -> LocalCluster:
    """Start a local cluster (kine + control plane + kwok nodes) and wait until it is ready."""
    return start_local(spec)


__all__ = ["ClusterHandle", "ClusterSpec", "LocalCluster", "open_local", "start_cluster"]
