"""Stopping a local cluster's processes and removing its directory, safely.

Used by the in-process handle, by ``k3s-dr cluster down`` from another process, and by the
sweep of stale clusters (a test run that was killed). A directory is removed only when no
mount point is left under it: ``rmtree`` through a kubelet bind mount would delete files
that belong to the machine.
"""

from __future__ import annotations

import importlib
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dr_lib.errors import EnvironmentProblem
from k3s_dr_testbed.clusters.processes import ProcessRecord, is_alive, stop_in_order
from k3s_dr_testbed.clusters.state import ClusterState, iter_states, save_state

# Reverse start order; clients of the API server first, the datastore last (an API server
# whose datastore went away first ignored SIGTERM for over 15 s in the lab).
STOP_ORDER = (("kwok", "kube-scheduler", "kube-controller-manager"), ("kube-apiserver",), ("kine",))
GRACE_SECONDS = 3.0
REAL_NODE_MODULE = "k3s_dr_testbed.realnode.node"


def stop_groups(processes: tuple[ProcessRecord, ...]) -> list[list[ProcessRecord]]:
    """Processes grouped in stop order; unknown names go first (they were started last)."""
    known = {name for group in STOP_ORDER for name in group}
    groups = [[p for p in processes if p.name not in known]]
    groups += [[p for p in processes if p.name in group] for group in STOP_ORDER]
    return [group for group in groups if group]


def stop_processes(processes: tuple[ProcessRecord, ...], grace: float = GRACE_SECONDS) -> None:
    stop_in_order(stop_groups(tuple(p for p in processes if is_alive(p))), grace)


def mounts_under(directory: Path, mountinfo: str | None = None) -> list[str]:
    """Mount points at or below ``directory`` (from /proc/self/mountinfo)."""
    text = mountinfo if mountinfo is not None else Path("/proc/self/mountinfo").read_text()
    prefix = str(directory.resolve()) if mountinfo is None else str(directory)
    found = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) > 4:
            point = fields[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                found.append(point)
    return found


def remove_cluster_dir(directory: Path) -> None:
    if not directory.exists():
        return
    left = mounts_under(directory)
    if left:
        raise EnvironmentProblem(f"not removing {directory}: still mounted below it: {', '.join(left[:5])}",
                                 hint="unmount them (umount -R) and run `k3s-dr cluster down` again")
    shutil.rmtree(directory)


def real_node_function(name: str) -> Callable[..., Any] | None:
    """A function of the real-node module, if that module is installed (it is optional)."""
    try:
        module = importlib.import_module(REAL_NODE_MODULE)
    except ImportError:
        return None
    function = getattr(module, name, None)
    return function if callable(function) else None


def stop_real_node_from_state(state: ClusterState, timeout: float = 30.0) -> None:
    """Stop a real node this process has no handle of (`cluster down` from another process, sweep)."""
    if not state.real_node:
        return
    stopper = real_node_function("cleanup_real_node")
    kubeconfig = Path(state.kubeconfig) if state.kubeconfig and bool(state.alive_processes()) else None
    if stopper is not None and (Path(state.dir) / "node").exists():
        stopper(Path(state.dir) / "node", time.monotonic() + timeout, kubeconfig)


def sweep_stale(root: Path) -> list[str]:
    """Stop and remove clusters whose owning process is gone; mark crashed ones stopped.

    Returns the names of the clusters removed. Clusters of live owners are left alone, so
    test runs of several people on one machine do not disturb each other.
    """
    removed: list[str] = []
    for state in iter_states(root):
        if not state.is_stale():
            continue
        if state.owner is not None and not state.owner.alive():
            stop_real_node_from_state(state)
            stop_processes(state.processes, grace=0.5)
            remove_cluster_dir(Path(state.dir))
            removed.append(state.name)
        elif state.status == "running":
            save_state(state.with_changes(status="stopped"))
    return removed
