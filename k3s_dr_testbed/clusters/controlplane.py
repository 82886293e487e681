"""Booting the local control plane on a cluster directory: kine → kube-apiserver →
controller-manager, scheduler, kwok → fake nodes → (real node) → ready.

The same function starts a fresh cluster and restarts a stopped one on its existing
directory (the datastore restore replaces ``server/db/state.db`` in between). Every wait
shares one deadline; a component that exits fails the start at once with its log tail;
on any failure everything started so far is stopped again.
"""

from __future__ import annotations

import socket
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dr_lib.errors import DeadlineExceeded, EnvironmentProblem
from dr_lib.kube.client import Kube
from k3s_dr_testbed.clusters import components as cmd
from k3s_dr_testbed.clusters.binaries import binary_versions
from k3s_dr_testbed.clusters.cleanup import real_node_function, stop_processes
from k3s_dr_testbed.clusters.files import write_atomic
from k3s_dr_testbed.clusters.kubeconfig_file import write_kubeconfig
from k3s_dr_testbed.clusters.kwok_nodes import ensure_nodes, node_names
from k3s_dr_testbed.clusters.pki import ensure_admin_token, ensure_pki
from k3s_dr_testbed.clusters.ports import LOOPBACK
from k3s_dr_testbed.clusters.processes import ProcessRecord, check_running, spawn
from k3s_dr_testbed.clusters.readiness import wait_default_service_account, wait_nodes_ready, wait_readyz
from k3s_dr_testbed.clusters.spec import ToolMissing
from k3s_dr_testbed.clusters.state import ClusterState, save_state


@dataclass
class Booted:
    state: ClusterState
    token: str
    real_node: Any  # the real-node handle (has .stop()), or None


def check_datastore(db_path: Path) -> None:
    """Refuse a corrupt SQLite file before kine opens it (kine would fail in obscure ways)."""
    if not db_path.exists():
        return
    try:
        connection = sqlite3.connect(f"file:{db_path}?mode=rw", uri=True, timeout=5)
        try:
            rows = connection.execute("PRAGMA integrity_check").fetchall()
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise EnvironmentProblem(f"SQLite datastore {db_path} is unusable: {exc}",
                                 hint="restore it from a backup or remove the cluster directory") from None
    verdict = "; ".join(str(row[0]) for row in rows[:5])
    if verdict != "ok":
        raise EnvironmentProblem(f"SQLite datastore {db_path} failed PRAGMA integrity_check: {verdict}",
                                 hint="restore it from a backup or remove the cluster directory")


def wait_port(port: int, deadline: float, check_alive: Callable[[], None], what: str) -> None:
    while True:
        check_alive()
        if time.monotonic() >= deadline:
            raise DeadlineExceeded(f"timed out waiting for {what} to listen on {LOOPBACK}:{port}")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)


class _Starter:
    """Spawns components, recording each in state.json at once (a crash mid-start leaves a trace)."""

    def __init__(self, state: ClusterState, die_with_parent: bool) -> None:
        self.state = state
        self.records: list[ProcessRecord] = []
        self.die_with_parent = die_with_parent

    def spawn(self, name: str, argv: list[str]) -> None:
        log = Path(self.state.dir) / "logs" / f"{name}.log"
        self.records.append(spawn(name, argv, log, die_with_parent=self.die_with_parent))
        self.state = self.state.with_changes(processes=tuple(self.records))
        save_state(self.state)

    def check_alive(self) -> None:
        check_running(self.records)


def _prepare_files(state: ClusterState, layout: cmd.Layout) -> str:
    check_datastore(layout.db_path)
    layout.db_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pki = ensure_pki(layout.tls_dir, state.name)
    token = ensure_admin_token(pki)
    server = f"https://{LOOPBACK}:{state.ports['apiserver']}"
    write_kubeconfig(layout.kubeconfig, cluster_name=state.name, server=server, token=token,
                     ca_pem=pki.ca_cert.read_bytes())
    write_atomic(layout.kwok_config, cmd.kwok_config_text(), mode=0o644)
    return token


def boot(state: ClusterState, bin_dir: Path, deadline: float, *, die_with_parent: bool) -> Booted:
    """Start every component of ``state`` (its dir, ports, node count) and wait until ready."""
    started = time.monotonic()
    layout = cmd.Layout(Path(state.dir))
    ports = state.ports
    starter = _Starter(state, die_with_parent)
    real_node: Any = None
    pins = binary_versions(bin_dir)
    try:
        token = _prepare_files(state, layout)
        starter.spawn("kine", [*cmd.kine_argv(bin_dir, layout, ports), *state.kine_flags])
        wait_port(ports["kine"], deadline, starter.check_alive, "kine")
        apiserver = cmd.apiserver_argv(bin_dir, layout, ports, pins.kubernetes)
        starter.spawn("kube-apiserver", [*apiserver, *state.apiserver_flags])
        wait_readyz(LOOPBACK, ports["apiserver"], token, str(layout.pki.ca_cert), deadline=deadline,
                    check_alive=starter.check_alive)
        starter.spawn("kube-controller-manager",
                      cmd.controller_manager_argv(bin_dir, layout, ports, state.name, pins.kubernetes))
        starter.spawn("kube-scheduler", cmd.scheduler_argv(bin_dir, layout, ports))
        starter.spawn("kwok", cmd.kwok_argv(bin_dir, layout, ports))
        with Kube.from_kubeconfig(layout.kubeconfig) as kube:
            names = node_names(state.nodes)
            ensure_nodes(kube, names)
            if state.real_node:
                real_node = _start_real_node(layout, bin_dir, deadline)
            wait_default_service_account(kube, deadline, starter.check_alive)
            wait_nodes_ready(kube, names, deadline, starter.check_alive)
            version = kube.version()
    except BaseException:
        if real_node is not None:
            real_node.stop()
        stop_processes(tuple(starter.records), grace=1.0)
        save_state(starter.state.with_changes(status="stopped"))
        raise
    versions = {**pins.as_dict(), "kubernetes": version}
    final = starter.state.with_changes(
        status="running", server=f"https://{LOOPBACK}:{ports['apiserver']}", kubeconfig=str(layout.kubeconfig),
        versions=versions, bin_dir=str(bin_dir), seconds=round(time.monotonic() - started, 2))
    save_state(final)
    return Booted(final, token, real_node)


def _start_real_node(layout: cmd.Layout, bin_dir: Path, deadline: float) -> Any:
    starter = real_node_function("start_real_node")
    if starter is None:
        raise ToolMissing("real node support not installed",
                                 hint="k3s_dr_testbed.realnode.node is missing; start without --real-node")
    # The real node keeps everything under <cluster dir>/node (layout.node_dir).
    return starter(layout.dir, layout.kubeconfig, bin_dir, deadline)
