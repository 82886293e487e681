"""Facts about the whole archive that rules for single objects need.

Some decisions depend on other objects: an Endpoints object is the controller's when its
Service has a selector; a claim keeps its ``volumeName`` when that volume is restored too; a
custom resource's scope comes from its CRD. The planner collects these facts in one pass
before it judges any object, and ``diff`` judges live objects with the same facts. The facts
themselves (:class:`ArchiveContext`) are a value type of the model.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dr_lib.jsontypes import JSONObject
from dr_lib.restore.plan.model import ArchiveContext, CrdType, TypeRef


def _meta(obj: JSONObject) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _crd_type(obj: JSONObject) -> CrdType | None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return None
    names = spec.get("names")
    if not isinstance(names, dict):
        return None
    group, plural, kind = spec.get("group"), names.get("plural"), names.get("kind")
    if not (isinstance(group, str) and isinstance(plural, str) and isinstance(kind, str)):
        return None
    versions = frozenset(
        str(v.get("name")) for v in spec.get("versions") or [] if isinstance(v, dict) and v.get("served", True)
    )
    return CrdType(group, plural, kind, spec.get("scope") != "Cluster", versions)


def build_context(objects: Iterable[tuple[TypeRef, JSONObject]]) -> ArchiveContext:
    selector_services: set[tuple[str, str]] = set()
    volume_names: set[str] = set()
    crd_types: dict[tuple[str, str], CrdType] = {}
    chart_releases: set[tuple[str, str]] = set()
    for type_ref, obj in objects:
        meta = _meta(obj)
        resource = type_ref.resource
        if resource == "services" and isinstance(obj.get("spec"), dict) and obj["spec"].get("selector"):
            selector_services.add((str(meta.get("namespace", "")), str(meta.get("name", ""))))
        elif resource == "persistentvolumes":
            volume_names.add(str(meta.get("name", "")))
        elif resource == "customresourcedefinitions.apiextensions.k8s.io":
            crd = _crd_type(obj)
            if crd is not None:
                crd_types[(crd.group, crd.plural)] = crd
        elif resource == "helmcharts.helm.cattle.io":
            spec = obj.get("spec")
            target = str((spec.get("targetNamespace") if isinstance(spec, dict) else None) or meta.get("namespace", ""))
            chart_releases.add((target, str(meta.get("name", ""))))
    return ArchiveContext(frozenset(selector_services), frozenset(volume_names), crd_types,
                          frozenset(chart_releases))
