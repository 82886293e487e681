"""The ``local`` provider: a real Kubernetes control plane from binaries on this machine.

``start_local(spec)`` → :class:`LocalCluster`. ``stop()`` stops everything and removes the
directory; ``stop_control_plane()`` / ``start_control_plane()`` keep the directory (and its
datastore ``server/db/state.db``) so a datastore restore can swap the file in between.
Clusters started by a test process are owned by it: they die with it and are swept later.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dr_lib.cluster.namespaces import NamespaceOps
from dr_lib.errors import EnvironmentProblem, UsageError
from dr_lib.kube.client import Kube
from k3s_dr_testbed.clusters import components as cmd
from k3s_dr_testbed.clusters.binaries import locate_binaries
from k3s_dr_testbed.clusters.cleanup import remove_cluster_dir, stop_processes, stop_real_node_from_state, sweep_stale
from k3s_dr_testbed.clusters.controlplane import boot
from k3s_dr_testbed.clusters.files import locked
from k3s_dr_testbed.clusters.ports import choose_ports, is_port_free, require_free
from k3s_dr_testbed.clusters.spec import (
    ClusterSpec,
    cluster_dir,
    clusters_root,
    home_dir,
    validate_flags,
    validate_name,
    validate_nodes,
)
from k3s_dr_testbed.clusters.state import ClusterState, Owner, load_state, recorded_ports, save_state
from k3s_dr_testbed.clusters.versions import accepted_text, release_of, resolve


@dataclass
class LocalCluster(NamespaceOps):
    """A running (or stopped, dir kept) local cluster. Satisfies :class:`ClusterHandle`."""

    state: ClusterState
    owned: bool = False
    _real_node: Any = field(default=None, repr=False)
    created_namespaces: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.state.name

    @property
    def dir(self) -> Path:
        return Path(self.state.dir)

    @property
    def kubeconfig(self) -> Path:
        return cmd.Layout(self.dir).kubeconfig

    @property
    def server(self) -> str:
        return self.state.server

    @property
    def kubernetes_version(self) -> str:
        return self.state.versions.get("kubernetes", "")

    @property
    def seconds(self) -> float:
        return self.state.seconds

    @property
    def db_path(self) -> Path:
        return cmd.Layout(self.dir).db_path

    @property
    def running(self) -> bool:
        return self.state.status == "running" and bool(self.state.alive_processes())

    def kube(self) -> Kube:
        return Kube.from_kubeconfig(self.kubeconfig)

    def stop_control_plane(self) -> None:
        """Stop every process, keep the directory: ``start_control_plane()`` resumes on it."""
        if self._real_node is not None:
            self._real_node.stop()
            self._real_node = None
        else:
            stop_real_node_from_state(self.state)
        stop_processes(self.state.processes)
        self.state = self.state.with_changes(status="stopped", processes=())
        save_state(self.state)

    def start_control_plane(self, timeout_seconds: float = 90.0) -> None:
        """Start again on the same directory (same ports if still free, else new ones)."""
        if self.running:
            raise UsageError(f"cluster {self.name!r} is already running")
        state = _with_usable_ports(self.state, home_dir_of(self.dir))
        bin_dir = locate_binaries(None, resume_version(state, None))
        booted = boot(state, bin_dir, time.monotonic() + timeout_seconds, die_with_parent=self.owned)
        self.state, self._real_node = booted.state, booted.real_node

    def stop(self) -> None:
        """Stop everything and remove the cluster's directory (again: nothing to do)."""
        if not self.dir.exists():
            return
        self.stop_control_plane()
        remove_cluster_dir(self.dir)

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def home_dir_of(directory: Path) -> Path:
    return directory.parent


def resume_version(existing: ClusterState | None, requested: str | None) -> str | None:
    """The release to start on: a cluster that ran before keeps the one its datastore was written by
    (no silent upgrade or downgrade); a new one gets what was asked for (None: the newest). Pure."""
    recorded = existing.versions.get("kubernetes", "") if existing is not None else ""
    if not recorded:
        return requested
    name = existing.name if existing is not None else "?"
    if requested is not None and resolve(requested).kubernetes != recorded:
        raise UsageError(f"cluster {name!r} was created with Kubernetes {recorded}; resuming it with "
                         f"{resolve(requested).kubernetes} is not supported",
                         hint=f"omit --kubernetes-version, or remove it first: `k3s-dr cluster down --name {name}`")
    if release_of(recorded) is None:
        raise UsageError(f"cluster {name!r} was created with Kubernetes {recorded}, which is no longer supported "
                         f"(accepted is {accepted_text()})",
                         hint=f"remove it (`k3s-dr cluster down --name {name}`) and start a new one")
    return recorded


def _with_usable_ports(state: ClusterState, root: Path) -> ClusterState:
    if all(is_port_free(port) for port in state.ports.values()):
        return state
    with locked(root / ".ports.lock"):
        fresh = choose_ports(len(cmd.PORT_NAMES), avoid=recorded_ports(root))
        return state.with_changes(ports=dict(zip(cmd.PORT_NAMES, fresh, strict=True)))


def _choose_ports(spec: ClusterSpec, root: Path) -> dict[str, int]:
    names = [n for n in cmd.PORT_NAMES if not (n == "apiserver" and spec.api_port)]
    avoid = recorded_ports(root) | ({spec.api_port} if spec.api_port else set())
    ports = dict(zip(names, choose_ports(len(names), avoid=avoid), strict=True))
    if spec.api_port:
        require_free(spec.api_port, "the API server")
        ports["apiserver"] = spec.api_port
    return ports


def _claim(spec: ClusterSpec, directory: Path, root: Path) -> tuple[ClusterState, bool]:
    """Record the new cluster (or resume a stopped one) under the lock; returns (state, fresh)."""
    existing = load_state(directory)
    if existing is not None and existing.alive_processes():
        raise UsageError(f"cluster {spec.name!r} is already running ({directory})",
                         hint=f"stop it with `k3s-dr cluster down --name {spec.name}` or choose another name")
    if existing is None and directory.exists() and any(directory.iterdir()):
        raise UsageError(f"{directory} exists and is not a k3s-dr cluster directory; not touching it")
    fresh = existing is None
    # A fresh start is owned by this process until it is ready, so a start killed half-way is
    # swept; a resumed operator cluster never is (its directory holds the user's data).
    owner = Owner.current() if fresh or spec.owned_by_process else None
    state = ClusterState(
        name=spec.name, dir=str(directory), status="starting", nodes=spec.nodes, real_node=spec.real_node,
        ports=_choose_ports(spec, root), owner=owner, apiserver_flags=spec.apiserver_flags, kine_flags=spec.kine_flags,
        created=existing.created if existing else datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    save_state(state)
    return state, fresh


def start_local(spec: ClusterSpec, env: Mapping[str, str] | None = None) -> LocalCluster:
    """Start (or resume, if its directory holds a stopped cluster) a local cluster and wait until ready."""
    validate_name(spec.name)
    validate_nodes(spec.nodes)
    validate_flags("kube-apiserver", spec.apiserver_flags)
    validate_flags("kine", spec.kine_flags)
    deadline = time.monotonic() + spec.timeout_seconds
    directory = cluster_dir(spec, env)
    bin_dir = locate_binaries(env, resume_version(load_state(directory), spec.kubernetes_version))
    root = clusters_root(env) if spec.base_dir is None else directory.parent
    with locked(home_dir(env) / ".clusters.lock"):
        sweep_stale(root)
        state, fresh = _claim(spec, directory, root)
    try:
        booted = boot(state, bin_dir, deadline, die_with_parent=spec.owned_by_process)
    except BaseException:
        if fresh:
            _remove_quietly(directory)
        raise
    final = booted.state.with_changes(owner=Owner.current() if spec.owned_by_process else None)
    save_state(final)
    return LocalCluster(final, owned=spec.owned_by_process, _real_node=booted.real_node)


def _remove_quietly(directory: Path) -> None:
    # The start error is the one to report; a later sweep retries the removal.
    with contextlib.suppress(OSError, EnvironmentProblem):
        remove_cluster_dir(directory)


def open_local(name: str, env: Mapping[str, str] | None = None) -> LocalCluster:
    """The handle of an existing local cluster by name (for `status` and `down`)."""
    validate_name(name)
    directory = clusters_root(env) / name
    state = load_state(directory)
    if state is None:
        raise UsageError(f"no local cluster named {name!r} in {clusters_root(env)}",
                         hint="`k3s-dr cluster list` shows the clusters")
    return LocalCluster(state, owned=state.owner is not None and state.owner.pid == os.getpid())
