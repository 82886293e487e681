"""Pods for hooks: which run now, what workload owns one, and the pod a restore hook runs in."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from dr_lib.errors import DeadlineExceeded
from dr_lib.jsontypes import JSONObject
from dr_lib.kube.client import Kube, ResourceType
from dr_lib.kube.listing import list_all

PODS = ResourceType("", "v1", "pods", "Pod", True)
_WORKLOADS = {"StatefulSet": "statefulsets", "Deployment": "deployments", "DaemonSet": "daemonsets",
              "ReplicaSet": "replicasets"}
_POLL = 1.0


def running_pods(kube: Kube, namespace: str | None = None) -> list[JSONObject]:
    return list_all(kube, PODS, namespace=namespace, field_selector="status.phase=Running")


def _owner(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref  # type: ignore[no-any-return]
    return None


def workload_of(kube: Kube, pod: Mapping[str, Any]) -> dict[str, str] | None:
    """{"kind", "name"} of the workload that owns the pod (a ReplicaSet's Deployment), None for a bare pod."""
    ref = _owner(pod)
    if ref is None or ref.get("kind") not in _WORKLOADS:
        return None
    namespace = (pod.get("metadata") or {}).get("namespace", "")
    if ref["kind"] == "ReplicaSet":
        response = kube.request("GET", f"/apis/apps/v1/namespaces/{namespace}/replicasets/{ref['name']}")
        parent = _owner(response.body) if response.ok else None
        if parent is not None and parent.get("kind") == "Deployment":
            return {"kind": "Deployment", "name": str(parent["name"])}
    return {"kind": str(ref["kind"]), "name": str(ref["name"])}


def is_ready(pod: Mapping[str, Any]) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def _selector(kube: Kube, namespace: str, workload: Mapping[str, str]) -> str | None:
    plural = _WORKLOADS.get(workload.get("kind", ""))
    if plural is None:
        return None
    response = kube.request("GET", f"/apis/apps/v1/namespaces/{namespace}/{plural}/{workload['name']}")
    labels = ((response.body.get("spec") or {}).get("selector") or {}).get("matchLabels") if response.ok else None
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) if labels else None


def find_ready_pod(kube: Kube, namespace: str, pod: str, workload: Mapping[str, str] | None,
                   deadline: float) -> JSONObject:
    """The pod of that name, else a pod of the same workload, once Ready; DeadlineExceeded says what waited."""
    last = "not found"
    while True:
        response = kube.request("GET", f"/api/v1/namespaces/{namespace}/pods/{pod}")
        candidates = [response.body] if response.ok else []
        if not candidates and workload:
            selector = _selector(kube, namespace, workload)
            if selector:
                candidates = list_all(kube, PODS, namespace=namespace, label_selector=selector)
        ready = [c for c in candidates if is_ready(c)]
        if ready:
            return ready[0]
        if candidates:
            last = f"{len(candidates)} candidate pod(s), none Ready yet"
        if time.monotonic() >= deadline:
            owner = f" or a pod of {workload['kind']} {workload['name']}" if workload else ""
            what = f"pod {namespace}/{pod}{owner}"
            raise DeadlineExceeded(f"{what} was not Ready in time for its restore hook ({last})")
        time.sleep(_POLL)
