"""Per-kind sanitizers as data: what is removed from an object before it is created, and why.

A saved object carries the old cluster's identity (uid, resourceVersion), state (status,
bind annotations) and allocations (cluster IPs, node ports). Replayed as-is the API server
rejects it, or accepts it and then fights it. Sanitizing runs in place (objects come fresh
from ``json``; copying 10,000 of them would cost more than the rest of the planning), and the
same function sanitizes live objects for ``diff``, so both sides compare like for like.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dr_lib.jsontypes import JSONObject
from dr_lib.restore.plan.model import ArchiveContext, PlanOptions, TypeRef
from dr_lib.restore.plan.never import legacy_token_name

METADATA_DROPPED: dict[str, str] = {
    "uid": "assigned by the API server at creation",
    "resourceVersion": "the old cluster's storage revision; a create carrying it is refused",
    "generation": "counted by the API server",
    "creationTimestamp": "set by the API server",
    "deletionTimestamp": "an object being deleted is not restored half-deleted",
    "deletionGracePeriodSeconds": "belongs to a deletion in progress",
    "selfLink": "deprecated, set by old API servers",
    "generateName": "the object keeps its saved name",
    "ownerReferences": "owner uids of the old cluster: the garbage collector would delete the object",
    "managedFields": "field ownership of the old cluster's writers",
}

ANNOTATIONS_DROPPED: dict[str, str] = {
    "deployment.kubernetes.io/revision": "the deployment controller numbers revisions in the new cluster",
    "pv.kubernetes.io/bind-completed": "bind state of the old cluster: a volume carrying it stays Released",
    "pv.kubernetes.io/bound-by-controller": "bind state of the old cluster: a volume carrying it stays Released",
    "volume.kubernetes.io/selected-node": "the old scheduler's choice of node",
    "volume.kubernetes.io/storage-provisioner": "set by the volume controller when it provisions",
    "volume.beta.kubernetes.io/storage-provisioner": "set by the volume controller when it provisions",
    "control-plane.alpha.kubernetes.io/leader": "old leader-election record",
    "endpoints.kubernetes.io/last-change-trigger-time": "set by the endpoints controller",
}

STATUS_REASON = "observed state: controllers compute it again in the new cluster"


@dataclass(frozen=True)
class Sanitizer:
    resources: frozenset[str]
    reason: str
    apply: Callable[[JSONObject, ArchiveContext, PlanOptions], None]


def _dict(parent: Any, key: str) -> dict[str, Any]:
    value = parent.get(key) if isinstance(parent, dict) else None
    return value if isinstance(value, dict) else {}


def _explicit_node_ports(obj: JSONObject) -> set[tuple[int, str]]:
    """(port, protocol) pairs whose nodePort a user wrote, per last-applied or managedFields."""
    explicit: set[tuple[int, str]] = set()
    meta = _dict(obj, "metadata")
    last_applied = _dict(meta, "annotations").get("kubectl.kubernetes.io/last-applied-configuration")
    if isinstance(last_applied, str):
        try:
            applied = json.loads(last_applied)
        except ValueError:
            applied = {}
        for port in _dict(applied, "spec").get("ports") or []:
            if isinstance(port, dict) and port.get("nodePort"):
                explicit.add((int(port.get("port", 0)), str(port.get("protocol", "TCP"))))
    for entry in meta.get("managedFields") or []:
        ports = _dict(_dict(_dict(entry, "fieldsV1"), "f:spec"), "f:ports")
        for key, fields in ports.items():
            if not (key.startswith("k:") and isinstance(fields, dict) and "f:nodePort" in fields):
                continue
            try:
                ident = json.loads(key[2:])
            except ValueError:
                continue
            explicit.add((int(ident.get("port", 0)), str(ident.get("protocol", "TCP"))))
    return explicit


def _explicit_health_check_port(obj: JSONObject) -> bool:
    for entry in _dict(obj, "metadata").get("managedFields") or []:
        if "f:healthCheckNodePort" in _dict(_dict(entry, "fieldsV1"), "f:spec"):
            return True
    return False


def _service(obj: JSONObject, _c: ArchiveContext, options: PlanOptions) -> None:
    spec = _dict(obj, "spec")
    if spec.get("clusterIP") != "None":
        spec.pop("clusterIP", None)
        spec.pop("clusterIPs", None)
    if options.preserve_node_ports:
        return
    explicit = _explicit_node_ports(obj)
    for port in spec.get("ports") or []:
        if isinstance(port, dict) and (int(port.get("port", 0)), str(port.get("protocol", "TCP"))) not in explicit:
            port.pop("nodePort", None)
    if not _explicit_health_check_port(obj):
        spec.pop("healthCheckNodePort", None)


def _persistent_volume(obj: JSONObject, _c: ArchiveContext, _o: PlanOptions) -> None:
    claim_ref = _dict(_dict(obj, "spec"), "claimRef")
    claim_ref.pop("uid", None)
    claim_ref.pop("resourceVersion", None)


def _persistent_volume_claim(obj: JSONObject, context: ArchiveContext, _o: PlanOptions) -> None:
    spec = _dict(obj, "spec")
    if spec.get("volumeName") not in context.volume_names:
        spec.pop("volumeName", None)


def _service_account(obj: JSONObject, _c: ArchiveContext, _o: PlanOptions) -> None:
    account = str(_dict(obj, "metadata").get("name", ""))
    secrets = obj.get("secrets")
    if isinstance(secrets, list):
        kept = [s for s in secrets if not (isinstance(s, dict) and legacy_token_name(account, str(s.get("name", ""))))]
        if kept:
            obj["secrets"] = kept
        else:
            obj.pop("secrets", None)


def _token_secret(obj: JSONObject, _c: ArchiveContext, _o: PlanOptions) -> None:
    if obj.get("type") != "kubernetes.io/service-account-token":
        return
    _dict(_dict(obj, "metadata"), "annotations").pop("kubernetes.io/service-account.uid", None)
    for key in ("token", "ca.crt", "namespace"):
        _dict(obj, "data").pop(key, None)
    if obj.get("data") == {}:
        obj.pop("data")


def _pod(obj: JSONObject, _c: ArchiveContext, _o: PlanOptions) -> None:
    spec = _dict(obj, "spec")
    spec.pop("nodeName", None)
    spec.pop("ephemeralContainers", None)


_JOB_UID_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")


def _job(obj: JSONObject, _c: ArchiveContext, _o: PlanOptions) -> None:
    spec = _dict(obj, "spec")
    if not spec.get("manualSelector"):
        spec.pop("selector", None)
    template_meta = _dict(_dict(spec, "template"), "metadata")
    for labels in (_dict(_dict(obj, "metadata"), "labels"), _dict(template_meta, "labels")):
        for label in _JOB_UID_LABELS:
            labels.pop(label, None)


SANITIZERS: tuple[Sanitizer, ...] = (
    Sanitizer(frozenset({"services"}), "cluster IPs are allocated anew (clearing clusterIP alone is refused since "
              "1.20; headless 'None' kept); node ports nobody set explicitly are allocated anew, or they collide",
              _service),
    Sanitizer(frozenset({"persistentvolumes"}), "claimRef uid/resourceVersion name the old claim: the volume would "
              "stay Released instead of binding to the restored claim", _persistent_volume),
    Sanitizer(frozenset({"persistentvolumeclaims"}), "volumeName kept only when that volume is restored too "
              "(the pair binds again); otherwise a new volume is provisioned", _persistent_volume_claim),
    Sanitizer(frozenset({"serviceaccounts"}), "references to auto-generated token secrets of the old cluster",
              _service_account),
    Sanitizer(frozenset({"secrets"}), "a service-account token secret is refilled by the token controller for the "
              "new account uid", _token_secret),
    Sanitizer(frozenset({"pods"}), "the scheduler picks a node; ephemeral containers cannot be created", _pod),
    Sanitizer(frozenset({"jobs.batch"}), "the generated selector and labels carry the old job's uid", _job),
)

_BY_RESOURCE: dict[str, list[Sanitizer]] = {}
for _sanitizer in SANITIZERS:
    for _resource in _sanitizer.resources:
        _BY_RESOURCE.setdefault(_resource, []).append(_sanitizer)


def sanitize(type_ref: TypeRef, obj: JSONObject, context: ArchiveContext, options: PlanOptions) -> JSONObject:
    """Strip what the new cluster must decide for itself. Mutates and returns ``obj``."""
    for sanitizer in _BY_RESOURCE.get(type_ref.resource, ()):
        if type_ref.resource in options.disabled_sanitizers:  # TEST-ONLY: a deliberately broken drill
            break
        sanitizer.apply(obj, context, options)  # first: some read managedFields, dropped below
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        for key in METADATA_DROPPED:
            meta.pop(key, None)
        annotations = meta.get("annotations")
        if isinstance(annotations, dict):
            for key in ANNOTATIONS_DROPPED:
                annotations.pop(key, None)
            if not annotations:
                meta.pop("annotations")
    obj.pop("status", None)
    return obj
