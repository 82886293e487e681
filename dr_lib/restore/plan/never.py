"""What is never restored, as data: each rule names what it matches and why.

Two tables: whole resource types the control plane or the nodes own, and single objects
someone else recreates (a controller, the API server, k3s) or that would do harm if replayed.
The first matching rule gives the reason written to the ledger.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dr_lib.jsontypes import JSONObject
from dr_lib.restore.plan.model import ArchiveContext, TypeRef

NEVER_RESTORE_TYPES: dict[str, str] = {
    "nodes": "nodes register themselves; a restored Node would be a ghost",
    "events": "events are history, not state",
    "events.events.k8s.io": "events are history, not state",
    "leases.coordination.k8s.io": "leases are leader-election and heartbeat state; their holders renew them",
    "leasecandidates.coordination.k8s.io": "leader-election state of the control plane",
    "componentstatuses": "computed by the API server on read",
    "bindings": "a create-only subresource, not stored state",
    "csinodes.storage.k8s.io": "written by each node's kubelet",
    "volumeattachments.storage.k8s.io": "attach state of the old nodes; the attach controller recreates it",
    "csistoragecapacities.storage.k8s.io": "published by CSI drivers for the nodes they see",
    "certificatesigningrequests.certificates.k8s.io": "short-lived requests; their approval lives in status",
    "resourceslices.resource.k8s.io": "published by device drivers for the nodes they see",
    "ipaddresses.networking.k8s.io": "the API server's service IP allocations; restored services get new IPs",
    "storageversions.internal.apiserver.k8s.io": "the API server's own bookkeeping",
    "storageversionmigrations.storagemigration.k8s.io": "one-off migration state of the old control plane",
    "addons.k3s.cattle.io": "k3s tracks its packaged manifests as AddOns and re-applies them at every start",
    "helmcharts.helm.cattle.io": "k3s re-creates its HelmCharts from the manifests directory at every start",
}


@dataclass(frozen=True)
class NeverRule:
    name: str
    reason: str
    matches: Callable[[TypeRef, JSONObject, ArchiveContext], bool]
    resources: frozenset[str] | None = None  # the kinds the rule concerns; None: every kind


def _meta(obj: JSONObject) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _labels(obj: JSONObject) -> dict[str, Any]:
    labels = _meta(obj).get("labels")
    return labels if isinstance(labels, dict) else {}


def _annotations(obj: JSONObject) -> dict[str, Any]:
    annotations = _meta(obj).get("annotations")
    return annotations if isinstance(annotations, dict) else {}


def _is(obj: JSONObject, namespace: str, name: str) -> bool:
    meta = _meta(obj)
    return meta.get("namespace", "") == namespace and meta.get("name") == name


def controller_owned(_t: TypeRef, obj: JSONObject, _c: ArchiveContext) -> bool:
    owners = _meta(obj).get("ownerReferences") or []
    return any(isinstance(o, dict) and o.get("controller") is True for o in owners)


def _finished(t: TypeRef, obj: JSONObject, _c: ArchiveContext) -> bool:
    status = obj.get("status")
    if not isinstance(status, dict):
        return False
    if t.resource == "pods":
        return status.get("phase") in ("Succeeded", "Failed")
    if t.resource == "jobs.batch":
        return bool(status.get("completionTime")) or any(
            isinstance(c, dict) and c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
            for c in status.get("conditions") or []
        )
    return False


def _managed_endpoints(t: TypeRef, obj: JSONObject, c: ArchiveContext) -> bool:
    if t.resource == "endpointslices.discovery.k8s.io":
        return "endpointslice.kubernetes.io/managed-by" in _labels(obj) or _is(obj, "default", "kubernetes")
    if t.resource != "endpoints":
        return False
    meta = _meta(obj)
    return (
        (str(meta.get("namespace", "")), str(meta.get("name", ""))) in c.selector_services
        or _is(obj, "default", "kubernetes")
        or "endpoints.kubernetes.io/last-change-trigger-time" in _annotations(obj)
    )


_LEGACY_TOKEN_SUFFIX = re.compile(r"^-token-[a-z0-9]{5}$")


def legacy_token_name(account: str, name: str) -> bool:
    """``<account>-token-xxxxx``: the name the pre-1.24 token controller generated."""
    return bool(account) and name.startswith(account) and _LEGACY_TOKEN_SUFFIX.match(name[len(account):]) is not None


def _auto_token_secret(t: TypeRef, obj: JSONObject, _c: ArchiveContext) -> bool:
    if t.resource != "secrets" or obj.get("type") != "kubernetes.io/service-account-token":
        return False
    account = str(_annotations(obj).get("kubernetes.io/service-account.name", ""))
    return legacy_token_name(account, str(_meta(obj).get("name", "")))


def _server_written(t: TypeRef, obj: JSONObject, _c: ArchiveContext) -> bool:
    if t.resource == "configmaps":
        return _is(obj, "kube-system", "extension-apiserver-authentication") or _is(
            obj, "kube-system", "kube-apiserver-legacy-service-account-token-tracking")
    if t.resource == "priorityclasses.scheduling.k8s.io":
        return _meta(obj).get("name") in ("system-node-critical", "system-cluster-critical")
    if t.resource == "servicecidrs.networking.k8s.io":
        return _meta(obj).get("name") == "kubernetes"
    return False


def _k3s_owned_secret(t: TypeRef, obj: JSONObject, _c: ArchiveContext) -> bool:
    if t.resource != "secrets" or _meta(obj).get("namespace") != "kube-system":
        return False
    name = str(_meta(obj).get("name", ""))
    return name == "k3s-serving" or name.endswith(".node-password.k3s")


def _k3s_chart_release(t: TypeRef, obj: JSONObject, c: ArchiveContext) -> bool:
    """Installed by k3s's helm controller from one of the archive's HelmCharts (traefik, …)."""
    if not c.k3s_chart_releases:
        return False
    annotations = _annotations(obj)
    release = annotations.get("meta.helm.sh/release-name")
    if release is not None:
        return (str(annotations.get("meta.helm.sh/release-namespace", "")), str(release)) in c.k3s_chart_releases
    if t.resource == "secrets" and obj.get("type") == "helm.sh/release.v1":  # the release's own record
        return (str(_meta(obj).get("namespace", "")), str(_labels(obj).get("name", ""))) in c.k3s_chart_releases
    return False


APISERVER_SERVING_SIGNER = "kubernetes.io/kube-apiserver-serving"

_RBAC = frozenset({"clusterroles.rbac.authorization.k8s.io", "clusterrolebindings.rbac.authorization.k8s.io",
                   "roles.rbac.authorization.k8s.io", "rolebindings.rbac.authorization.k8s.io"})

NEVER_RESTORE_OBJECTS: tuple[NeverRule, ...] = (
    NeverRule("controller-owned", "owned by a controller (ownerReferences controller=true), which recreates it",
              controller_owned),
    NeverRule("finished", "a finished pod or job: restoring it would run it again", _finished,
              frozenset({"pods", "jobs.batch"})),
    NeverRule("mirror-pod", "a static pod's mirror: the kubelet creates it from a file on the node",
              lambda _t, o, _c: "kubernetes.io/config.mirror" in _annotations(o), frozenset({"pods"})),
    NeverRule("default-kubernetes-service", "the API server maintains default/kubernetes itself",
              lambda _t, o, _c: _is(o, "default", "kubernetes"), frozenset({"services"})),
    NeverRule("kube-root-ca", "kube-root-ca.crt is published into every namespace by the controller manager, "
              "with the new cluster's CA", lambda _t, o, _c: _meta(o).get("name") == "kube-root-ca.crt",
              frozenset({"configmaps"})),
    NeverRule("managed-endpoints", "endpoints of a Service with a selector are the endpoint controllers'",
              _managed_endpoints, frozenset({"endpoints", "endpointslices.discovery.k8s.io"})),
    NeverRule("k3s-objectset", "applied by k3s from its manifests directory (objectset.rio.cattle.io "
              "annotations); k3s re-applies it at every start", lambda _t, o, _c: any(
                  str(key).startswith("objectset.rio.cattle.io/") for key in _annotations(o))),
    NeverRule("k3s-chart-release", "installed by k3s's helm controller from a HelmChart, which k3s re-applies "
              "at every start; restoring it would fight that install", _k3s_chart_release),
    NeverRule("k3s-owned-secret", "k3s writes its serving certificate and node passwords itself",
              _k3s_owned_secret, frozenset({"secrets"})),
    NeverRule("rbac-bootstrap", "bootstrap RBAC (kubernetes.io/bootstrapping=rbac-defaults): the API server "
              "reconciles it at every start", lambda _t, o, _c: _labels(o).get("kubernetes.io/bootstrapping")
              == "rbac-defaults", _RBAC),
    NeverRule("apf-defaults", "API priority and fairness defaults the API server keeps up to date",
              lambda _t, o, _c: _annotations(o).get("apf.kubernetes.io/autoupdate-spec") == "true",
              frozenset({"flowschemas.flowcontrol.apiserver.k8s.io",
                         "prioritylevelconfigurations.flowcontrol.apiserver.k8s.io"})),
    NeverRule("automanaged-apiservice", "APIServices of built-in groups are managed by the API server",
              lambda _t, o, _c: "kube-aggregator.kubernetes.io/automanaged" in _labels(o),
              frozenset({"apiservices.apiregistration.k8s.io"})),
    NeverRule("auto-token-secret", "a legacy auto-generated service account token: the new cluster issues "
              "its own", _auto_token_secret, frozenset({"secrets"})),
    NeverRule("apiserver-serving-trust-bundle", "the controller manager publishes the API server's serving CA "
              "as a ClusterTrustBundle of signer kubernetes.io/kube-apiserver-serving (Kubernetes >= 1.37) and "
              "deletes every other bundle of that signer: the new cluster publishes its own",
              lambda _t, o, _c: isinstance(o.get("spec"), dict)
              and o["spec"].get("signerName") == APISERVER_SERVING_SIGNER,
              frozenset({"clustertrustbundles.certificates.k8s.io"})),
    NeverRule("server-written", "written by the API server at start-up with the new cluster's values",
              _server_written, frozenset({"configmaps", "priorityclasses.scheduling.k8s.io",
                                          "servicecidrs.networking.k8s.io"})),
)

_RULES_BY_RESOURCE: dict[str, tuple[NeverRule, ...]] = {}


def _rules_for(resource: str) -> tuple[NeverRule, ...]:
    rules = _RULES_BY_RESOURCE.get(resource)
    if rules is None:
        rules = tuple(r for r in NEVER_RESTORE_OBJECTS if r.resources is None or resource in r.resources)
        _RULES_BY_RESOURCE[resource] = rules
    return rules


def never_restore_reason(type_ref: TypeRef, obj: JSONObject, context: ArchiveContext) -> str | None:
    """Why this object must not be restored, or None when it may be."""
    reason = NEVER_RESTORE_TYPES.get(type_ref.resource)
    if reason is not None:
        return reason
    for rule in _rules_for(type_ref.resource):
        if rule.matches(type_ref, obj, context):
            return rule.reason
    return None
