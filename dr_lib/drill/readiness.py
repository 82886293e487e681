"""Is a live object serving? Pure judgements of objects as the API server returns them.

A restore that created every object has not yet brought an application back: Deployments and
StatefulSets must have their replicas Ready, claims must be Bound, volumes bound to their
claims, Services with a selector must have ready endpoints, CRDs must be Established. Each
check is a row of :data:`CHECKS` (kind → judge, and why it matters).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dr_lib.jsontypes import JSONObject


@dataclass(frozen=True)
class Health:
    ok: bool
    reason: str


def _status(obj: JSONObject) -> JSONObject:
    status = obj.get("status")
    return status if isinstance(status, dict) else {}


def _spec(obj: JSONObject) -> JSONObject:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def _generation_seen(obj: JSONObject) -> bool:
    generation = obj.get("metadata", {}).get("generation")
    observed = _status(obj).get("observedGeneration")
    return generation is None or (isinstance(observed, int) and observed >= generation)


def replicas_ready(obj: JSONObject) -> Health:
    """Deployment or StatefulSet: every wanted replica Ready, the latest spec observed."""
    wanted = _spec(obj).get("replicas", 1)
    ready = _status(obj).get("readyReplicas", 0) or 0
    if not _generation_seen(obj):
        return Health(False, "its controller has not yet observed the latest spec")
    if ready < wanted:
        return Health(False, f"{ready}/{wanted} replicas Ready")
    return Health(True, f"{ready}/{wanted} replicas Ready")


def daemons_ready(obj: JSONObject) -> Health:
    status = _status(obj)
    wanted, ready = status.get("desiredNumberScheduled", 0) or 0, status.get("numberReady", 0) or 0
    if not _generation_seen(obj) or ready < wanted:
        return Health(False, f"{ready}/{wanted} daemon pods Ready")
    return Health(True, f"{ready}/{wanted} daemon pods Ready")


def phase_bound(obj: JSONObject) -> Health:
    """PersistentVolumeClaim or PersistentVolume."""
    phase = _status(obj).get("phase", "unknown")
    if phase != "Bound":
        return Health(False, f"phase {phase}, not Bound")
    return Health(True, "Bound")


def volume_bound(obj: JSONObject) -> Health:
    """A volume backed up without a claim may stay Available; one with a claim must be Bound."""
    if not _spec(obj).get("claimRef"):
        phase = _status(obj).get("phase", "unknown")
        return Health(phase in ("Available", "Bound"), f"phase {phase} (no claim)")
    return phase_bound(obj)


def crd_established(obj: JSONObject) -> Health:
    for condition in _status(obj).get("conditions") or []:
        if isinstance(condition, dict) and condition.get("type") == "Established":
            if condition.get("status") == "True":
                return Health(True, "Established")
            return Health(False, f"not Established: {condition.get('message', '')}".rstrip(": "))
    return Health(False, "not Established yet")


def service_endpoints(service: JSONObject, slices: Sequence[JSONObject]) -> Health:
    """A Service with a selector must route to at least one ready endpoint."""
    if not _spec(service).get("selector"):
        return Health(True, "no selector: endpoints are managed by hand")
    ready = 0
    for endpoint_slice in slices:
        for endpoint in endpoint_slice.get("endpoints") or []:
            conditions = endpoint.get("conditions") or {}
            if conditions.get("ready", True):
                ready += 1
    if ready == 0:
        return Health(False, "no ready endpoints")
    return Health(True, f"{ready} ready endpoints")


Judge = Callable[[JSONObject], Health]

# kind → (judge, why the check matters). Services need their EndpointSlices, so they are judged
# by :func:`service_endpoints` with the slices passed in.
CHECKS: dict[str, tuple[Judge, str]] = {
    "Deployment": (replicas_ready, "a workload is back only when its replicas serve"),
    "StatefulSet": (replicas_ready, "the database is back only when its pod is Ready on its claim"),
    "DaemonSet": (daemons_ready, "every node's daemon must run again"),
    "PersistentVolumeClaim": (phase_bound, "an unbound claim means the data is not attached"),
    "PersistentVolume": (volume_bound, "a volume left Released never re-binds to its claim"),
    "CustomResourceDefinition": (crd_established, "custom resources are served only once Established"),
}


def judge_health(obj: JSONObject) -> Health | None:
    """The health of ``obj`` by its kind, or None when its kind has no health to judge."""
    check = CHECKS.get(str(obj.get("kind", "")))
    return None if check is None else check[0](obj)


def service_slice_name(service: JSONObject) -> str:
    """The label value EndpointSlices carry for their Service."""
    return str(service.get("metadata", {}).get("name", ""))
