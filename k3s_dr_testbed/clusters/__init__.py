"""The test bed's clusters: ``local`` (binaries on this machine) and ``k3d`` (see :mod:`.k3d`).

The contract tests and benchmarks use (dr_lib's drill reaches them through
:mod:`dr_lib.cluster.provider`, the ``kubeconfig`` provider is dr_lib's own)::

    handle = start_cluster(ClusterSpec("name", nodes=3))
    handle.kubeconfig, handle.server, handle.db_path    # kine's SQLite: <dir>/server/db/state.db
    handle.stop_control_plane(); ...; handle.start_control_plane()   # keep the dir (datastore restore)
    handle.stop()                                       # stop everything, remove the dir
"""

from __future__ import annotations

from k3s_dr_testbed.clusters.local import LocalCluster, open_local, start_local
from k3s_dr_testbed.clusters.spec import ClusterHandle, ClusterSpec


def start_cluster(spec: ClusterSpec) -> LocalCluster:
    """Start a local cluster (kine + control plane + kwok nodes) and wait until it is ready."""
    return start_local(spec)


__all__ = ["ClusterHandle", "ClusterSpec", "LocalCluster", "open_local", "start_cluster"]
