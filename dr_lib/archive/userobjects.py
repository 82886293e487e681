"""Which objects are the user's: what people made, not what the cluster makes by itself.

One rule set, shared by everything that counts user objects: the backup (per kind, in the
manifest, and the shrink guard that refuses to promote a backup of a wiped cluster),
verification (the sidecar's count), rotation, ``k3s-dr list``, restore's warning, auto-restore's
decision and the conformance control DR-LINK-004. Each rule is data with the reason the objects
it matches are not user objects; the first rule that matches names the reason.

Not user objects: what the API server makes at start-up (bootstrap RBAC, the built-in
namespaces, ``default/kubernetes``, priority classes, APF defaults, built-in APIServices), what
controllers make in every namespace or from other objects (default service accounts,
``kube-root-ca.crt``, objects owned by a controller, endpoint slices), state the machinery keeps
(nodes, leases, events, IP allocations) and what k3s applies from its manifests directory and
its packaged charts (objectset owners ``Addon``/``HelmChart``, their Helm releases, k3s's own CRDs
and records). A freshly started cluster holds none; a cluster whose user objects were deleted
holds none either, however many of these it keeps.

``RULES_VERSION`` is recorded with every count (manifest, sidecar): a count made by other rules
is recounted from the archive's objects, never compared with one made by these.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

# 1: (resource, namespace, name) rules, which counted bootstrap RBAC and cluster-scoped add-ons.
RULES_VERSION = 2

SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
BUILT_IN_NAMESPACES = SYSTEM_NAMESPACES | {"default"}
# The owners wrangler's apply records on what k3s's deploy and helm controllers apply.
K3S_OBJECTSET_OWNERS = frozenset({"k3s.cattle.io/v1, Kind=Addon", "helm.cattle.io/v1, Kind=HelmChart",
                                  "helm.cattle.io/v1, Kind=HelmChartConfig"})
K3S_GROUPS = ("k3s.cattle.io", "helm.cattle.io")

Obj = Mapping[str, Any]

# Whole types nobody makes by hand: each is state the control plane, a kubelet or k3s keeps.
NOT_USER_TYPES: Mapping[str, str] = {
    "events": "events are records controllers write about objects",
    "events.events.k8s.io": "events are records controllers write about objects",
    "nodes": "each kubelet registers its own node",
    "leases.coordination.k8s.io": "leases are heartbeats and leader elections of the control plane and nodes",
    "leasecandidates.coordination.k8s.io": "leader-election candidates of the control plane",
    "componentstatuses": "computed by the API server on read",
    "csinodes.storage.k8s.io": "written by each node's kubelet",
    "volumeattachments.storage.k8s.io": "attach state kept by the attach/detach controller",
    "csistoragecapacities.storage.k8s.io": "published by CSI drivers",
    "certificatesigningrequests.certificates.k8s.io": "one-shot requests, mostly of kubelets for their certificates",
    "ipaddresses.networking.k8s.io": "the API server's allocations for the Services that use them",
    "resourceslices.resource.k8s.io": "published by device drivers",
    "storageversions.internal.apiserver.k8s.io": "the API server's own bookkeeping",
    "addons.k3s.cattle.io": "k3s's record of each file of its manifests directory",
    "etcdsnapshotfiles.k3s.cattle.io": "k3s's record of each datastore snapshot it took",
}


class Seen(NamedTuple):
    """What the rules read of one object, read once (objects come from JSON: anything may be missing).

    A named tuple: made for every object a backup exports (100,000 at scale), and a tuple is made
    in half the time of a frozen dataclass."""

    namespace: str
    name: str
    labels: Mapping[str, Any]
    annotations: Mapping[str, Any]
    owners: Any  # ownerReferences, unchecked


_EMPTY: Mapping[str, Any] = {}


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else _EMPTY


def _text(value: Any) -> str:
    """A name, label or annotation value as text: a hostile archive may put a list there (unhashable, deep)."""
    return value if isinstance(value, str) else ""


def seen(obj: Obj) -> Seen:
    meta = _dict(obj.get("metadata"))
    return Seen(_text(meta.get("namespace")), _text(meta.get("name")), _dict(meta.get("labels")),
                _dict(meta.get("annotations")), meta.get("ownerReferences"))


@dataclass(frozen=True)
class NotUserRule:
    name: str
    reason: str
    matches: Callable[[str, Seen], bool]  # (resource, what the object says of itself)
    resources: frozenset[str] | None = None  # the kinds it concerns; None: every kind


def _controller_owned(_resource: str, o: Seen) -> bool:
    return isinstance(o.owners, list) and any(isinstance(r, dict) and r.get("controller") is True for r in o.owners)


def _k3s_applied(_resource: str, o: Seen) -> bool:
    return _text(o.annotations.get("objectset.rio.cattle.io/owner-gvk")) in K3S_OBJECTSET_OWNERS


def _k3s_chart_release(_resource: str, o: Seen) -> bool:
    """Cluster-scoped parts of a chart k3s's helm controller installed (traefik's ClusterRole, IngressClass…)."""
    return not o.namespace and _text(o.annotations.get("meta.helm.sh/release-namespace")) in SYSTEM_NAMESPACES


def _k3s_crd(_resource: str, o: Seen) -> bool:
    return o.name.endswith(tuple(f".{group}" for group in K3S_GROUPS))


def _managed_endpoints(resource: str, o: Seen) -> bool:
    if resource == "endpointslices.discovery.k8s.io":
        return "endpointslice.kubernetes.io/managed-by" in o.labels
    return "endpoints.kubernetes.io/last-change-trigger-time" in o.annotations


_RBAC = frozenset({"clusterroles.rbac.authorization.k8s.io", "clusterrolebindings.rbac.authorization.k8s.io",
                   "roles.rbac.authorization.k8s.io", "rolebindings.rbac.authorization.k8s.io"})
_CLUSTER_RBAC = frozenset({"clusterroles.rbac.authorization.k8s.io", "clusterrolebindings.rbac.authorization.k8s.io"})
_APF = frozenset({"flowschemas.flowcontrol.apiserver.k8s.io",
                  "prioritylevelconfigurations.flowcontrol.apiserver.k8s.io"})
_ENDPOINTS = frozenset({"endpoints", "endpointslices.discovery.k8s.io"})

NOT_USER_OBJECTS: tuple[NotUserRule, ...] = (
    NotUserRule("built-in-namespace", "the namespaces every cluster starts with",
                lambda _r, o: o.name in BUILT_IN_NAMESPACES, frozenset({"namespaces"})),
    NotUserRule("system-namespace", "objects in the system namespaces, which the control plane and k3s and "
                "its add-ons (coredns, local-path-provisioner, metrics-server, traefik) make and recreate",
                lambda _r, o: o.namespace in SYSTEM_NAMESPACES),
    NotUserRule("rbac-bootstrap", "bootstrap RBAC (kubernetes.io/bootstrapping=rbac-defaults) the API server "
                "reconciles at every start", lambda _r, o: o.labels.get("kubernetes.io/bootstrapping")
                == "rbac-defaults", _RBAC),
    NotUserRule("rbac-system-name", "cluster roles and bindings named system:*, a prefix reserved for "
                "Kubernetes and k3s themselves", lambda _r, o: o.name.startswith("system:"), _CLUSTER_RBAC),
    NotUserRule("k3s-applied", "applied by k3s from its manifests directory or a packaged chart (objectset "
                "owner Addon/HelmChart); k3s applies it again at every start", _k3s_applied),
    NotUserRule("k3s-chart-release", "part of a Helm release in a system namespace (k3s's packaged charts: "
                "traefik's cluster role, ingress class, CRDs)", _k3s_chart_release),
    NotUserRule("k3s-crd", "k3s's own resource types (k3s.cattle.io, helm.cattle.io), registered at every start",
                _k3s_crd, frozenset({"customresourcedefinitions.apiextensions.k8s.io"})),
    NotUserRule("default-service-account", "the default service account the controller manager makes in every "
                "namespace", lambda _r, o: o.name == "default", frozenset({"serviceaccounts"})),
    NotUserRule("kube-root-ca", "the CA bundle the root-CA publisher puts in every namespace",
                lambda _r, o: o.name == "kube-root-ca.crt", frozenset({"configmaps"})),
    NotUserRule("kubernetes-service", "the API server's own Service and its endpoints, which it recreates at "
                "start", lambda _r, o: o.namespace == "default" and o.name == "kubernetes",
                frozenset({"services"}) | _ENDPOINTS),
    NotUserRule("managed-endpoints", "endpoints and endpoint slices the endpoint controllers derive from "
                "Services", _managed_endpoints, _ENDPOINTS),
    NotUserRule("controller-owned", "made by a controller from another object (ownerReferences controller=true); "
                "that object is what the user made", _controller_owned),
    NotUserRule("system-priority-class", "the priority classes system-* the API server creates at start",
                lambda _r, o: o.name.startswith("system-"), frozenset({"priorityclasses.scheduling.k8s.io"})),
    NotUserRule("apf-defaults", "API priority and fairness defaults the API server keeps up to date",
                lambda _r, o: o.annotations.get("apf.kubernetes.io/autoupdate-spec") == "true", _APF),
    NotUserRule("automanaged-apiservice", "APIServices of built-in groups, managed by the API server",
                lambda _r, o: "kube-aggregator.kubernetes.io/automanaged" in o.labels,
                frozenset({"apiservices.apiregistration.k8s.io"})),
    NotUserRule("default-service-cidr", "the service CIDR the API server makes from its flags",
                lambda _r, o: o.name == "kubernetes", frozenset({"servicecidrs.networking.k8s.io"})),
    NotUserRule("apiserver-serving-ca", "the API server's serving CA, which the controller manager publishes "
                "and keeps alone under its signer (Kubernetes >= 1.37)",
                lambda _r, o: not o.namespace and o.name.startswith("kubernetes.io:kube-apiserver-serving:"),
                frozenset({"clustertrustbundles.certificates.k8s.io"})),
)

_RULES_BY_RESOURCE: dict[str, tuple[NotUserRule, ...]] = {}


def _rules_for(resource: str) -> tuple[NotUserRule, ...]:
    rules = _RULES_BY_RESOURCE.get(resource)
    if rules is None:
        rules = tuple(r for r in NOT_USER_OBJECTS if r.resources is None or resource in r.resources)
        _RULES_BY_RESOURCE[resource] = rules
    return rules


def not_user_reason(resource: str, obj: Obj) -> str | None:
    """Why ``obj`` (an API object of ``resource``: ``plural`` or ``plural.group``) is not a user
    object, or None when it is one."""
    reason = NOT_USER_TYPES.get(resource)
    if reason is not None:
        return reason
    facts = seen(obj)
    for rule in _rules_for(resource):
        if rule.matches(resource, facts):
            return rule.reason
    return None


def is_user_object(resource: str, obj: Obj) -> bool:
    return not_user_reason(resource, obj) is None


def count_user_objects(resource: str, objects: Iterable[Obj]) -> int:
    return sum(1 for obj in objects if not_user_reason(resource, obj) is None)
