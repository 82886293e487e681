"""Test namespaces: created with a random suffix and a label, deleted only by who made them."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from dr_lib.errors import ClusterError, UsageError
from dr_lib.kube.client import Kube

CREATED_BY_LABEL = "k3s-dr.io/created-by"
CREATED_BY = "k3s-dr-tests"
_MAX_PREFIX = 40


def namespace_name(prefix: str, suffix: str) -> str:
    """A valid namespace name from any test name: lowercase, [a-z0-9-], at most 63 characters. Pure."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", prefix.lower()).strip("-")[:_MAX_PREFIX].strip("-") or "t"
    return f"{cleaned}-{suffix}"


def create_namespace(kube: Kube, prefix: str) -> str:
    name = namespace_name(prefix, secrets.token_hex(3))
    body = {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {CREATED_BY_LABEL: CREATED_BY}}}
    response = kube.request("POST", "/api/v1/namespaces", body=body)
    if not response.ok:
        raise ClusterError(f"creating namespace {name} failed: {response.reason}")
    return name


def delete_namespace(kube: Kube, name: str) -> None:
    """Start the deletion (the namespace controller finishes it); a missing namespace is fine."""
    response = kube.request("DELETE", f"/api/v1/namespaces/{name}")
    if not response.ok and response.status != 404:
        raise ClusterError(f"deleting namespace {name} failed: {response.reason}")


class NamespaceOps:
    """Namespace helpers for a handle; it records what it created and deletes only that."""

    created_namespaces: list[str]

    @property
    def kubeconfig(self) -> Path:
        raise NotImplementedError

    def create_namespace(self, prefix: str) -> str:
        with Kube.from_kubeconfig(self.kubeconfig) as kube:
            name = create_namespace(kube, prefix)
        self.created_namespaces.append(name)
        return name

    def delete_namespace(self, name: str) -> None:
        if name not in self.created_namespaces:
            raise UsageError(f"namespace {name!r} was not created by k3s-dr here: not deleting it")
        with Kube.from_kubeconfig(self.kubeconfig) as kube:
            delete_namespace(kube, name)
        self.created_namespaces.remove(name)
