"""Plain-dict archive objects for the pure restore planner's unit tests.

``FakeEntry`` stands in for the archive's FileEntry (the planner needs only its type fields).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FakeEntry:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool


ENTRIES = {
    "namespaces": FakeEntry("", "v1", "namespaces", "Namespace", False),
    "configmaps": FakeEntry("", "v1", "configmaps", "ConfigMap", True),
    "secrets": FakeEntry("", "v1", "secrets", "Secret", True),
    "services": FakeEntry("", "v1", "services", "Service", True),
    "endpoints": FakeEntry("", "v1", "endpoints", "Endpoints", True),
    "pods": FakeEntry("", "v1", "pods", "Pod", True),
    "serviceaccounts": FakeEntry("", "v1", "serviceaccounts", "ServiceAccount", True),
    "persistentvolumes": FakeEntry("", "v1", "persistentvolumes", "PersistentVolume", False),
    "persistentvolumeclaims": FakeEntry("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True),
    "events": FakeEntry("", "v1", "events", "Event", True),
    "nodes": FakeEntry("", "v1", "nodes", "Node", False),
    "deployments.apps": FakeEntry("apps", "v1", "deployments", "Deployment", True),
    "replicasets.apps": FakeEntry("apps", "v1", "replicasets", "ReplicaSet", True),
    "jobs.batch": FakeEntry("batch", "v1", "jobs", "Job", True),
    "leases.coordination.k8s.io": FakeEntry("coordination.k8s.io", "v1", "leases", "Lease", True),
    "clusterroles.rbac.authorization.k8s.io": FakeEntry("rbac.authorization.k8s.io", "v1", "clusterroles",
                                                        "ClusterRole", False),
    "rolebindings.rbac.authorization.k8s.io": FakeEntry("rbac.authorization.k8s.io", "v1", "rolebindings",
                                                        "RoleBinding", True),
    "customresourcedefinitions.apiextensions.k8s.io": FakeEntry(
        "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False),
    "widgets.example.com": FakeEntry("example.com", "v1", "widgets", "Widget", True),
    "helmcharts.helm.cattle.io": FakeEntry("helm.cattle.io", "v1", "helmcharts", "HelmChart", True),
    "storageclasses.storage.k8s.io": FakeEntry("storage.k8s.io", "v1", "storageclasses", "StorageClass", False),
    "validatingwebhookconfigurations.admissionregistration.k8s.io": FakeEntry(
        "admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration",
        False),
    "ingresses.networking.k8s.io": FakeEntry("networking.k8s.io", "v1", "ingresses", "Ingress", True),
    "clustertrustbundles.certificates.k8s.io": FakeEntry("certificates.k8s.io", "v1", "clustertrustbundles",
                                                         "ClusterTrustBundle", False),
}

SERVER_METADATA = {
    "uid": "0b3c2d4e-0000-4000-8000-000000000001",
    "resourceVersion": "12345",
    "generation": 3,
    "creationTimestamp": "2026-11-28T10:00:00Z",
    "managedFields": [{"manager": "kubectl", "operation": "Update", "fieldsV1": {}}],
}


def obj(resource: str, name: str, namespace: str | None = None, **fields: Any) -> dict[str, Any]:
    """An archive object of ``resource`` as the API server returned it (server metadata included)."""
    entry = ENTRIES[resource]
    meta: dict[str, Any] = {"name": name, **copy.deepcopy(SERVER_METADATA)}
    if namespace is not None:
        meta["namespace"] = namespace
    meta.update(fields.pop("metadata", {}))
    api_version = entry.version if not entry.group else f"{entry.group}/{entry.version}"
    return {"apiVersion": api_version, "kind": entry.kind, "metadata": meta, **fields}


def stream(*objects: dict[str, Any]) -> list[tuple[FakeEntry, dict[str, Any]]]:
    """The (entry, object) pairs an archive reader yields, entry found from the object's kind."""
    by_kind = {(e.kind, e.version if not e.group else f"{e.group}/{e.version}"): e for e in ENTRIES.values()}
    return [(by_kind[(o["kind"], o["apiVersion"])], o) for o in objects]
