"""``state.json``: what a local cluster's directory records about its processes and ports.

The file is the single source of truth for ``cluster status|list|down`` run from another
process, and for sweeping clusters whose owner (a test run) died without stopping them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dr_lib.errors import EnvironmentProblem
from k3s_dr_testbed.clusters.files import write_atomic
from k3s_dr_testbed.clusters.processes import ProcessRecord, is_alive, start_ticks

STATE_FILE = "state.json"
FORMAT = "k3s-dr-local-cluster"


@dataclass(frozen=True)
class Owner:
    """The process a test cluster belongs to; the cluster is stale once it is gone."""

    pid: int
    start_ticks: int

    @classmethod
    def current(cls) -> Owner:
        return cls(os.getpid(), start_ticks(os.getpid()) or -1)

    def alive(self) -> bool:
        return is_alive(ProcessRecord("owner", self.pid, self.start_ticks, ""))


@dataclass(frozen=True)
class ClusterState:
    name: str
    dir: str
    status: str  # "starting" | "running" | "stopped"
    nodes: int
    real_node: bool
    ports: dict[str, int] = field(default_factory=dict)
    processes: tuple[ProcessRecord, ...] = ()
    versions: dict[str, str] = field(default_factory=dict)
    server: str = ""
    kubeconfig: str = ""
    bin_dir: str = ""
    owner: Owner | None = None
    created: str = ""
    seconds: float = 0.0
    apiserver_flags: tuple[str, ...] = ()
    kine_flags: tuple[str, ...] = ()

    def with_changes(self, **changes: Any) -> ClusterState:
        return replace(self, **changes)

    def alive_processes(self) -> list[ProcessRecord]:
        return [record for record in self.processes if is_alive(record)]

    def is_stale(self) -> bool:
        """Owned by a process that is gone, or marked running with nothing running."""
        if self.owner is not None and not self.owner.alive():
            return True
        return self.status == "running" and not self.alive_processes()

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "name": self.name, "dir": self.dir, "status": self.status, "nodes": self.nodes,
            "real_node": self.real_node, "ports": self.ports, "processes": [p.to_json() for p in self.processes],
            "versions": self.versions, "server": self.server, "kubeconfig": self.kubeconfig,
            "bin_dir": self.bin_dir, "created": self.created, "seconds": self.seconds,
            "owner": None if self.owner is None else {"pid": self.owner.pid, "start_ticks": self.owner.start_ticks},
            "apiserver_flags": list(self.apiserver_flags), "kine_flags": list(self.kine_flags),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClusterState:
        owner = data.get("owner")
        return cls(
            name=str(data["name"]), dir=str(data["dir"]), status=str(data["status"]), nodes=int(data["nodes"]),
            real_node=bool(data.get("real_node", False)),
            ports={str(k): int(v) for k, v in dict(data.get("ports") or {}).items()},
            processes=tuple(ProcessRecord.from_json(p) for p in data.get("processes") or []),
            versions={str(k): str(v) for k, v in dict(data.get("versions") or {}).items()},
            server=str(data.get("server", "")), kubeconfig=str(data.get("kubeconfig", "")),
            bin_dir=str(data.get("bin_dir", "")), created=str(data.get("created", "")),
            seconds=float(data.get("seconds", 0.0)),
            owner=None if not owner else Owner(int(owner["pid"]), int(owner["start_ticks"])),
            apiserver_flags=tuple(str(f) for f in data.get("apiserver_flags") or ()),
            kine_flags=tuple(str(f) for f in data.get("kine_flags") or ()),
        )


def state_path(cluster_dir: Path) -> Path:
    return cluster_dir / STATE_FILE


def save_state(state: ClusterState) -> None:
    write_atomic(state_path(Path(state.dir)), json.dumps(state.to_json(), indent=2, sort_keys=True) + "\n")


def load_state(cluster_dir: Path) -> ClusterState | None:
    """The recorded state, or None if the directory holds none (or is not ours)."""
    path = state_path(cluster_dir)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise EnvironmentProblem(f"cluster state file {path} is unreadable: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise EnvironmentProblem(f"{path} is not a k3s-dr local cluster state file")
    return ClusterState.from_json(data)


def iter_states(root: Path) -> Iterator[ClusterState]:
    """Every readable cluster state under ``root`` (unreadable ones are skipped: not ours to judge)."""
    if not root.is_dir():
        return
    for child in sorted(root.iterdir()):
        try:
            state = load_state(child) if child.is_dir() else None
        except EnvironmentProblem:
            continue
        if state is not None:
            yield state


def recorded_ports(root: Path) -> set[int]:
    return {port for state in iter_states(root) for port in state.ports.values()}
