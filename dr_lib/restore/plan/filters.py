"""What the operator chose to restore (namespace and kind filters) and where it goes
(``--namespace-mapping old:new``). Filters see the archive's own namespaces; mapping applies
after sanitizing, to every field that names a namespace."""

from __future__ import annotations

from typing import Any

from dr_lib.jsontypes import JSONObject
from dr_lib.restore.plan.model import PlanOptions, TypeRef

CLUSTER_SCOPED_KEPT_WITH_NAMESPACES = frozenset({"customresourcedefinitions.apiextensions.k8s.io"})


def _meta(obj: JSONObject) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def kind_words(type_ref: TypeRef) -> set[str]:
    """The names an operator may use for a type: Deployment, deployments, deployments.apps, Deployment.apps."""
    return {type_ref.kind.lower(), type_ref.plural, type_ref.resource, type_ref.group_kind.lower()}


def _namespace_of(type_ref: TypeRef, obj: JSONObject) -> str | None:
    """The namespace an object belongs to for filtering; None for other cluster-scoped objects."""
    meta = _meta(obj)
    if type_ref.namespaced:
        return str(meta.get("namespace", ""))
    if type_ref.resource == "namespaces":
        return str(meta.get("name", ""))
    if type_ref.resource == "persistentvolumes":
        claim_ref = (obj.get("spec") or {}).get("claimRef")
        if isinstance(claim_ref, dict) and claim_ref.get("namespace"):
            return str(claim_ref["namespace"])
    return None


def filter_reason(type_ref: TypeRef, obj: JSONObject, options: PlanOptions) -> str | None:
    """Why the operator's filters leave this object out, or None when they keep it."""
    words = kind_words(type_ref)
    if options.include_kinds and not words & options.include_kinds:
        return "kind not among --kind " + ",".join(sorted(options.include_kinds))
    if words & options.exclude_kinds:
        return "kind excluded by --exclude-kind"
    namespace = _namespace_of(type_ref, obj)
    if namespace is not None:  # namespaced, a Namespace, or a volume claimed from a namespace
        if namespace in options.exclude_namespaces:
            return f"namespace {namespace} excluded by --exclude-namespace"
        if options.include_namespaces and namespace not in options.include_namespaces:
            return f"namespace {namespace} not among --namespace " + ",".join(sorted(options.include_namespaces))
        return None
    if options.include_cluster_scoped is False:
        return "cluster-scoped objects excluded (--no-cluster-resources)"
    if options.include_cluster_scoped is None and options.include_namespaces \
            and type_ref.resource not in CLUSTER_SCOPED_KEPT_WITH_NAMESPACES:
        return "cluster-scoped, and the restore is limited to namespaces (add --cluster-resources to include it)"
    return None


def map_namespaces(type_ref: TypeRef, obj: JSONObject, mapping: dict[str, str]) -> None:
    """Rewrite every namespace reference the mapping names. Mutates ``obj``."""
    if not mapping:
        return
    meta = _meta(obj)
    if type_ref.namespaced and meta.get("namespace") in mapping:
        meta["namespace"] = mapping[meta["namespace"]]
    if type_ref.resource == "namespaces" and meta.get("name") in mapping:
        meta["name"] = mapping[meta["name"]]
        labels = meta.get("labels")
        if isinstance(labels, dict) and "kubernetes.io/metadata.name" in labels:
            labels["kubernetes.io/metadata.name"] = meta["name"]
    if type_ref.resource == "persistentvolumes":
        claim_ref = (obj.get("spec") or {}).get("claimRef")
        if isinstance(claim_ref, dict) and claim_ref.get("namespace") in mapping:
            claim_ref["namespace"] = mapping[claim_ref["namespace"]]
    if type_ref.resource in ("rolebindings.rbac.authorization.k8s.io", "clusterrolebindings.rbac.authorization.k8s.io"):
        for subject in obj.get("subjects") or []:
            if isinstance(subject, dict) and subject.get("namespace") in mapping:
                subject["namespace"] = mapping[subject["namespace"]]
