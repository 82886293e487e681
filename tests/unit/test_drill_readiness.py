"""Health of restored objects, judged from what the API server returns (table-driven)."""

from __future__ import annotations

import pytest

from dr_lib.drill.readiness import judge_health, service_endpoints


def _deploy(replicas: int, ready: int, generation: int = 1, observed: int = 1) -> dict:
    return {"kind": "Deployment", "metadata": {"generation": generation}, "spec": {"replicas": replicas},
            "status": {"readyReplicas": ready, "observedGeneration": observed}}


@pytest.mark.parametrize(("obj", "ok", "reason"), [
    (_deploy(2, 2), True, "2/2 replicas Ready"),
    (_deploy(2, 1), False, "1/2 replicas Ready"),
    (_deploy(2, 2, generation=2, observed=1), False, "its controller has not yet observed the latest spec"),
    ({"kind": "StatefulSet", "spec": {"replicas": 1}, "status": {}}, False, "0/1 replicas Ready"),
    ({"kind": "DaemonSet", "status": {"desiredNumberScheduled": 2, "numberReady": 2}}, True, "2/2 daemon pods Ready"),
    ({"kind": "PersistentVolumeClaim", "status": {"phase": "Pending"}}, False, "phase Pending, not Bound"),
    ({"kind": "PersistentVolumeClaim", "status": {"phase": "Bound"}}, True, "Bound"),
    ({"kind": "PersistentVolume", "spec": {"claimRef": {"name": "c"}}, "status": {"phase": "Released"}}, False,
     "phase Released, not Bound"),
    ({"kind": "PersistentVolume", "spec": {}, "status": {"phase": "Available"}}, True, "phase Available (no claim)"),
    ({"kind": "CustomResourceDefinition", "status": {"conditions": [{"type": "Established", "status": "True"}]}},
     True, "Established"),
    ({"kind": "CustomResourceDefinition", "status": {}}, False, "not Established yet"),
])
def test_judge_health(obj: dict, ok: bool, reason: str) -> None:
    health = judge_health(obj)
    assert health is not None and (health.ok, health.reason) == (ok, reason)


def test_kinds_without_health() -> None:
    assert judge_health({"kind": "ConfigMap"}) is None


def test_service_endpoints() -> None:
    service = {"kind": "Service", "metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}}}
    ready = {"endpoints": [{"conditions": {"ready": True}}, {"conditions": {"ready": False}}]}
    assert service_endpoints(service, [ready]).reason == "1 ready endpoints"
    assert not service_endpoints(service, []).ok
    assert not service_endpoints(service, [{"endpoints": [{"conditions": {"ready": False}}]}]).ok
    manual = {"kind": "Service", "spec": {}}
    assert service_endpoints(manual, []).ok
