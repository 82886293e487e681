"""The drill's own API calls: seed the application, read objects back, wait for health, wipe.

Every wait has a deadline (a monotonic time passed in) and reports, when it passes, exactly
which objects were not yet healthy and why.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dr_lib.drill.app import APP_GROUP, DRILL_LABEL
from dr_lib.drill.readiness import CHECKS, Health, judge_health, service_endpoints
from dr_lib.errors import ClusterError, DeadlineExceeded
from dr_lib.jsontypes import JSONObject
from dr_lib.kube.client import Kube, ResourceType

POLL_SECONDS = 0.25
FIELD_MANAGER = "k3s-dr-drill"

# The kinds the drill's application uses: (apiVersion, kind) → REST resource.
_TYPES: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "namespaces", "Namespace", False),
    ResourceType("", "v1", "configmaps", "ConfigMap", True),
    ResourceType("", "v1", "secrets", "Secret", True),
    ResourceType("", "v1", "serviceaccounts", "ServiceAccount", True),
    ResourceType("", "v1", "services", "Service", True),
    ResourceType("", "v1", "persistentvolumes", "PersistentVolume", False),
    ResourceType("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True),
    ResourceType("apps", "v1", "deployments", "Deployment", True),
    ResourceType("apps", "v1", "statefulsets", "StatefulSet", True),
    ResourceType("batch", "v1", "cronjobs", "CronJob", True),
    ResourceType("networking.k8s.io", "v1", "ingresses", "Ingress", True),
    ResourceType("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False),
    ResourceType(APP_GROUP, "v1", "courses", "Course", True),
)
APP_TYPES: dict[tuple[str, str], ResourceType] = {(t.api_version, t.kind): t for t in _TYPES}
ENDPOINT_SLICES = ResourceType("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True)
# kwok's own mark on the nodes it simulates: their pods are reported Running and Ready, nothing runs.
SIMULATED_NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")


def type_of(obj: JSONObject) -> ResourceType:
    key = (str(obj.get("apiVersion")), str(obj.get("kind")))
    if key not in APP_TYPES:
        raise KeyError(f"the drill does not know the resource of {key[0]} {key[1]}")
    return APP_TYPES[key]


def describe(obj: JSONObject) -> str:
    meta = obj.get("metadata", {})
    where = f"{meta.get('namespace')}/" if meta.get("namespace") else ""
    return f"{obj.get('kind')} {where}{meta.get('name')}"


def get_object(kube: Kube, rtype: ResourceType, name: str, namespace: str | None) -> JSONObject | None:
    response = kube.request("GET", rtype.object_path(name, namespace))
    if response.status == 404:
        return None
    if not response.ok:
        raise ClusterError(f"GET {rtype.kind} {name} on {kube.server} failed: {response.reason}")
    return response.body


def endpoint_slices(kube: Kube, namespace: str, service: str) -> list[JSONObject]:
    body = kube.get(ENDPOINT_SLICES.collection_path(namespace),
                    {"labelSelector": f"kubernetes.io/service-name={service}"})
    return [item for item in body.get("items") or [] if isinstance(item, dict)]


def live_health(kube: Kube, obj: JSONObject, rtype: ResourceType | None = None) -> Health | None:
    """The health of the live counterpart of ``obj`` (None: its kind has none to judge)."""
    kind = obj.get("kind")
    if kind != "Service" and kind not in CHECKS:
        return None
    meta = obj.get("metadata", {})
    live = get_object(kube, rtype or type_of(obj), meta["name"], meta.get("namespace"))
    if live is None:
        return Health(False, "absent")
    if kind == "Service":
        return service_endpoints(live, endpoint_slices(kube, meta.get("namespace", ""), meta["name"]))
    return judge_health(live)


@dataclass(frozen=True)
class NodeInfo:
    name: str
    simulated: bool  # a kwok node: no kubelet, no containers
    ready: bool
    kubelet: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "simulated": self.simulated, "ready": self.ready, "kubelet": self.kubelet}


def node_info(node: JSONObject) -> NodeInfo:
    meta, status = node.get("metadata") or {}, node.get("status") or {}
    key, value = SIMULATED_NODE_ANNOTATION
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    return NodeInfo(str(meta.get("name", "")), (meta.get("annotations") or {}).get(key) == value, ready,
                    str((status.get("nodeInfo") or {}).get("kubeletVersion", "")))


def cluster_nodes(kube: Kube) -> list[NodeInfo]:
    return sorted((node_info(n) for n in kube.get("/api/v1/nodes").get("items") or []), key=lambda n: n.name)


def pod_nodes(kube: Kube, namespace: str, match_labels: dict[str, str]) -> list[str]:
    """The node of each pod a workload's selector picks ("" for a pod not scheduled yet)."""
    if not match_labels:
        return []
    selector = ",".join(f"{k}={v}" for k, v in sorted(match_labels.items()))
    pods = kube.get(f"/api/v1/namespaces/{namespace}/pods", {"labelSelector": selector}).get("items") or []
    return [str((pod.get("spec") or {}).get("nodeName") or "") for pod in pods]


@dataclass(frozen=True)
class Unhealthy:
    what: str
    reason: str


def wait_until(check: Callable[[], list[Unhealthy]], deadline: float, doing: str) -> None:
    """Poll ``check`` until it reports nothing; on the deadline, raise naming what was left."""
    while True:
        left = check()
        if not left:
            return
        if time.monotonic() >= deadline:
            shown = "; ".join(f"{u.what}: {u.reason}" for u in left[:8])
            raise DeadlineExceeded(f"{doing}: {len(left)} not ready at the deadline — {shown}")
        time.sleep(POLL_SECONDS)


def unhealthy(kube: Kube, objects: Sequence[JSONObject]) -> list[Unhealthy]:
    found: list[Unhealthy] = []
    for obj in objects:
        health = live_health(kube, obj)
        if health is not None and not health.ok:
            found.append(Unhealthy(describe(obj), health.reason))
    return found


def create_objects(kube: Kube, objects: Sequence[JSONObject], deadline: float) -> int:
    """Create the objects in order; a custom resource waits until its CRD is Established."""
    crds = [o for o in objects if o.get("kind") == "CustomResourceDefinition"]
    established = False
    for obj in objects:
        rtype = type_of(obj)
        if rtype.group == APP_GROUP and not established:
            wait_until(lambda: unhealthy(kube, crds), deadline, "waiting for the CRD to be Established")
            established = True
        namespace = obj.get("metadata", {}).get("namespace")
        response = kube.request("POST", rtype.collection_path(namespace), body=obj,
                                query={"fieldManager": FIELD_MANAGER})
        if not response.ok:
            raise ClusterError(f"seeding {describe(obj)} failed: {response.reason}")
    return len(objects)


def _ours(live_obj: JSONObject | None, drill_id: str) -> bool:
    labels = (live_obj or {}).get("metadata", {}).get("labels") or {}
    return bool(labels.get(DRILL_LABEL) == drill_id)


def delete_objects(kube: Kube, objects: Sequence[JSONObject], drill_id: str, deadline: float) -> int:
    """Delete the application: its namespaces (with all inside) and cluster-scoped objects; wait
    until gone. Only objects carrying this drill's label: on a shared cluster a namespace that
    merely has the same name is never touched."""
    doomed: list[JSONObject] = []
    for obj in objects:
        if obj.get("metadata", {}).get("namespace"):
            continue
        rtype, name = type_of(obj), obj["metadata"]["name"]
        if not _ours(get_object(kube, rtype, name, None), drill_id):
            continue
        response = kube.request("DELETE", rtype.object_path(name), query={"propagationPolicy": "Background"})
        if not response.ok and response.status != 404:
            raise ClusterError(f"deleting {describe(obj)} failed: {response.reason}")
        doomed.append(obj)

    def still_there() -> list[Unhealthy]:
        return [Unhealthy(describe(o), "still present (terminating)") for o in doomed
                if get_object(kube, type_of(o), o["metadata"]["name"], None) is not None]

    wait_until(still_there, deadline, "waiting for the wiped objects to be gone")
    return len(doomed)
