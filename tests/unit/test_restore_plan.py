"""Tests of the pure planner: order, left-out reasons, refusals, filters, namespace mapping."""

from __future__ import annotations

from typing import Any

import pytest
from restore_helpers import ENTRIES, FakeEntry, obj, stream

from dr_lib.errors import IntegrityError
from dr_lib.restore.plan import PlanOptions, build_plan
from dr_lib.restore.plan.order import ORDER, TIER_NAMES

CRD = obj("customresourcedefinitions.apiextensions.k8s.io", "widgets.example.com", spec={
    "group": "example.com", "scope": "Namespaced",
    "names": {"plural": "widgets", "kind": "Widget"}, "versions": [{"name": "v1", "served": True}]})


def _sample() -> list[dict[str, Any]]:
    return [
        obj("deployments.apps", "web", "shop"),
        obj("widgets.example.com", "w1", "shop", spec={"size": 1}),
        obj("configmaps", "cfg", "shop", data={"a": "b"}),
        obj("secrets", "s", "shop"),
        obj("namespaces", "shop"),
        obj("services", "web", "shop", spec={"selector": {"app": "web"}, "clusterIP": "10.43.1.1"}),
        obj("endpoints", "web", "shop"),
        obj("persistentvolumeclaims", "data", "shop", spec={"volumeName": "pv-data"}),
        obj("persistentvolumes", "pv-data", spec={"claimRef": {"namespace": "shop", "name": "data", "uid": "u"}}),
        obj("serviceaccounts", "app", "shop"),
        obj("clusterroles.rbac.authorization.k8s.io", "reader"),
        obj("rolebindings.rbac.authorization.k8s.io", "rb", "shop",
            subjects=[{"kind": "ServiceAccount", "name": "app", "namespace": "shop"}]),
        obj("ingresses.networking.k8s.io", "web", "shop"),
        obj("validatingwebhookconfigurations.admissionregistration.k8s.io", "hook"),
        obj("storageclasses.storage.k8s.io", "fast"),
        CRD,
        obj("events", "e1", "shop"),
        obj("pods", "web-abc", "shop", metadata={"ownerReferences": [{"controller": True, "uid": "u",
                                                                      "kind": "ReplicaSet", "name": "web-x"}]}),
    ]


def _tier_contents(plan: Any) -> list[tuple[str, list[str]]]:
    return [(t.name, [f"{o.type.kind}/{o.name}" for o in t.objects]) for t in plan.tiers]


def test_order_follows_the_table() -> None:
    plan = build_plan(stream(*_sample()))
    assert _tier_contents(plan) == [
        ("crds", ["CustomResourceDefinition/widgets.example.com"]),
        ("namespaces", ["Namespace/shop"]),
        ("storage-classes", ["StorageClass/fast"]),
        ("persistent-volumes", ["PersistentVolume/pv-data"]),
        ("persistent-volume-claims", ["PersistentVolumeClaim/data"]),
        ("rbac-roles", ["ClusterRole/reader"]),
        ("service-accounts", ["ServiceAccount/app"]),
        ("rbac-bindings", ["RoleBinding/rb"]),
        ("secrets", ["Secret/s"]),
        ("config-maps", ["ConfigMap/cfg"]),
        ("services", ["Service/web"]),
        ("workloads", ["Deployment/web"]),
        ("ingresses", ["Ingress/web"]),
        ("custom-resources", ["Widget/w1"]),
        ("admission", ["ValidatingWebhookConfiguration/hook"]),
    ]
    assert plan.unresolved_types == []


def test_left_out_objects_have_reasons() -> None:
    plan = build_plan(stream(*_sample()))
    reasons = {f"{o.kind}/{o.key.name}": o.reason for o in plan.left_out}
    assert set(reasons) == {"Event/e1", "Endpoints/web", "Pod/web-abc"}
    assert all(reasons.values())


def test_planned_objects_are_sanitized_and_pairs_kept() -> None:
    plan = build_plan(stream(*_sample()))
    by_name = {(o.type.kind, o.name): o.body for o in plan.objects()}
    assert "uid" not in by_name[("ConfigMap", "cfg")]["metadata"]
    assert "clusterIP" not in by_name[("Service", "web")]["spec"]
    assert by_name[("PersistentVolumeClaim", "data")]["spec"]["volumeName"] == "pv-data"
    assert by_name[("PersistentVolume", "pv-data")]["spec"]["claimRef"] == {"namespace": "shop", "name": "data"}


def test_tier_table_is_complete_and_reasoned() -> None:
    assert len(set(TIER_NAMES)) == len(TIER_NAMES)
    resources = [r for rule in ORDER for r in rule.resources]
    assert len(resources) == len(set(resources))
    assert all(rule.reason.strip() for rule in ORDER)
    assert TIER_NAMES.index("crds") < TIER_NAMES.index("custom-resources")


def test_unknown_kind_is_unresolved_not_guessed() -> None:
    gadget = FakeEntry("gadgets.io", "v1", "gadgets", "Gadget", True)
    plan = build_plan([(gadget, {"apiVersion": "gadgets.io/v1", "kind": "Gadget",
                                 "metadata": {"name": "g", "namespace": "a"}})])
    assert [t.resource for t in plan.unresolved_types] == ["gadgets.gadgets.io"]
    assert _tier_contents(plan) == [("namespaces", ["Namespace/a"]), ("custom-resources", ["Gadget/g"])]


def test_namespace_created_when_only_its_objects_are_in_the_archive() -> None:
    plan = build_plan(stream(obj("configmaps", "c", "lonely")))
    ns = plan.tiers[0].objects[0]
    assert (ns.type.kind, ns.name) == ("Namespace", "lonely")
    assert "created because" in ns.note


def test_duplicate_object_left_out() -> None:
    plan = build_plan(stream(obj("configmaps", "c", "a"), obj("configmaps", "c", "a")))
    assert [o.reason for o in plan.left_out] == ["the same object appears earlier in the archive"]


# (case, entry, object, expected message fragment)
REFUSALS: list[tuple[str, FakeEntry, Any, str]] = [
    ("cluster-scoped kind disguised as namespaced",
     FakeEntry("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", True),
     {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "x", "namespace": "a"}},
     "are namespaced, but they are cluster-scoped"),
    ("namespaced kind claimed cluster-scoped", FakeEntry("", "v1", "secrets", "Secret", False),
     {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}}, "are not namespaced, but they are namespaced"),
    ("kind smuggled into another file", ENTRIES["configmaps"],
     {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "x"}},
     "among v1/ConfigMap objects"),
    ("plural relabelled", FakeEntry("", "v1", "configmaps", "Secret", True),
     {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x", "namespace": "a"}}, "hold kind Secret"),
    ("namespace on a cluster-scoped object", ENTRIES["clusterroles.rbac.authorization.k8s.io"],
     {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "x", "namespace": "a"}},
     "though clusterroles.rbac.authorization.k8s.io are cluster-scoped"),
    ("missing namespace", ENTRIES["configmaps"], {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},
     "no valid namespace"),
    ("path traversal in a name", ENTRIES["configmaps"],
     {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "../../x", "namespace": "a"}}, "unusable name"),
    ("path traversal in a namespace", ENTRIES["configmaps"],
     {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "../kube-system"}},
     "no valid namespace"),
    ("not an object", ENTRIES["configmaps"], ["a", "list"], "holds a list"),
    ("no name", ENTRIES["configmaps"], {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": "a"}},
     "no metadata.name"),
]


@pytest.mark.parametrize(("entry", "o", "message"), [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS])
def test_forged_archives_are_refused(entry: FakeEntry, o: Any, message: str) -> None:
    with pytest.raises(IntegrityError) as caught:
        build_plan([(ENTRIES["configmaps"], obj("configmaps", "fine", "a")), (entry, o)])
    assert message in str(caught.value)


def test_custom_resource_scope_checked_against_its_crd() -> None:
    disguised = FakeEntry("example.com", "v1", "widgets", "Widget", False)
    with pytest.raises(IntegrityError, match=r"widgets\.example\.com are not namespaced"):
        build_plan([(ENTRIES["customresourcedefinitions.apiextensions.k8s.io"], CRD),
                    (disguised, {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})])


# (case, options, names of planned objects expected, names left out expected)
FILTERS: list[tuple[str, PlanOptions, set[str], set[str]]] = [
    ("only namespace a", PlanOptions(include_namespaces=frozenset({"a"})),
     {"Namespace/a", "ConfigMap/a/c", "PersistentVolume/pv-a", "CustomResourceDefinition/widgets.example.com"},
     {"Namespace/b", "ConfigMap/b/c", "ClusterRole/reader", "PersistentVolume/pv-b"}),
    ("exclude namespace b", PlanOptions(exclude_namespaces=frozenset({"b"})),
     {"Namespace/a", "ConfigMap/a/c", "PersistentVolume/pv-a", "ClusterRole/reader",
      "CustomResourceDefinition/widgets.example.com"},
     {"Namespace/b", "ConfigMap/b/c", "PersistentVolume/pv-b"}),
    ("kinds", PlanOptions(include_kinds=frozenset({"configmap", "namespaces"})),
     {"Namespace/a", "Namespace/b", "ConfigMap/a/c", "ConfigMap/b/c"},
     {"ClusterRole/reader", "PersistentVolume/pv-a", "PersistentVolume/pv-b",
      "CustomResourceDefinition/widgets.example.com"}),
    ("excluded kind by plural.group", PlanOptions(exclude_kinds=frozenset({"clusterroles.rbac.authorization.k8s.io"})),
     {"Namespace/a", "Namespace/b", "ConfigMap/a/c", "ConfigMap/b/c", "PersistentVolume/pv-a", "PersistentVolume/pv-b",
      "CustomResourceDefinition/widgets.example.com"}, {"ClusterRole/reader"}),
    ("namespace with cluster resources", PlanOptions(include_namespaces=frozenset({"a"}), include_cluster_scoped=True),
     {"Namespace/a", "ConfigMap/a/c", "PersistentVolume/pv-a", "ClusterRole/reader",
      "CustomResourceDefinition/widgets.example.com"},
     {"Namespace/b", "ConfigMap/b/c", "PersistentVolume/pv-b"}),
]


def _filter_sample() -> list[dict[str, Any]]:
    return [obj("namespaces", "a"), obj("namespaces", "b"), obj("configmaps", "c", "a"), obj("configmaps", "c", "b"),
            obj("clusterroles.rbac.authorization.k8s.io", "reader"), CRD,
            obj("persistentvolumes", "pv-a", spec={"claimRef": {"namespace": "a", "name": "x"}}),
            obj("persistentvolumes", "pv-b", spec={"claimRef": {"namespace": "b", "name": "x"}})]


def _label(kind: str, namespace: str, name: str) -> str:
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


@pytest.mark.parametrize(("options", "planned", "left"), [c[1:] for c in FILTERS], ids=[c[0] for c in FILTERS])
def test_filters(options: PlanOptions, planned: set[str], left: set[str]) -> None:
    plan = build_plan(stream(*_filter_sample()), options)
    assert {_label(o.type.kind, o.namespace, o.name) for o in plan.objects()} == planned
    assert {_label(o.kind, o.key.namespace, o.key.name) for o in plan.left_out} == left
    assert all(o.reason for o in plan.left_out)


def test_namespace_mapping_rewrites_every_reference() -> None:
    options = PlanOptions(namespace_mapping=(("shop", "shop-restored"),))
    plan = build_plan(stream(*_sample()), options)
    bodies = {(o.type.kind, o.name): o.body for o in plan.objects()}
    assert ("Namespace", "shop-restored") in bodies and ("Namespace", "shop") not in bodies
    assert {o.namespace for o in plan.objects() if o.type.namespaced} == {"shop-restored"}
    assert bodies[("PersistentVolume", "pv-data")]["spec"]["claimRef"]["namespace"] == "shop-restored"
    assert bodies[("RoleBinding", "rb")]["subjects"][0]["namespace"] == "shop-restored"


def test_mapping_to_a_namespace_absent_from_the_archive_creates_it() -> None:
    plan = build_plan(stream(obj("configmaps", "c", "old")), PlanOptions(namespace_mapping=(("old", "new"),)))
    ns = plan.tiers[0].objects[0]
    assert ns.name == "new" and "mapped from old" in ns.note
