"""What a backup covers: rules as data, resolution as a pure function of discovery and options.

Default scope: the 19 kinds the seed's script exported (same coverage, so nothing its users
relied on goes missing) plus every custom resource of the CRDs backed up. ``--all-resources``:
every resource the server serves that can be listed and created, in its preferred version,
except the kinds in :data:`NEVER_BACK_UP`, which restore must never create.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dr_lib.errors import UsageError
from dr_lib.kube.client import ResourceType
from dr_lib.kube.discovery import APIResource, Discovery

# (group, plural): the seed's kinds, in the seed's order.
SEED_KINDS: tuple[tuple[str, str], ...] = (
    ("", "namespaces"),
    ("apps", "deployments"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("", "services"),
    ("", "configmaps"),
    ("", "secrets"),
    ("", "persistentvolumes"),
    ("", "persistentvolumeclaims"),
    ("networking.k8s.io", "ingresses"),
    ("", "serviceaccounts"),
    ("rbac.authorization.k8s.io", "roles"),
    ("rbac.authorization.k8s.io", "rolebindings"),
    ("rbac.authorization.k8s.io", "clusterroles"),
    ("rbac.authorization.k8s.io", "clusterrolebindings"),
    ("apiextensions.k8s.io", "customresourcedefinitions"),
    ("networking.k8s.io", "networkpolicies"),
    ("batch", "cronjobs"),
    ("batch", "jobs"),
)

CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")

# (group, plural) → why --all-resources leaves it out.
NEVER_BACK_UP: Mapping[tuple[str, str], str] = {
    ("", "events"): "transient records; controllers emit new ones",
    ("events.k8s.io", "events"): "transient records; controllers emit new ones",
    ("", "nodes"): "belong to machines: each kubelet registers its own node",
    ("coordination.k8s.io", "leases"): "leader election and node heartbeats; stale leases stall controllers",
    ("", "endpoints"): "maintained by the endpoints controller from Services and Pods",
    ("discovery.k8s.io", "endpointslices"): "maintained by the endpointslice controller from Services and Pods",
    ("", "componentstatuses"): "read-only health report of the control plane",
    ("storage.k8s.io", "csinodes"): "written by each kubelet for its node",
    ("storage.k8s.io", "volumeattachments"): "attach state of volumes to nodes of the old cluster",
    ("certificates.k8s.io", "certificatesigningrequests"): "one-shot requests bound to keys of the old cluster",
    ("networking.k8s.io", "ipaddresses"): "the API server's ClusterIP allocator state",
    ("networking.k8s.io", "servicecidrs"): "the API server's service CIDR configuration",
    ("resource.k8s.io", "resourceslices"): "published by device drivers for their nodes",
}


@dataclass(frozen=True)
class ScopeOptions:
    all_resources: bool = False
    include_kinds: tuple[str, ...] = ()
    exclude_kinds: tuple[str, ...] = ()
    include_namespaces: tuple[str, ...] = ()
    exclude_namespaces: tuple[str, ...] = ()
    selector: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"mode": "all-resources" if self.all_resources else "default",
                "include_kinds": list(self.include_kinds), "exclude_kinds": list(self.exclude_kinds),
                "include_namespaces": list(self.include_namespaces),
                "exclude_namespaces": list(self.exclude_namespaces), "selector": self.selector}


@dataclass(frozen=True)
class Scope:
    resources: tuple[APIResource, ...]
    follow_crds: bool  # add the custom resources of every CRD backed up
    warnings: tuple[str, ...] = field(default=())


def _key(resource: APIResource) -> tuple[str, str]:
    return resource.type.group, resource.type.plural


def _resolve_names(discovery: Discovery, names: Iterable[str], flag: str) -> list[APIResource]:
    found: list[APIResource] = []
    for name in names:
        matches = [r for r in discovery.find(name) if r.has_verbs("list")]
        if not matches:
            raise UsageError(f"{flag} {name!r}: the API server serves no listable resource of that name",
                             hint="use a plural (configmaps), Kind (ConfigMap), short name (cm) or plural.group")
        if len({_key(r) for r in matches}) > 1:
            options = ", ".join(sorted(r.name for r in matches))
            raise UsageError(f"{flag} {name!r} is ambiguous: it names {options}", hint="qualify it with the group")
        found.append(matches[0])
    return found


def _candidates(discovery: Discovery, options: ScopeOptions) -> tuple[list[APIResource], list[str]]:
    if options.include_kinds:
        return _resolve_names(discovery, options.include_kinds, "--include-kind"), []
    if options.all_resources:
        return [r for r in discovery.resources if r.has_verbs("list", "create") and _key(r) not in NEVER_BACK_UP], []
    chosen, warnings = [], []
    for group, plural in SEED_KINDS:
        resource = discovery.by_group_plural(group, plural)
        if resource is None:
            warnings.append(f"{plural}{'.' + group if group else ''} is not served by this API server; skipped")
        else:
            chosen.append(resource)
    return chosen, warnings


def resolve_scope(discovery: Discovery, options: ScopeOptions) -> Scope:
    """The resources to back up, each once, in a stable order. Unknown names are UsageErrors."""
    candidates, warnings = _candidates(discovery, options)
    excluded = {_key(r) for r in _resolve_names(discovery, options.exclude_kinds, "--exclude-kind")}
    chosen: dict[tuple[str, str], APIResource] = {}
    for resource in candidates:
        if _key(resource) not in excluded:
            chosen.setdefault(_key(resource), resource)
    follow = not options.include_kinds and CRD_KEY in chosen
    return Scope(tuple(chosen.values()), follow, tuple(warnings) + discovery.warnings)


def custom_resource_types(discovery: Discovery, crds: Iterable[Mapping[str, Any]], scope: Scope,
                          options: ScopeOptions) -> list[APIResource]:
    """The custom resources of the CRDs that were backed up, minus excluded and already chosen kinds."""
    chosen = {_key(r) for r in scope.resources}
    excluded = {(r.type.group, r.type.plural) for name in options.exclude_kinds for r in discovery.find(name)}
    found: dict[tuple[str, str], APIResource] = {}
    for crd in crds:
        resource = _crd_resource(discovery, crd)
        if resource is None or _key(resource) in chosen or _key(resource) in excluded:
            continue
        found.setdefault(_key(resource), resource)
    return sorted(found.values(), key=lambda r: r.name)


def _crd_resource(discovery: Discovery, crd: Mapping[str, Any]) -> APIResource | None:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group, plural = str(spec.get("group", "")), str(names.get("plural", ""))
    if not group or not plural:
        return None
    served = discovery.by_group_plural(group, plural)
    if served is not None:
        return served
    # Not (yet) in discovery, e.g. a CRD created a moment ago: take its storage version.
    versions = [v for v in spec.get("versions") or [] if v.get("served")]
    storage = [v for v in versions if v.get("storage")] or versions
    if not storage:
        return None
    rtype = ResourceType(group=group, version=str(storage[0].get("name")), plural=plural,
                         kind=str(names.get("kind", "")), namespaced=spec.get("scope") == "Namespaced")
    return APIResource(rtype, str(names.get("singular", "")), tuple(names.get("shortNames") or ()))


def object_filter(options: ScopeOptions, resource: APIResource) -> Callable[[Mapping[str, Any]], bool] | None:
    """A per-object predicate for filters the server cannot apply, or None when every object is kept."""
    excluded = frozenset(options.exclude_namespaces)
    included = frozenset(options.include_namespaces)
    if resource.type.namespaced:
        if not excluded:
            return None  # -n/--namespace is applied by listing only those namespaces
        return lambda obj: (obj.get("metadata") or {}).get("namespace") not in excluded
    if _key(resource) == ("", "namespaces") and (included or excluded):
        def keep_namespace(obj: Mapping[str, Any]) -> bool:
            name = (obj.get("metadata") or {}).get("name")
            return name not in excluded and (not included or name in included)
        return keep_namespace
    return None


def list_namespaces(options: ScopeOptions, resource: APIResource) -> tuple[str | None, ...]:
    """Where to LIST: the included namespaces for namespaced kinds, else everywhere (None)."""
    if resource.type.namespaced and options.include_namespaces:
        return tuple(ns for ns in options.include_namespaces if ns not in options.exclude_namespaces)
    return (None,)
