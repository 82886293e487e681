"""The one user-object rule set (dr_lib.archive.userobjects), table-driven: what users made counts, what
the API server, the controllers and k3s made by themselves does not. The fresh-cluster proof against a
real API server is tests/integration/test_userobjects_fresh.py."""

from __future__ import annotations

from typing import Any

import pytest

from dr_lib.archive.userobjects import (
    NOT_USER_OBJECTS,
    NOT_USER_TYPES,
    count_user_objects,
    is_user_object,
    not_user_reason,
)
from dr_lib.restore import auto
from dr_lib.restore.plan import PlannedObject, TypeRef

RBAC = "rbac.authorization.k8s.io"
ADDON = {"objectset.rio.cattle.io/owner-gvk": "k3s.cattle.io/v1, Kind=Addon",
         "objectset.rio.cattle.io/owner-name": "local-storage",
         "objectset.rio.cattle.io/owner-namespace": "kube-system"}
CHART = {"objectset.rio.cattle.io/owner-gvk": "helm.cattle.io/v1, Kind=HelmChart"}
RANCHER = {"objectset.rio.cattle.io/owner-gvk": "management.cattle.io/v3, Kind=Cluster"}  # wrangler, not k3s
BOOTSTRAP = {"kubernetes.io/bootstrapping": "rbac-defaults"}


def obj(name: str, namespace: str = "", *, labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None, owners: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    for key, value in (("labels", labels), ("annotations", annotations), ("ownerReferences", owners)):
        if value is not None:
            meta[key] = value
    return {"metadata": meta}


# (resource, object, the rule that must say why it is not a user object, or None: a user object)
CASES: list[tuple[str, dict[str, Any], str | None]] = [
    ("namespaces", obj("kube-system"), "built-in-namespace"),
    ("namespaces", obj("default"), "built-in-namespace"),
    ("namespaces", obj("shop"), None),
    ("configmaps", obj("coredns", "kube-system"), "system-namespace"),
    ("deployments.apps", obj("traefik", "kube-system"), "system-namespace"),
    ("helmcharts.helm.cattle.io", obj("traefik", "kube-system"), "system-namespace"),
    ("helmchartconfigs.helm.cattle.io", obj("traefik", "kube-system"), "system-namespace"),
    ("helmcharts.helm.cattle.io", obj("my-chart", "shop"), None),  # a chart a user asked k3s to install
    ("configmaps", obj("cluster-info", "kube-public"), "system-namespace"),
    ("leases.coordination.k8s.io", obj("node-1", "kube-node-lease"), "type"),
    (f"clusterroles.{RBAC}", obj("admin", labels=BOOTSTRAP), "rbac-bootstrap"),
    (f"clusterrolebindings.{RBAC}", obj("system:basic-user", labels=BOOTSTRAP), "rbac-bootstrap"),
    (f"clusterroles.{RBAC}", obj("system:k3s-controller"), "rbac-system-name"),
    (f"clusterroles.{RBAC}", obj("mine"), None),
    (f"roles.{RBAC}", obj("system:mine", "shop"), None),  # the reserved prefix is for cluster-wide names
    ("storageclasses.storage.k8s.io", obj("local-path", annotations=ADDON), "k3s-applied"),
    ("apiservices.apiregistration.k8s.io", obj("v1beta1.metrics.k8s.io", annotations=ADDON), "k3s-applied"),
    (f"clusterroles.{RBAC}", obj("local-path-provisioner-role", annotations=ADDON), "k3s-applied"),
    ("jobs.batch", obj("helm-install-traefik", "shop", annotations=CHART), "k3s-applied"),
    ("configmaps", obj("cattle", "shop", annotations=RANCHER), None),
    (f"clusterroles.{RBAC}", obj("traefik-kube-system", annotations={
        "meta.helm.sh/release-name": "traefik", "meta.helm.sh/release-namespace": "kube-system"}), "k3s-chart-release"),
    ("ingressclasses.networking.k8s.io", obj("traefik", annotations={
        "meta.helm.sh/release-namespace": "kube-system"}), "k3s-chart-release"),
    (f"clusterroles.{RBAC}", obj("grafana", annotations={"meta.helm.sh/release-namespace": "monitoring"}), None),
    ("customresourcedefinitions.apiextensions.k8s.io", obj("addons.k3s.cattle.io"), "k3s-crd"),
    ("customresourcedefinitions.apiextensions.k8s.io", obj("helmchartconfigs.helm.cattle.io"), "k3s-crd"),
    ("customresourcedefinitions.apiextensions.k8s.io", obj("widgets.example.com"), None),
    ("serviceaccounts", obj("default", "shop"), "default-service-account"),
    ("serviceaccounts", obj("builder", "shop"), None),
    ("configmaps", obj("kube-root-ca.crt", "shop"), "kube-root-ca"),
    ("configmaps", obj("kube-root-ca.crt", "default"), "kube-root-ca"),
    ("configmaps", obj("app-settings", "default"), None),  # "default" is built in; what users put there is theirs
    ("services", obj("kubernetes", "default"), "kubernetes-service"),
    ("endpoints", obj("kubernetes", "default"), "kubernetes-service"),
    ("endpointslices.discovery.k8s.io", obj("kubernetes", "default"), "kubernetes-service"),
    ("services", obj("kubernetes", "shop"), None),
    ("endpointslices.discovery.k8s.io", obj("web-x7k2p", "shop", labels={
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}), "managed-endpoints"),
    ("endpoints", obj("web", "shop", annotations={"endpoints.kubernetes.io/last-change-trigger-time": "t"}),
     "managed-endpoints"),
    ("endpoints", obj("external-db", "shop"), None),  # hand-made, for a selector-less Service
    ("pods", obj("web-1", "shop", owners=[{"kind": "ReplicaSet", "name": "web", "controller": True}]),
     "controller-owned"),
    ("configmaps", obj("cfg", "shop", owners=[{"kind": "Widget", "name": "w"}]), None),  # owned, not by a controller
    ("priorityclasses.scheduling.k8s.io", obj("system-node-critical"), "system-priority-class"),
    ("priorityclasses.scheduling.k8s.io", obj("batch-low"), None),
    ("flowschemas.flowcontrol.apiserver.k8s.io", obj("exempt", annotations={
        "apf.kubernetes.io/autoupdate-spec": "true"}), "apf-defaults"),
    ("flowschemas.flowcontrol.apiserver.k8s.io", obj("my-tenant"), None),
    ("apiservices.apiregistration.k8s.io", obj("v1.apps", labels={
        "kube-aggregator.kubernetes.io/automanaged": "onstart"}), "automanaged-apiservice"),
    ("apiservices.apiregistration.k8s.io", obj("v1beta1.custom.metrics.k8s.io"), None),
    ("servicecidrs.networking.k8s.io", obj("kubernetes"), "default-service-cidr"),
    ("servicecidrs.networking.k8s.io", obj("extra-range"), None),
    ("clustertrustbundles.certificates.k8s.io", obj("kubernetes.io:kube-apiserver-serving:83a667f358d37c71839d81af"),
     "apiserver-serving-ca"),
    ("clustertrustbundles.certificates.k8s.io", obj("example.com:mysigner:1"), None),
    ("configmaps", obj("kubernetes.io:kube-apiserver-serving:x", "shop"), None),  # the prefix alone is not enough
    ("events", obj("web.17a", "shop"), "type"),
    ("nodes", obj("node-1"), "type"),
    ("ipaddresses.networking.k8s.io", obj("10.43.0.10"), "type"),
    ("addons.k3s.cattle.io", obj("coredns", "kube-system"), "type"),
    ("widgets.example.com", obj("w1", "shop"), None),
    # Hostile shapes are simply user objects: the rules never fail on what an archive holds.
    ("configmaps", {"metadata": "not a mapping"}, None),
    ("configmaps", {"metadata": {"name": 5, "labels": ["x"], "annotations": None, "ownerReferences": "x"}}, None),
    ("configmaps", {}, None),
    (f"clusterroles.{RBAC}", {"metadata": {"name": "x", "annotations": {
        "objectset.rio.cattle.io/owner-gvk": ["unhashable"], "meta.helm.sh/release-namespace": {"a": 1}},
        "labels": {"kubernetes.io/bootstrapping": ["rbac-defaults"]}}}, None),
]
RULE_REASONS = {rule.name: rule.reason for rule in NOT_USER_OBJECTS}


@pytest.mark.parametrize(("resource", "body", "rule"), CASES, ids=[f"{c[0]} {c[2]}" for c in CASES])
def test_rules_with_reasons(resource: str, body: dict[str, Any], rule: str | None) -> None:
    reason = not_user_reason(resource, body)
    if rule is None:
        assert reason is None
    elif rule == "type":
        assert reason == NOT_USER_TYPES[resource]
    else:
        assert reason == RULE_REASONS[rule]
    assert is_user_object(resource, body) is (rule is None)


def test_every_rule_is_the_first_match_of_some_case_and_has_a_reason() -> None:
    # No dead row: a rule shadowed by an earlier one would be documentation that never applies.
    assert {rule for _, _, rule in CASES} >= set(RULE_REASONS)
    assert all(rule.reason and rule.name for rule in NOT_USER_OBJECTS)
    assert all(NOT_USER_TYPES.values())


def test_counting_and_auto_restore_use_the_same_rules() -> None:
    objects = [obj("kube-root-ca.crt", "shop"), obj("a", "shop"), obj("b", "shop")]
    assert count_user_objects("configmaps", objects) == 2
    configmaps = TypeRef("", "v1", "configmaps", "ConfigMap", True)
    planned = [PlannedObject(configmaps, {"apiVersion": "v1", "kind": "ConfigMap", **o}) for o in objects]
    assert [auto.is_user_object(p) for p in planned] == [False, True, True]
