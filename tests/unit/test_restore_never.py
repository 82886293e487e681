"""Table-driven tests of the never-restore rules (pure)."""

from __future__ import annotations

from typing import Any

import pytest
from restore_helpers import ENTRIES, obj

from dr_lib.restore.plan import ArchiveContext, TypeRef
from dr_lib.restore.plan.never import NEVER_RESTORE_OBJECTS, NEVER_RESTORE_TYPES, never_restore_reason

OWNED = {"ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "r", "uid": "u",
                              "controller": True}]}
SELECTOR_SVC = ArchiveContext(selector_services=frozenset({("a", "web")}))

# (case, resource, object, context, expected reason fragment or None = restored)
CASES: list[tuple[str, str, dict[str, Any], ArchiveContext, str | None]] = [
    ("plain configmap restored", "configmaps", obj("configmaps", "c", "a"), ArchiveContext(), None),
    ("node", "nodes", obj("nodes", "n1"), ArchiveContext(), "nodes register themselves"),
    ("event", "events", obj("events", "e", "a"), ArchiveContext(), "history"),
    ("lease", "leases.coordination.k8s.io", obj("leases.coordination.k8s.io", "l", "a"), ArchiveContext(), "leases"),
    ("controller-owned pod", "pods", obj("pods", "p", "a", metadata=OWNED), ArchiveContext(), "owned by a controller"),
    ("controller-owned replicaset", "replicasets.apps", obj("replicasets.apps", "r", "a", metadata=OWNED),
     ArchiveContext(), "owned by a controller"),
    ("non-controller owner reference: restored", "configmaps",
     obj("configmaps", "c", "a", metadata={"ownerReferences": [{"uid": "u", "kind": "X", "name": "x"}]}),
     ArchiveContext(), None),
    ("standalone pod restored", "pods", obj("pods", "p", "a", status={"phase": "Running"}), ArchiveContext(), None),
    ("succeeded pod", "pods", obj("pods", "p", "a", status={"phase": "Succeeded"}), ArchiveContext(), "finished"),
    ("completed job", "jobs.batch", obj("jobs.batch", "j", "a", status={"completionTime": "2026-01-01T00:00:00Z"}),
     ArchiveContext(), "finished"),
    ("failed job", "jobs.batch", obj("jobs.batch", "j", "a", status={
        "conditions": [{"type": "Failed", "status": "True"}]}), ArchiveContext(), "finished"),
    ("running job restored", "jobs.batch", obj("jobs.batch", "j", "a", status={"active": 1}), ArchiveContext(), None),
    ("mirror pod", "pods", obj("pods", "p", "a", metadata={"annotations": {"kubernetes.io/config.mirror": "x"}}),
     ArchiveContext(), "static pod"),
    ("default/kubernetes service", "services", obj("services", "kubernetes", "default"), ArchiveContext(),
     "default/kubernetes"),
    ("a service named kubernetes elsewhere is restored", "services", obj("services", "kubernetes", "a"),
     ArchiveContext(), None),
    ("kube-root-ca.crt", "configmaps", obj("configmaps", "kube-root-ca.crt", "a"), ArchiveContext(), "kube-root-ca"),
    ("endpoints of a selector service", "endpoints", obj("endpoints", "web", "a"), SELECTOR_SVC, "endpoint"),
    ("hand-made endpoints restored", "endpoints", obj("endpoints", "ext", "a"), SELECTOR_SVC, None),
    ("helm chart", "helmcharts.helm.cattle.io", obj("helmcharts.helm.cattle.io", "traefik", "kube-system"),
     ArchiveContext(), "HelmCharts"),
    ("k3s objectset-annotated deployment", "deployments.apps",
     obj("deployments.apps", "coredns", "kube-system",
         metadata={"annotations": {"objectset.rio.cattle.io/applied": "x", "objectset.rio.cattle.io/id": "y"}}),
     ArchiveContext(), "k3s"),
    ("bootstrap RBAC", "clusterroles.rbac.authorization.k8s.io",
     obj("clusterroles.rbac.authorization.k8s.io", "admin", metadata={"labels": {
         "kubernetes.io/bootstrapping": "rbac-defaults"}}), ArchiveContext(), "bootstrap RBAC"),
    ("user clusterrole restored", "clusterroles.rbac.authorization.k8s.io",
     obj("clusterroles.rbac.authorization.k8s.io", "mine"), ArchiveContext(), None),
    ("legacy auto token secret", "secrets",
     obj("secrets", "build-token-x7k2p", "a", type="kubernetes.io/service-account-token",
         metadata={"annotations": {"kubernetes.io/service-account.name": "build"}}),
     ArchiveContext(), "auto-generated"),
    ("hand-made token secret restored", "secrets",
     obj("secrets", "build-token", "a", type="kubernetes.io/service-account-token",
         metadata={"annotations": {"kubernetes.io/service-account.name": "build"}}), ArchiveContext(), None),
    ("traefik installed from a k3s HelmChart", "deployments.apps",
     obj("deployments.apps", "traefik", "kube-system", metadata={"annotations": {
         "meta.helm.sh/release-name": "traefik", "meta.helm.sh/release-namespace": "kube-system"}}),
     ArchiveContext(k3s_chart_releases=frozenset({("kube-system", "traefik")})), "helm controller"),
    ("its helm release record", "secrets",
     obj("secrets", "sh.helm.release.v1.traefik.v1", "kube-system", type="helm.sh/release.v1",
         metadata={"labels": {"name": "traefik", "owner": "helm"}}),
     ArchiveContext(k3s_chart_releases=frozenset({("kube-system", "traefik")})), "helm controller"),
    ("a user's own helm release is restored", "deployments.apps",
     obj("deployments.apps", "shop", "shop", metadata={"annotations": {
         "meta.helm.sh/release-name": "shop", "meta.helm.sh/release-namespace": "shop"}}),
     ArchiveContext(k3s_chart_releases=frozenset({("kube-system", "traefik")})), None),
    ("k3s serving cert", "secrets", obj("secrets", "k3s-serving", "kube-system"), ArchiveContext(), "k3s writes"),
    ("the API server's serving CA bundle (1.37)", "clustertrustbundles.certificates.k8s.io",
     obj("clustertrustbundles.certificates.k8s.io", "kubernetes.io:kube-apiserver-serving:83a667f358d37c71839d81af",
         spec={"signerName": "kubernetes.io/kube-apiserver-serving", "trustBundle": "-----BEGIN CERTIFICATE-----"}),
     ArchiveContext(), "serving CA"),
    ("a user's trust bundle is restored", "clustertrustbundles.certificates.k8s.io",
     obj("clustertrustbundles.certificates.k8s.io", "example.com:mysigner:1",
         spec={"signerName": "example.com/mysigner", "trustBundle": "-----BEGIN CERTIFICATE-----"}),
     ArchiveContext(), None),
    ("a trust bundle without a spec is restored (the API server judges it)", "clustertrustbundles.certificates.k8s.io",
     obj("clustertrustbundles.certificates.k8s.io", "odd", spec="not a mapping"), ArchiveContext(), None),
    ("apiserver auth configmap", "configmaps", obj("configmaps", "extension-apiserver-authentication", "kube-system"),
     ArchiveContext(), "API server"),
]


@pytest.mark.parametrize(("resource", "o", "context", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_never_restore(resource: str, o: dict[str, Any], context: ArchiveContext, expected: str | None) -> None:
    reason = never_restore_reason(TypeRef.of(ENTRIES[resource]), o, context)
    if expected is None:
        assert reason is None
    else:
        assert reason is not None and expected in reason


def test_every_rule_has_a_reason_and_a_unique_name() -> None:
    assert all(reason.strip() for reason in NEVER_RESTORE_TYPES.values())
    names = [rule.name for rule in NEVER_RESTORE_OBJECTS]
    assert len(names) == len(set(names))
    assert all(rule.reason.strip() for rule in NEVER_RESTORE_OBJECTS)
