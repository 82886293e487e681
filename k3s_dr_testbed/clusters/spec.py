"""What the test bed's providers share: cluster names, node counts, extra flags and where
clusters live on disk. The request (:class:`ClusterSpec`) and the handle (:class:`ClusterHandle`)
are dr_lib's, defined by its cluster door (:mod:`dr_lib.cluster.provider`)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from dr_lib.cluster.provider import DEFAULT_NODES, ClusterHandle, ClusterSpec
from dr_lib.errors import ToolMissing, UsageError

HOME_ENV = "K3S_DR_HOME"
DEFAULT_HOME = "~/.local/state/k3s-dr"

# A DNS label, short enough to be a k3d cluster name and a readable directory name.
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")
NAME_ACCEPTED = "1-32 characters: lowercase letters, digits and '-', starting and ending with a letter or digit"

MAX_NODES = 100

__all__ = ["DEFAULT_NODES", "MAX_NODES", "ClusterHandle", "ClusterSpec", "ToolMissing", "cluster_dir", "clusters_root",
           "home_dir", "validate_flags", "validate_name", "validate_nodes"]


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
