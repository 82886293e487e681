"""The objects the backup and restore benchmarks work on, one mix for both.

ConfigMaps (five ~120-byte values each) plus custom resources of one CRD (``Widget``, a spec of
about the same size): one object in ``CUSTOM_SHARE`` is a Widget, the others ConfigMaps, spread
round-robin over ``namespace_count(N)`` namespaces — 10 up to 10,000 objects, one per 1,000
objects beyond (100 namespaces at 100,000), as a cluster with many CRs (cert-manager, Argo)
spreads them. Object ``i`` is the same whichever benchmark makes it, so the two measure one shape.
"""

from __future__ import annotations

from typing import Any

CRD_GROUP = "bench.k3s-dr.io"
CRD_NAME = f"widgets.{CRD_GROUP}"
CUSTOM_SHARE = 5  # every fifth object is a custom resource


def namespace_count(objects: int) -> int:
    return max(10, objects // 1000)


def namespace_of(i: int, namespaces: int) -> str:
    return f"bench-{i % namespaces}"


def is_custom(i: int) -> bool:
    return i % CUSTOM_SHARE == CUSTOM_SHARE - 1


def crd() -> dict[str, Any]:
    schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": CRD_NAME},
            "spec": {"group": CRD_GROUP, "scope": "Namespaced",
                     "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": schema}}]}}


def configmap(i: int, namespaces: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": f"cm-{i:06d}", "namespace": namespace_of(i, namespaces), "labels": {"bench": "yes"}},
            "data": {f"key-{j}": f"value-{i}-{j}-" + "x" * 100 for j in range(5)}}


def widget(i: int, namespaces: int) -> dict[str, Any]:
    return {"apiVersion": f"{CRD_GROUP}/v1", "kind": "Widget",
            "metadata": {"name": f"w-{i:06d}", "namespace": namespace_of(i, namespaces), "labels": {"bench": "yes"}},
            "spec": {"size": i, "parts": [f"part-{i}-{j}-" + "y" * 100 for j in range(5)]}}


def bench_object(i: int, namespaces: int) -> dict[str, Any]:
    return widget(i, namespaces) if is_custom(i) else configmap(i, namespaces)


def collection_path(obj: dict[str, Any]) -> str:
    """Where a create of ``obj`` (a ConfigMap or a Widget) is sent."""
    namespace = obj["metadata"]["namespace"]
    if obj["kind"] == "Widget":
        return f"/apis/{CRD_GROUP}/v1/namespaces/{namespace}/widgets"
    return f"/api/v1/namespaces/{namespace}/configmaps"
