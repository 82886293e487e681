"""A pod whose claim is bound to a hostPath volume on a kwok node declared local: what the data tests back up.

kwok's pods never run a process, but the API objects are real: the backup resolves the claim to the
directory, and with the node listed in ``hooks.local_nodes`` (its "disk" is this machine's) and the
directory below ``data.volume_roots`` it stores it in the data repository.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from dr_lib.kube.client import Kube


def hostpath_claim_pod(kube: Kube, namespace: str, data: Path, *, claim: str = "uploads", pod: str = "web-0",
                       storage_class: str = "local-path-test") -> None:
    """PV (hostPath ``data``), bound claim and a pod mounting it with ``backup.k3s-dr.io/volumes``; Running."""
    pv = f"vol-{namespace}"
    for path, body in (
        ("/api/v1/persistentvolumes", {"metadata": {"name": pv}, "spec": {
            "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": storage_class,
            "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": str(data)}}}),
        (f"/api/v1/namespaces/{namespace}/persistentvolumeclaims", {"metadata": {"name": claim}, "spec": {
            "accessModes": ["ReadWriteOnce"], "storageClassName": storage_class, "volumeName": pv,
            "resources": {"requests": {"storage": "1Gi"}}}}),
        (f"/api/v1/namespaces/{namespace}/pods", {"metadata": {"name": pod, "annotations": {
            "backup.k3s-dr.io/volumes": claim}}, "spec": {
            "containers": [{"name": "main", "image": "docker.io/local/debian:bookworm"}],  # kwok: nothing runs
            "volumes": [{"name": claim, "persistentVolumeClaim": {"claimName": claim}}]}}),
    ):
        response = kube.request("POST", path, body=body)
        assert response.ok, f"POST {path}: {response.status} {response.reason}"
    deadline = time.monotonic() + 60
    while phase(kube, namespace, pod) != "Running":
        assert time.monotonic() < deadline, "the kwok pod never ran"
        time.sleep(0.5)


def phase(kube: Kube, namespace: str, pod: str) -> Any:
    return (kube.request("GET", f"/api/v1/namespaces/{namespace}/pods/{pod}").body.get("status") or {}).get("phase")


def node_names(kube: Kube) -> list[str]:
    return [n["metadata"]["name"] for n in kube.get("/api/v1/nodes")["items"]]
