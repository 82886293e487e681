"""Table-driven tests of the per-kind sanitizers (pure)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from restore_helpers import ENTRIES, obj

from dr_lib.restore.plan import ArchiveContext, PlanOptions, TypeRef, sanitize
from dr_lib.restore.plan.sanitize import ANNOTATIONS_DROPPED, METADATA_DROPPED, SANITIZERS

NO_CONTEXT = ArchiveContext()


def _run(resource: str, o: dict[str, Any], context: ArchiveContext = NO_CONTEXT,
         options: PlanOptions | None = None) -> dict[str, Any]:
    return sanitize(TypeRef.of(ENTRIES[resource]), o, context, options or PlanOptions())


def _port_key(port: int) -> str:
    return "k:" + json.dumps({"port": port, "protocol": "TCP"}, separators=(",", ":"))


NODEPORT_SERVICE = {
    "type": "NodePort", "clusterIP": "10.43.7.7", "clusterIPs": ["10.43.7.7"],
    "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}, {"port": 443, "protocol": "TCP", "nodePort": 31443}],
}

# (case, resource, object, context, options, path → expected value; MISSING = field absent)
MISSING = object()
CASES: list[tuple[str, str, dict[str, Any], ArchiveContext, PlanOptions, dict[str, Any]]] = [
    ("server metadata and status dropped", "configmaps",
     obj("configmaps", "c", "a", data={"k": "v"}, status={"x": 1},
         metadata={"labels": {"l": "1"}, "annotations": {"a": "1"}, "finalizers": ["f"], "generateName": "c-",
                   "ownerReferences": [{"uid": "u", "controller": False}]}),
     NO_CONTEXT, PlanOptions(),
     {"metadata.uid": MISSING, "metadata.resourceVersion": MISSING, "metadata.generation": MISSING,
      "metadata.creationTimestamp": MISSING, "metadata.managedFields": MISSING, "metadata.ownerReferences": MISSING,
      "metadata.generateName": MISSING, "status": MISSING, "metadata.labels": {"l": "1"},
      "metadata.annotations": {"a": "1"}, "metadata.finalizers": ["f"], "data": {"k": "v"}}),
    ("controller annotations dropped, empty annotations removed", "deployments.apps",
     obj("deployments.apps", "d", "a", metadata={"annotations": {"deployment.kubernetes.io/revision": "4"}}),
     NO_CONTEXT, PlanOptions(), {"metadata.annotations": MISSING}),
    ("ClusterIP service: clusterIP and clusterIPs cleared", "services",
     obj("services", "s", "a", spec={"clusterIP": "10.43.0.9", "clusterIPs": ["10.43.0.9"], "ports": [{"port": 80}]}),
     NO_CONTEXT, PlanOptions(), {"spec.clusterIP": MISSING, "spec.clusterIPs": MISSING}),
    ("headless service keeps None", "services",
     obj("services", "s", "a", spec={"clusterIP": "None", "clusterIPs": ["None"]}),
     NO_CONTEXT, PlanOptions(), {"spec.clusterIP": "None", "spec.clusterIPs": ["None"]}),
    ("allocated nodePorts dropped", "services",
     obj("services", "s", "a", spec=json.loads(json.dumps(NODEPORT_SERVICE))),
     NO_CONTEXT, PlanOptions(), {"spec.ports": [{"port": 80, "protocol": "TCP"}, {"port": 443, "protocol": "TCP"}],
                                 "spec.type": "NodePort"}),
    ("nodePort in last-applied kept", "services",
     obj("services", "s", "a", spec=json.loads(json.dumps(NODEPORT_SERVICE)), metadata={"annotations": {
         "kubectl.kubernetes.io/last-applied-configuration": json.dumps(
             {"spec": {"ports": [{"port": 80, "nodePort": 30080}]}})}}),
     NO_CONTEXT, PlanOptions(),
     {"spec.ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}, {"port": 443, "protocol": "TCP"}]}),
    ("nodePort owned in managedFields kept", "services",
     obj("services", "s", "a", spec=json.loads(json.dumps(NODEPORT_SERVICE)), metadata={"managedFields": [
         {"manager": "kubectl-create", "fieldsV1": {"f:spec": {"f:ports": {_port_key(443): {"f:nodePort": {}}}}}}]}),
     NO_CONTEXT, PlanOptions(),
     {"spec.ports": [{"port": 80, "protocol": "TCP"}, {"port": 443, "protocol": "TCP", "nodePort": 31443}]}),
    ("--preserve-nodeports keeps all", "services",
     obj("services", "s", "a", spec=json.loads(json.dumps(NODEPORT_SERVICE))),
     NO_CONTEXT, PlanOptions(preserve_node_ports=True), {"spec.ports": NODEPORT_SERVICE["ports"]}),
    ("healthCheckNodePort dropped unless owned", "services",
     obj("services", "s", "a", spec={"type": "LoadBalancer", "healthCheckNodePort": 32000}),
     NO_CONTEXT, PlanOptions(), {"spec.healthCheckNodePort": MISSING}),
    ("PV claimRef uid and resourceVersion and bind annotations dropped", "persistentvolumes",
     obj("persistentvolumes", "pv1", metadata={"annotations": {"pv.kubernetes.io/bound-by-controller": "yes",
                                                               "pv.kubernetes.io/provisioned-by": "x"}},
         spec={"claimRef": {"kind": "PersistentVolumeClaim", "namespace": "a", "name": "c", "uid": "u",
                            "resourceVersion": "9", "apiVersion": "v1"}}, status={"phase": "Bound"}),
     NO_CONTEXT, PlanOptions(),
     {"spec.claimRef": {"kind": "PersistentVolumeClaim", "namespace": "a", "name": "c", "apiVersion": "v1"},
      "metadata.annotations": {"pv.kubernetes.io/provisioned-by": "x"}}),
    ("PVC of a restored PV keeps volumeName", "persistentvolumeclaims",
     obj("persistentvolumeclaims", "c", "a", spec={"volumeName": "pv1"},
         metadata={"annotations": {"pv.kubernetes.io/bind-completed": "yes",
                                   "volume.kubernetes.io/selected-node": "n1"}}),
     ArchiveContext(volume_names=frozenset({"pv1"})), PlanOptions(),
     {"spec.volumeName": "pv1", "metadata.annotations": MISSING}),
    ("PVC whose PV is not restored loses volumeName", "persistentvolumeclaims",
     obj("persistentvolumeclaims", "c", "a", spec={"volumeName": "pvc-123", "storageClassName": "local-path"}),
     NO_CONTEXT, PlanOptions(), {"spec.volumeName": MISSING, "spec.storageClassName": "local-path"}),
    ("SA drops auto token references, keeps others", "serviceaccounts",
     obj("serviceaccounts", "build", "a", secrets=[{"name": "build-token-x7k2p"}, {"name": "build-extra"}],
         imagePullSecrets=[{"name": "reg"}]),
     NO_CONTEXT, PlanOptions(), {"secrets": [{"name": "build-extra"}], "imagePullSecrets": [{"name": "reg"}]}),
    ("SA with only an auto token reference", "serviceaccounts",
     obj("serviceaccounts", "build", "a", secrets=[{"name": "build-token-x7k2p"}]),
     NO_CONTEXT, PlanOptions(), {"secrets": MISSING}),
    ("token secret loses token, ca.crt and uid annotation", "secrets",
     obj("secrets", "build-tok", "a", type="kubernetes.io/service-account-token",
         data={"token": "dA==", "ca.crt": "Yw==", "namespace": "YQ==", "extra": "eA=="},
         metadata={"annotations": {"kubernetes.io/service-account.name": "build",
                                   "kubernetes.io/service-account.uid": "u"}}),
     NO_CONTEXT, PlanOptions(),
     {"data": {"extra": "eA=="}, "metadata.annotations": {"kubernetes.io/service-account.name": "build"}}),
    ("opaque secret untouched", "secrets", obj("secrets", "s", "a", type="Opaque", data={"token": "dA=="}),
     NO_CONTEXT, PlanOptions(), {"data": {"token": "dA=="}}),
    ("pod loses nodeName and ephemeral containers", "pods",
     obj("pods", "p", "a", spec={"nodeName": "n1", "ephemeralContainers": [{"name": "dbg"}], "containers": []}),
     NO_CONTEXT, PlanOptions(), {"spec.nodeName": MISSING, "spec.ephemeralContainers": MISSING, "spec.containers": []}),
    ("job loses generated selector and uid labels", "jobs.batch",
     obj("jobs.batch", "j", "a", metadata={"labels": {"controller-uid": "u", "app": "x"}},
         spec={"selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}},
               "template": {"metadata": {"labels": {"batch.kubernetes.io/controller-uid": "u", "controller-uid": "u",
                                                    "job-name": "j"}}}}),
     NO_CONTEXT, PlanOptions(),
     {"spec.selector": MISSING, "metadata.labels": {"app": "x"}, "spec.template.metadata.labels": {"job-name": "j"}}),
    ("job with manualSelector keeps it", "jobs.batch",
     obj("jobs.batch", "j", "a", spec={"manualSelector": True, "selector": {"matchLabels": {"a": "b"}}}),
     NO_CONTEXT, PlanOptions(), {"spec.selector": {"matchLabels": {"a": "b"}}}),
]


def _get(o: dict[str, Any], path: str) -> Any:
    value: Any = o
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


@pytest.mark.parametrize(("resource", "original", "context", "options", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_sanitizer(resource: str, original: dict[str, Any], context: ArchiveContext, options: PlanOptions,
                   expected: dict[str, Any]) -> None:
    result = _run(resource, json.loads(json.dumps(original)), context, options)
    for path, value in expected.items():
        assert _get(result, path) == value if value is not MISSING else _get(result, path) is MISSING, path


def test_sanitize_is_idempotent() -> None:
    # Except where the evidence is managedFields, which the first pass drops: a restored object's
    # own managedFields (our create sent the nodePort) carry that evidence again in the new cluster.
    for case, resource, original, context, options, _expected in CASES:
        if "managedFields" in case:
            continue
        once = _run(resource, json.loads(json.dumps(original)), context, options)
        twice = _run(resource, json.loads(json.dumps(once)), context, options)
        assert once == twice


def test_every_rule_has_a_reason() -> None:
    for table in (METADATA_DROPPED, ANNOTATIONS_DROPPED):
        assert all(reason.strip() for reason in table.values())
    assert all(s.reason.strip() and s.resources for s in SANITIZERS)
