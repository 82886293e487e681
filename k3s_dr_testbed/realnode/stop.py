"""Stopping a real node and removing every trace of it, from what its directory records.

Order matters (seen on our machines): pods first (deleted through the API with grace 0, so no
object outlives the node), then the kubelet, then the containers (SIGKILL through our
containerd, started again if it died with shims still alive), then containerd, then mounts,
host traces and the bridge. Waiting for the kubelet to stop the containers itself took ~4 s
per stop and removed nothing our own teardown does not; every step runs even when an earlier
one failed, and what is left is named in the error.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dr_lib.errors import DRError, EnvironmentProblem
from dr_lib.kube.client import Kube
from k3s_dr_testbed.docker.mounts import current_mounts_under, unmount_all_under
from k3s_dr_testbed.realnode.api import drain_node, forget_node
from k3s_dr_testbed.realnode.config import NodeLayout, network_for_index
from k3s_dr_testbed.realnode.host import (
    ctr,
    delete_link,
    is_ours,
    pids_naming,
    start_process,
    stop_process,
    tool,
    wait_for_socket,
)

_PROCESS_GRACE = 5.0
# Paths the kubelet and CNI use whatever we configure; only entries that name our node are removed.
CONTAINER_LOG_LINKS = Path("/var/log/containers")
CNI_RESULTS = Path("/var/lib/cni/results")


@dataclass(frozen=True)
class StopReport:
    pods_deleted: int
    processes_killed: int
    mounts_removed: int
    bridge_removed: bool
    seconds: float
    notes: tuple[str, ...] = ()


def _load_state(layout: NodeLayout) -> dict[str, Any]:
    try:
        loaded = json.loads(layout.state_file.read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _kill_tree(pid: int) -> None:
    for child in _children(pid):
        _kill_tree(child)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _revive_containerd(layout: NodeLayout, deadline: float) -> int | None:
    """Containerd died but its shims did not: a new containerd on the same state adopts them."""
    if not pids_naming(str(layout.containerd_socket)) or not layout.containerd_config.is_file():
        return None
    pid = start_process([tool("containerd"), "--config", str(layout.containerd_config)], layout.log("containerd"))
    wait_for_socket(layout.containerd_socket, pid, str(layout.dir), layout.log("containerd"), deadline)
    return pid


def _kill_tasks(layout: NodeLayout, deadline: float) -> list[str]:
    """SIGKILL every task of our containerd and delete it; returns every container ID it knew."""
    socket = layout.containerd_socket
    containers = ctr(socket, ["containers", "ls", "-q"], deadline, "listing the node's containers").split()
    tasks = ctr(socket, ["tasks", "ls", "-q"], deadline, "listing the node's tasks").split()
    for task in tasks:
        with contextlib.suppress(DRError):
            ctr(socket, ["tasks", "kill", "--all", "--signal", "SIGKILL", task], deadline, f"killing task {task}")
    for task in tasks:
        with contextlib.suppress(DRError):
            ctr(socket, ["tasks", "delete", "--force", task], deadline, f"deleting task {task}")
    return containers


def _stop_runtime(layout: NodeLayout, deadline: float, notes: list[str]) -> tuple[int, list[str]]:
    """Kill the containers (through containerd, revived if need be), then containerd, then stray shims."""
    killed = 0
    containers: list[str] = []
    config = str(layout.containerd_config)
    try:
        if not pids_naming(config):
            _revive_containerd(layout, deadline)
        if pids_naming(config):
            containers = _kill_tasks(layout, deadline)
    except DRError as exc:
        notes.append(f"killing containers through containerd failed ({exc}); killing their shims instead")
    for containerd in pids_naming(config):
        killed += stop_process(containerd, config, _PROCESS_GRACE)
    for shim in pids_naming(str(layout.containerd_socket)):
        _kill_tree(shim)
        killed += 1
    return killed, containers


def cleanup_real_node(node_dir: Path, deadline: float, kubeconfig: Path | None = None) -> StopReport:
    """Stop whatever of the real node in ``node_dir`` still runs and remove its mounts and bridge.

    Safe to call on a node that is half started, already stopped, or whose starter was killed.
    Raises EnvironmentProblem naming what could not be removed.
    """
    started = time.monotonic()
    layout = NodeLayout(node_dir)
    state = _load_state(layout)
    notes: list[str] = []
    marker = str(layout.dir)
    kubelet = state.get("kubelet_pid")
    kubelet_alive = isinstance(kubelet, int) and is_ours(kubelet, marker)
    kube = _connect(kubeconfig, notes)
    pods = 0
    if kube is not None and kubelet_alive:
        try:
            pods = drain_node(kube)
        except DRError as exc:
            notes.append(f"could not delete the node's pods through the API ({exc}); killing their containers")
    killed = 0
    if isinstance(kubelet, int) and stop_process(kubelet, marker, _PROCESS_GRACE):
        killed += 1
    if kube is not None:
        with contextlib.suppress(DRError):
            forget_node(kube)
        kube.close()
    stopped, containers = _stop_runtime(layout, deadline, notes)
    killed += stopped
    unmounted = unmount_all_under(layout.dir, deadline)
    _remove_host_traces(layout, state, containers)
    bridge = state.get("bridge")
    bridge_problem = delete_link(bridge, deadline) if isinstance(bridge, str) else None
    leftovers = _leftovers(layout, bridge_problem)
    if leftovers:
        raise EnvironmentProblem(
            f"stopping the real node in {layout.dir} left: {'; '.join(leftovers)}",
            hint="; ".join(notes) or None,
        )
    layout.state_file.unlink(missing_ok=True)
    return StopReport(
        pods, killed, len(unmounted.unmounted), isinstance(bridge, str), time.monotonic() - started, tuple(notes)
    )


def _connect(kubeconfig: Path | None, notes: list[str]) -> Kube | None:
    if kubeconfig is None:
        return None
    try:
        return Kube.from_kubeconfig(kubeconfig)
    except DRError as exc:
        notes.append(f"cannot use {kubeconfig} ({exc}); stopping the node without the API server")
        return None


def _remove_host_traces(layout: NodeLayout, state: dict[str, Any], containers: list[str]) -> None:
    """Log links into our pod-logs dir and CNI result caches of our pods (left when pods were killed)."""
    with contextlib.suppress(OSError):
        for link in CONTAINER_LOG_LINKS.iterdir():
            if link.is_symlink() and str(link.readlink()).startswith(f"{layout.pod_logs}/"):
                link.unlink(missing_ok=True)
    index = state.get("network_index")
    ours = {f"-{container}-" for container in containers}
    prefix = f"{network_for_index(index).name}-" if isinstance(index, int) else None
    with contextlib.suppress(OSError):
        for cached in CNI_RESULTS.iterdir():
            # <network>-<sandbox id>-<interface>: our network's, or any network's for our sandboxes (lo)
            if (prefix and cached.name.startswith(prefix)) or any(tag in cached.name for tag in ours):
                cached.unlink(missing_ok=True)


def _leftovers(layout: NodeLayout, bridge_problem: str | None) -> list[str]:
    found = [f"process {pid}" for pid in pids_naming(str(layout.dir))]
    found += [f"mount {point}" for point in current_mounts_under(layout.dir)]
    if bridge_problem:
        found.append(f"bridge {bridge_problem}")
    return found
