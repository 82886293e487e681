"""Every wait of a restore, each with a deadline: it ends, one way or the other.

* :func:`poll_until`: ask again until the answer is the one wanted or the deadline passes (a
  CRD Established, a namespace gone, the API server's cache caught up, a cluster answering).
* :func:`wait_until_ready` (``restore --wait``): until the restored workloads are Ready and
  their claims Bound. The time from the start of the restore until this wait ends is the
  recovery time (RTO) a drill reports. Readiness per kind is a table of pure rules; each round
  lists each kind once (not one GET per object) until nothing is pending or the deadline passes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from dr_lib.clock import monotonic
from dr_lib.errors import ClusterError
from dr_lib.jsontypes import JSONObject
from dr_lib.kube.writing import Writer
from dr_lib.restore.ledger import FAILED, Entry
from dr_lib.restore.plan import ObjectKey

MAX_PENDING_SHOWN = 20
T = TypeVar("T")


def poll_until(fetch: Callable[[], T], done: Callable[[T], bool], deadline: float, *,
               clock: Callable[[], float] = monotonic, sleep: Callable[[float], None] = time.sleep,
               interval: float = 0.2, max_interval: float = 2.0) -> T | None:
    """Call ``fetch`` until ``done`` says yes (its value is returned) or ``deadline`` passes (None).

    ``fetch`` runs at least once, even past the deadline. The interval grows by half each
    round up to ``max_interval``: quick for the common short wait, gentle for long ones.
    """
    while True:
        value = fetch()
        if done(value):
            return value
        now = clock()
        if now >= deadline:
            return None
        sleep(min(interval, max(deadline - now, 0.0)))
        interval = min(interval * 1.5, max_interval)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _condition(obj: JSONObject, kind: str) -> bool:
    return any(isinstance(c, dict) and c.get("type") == kind and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or [])


def _replicas_ready(obj: JSONObject, ready_field: str) -> str | None:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    wanted = _int(spec.get("replicas", 1))
    if _int(status.get("observedGeneration")) < _int((obj.get("metadata") or {}).get("generation")):
        return "not yet observed by its controller"
    ready = _int(status.get(ready_field))
    return None if ready >= wanted else f"{ready}/{wanted} ready"


def _deployment(obj: JSONObject, _ctx: WaitContext) -> str | None:
    pending = _replicas_ready(obj, "availableReplicas")
    if pending is None and _int((obj.get("status") or {}).get("updatedReplicas")) < _int(
            (obj.get("spec") or {}).get("replicas", 1)):
        return "rollout not finished"
    return pending


def _daemon_set(obj: JSONObject, _ctx: WaitContext) -> str | None:
    status = obj.get("status") or {}
    desired, ready = _int(status.get("desiredNumberScheduled")), _int(status.get("numberReady"))
    if _int(status.get("observedGeneration")) < _int((obj.get("metadata") or {}).get("generation")):
        return "not yet observed by its controller"
    return None if ready >= desired else f"{ready}/{desired} ready"


def _pod(obj: JSONObject, _ctx: WaitContext) -> str | None:
    return None if _condition(obj, "Ready") else f"pod {(obj.get('status') or {}).get('phase', 'Pending')}, not Ready"


def _claim(obj: JSONObject, ctx: WaitContext) -> str | None:
    phase = (obj.get("status") or {}).get("phase")
    if phase == "Bound":
        return None
    meta = obj.get("metadata") or {}
    claim = (str(meta.get("namespace", "")), str(meta.get("name", "")))
    late_binding = ctx.binding_modes.get(str((obj.get("spec") or {}).get("storageClassName", ""))) \
        == "WaitForFirstConsumer"
    if late_binding and claim not in ctx.claims_in_use:
        return None  # binds only when a pod uses it, and none does: nothing to wait for
    return f"claim {phase or 'Pending'}"


@dataclass
class WaitContext:
    binding_modes: dict[str, str] = field(default_factory=dict)  # storage class → volumeBindingMode
    claims_in_use: set[tuple[str, str]] = field(default_factory=set)  # (namespace, claim) mounted by a pod


# resource → (collection path, rule: None when ready, else what is pending)
READINESS: dict[str, tuple[str, Callable[[JSONObject, WaitContext], str | None]]] = {
    "deployments.apps": ("/apis/apps/v1/deployments", _deployment),
    "statefulsets.apps": ("/apis/apps/v1/statefulsets", lambda o, _c: _replicas_ready(o, "readyReplicas")),
    "replicasets.apps": ("/apis/apps/v1/replicasets", lambda o, _c: _replicas_ready(o, "readyReplicas")),
    "daemonsets.apps": ("/apis/apps/v1/daemonsets", _daemon_set),
    "pods": ("/api/v1/pods", _pod),
    "persistentvolumeclaims": ("/api/v1/persistentvolumeclaims", _claim),
}


def pending_reason(resource: str, obj: JSONObject, ctx: WaitContext) -> str | None:
    return READINESS[resource][1](obj, ctx)


@dataclass(frozen=True)
class WaitResult:
    ready: bool
    seconds: float
    watched: int
    pending: dict[str, str]  # "resource ns/name" → what it still waits for

    def to_dict(self) -> dict[str, Any]:
        shown = dict(sorted(self.pending.items())[:MAX_PENDING_SHOWN])
        return {"ready": self.ready, "seconds": round(self.seconds, 3), "watched": self.watched,
                "pending": shown, "pending_count": len(self.pending)}


def _list(writer: Writer, path: str) -> list[JSONObject]:
    response = writer.get(path)
    if not response.ok:
        raise ClusterError(f"listing {path} on {writer.server} failed: {response.reason}")
    return [item for item in response.body.get("items") or [] if isinstance(item, dict)]


def _context(writer: Writer) -> WaitContext:
    modes = {str(sc["metadata"]["name"]): str(sc.get("volumeBindingMode", "Immediate"))
             for sc in _list(writer, "/apis/storage.k8s.io/v1/storageclasses")}
    in_use = {(str(pod["metadata"].get("namespace", "")), str(v["persistentVolumeClaim"]["claimName"]))
              for pod in _list(writer, "/api/v1/pods") for v in (pod.get("spec") or {}).get("volumes") or []
              if isinstance(v, dict) and isinstance(v.get("persistentVolumeClaim"), dict)}
    return WaitContext(modes, in_use)


def _pending(writer: Writer, watched: set[ObjectKey]) -> dict[str, str]:
    ctx = _context(writer) if any(k.resource == "persistentvolumeclaims" for k in watched) else WaitContext()
    pending: dict[str, str] = {}
    for resource in sorted({k.resource for k in watched}):
        live = {ObjectKey(resource, str(o["metadata"].get("namespace", "")), str(o["metadata"]["name"])): o
                for o in _list(writer, READINESS[resource][0])}
        for key in (k for k in watched if k.resource == resource):
            reason = "not found" if key not in live else pending_reason(resource, live[key], ctx)
            if reason is not None:
                pending[str(key)] = reason
    return pending


PROGRESS_EVERY_SECONDS = 15.0
PROGRESS_NAMES = 3


def progress_line(pending: dict[str, str], watched: int, elapsed: float, timeout: float) -> str:
    """``waiting: 2 of 5 not ready after 30 s of 600 s — deployments shop/web: 0/1 ready, …``. Pure."""
    shown = ", ".join(f"{key}: {why}" for key, why in sorted(pending.items())[:PROGRESS_NAMES])
    more = f", and {len(pending) - PROGRESS_NAMES} more" if len(pending) > PROGRESS_NAMES else ""
    return (f"waiting: {len(pending)} of {watched} workloads and claims not ready after {elapsed:.0f} s of "
            f"{timeout:.0f} s — {shown}{more}")


def wait_until_ready(writer: Writer, entries: list[Entry], timeout: float, *,
                     clock: Callable[[], float] = monotonic, sleep: Callable[[float], None] = time.sleep,
                     interval: float = 1.0, progress: Callable[[str], None] | None = None,
                     every: float = PROGRESS_EVERY_SECONDS) -> WaitResult:
    """Wait for every restored workload and claim of ``entries`` (failed ones excluded); every
    ``every`` seconds tell ``progress`` what is still pending, so a long wait is never silent."""
    watched = {ObjectKey(e.resource, e.namespace, e.name) for e in entries
               if e.resource in READINESS and e.result != FAILED}
    started = clock()
    rounds: list[dict[str, str]] = []
    shown_at = started

    def pending_now() -> dict[str, str]:
        nonlocal shown_at
        rounds.append(_pending(writer, watched) if watched else {})
        now = clock()
        if progress is not None and rounds[-1] and now - shown_at >= every:
            shown_at = now
            progress(progress_line(rounds[-1], len(watched), now - started, timeout))
        return rounds[-1]

    poll_until(pending_now, lambda pending: not pending, started + timeout, clock=clock, sleep=sleep,
               interval=interval, max_interval=interval)
    return WaitResult(not rounds[-1], clock() - started, len(watched), rounds[-1])
