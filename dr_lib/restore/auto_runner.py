"""The thin runner of ``k3s-dr restore --auto``: observe, decide (``auto.decide``), maybe restore.

The snapshot must be an archive k3s-dr wrote and verified in ``backup.dir``
(:mod:`dr_lib.restore.trust`); anything else is refused before it is read, and the refusal is a
decision like the others. The state file (``<restore.state_dir>/auto-restore.json``, written
atomically) keeps the last restore (boot, snapshot, cluster identity, objects present after it)
and the recent decisions, each with its reason; every decision is logged as well.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from dr_lib.clock import monotonic
from dr_lib.errors import ClusterUnreachable, IntegrityError, ResourceGone, SnapshotRefused
from dr_lib.kube.client import Kube, ResourceType
from dr_lib.kube.listing import iter_pages
from dr_lib.restore.auto import AutoState, Decision, Observation, decide, user_keys
from dr_lib.restore.files import read_json, write_json_atomic
from dr_lib.restore.plan import ObjectKey, Plan, TypeRef
from dr_lib.restore.run import RestoreOutcome, RestoreRequest, load_plan, restore_archive
from dr_lib.restore.trust import check_digest, trust_snapshot
from dr_lib.restore.wait import poll_until

log = logging.getLogger(__name__)

STATE_FILE = "auto-restore.json"
DECISIONS_KEPT = 50


@dataclass(frozen=True)
class AutoOutcome:
    decision: Decision
    observation: Observation
    restore: RestoreOutcome | None
    state_file: Path

    def to_dict(self) -> dict[str, Any]:
        return {"decision": self.decision.to_dict(), "observation": self.observation.__dict__,
                "state_file": str(self.state_file)}


def _resource_type(type_ref: TypeRef) -> ResourceType:
    return ResourceType(type_ref.group, type_ref.version, type_ref.plural, type_ref.kind, type_ref.namespaced)


def _terminating_namespaces(kube: Kube) -> set[str]:
    items = kube.get("/api/v1/namespaces").get("items") or []
    return {str(ns["metadata"]["name"]) for ns in items if (ns.get("status") or {}).get("phase") == "Terminating"}


def count_present(kube: Kube, plan: Plan, keys: Iterable[ObjectKey]) -> int:
    """How many of ``keys`` exist live: one paginated LIST per kind, not one GET per object.

    Objects being deleted (their own deletion, or their namespace's) count as lost already.
    """
    wanted = set(keys)
    types = {obj.type for obj in plan.objects() if obj.key in wanted}
    terminating = _terminating_namespaces(kube)
    present = 0
    for type_ref in sorted(types, key=lambda t: t.resource):
        live: set[ObjectKey] = set()
        try:
            for page in iter_pages(kube, _resource_type(type_ref)):
                if page.restart:
                    live.clear()
                for item in page.items:
                    meta = item["metadata"]
                    namespace = str(meta.get("namespace") or "")
                    if meta.get("deletionTimestamp") or namespace in terminating:
                        continue
                    live.add(ObjectKey(type_ref.resource, namespace, str(meta["name"])))
        except ResourceGone:  # a CRD that is gone: its objects are all missing
            pass
        present += len(live & wanted)
    return present


def wait_for_api(kube: Kube, timeout: float, clock: Callable[[], float] = monotonic) -> None:
    """At boot the unit may run before the API server answers: wait for /readyz, with a deadline."""
    def ready() -> bool:
        try:
            return kube.request("GET", "/readyz").ok
        except ClusterUnreachable:
            return False

    if poll_until(ready, bool, clock() + timeout, clock=clock, max_interval=5.0) is None:
        raise ClusterUnreachable(f"API server {kube.server} not ready within {timeout:.0f} s; no decision taken")


def cluster_uid(kube: Kube) -> str:
    return str(kube.get("/api/v1/namespaces/kube-system").get("metadata", {}).get("uid", ""))


def _save(path: Path, data: dict[str, Any], decision: Decision, seen: Observation, now: datetime) -> None:
    record = {"at": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "boot_id": seen.boot_id, **decision.to_dict(),
              "present": seen.present, "user_objects": seen.user_objects, "snapshot_sha256": seen.snapshot_sha256}
    data["decisions"] = [*(data.get("decisions") or []), record][-DECISIONS_KEPT:]
    write_json_atomic(path, data)


def _observe(request: RestoreRequest, kube: Kube, boot_id: str) -> tuple[Observation, RestoreRequest]:
    """What the snapshot holds and how much of it is live; and the request pinned to the trusted file
    (its path with every link resolved, its sha256), so a link moved meanwhile changes nothing."""
    if not request.archive.exists():
        return Observation(boot_id, "", 0, 0, cluster_uid(kube)), request
    trusted = trust_snapshot(request.archive, request.backup_dir or request.archive.parent)
    verified, plan = load_plan(trusted.path, request.plan_options, request.trust)
    check_digest(trusted, verified.sha256)
    keys = user_keys(plan)
    pinned = replace(request, archive=trusted.path, expected_sha256=verified.sha256)
    return Observation(boot_id, verified.sha256, len(keys), count_present(kube, plan, keys), cluster_uid(kube)), pinned


def _refused(request: RestoreRequest, exc: IntegrityError) -> SnapshotRefused:
    if "nothing applied" in exc.message:
        return SnapshotRefused(exc.message, hint=exc.hint)
    return SnapshotRefused(f"snapshot {request.archive} refused, nothing applied: {exc.message}", hint=exc.hint)


def run_auto(request: RestoreRequest, kube: Kube, *, boot_id: str, state_dir: Path, threshold: float,
             force: bool, now: datetime) -> AutoOutcome:
    wait_for_api(kube, request.wait_timeout)
    state_path = state_dir / STATE_FILE
    data = read_json(state_path)
    data = data if isinstance(data, dict) else {}
    last = AutoState.from_dict(data)
    try:
        seen, request = _observe(request, kube, boot_id)
    except IntegrityError as exc:
        refused = Decision(False, f"the snapshot is refused: {exc}", 0.0, refused=True)
        log.warning("auto-restore decision: no restore — %s", refused.reason)
        _save(state_path, data, refused, Observation(boot_id, "", 0, 0, ""), now)
        raise _refused(request, exc) from None
    decision = decide(seen, last, threshold, force=force)
    log.warning("auto-restore decision: %s — %s", "restore" if decision.restore else "no restore", decision.reason)
    outcome = None
    try:
        if decision.restore:
            outcome = restore_archive(replace(request, dry_run=False), kube, now=now)
            if outcome.ledger.interrupted is not None:  # not a restore of this boot: the next boot decides again
                log.warning("auto-restore interrupted: ledger %s", outcome.ledger_path)
                return AutoOutcome(decision, seen, outcome, state_path)
            after = AutoState(boot_id, outcome.verified.sha256, cluster_uid(kube),
                              count_present(kube, outcome.plan, user_keys(outcome.plan)),
                              now.strftime("%Y-%m-%dT%H:%M:%SZ"))
            data["last_restore"] = after.to_dict()
            log.warning("auto-restore %s: ledger %s", outcome.ledger.outcome, outcome.ledger_path)
    finally:  # the decision is kept even when the restore it started could not run
        _save(state_path, data, decision, seen, now)
    return AutoOutcome(decision, seen, outcome, state_path)
