"""Fake nodes: Node objects that kwok keeps Ready and whose pods it plays (no processes)."""

from __future__ import annotations

from typing import Any

from dr_lib.errors import ClusterError
from dr_lib.kube.client import Kube
from k3s_dr_testbed.clusters.components import KWOK_ANNOTATION

NODE_PREFIX = "kwok-node-"
CAPACITY = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "1Ti"}


def node_names(count: int) -> list[str]:
    return [f"{NODE_PREFIX}{index}" for index in range(count)]


def node_manifest(name: str) -> dict[str, Any]:
    key, value = KWOK_ANNOTATION
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {key: value},
            "labels": {
                "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                "type": "kwok", "node-role.kubernetes.io/agent": "",
            },
        },
        "status": {"allocatable": dict(CAPACITY), "capacity": dict(CAPACITY)},
    }


def ensure_nodes(kube: Kube, names: list[str]) -> None:
    """Create the nodes that do not exist yet (a restart on the same datastore keeps them)."""
    for name in names:
        response = kube.request("POST", "/api/v1/nodes", body=node_manifest(name))
        if not response.ok and response.status != 409:
            raise ClusterError(f"creating fake node {name} failed: {response.reason}")
