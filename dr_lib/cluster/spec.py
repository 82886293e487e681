"""What every cluster provider shares: the request (:class:`ClusterSpec`), the handle it
returns (:class:`ClusterHandle`), cluster names and where clusters live on disk."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from dr_lib.errors import EnvironmentProblem, UsageError

HOME_ENV = "K3S_DR_HOME"
DEFAULT_HOME = "~/.local/state/k3s-dr"

# A DNS label, short enough to be a k3d cluster name and a readable directory name.
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")
NAME_ACCEPTED = "1-32 characters: lowercase letters, digits and '-', starting and ending with a letter or digit"

DEFAULT_NODES = 3
MAX_NODES = 100


class ToolMissing(EnvironmentProblem):
    """A tool or binary a provider needs is not on this machine (tests skip, naming it)."""


@dataclass(frozen=True)
class ClusterSpec:
    """A request for a cluster. ``base_dir`` overrides ``$K3S_DR_HOME/clusters/<name>``."""

    name: str
    nodes: int = DEFAULT_NODES
    real_node: bool = False
    base_dir: Path | None = None
    api_port: int | None = None  # None: a free loopback port is chosen
    timeout_seconds: float = 90.0  # for the whole start, every wait included
    # Test clusters die with the process that started them (PR_SET_PDEATHSIG) and are swept
    # when that process is gone; operator clusters from `k3s-dr cluster up` outlive the CLI.
    owned_by_process: bool = False
    # Extra command-line flags, appended after ours (the last of a repeated flag wins): for tests
    # that need a server configured otherwise, e.g. compacting every second.
    apiserver_flags: tuple[str, ...] = ()
    kine_flags: tuple[str, ...] = ()


@runtime_checkable
class ClusterHandle(Protocol):
    """A running cluster, whatever started it."""

    @property
    def name(self) -> str: ...

    @property
    def dir(self) -> Path: ...

    @property
    def kubeconfig(self) -> Path: ...

    @property
    def server(self) -> str: ...

    @property
    def kubernetes_version(self) -> str: ...

    @property
    def seconds(self) -> float: ...

    @property
    def db_path(self) -> Path | None: ...

    def stop(self) -> None: ...


def validate_name(name: str) -> str:
    if not _NAME.match(name):
        raise UsageError(f"cluster name {name!r} is not valid: accepted is {NAME_ACCEPTED}")
    return name


def validate_nodes(nodes: int) -> int:
    if not 0 <= nodes <= MAX_NODES:
        raise UsageError(f"node count {nodes} is not valid: accepted is 0 to {MAX_NODES}")
    return nodes


def validate_flags(component: str, flags: tuple[str, ...]) -> tuple[str, ...]:
    for flag in flags:
        if not flag.startswith("--") or len(flag) < 3:
            raise UsageError(f"{component} flag {flag!r} is not valid: accepted are --name or --name=value")
    return flags


def home_dir(env: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if env is None else env
    return Path(environ.get(HOME_ENV) or DEFAULT_HOME).expanduser()


def clusters_root(env: Mapping[str, str] | None = None) -> Path:
    return home_dir(env) / "clusters"


def cluster_dir(spec: ClusterSpec, env: Mapping[str, str] | None = None) -> Path:
    if spec.base_dir is not None:
        return spec.base_dir
    return clusters_root(env) / spec.name
