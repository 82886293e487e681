"""Restoring one object: create it, and when it exists, apply the conflict policy.

``skip`` (default) leaves an existing object alone and reports how it differs; ``update``
server-side-applies the archive's fields over it (the API server reports immutable fields);
``recreate`` deletes it, waits until it is gone, and creates it again. Every outcome is an
:class:`Entry`; nothing here raises for a single object's trouble except losing the server.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from dr_lib.clock import monotonic
from dr_lib.kube.client import Response
from dr_lib.kube.writing import Writer, encode, segment
from dr_lib.restore.ledger import CREATED, FAILED, SKIPPED, UNCHANGED, UPDATED, Entry
from dr_lib.restore.plan import (
    ArchiveContext,
    ObjectKey,
    PlannedObject,
    PlanOptions,
    TypeRef,
    compare_objects,
    sanitize,
)
from dr_lib.restore.plan.dependencies import needed_object, unmet_dependency
from dr_lib.restore.wait import poll_until

POLICIES = ("skip", "update", "recreate")
# Deleting these deletes what they hold: --policy recreate updates them in place instead.
NEVER_RECREATED: dict[str, str] = {
    "namespaces": "not recreated: deleting a namespace deletes everything in it",
    "customresourcedefinitions.apiextensions.k8s.io": "not recreated: deleting a CRD deletes all its objects",
    "persistentvolumes": "not recreated: deleting a volume can delete its data (reclaim policy)",
    "persistentvolumeclaims": "not recreated: deleting a claim can delete its volume's data",
}
DRY_RUN_PROXY_NAMESPACE = "default"
MAX_DIFFERENCES_IN_REASON = 3


@dataclass
class ObjectSettings:
    writer: Writer
    policy: str = "skip"
    dry_run: bool = False
    context: ArchiveContext = field(default_factory=ArchiveContext)
    options: PlanOptions = field(default_factory=PlanOptions)
    delete_timeout: float = 60.0
    namespace_timeout: float = 120.0
    not_found_retry_seconds: float = 0.0  # a just-Established CRD may 404 for a moment
    # Dry run only: namespaces this restore would create (absent live) and types not served yet.
    absent_namespaces: frozenset[str] = frozenset()
    unserved_resources: frozenset[str] = frozenset()
    planned: frozenset[ObjectKey] = frozenset()  # every object of the plan
    # A create refused because admission's cache does not show an object of the tier before yet.
    dependency_retry_seconds: float = 15.0
    clock: Callable[[], float] = monotonic


def group_version_path(type_ref: TypeRef) -> str:
    return "/api/" + type_ref.version if not type_ref.group else f"/apis/{type_ref.group}/{type_ref.version}"


def collection_path(type_ref: TypeRef, namespace: str) -> str:
    where = f"/namespaces/{segment(namespace)}" if type_ref.namespaced else ""
    return f"{group_version_path(type_ref)}{where}/{type_ref.plural}"


def object_path(type_ref: TypeRef, namespace: str, name: str) -> str:
    return f"{collection_path(type_ref, namespace)}/{segment(name)}"


def _status_reason(response: Response) -> str:
    reason = str(response.body.get("reason") or "")
    return f"{response.status} {reason}: {response.reason}" if reason else f"{response.status}: {response.reason}"


def _already_exists(response: Response) -> bool:
    return response.status == 409 and response.body.get("reason") == "AlreadyExists"


class ObjectRestorer:
    def __init__(self, settings: ObjectSettings) -> None:
        self.s = settings

    def restore(self, tier: str, obj: PlannedObject) -> Entry:
        def entry(result: str, reason: str = "", differences: tuple[str, ...] = ()) -> Entry:
            return Entry(tier, obj.type.resource, obj.type.kind, obj.namespace, obj.name, result, reason, differences)

        if self.s.dry_run and obj.type.resource in self.s.unserved_resources:
            return entry(SKIPPED, f"dry run: {obj.type.resource} is not served until its CRD is created; "
                                  "not validated")
        namespace, note = obj.namespace, obj.note
        if self.s.dry_run and obj.type.namespaced and namespace in self.s.absent_namespaces:
            body = obj.body
            body = {**body, "metadata": {**body["metadata"], "namespace": DRY_RUN_PROXY_NAMESPACE}}
            namespace = DRY_RUN_PROXY_NAMESPACE
            note = f"dry run: validated in namespace {DRY_RUN_PROXY_NAMESPACE}; {obj.namespace} does not exist yet"
            encoded = encode(body)
        else:
            encoded = obj.encoded
        response = self._create(obj.type, namespace, encoded)
        if response.ok:
            return entry(CREATED, note)
        if _already_exists(response):
            if note.startswith("dry run: validated"):
                return entry(CREATED, note + " (the name is taken there, so only validation ran)")
            return self._exists(obj, encoded, entry, self._live(obj))
        expected = unmet_dependency(response.reason, obj.namespace, self.s.planned) if self.s.dry_run else None
        if expected:
            return entry(SKIPPED, expected)
        if response.status in (409, 422) and namespace == obj.namespace:
            # Some checks run before the existence check (a Service's nodePort "already
            # allocated" — by the object itself): an existing object is a conflict, not a failure.
            live = self._live(obj)
            if live.ok:
                return self._exists(obj, encoded, entry, live)
        return entry(FAILED, _status_reason(response))

    def _create(self, type_ref: TypeRef, namespace: str, encoded: bytes) -> Response:
        path = collection_path(type_ref, namespace)

        def create() -> Response:
            return self.s.writer.create(path, encoded, dry_run=self.s.dry_run)

        response = create()
        if response.status == 404 and self.s.not_found_retry_seconds > 0:
            deadline = self.s.clock() + self.s.not_found_retry_seconds
            response = poll_until(create, lambda r: r.status != 404, deadline, clock=self.s.clock) or response
        if not response.ok and not self.s.dry_run and self._waits_for_cache(response, namespace):
            deadline = self.s.clock() + self.s.dependency_retry_seconds
            response = poll_until(create, lambda r: not self._waits_for_cache(r, namespace), deadline,
                                  clock=self.s.clock) or response
        return response

    def _waits_for_cache(self, response: Response, namespace: str) -> bool:
        return response.status in (403, 404, 422) and \
            needed_object(response.reason, namespace, self.s.planned) is not None

    def _live(self, obj: PlannedObject) -> Response:
        return self.s.writer.get(object_path(obj.type, obj.namespace, obj.name))

    def _exists(self, obj: PlannedObject, encoded: bytes, entry: Callable[..., Entry], live: Response) -> Entry:
        if live.status == 404:  # deleted between our create and our read: one more create
            retried = self._create(obj.type, obj.namespace, encoded)
            return entry(CREATED) if retried.ok else entry(FAILED, _status_reason(retried))
        if not live.ok:
            return entry(FAILED, "exists, and reading it failed: " + _status_reason(live))
        if obj.type.resource == "namespaces" and (live.body.get("status") or {}).get("phase") == "Terminating":
            return self._after_termination(obj, encoded, entry)
        if obj.implied:
            return entry(UNCHANGED, "exists; needed only as the home of restored objects")
        differences = tuple(str(d) for d in compare_objects(obj.body, self._sanitized(obj.type, live.body)))
        if not differences:
            return entry(UNCHANGED, "exists and matches the archive")
        shown = "; ".join(differences[:MAX_DIFFERENCES_IN_REASON])
        more = f" (+{len(differences) - MAX_DIFFERENCES_IN_REASON} more)" \
            if len(differences) > MAX_DIFFERENCES_IN_REASON else ""
        if self.s.policy == "update":
            return self._update(obj, encoded, entry, differences)
        if self.s.policy == "recreate":
            if obj.type.resource in NEVER_RECREATED:
                updated = self._update(obj, encoded, entry, differences)
                return replace(updated, reason=NEVER_RECREATED[obj.type.resource] + "; " + updated.reason)
            return self._recreate(obj, encoded, entry, differences)
        return entry(SKIPPED, f"exists and differs: {shown}{more}", differences)

    def _sanitized(self, type_ref: TypeRef, live: dict[str, Any]) -> dict[str, Any]:
        return sanitize(type_ref, copy.deepcopy(live), self.s.context, self.s.options)

    def _update(self, obj: PlannedObject, encoded: bytes, entry: Callable[..., Entry],
                differences: tuple[str, ...]) -> Entry:
        response = self.s.writer.apply(object_path(obj.type, obj.namespace, obj.name), encoded,
                                       dry_run=self.s.dry_run)
        if not response.ok:
            return entry(FAILED, "server-side apply refused: " + _status_reason(response), differences)
        return entry(UPDATED, f"server-side apply of the archive's fields ({len(differences)} differed)", differences)

    def _recreate(self, obj: PlannedObject, encoded: bytes, entry: Callable[..., Entry],
                  differences: tuple[str, ...]) -> Entry:
        path = object_path(obj.type, obj.namespace, obj.name)
        deleted = self.s.writer.delete(path, dry_run=self.s.dry_run)
        if not deleted.ok and deleted.status != 404:
            return entry(FAILED, "delete refused: " + _status_reason(deleted), differences)
        if self.s.dry_run:
            return entry(UPDATED, "dry run: would be deleted and created again (delete accepted)", differences)
        if not self._gone(obj, self.s.delete_timeout):
            return entry(FAILED, f"deleted, but still present after {self.s.delete_timeout:.0f} s "
                                 "(finalizers?); not created again", differences)
        created = self._create(obj.type, obj.namespace, encoded)
        if not created.ok:
            return entry(FAILED, "deleted, then create refused: " + _status_reason(created), differences)
        return entry(UPDATED, "deleted and created again from the archive", differences)

    def _gone(self, obj: PlannedObject, timeout: float) -> bool:
        deadline = self.s.clock() + timeout
        return poll_until(lambda: self._live(obj), lambda r: r.status == 404, deadline, clock=self.s.clock) is not None

    def _after_termination(self, obj: PlannedObject, encoded: bytes, entry: Callable[..., Entry]) -> Entry:
        if self.s.dry_run:
            return entry(SKIPPED, "dry run: namespace is still Terminating; a restore waits for it to go")
        if not self._gone(obj, self.s.namespace_timeout):
            return entry(FAILED, f"namespace still Terminating after {self.s.namespace_timeout:.0f} s")
        created = self._create(obj.type, obj.namespace, encoded)
        if not created.ok:
            return entry(FAILED, "create after termination refused: " + _status_reason(created))
        return entry(CREATED, "waited for the old namespace to finish terminating")
