"""Scope resolution (pure): the seed's kinds, --all-resources, include/exclude, CRDs' custom resources."""

from __future__ import annotations

from typing import Any

import pytest

from dr_lib.backup.scope import (
    NEVER_BACK_UP,
    SEED_KINDS,
    ScopeOptions,
    custom_resource_types,
    list_namespaces,
    object_filter,
    resolve_scope,
)
from dr_lib.errors import UsageError
from dr_lib.kube.discovery import Discovery, parse_resource_list

ALL_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def _r(name: str, kind: str, namespaced: bool = True, verbs: list[str] | None = None,
       short: list[str] | None = None) -> dict[str, Any]:
    return {"name": name, "kind": kind, "namespaced": namespaced, "verbs": verbs or ALL_VERBS,
            "singularName": kind.lower(), "shortNames": short or []}


# What a v1.34 API server reports (trimmed), as API discovery JSON.
SERVED: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("", "v1"): [_r("namespaces", "Namespace", False, short=["ns"]), _r("configmaps", "ConfigMap", short=["cm"]),
                 _r("secrets", "Secret"), _r("services", "Service", short=["svc"]),
                 _r("serviceaccounts", "ServiceAccount", short=["sa"]),
                 _r("persistentvolumes", "PersistentVolume", False),
                 _r("persistentvolumeclaims", "PersistentVolumeClaim"),
                 _r("pods", "Pod"), _r("pods/log", "Pod", verbs=["get"]), _r("events", "Event", short=["ev"]),
                 _r("nodes", "Node", False), _r("endpoints", "Endpoints"),
                 _r("componentstatuses", "ComponentStatus", False, verbs=["get", "list"]),
                 _r("bindings", "Binding", verbs=["create"])],
    ("apps", "v1"): [_r("deployments", "Deployment", short=["deploy"]), _r("statefulsets", "StatefulSet"),
                     _r("daemonsets", "DaemonSet"), _r("replicasets", "ReplicaSet")],
    ("batch", "v1"): [_r("jobs", "Job"), _r("cronjobs", "CronJob")],
    ("networking.k8s.io", "v1"): [_r("ingresses", "Ingress"), _r("networkpolicies", "NetworkPolicy"),
                                  _r("ipaddresses", "IPAddress", False)],
    ("rbac.authorization.k8s.io", "v1"): [_r("roles", "Role"), _r("rolebindings", "RoleBinding"),
                                          _r("clusterroles", "ClusterRole", False),
                                          _r("clusterrolebindings", "ClusterRoleBinding", False)],
    ("apiextensions.k8s.io", "v1"): [_r("customresourcedefinitions", "CustomResourceDefinition", False,
                                        short=["crd", "crds"])],
    ("events.k8s.io", "v1"): [_r("events", "Event", short=["ev"])],
    ("coordination.k8s.io", "v1"): [_r("leases", "Lease")],
    ("authentication.k8s.io", "v1"): [_r("tokenreviews", "TokenReview", False, verbs=["create"])],
    ("example.com", "v2"): [_r("widgets", "Widget", short=["wd"])],
}


def discovery(served: dict[tuple[str, str], list[dict[str, Any]]] = SERVED) -> Discovery:
    return Discovery(tuple(r for (group, version), entries in served.items()
                           for r in parse_resource_list(group, version, {"resources": entries})))


def names(scope_resources: Any) -> list[str]:
    return [r.name for r in scope_resources]


def test_default_scope_is_the_seeds_19_kinds_in_order_following_crds() -> None:
    scope = resolve_scope(discovery(), ScopeOptions())
    assert len(SEED_KINDS) == 19
    assert names(scope.resources) == [p if not g else f"{p}.{g}" for g, p in SEED_KINDS]
    assert scope.follow_crds
    assert scope.warnings == ()


def test_a_seed_kind_the_server_lacks_is_a_warning_not_an_error() -> None:
    served = {k: v for k, v in SERVED.items() if k[0] != "networking.k8s.io"}
    scope = resolve_scope(discovery(served), ScopeOptions())
    assert len(scope.resources) == 17
    assert "ingresses.networking.k8s.io is not served by this API server; skipped" in scope.warnings


def test_all_resources_takes_listable_creatable_kinds_minus_never_back_up() -> None:
    chosen = set(names(resolve_scope(discovery(), ScopeOptions(all_resources=True)).resources))
    assert {"pods", "replicasets.apps", "widgets.example.com", "configmaps"} <= chosen
    for never in ("events", "events.events.k8s.io", "nodes", "endpoints", "leases.coordination.k8s.io",
                  "ipaddresses.networking.k8s.io", "componentstatuses", "bindings",
                  "tokenreviews.authentication.k8s.io", "pods/log"):
        assert never not in chosen


def test_every_never_back_up_rule_has_a_reason() -> None:
    assert all(isinstance(reason, str) and len(reason) > 10 for reason in NEVER_BACK_UP.values())


@pytest.mark.parametrize("name", ["configmaps", "configmap", "ConfigMap", "cm", "CM"])
def test_kinds_are_named_as_kubectl_names_them(name: str) -> None:
    scope = resolve_scope(discovery(), ScopeOptions(include_kinds=(name,)))
    assert names(scope.resources) == ["configmaps"]
    assert not scope.follow_crds


def test_include_kind_may_add_kinds_outside_the_default_scope_and_qualified_names() -> None:
    scope = resolve_scope(discovery(), ScopeOptions(include_kinds=("pods", "deployments.apps", "Widget.example.com")))
    assert names(scope.resources) == ["pods", "deployments.apps", "widgets.example.com"]


def test_exclude_kind_removes_and_an_excluded_crd_stops_following() -> None:
    scope = resolve_scope(discovery(), ScopeOptions(exclude_kinds=("secrets", "crd")))
    assert "secrets" not in names(scope.resources)
    assert not scope.follow_crds


@pytest.mark.parametrize(("options", "message"), [
    (ScopeOptions(include_kinds=("gizmos",)), "--include-kind 'gizmos': the API server serves no listable resource"),
    (ScopeOptions(exclude_kinds=("gizmo",)), "--exclude-kind 'gizmo'"),
    (ScopeOptions(include_kinds=("ev",)), "ambiguous: it names events, events.events.k8s.io"),
])
def test_unknown_or_ambiguous_kinds_are_usage_errors(options: ScopeOptions, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        resolve_scope(discovery(), options)


def _crd(group: str, plural: str, kind: str, versions: list[tuple[str, bool, bool]], scope: str = "Namespaced") -> dict:
    return {"spec": {"group": group, "scope": scope, "names": {"plural": plural, "kind": kind},
                     "versions": [{"name": n, "served": s, "storage": st} for n, s, st in versions]}}


def test_custom_resources_of_backed_up_crds_use_discovery_or_the_crd_storage_version() -> None:
    disc = discovery()
    scope = resolve_scope(disc, ScopeOptions())
    crds = [_crd("example.com", "widgets", "Widget", [("v1", True, True), ("v2", True, False)]),
            _crd("fresh.io", "gadgets", "Gadget", [("v1alpha1", True, False), ("v1", True, True)], "Cluster"),
            _crd("off.io", "nothings", "Nothing", [("v1", False, True)])]
    found = custom_resource_types(disc, crds, scope, ScopeOptions())
    assert [(r.name, r.type.version, r.type.namespaced) for r in found] == [
        ("gadgets.fresh.io", "v1", False), ("widgets.example.com", "v2", True)]  # discovery prefers v2


def test_excluded_custom_resources_stay_out() -> None:
    disc = discovery()
    options = ScopeOptions(exclude_kinds=("widgets",))
    found = custom_resource_types(disc, [_crd("example.com", "widgets", "Widget", [("v2", True, True)])],
                                  resolve_scope(disc, options), options)
    assert found == []


def test_namespace_filters() -> None:
    disc = discovery()
    cm = disc.by_group_plural("", "configmaps")
    ns = disc.by_group_plural("", "namespaces")
    pv = disc.by_group_plural("", "persistentvolumes")
    assert cm is not None and ns is not None and pv is not None
    only = ScopeOptions(include_namespaces=("shop", "web"), exclude_namespaces=("web",))
    assert list_namespaces(only, cm) == ("shop",)
    assert list_namespaces(only, pv) == (None,)
    assert object_filter(ScopeOptions(include_namespaces=("shop",)), cm) is None  # the LIST itself is per namespace
    keep_ns = object_filter(only, ns)
    assert keep_ns is not None
    assert [keep_ns({"metadata": {"name": n}}) for n in ("shop", "web", "other")] == [True, False, False]
    skip = ScopeOptions(exclude_namespaces=("kube-system",))
    keep_cm = object_filter(skip, cm)
    assert keep_cm is not None
    assert [keep_cm({"metadata": {"namespace": n}}) for n in ("kube-system", "shop")] == [False, True]
    assert object_filter(skip, pv) is None
    assert object_filter(ScopeOptions(), ns) is None
