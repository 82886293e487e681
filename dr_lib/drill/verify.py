"""Step 5: is every backed-up object back, equal, and serving?

The archive is the reference, not the source cluster (which a real disaster took away). The
restore planner says which objects a restore must bring back and which it deliberately leaves
out (with its reason); each one it must bring back is read from the target cluster, both sides
are sanitized by the planner's rules and compared (:mod:`dr_lib.drill.compare`), and objects of
kinds with a health (workloads, claims, volumes, Services, CRDs) must be healthy.
"""

from __future__ import annotations

import copy
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dr_lib.archive import iter_archive_objects
from dr_lib.drill.compare import differences
from dr_lib.drill.live import NodeInfo, Unhealthy, cluster_nodes, get_object, live_health, pod_nodes, wait_until
from dr_lib.drill.readiness import Health
from dr_lib.errors import DeadlineExceeded
from dr_lib.jsontypes import JSONObject
from dr_lib.kube.client import Kube, ResourceType
from dr_lib.restore.plan.context import build_context
from dr_lib.restore.plan.model import ArchiveContext, PlanOptions, TypeRef
from dr_lib.restore.plan.planner import build_plan
from dr_lib.restore.plan.sanitize import sanitize

EQUAL = "equal"
DIFFERS = "differs"
MISSING = "missing"
UNHEALTHY = "unhealthy"
LEFT_OUT = "left-out"
FAILURES = (DIFFERS, MISSING, UNHEALTHY)


@dataclass(frozen=True)
class ObjectResult:
    kind: str
    resource: str
    namespace: str
    name: str
    result: str
    reasons: tuple[str, ...] = ()
    health: str = ""  # ready replicas, claim phase, endpoints, … (kinds that have a health)
    nodes: tuple[str, ...] = ()  # where a workload's pods run ("" for a pod not scheduled)

    @property
    def failed(self) -> bool:
        return self.result in FAILURES

    @property
    def label(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "resource": self.resource, "namespace": self.namespace, "name": self.name,
                "result": self.result, "reasons": list(self.reasons), "health": self.health, "nodes": list(self.nodes)}


@dataclass
class Verification:
    results: list[ObjectResult] = field(default_factory=list)
    seconds: float = 0.0
    nodes: list[NodeInfo] = field(default_factory=list)  # the target cluster's nodes, as seen after the restore

    @property
    def failures(self) -> list[ObjectResult]:
        return [r for r in self.results if r.failed]

    def per_kind(self) -> dict[str, dict[str, int]]:
        """Completeness per kind: backed up, left out by plan, and each verification result."""
        table: dict[str, Counter[str]] = {}
        for result in self.results:
            counts = table.setdefault(result.kind, Counter())
            counts["backed_up"] += 1
            counts[result.result] += 1
        return {kind: {"backed_up": c["backed_up"], "expected": c["backed_up"] - c[LEFT_OUT],
                       "equal": c[EQUAL], "differs": c[DIFFERS], "missing": c[MISSING],
                       "unhealthy": c[UNHEALTHY], "left_out": c[LEFT_OUT]}
                for kind, c in sorted(table.items())}

    def counts(self) -> dict[str, int]:
        totals = Counter(r.result for r in self.results)
        return {"backed_up": len(self.results), "expected": len(self.results) - totals[LEFT_OUT],
                **{name: totals[name] for name in (EQUAL, DIFFERS, MISSING, UNHEALTHY, LEFT_OUT)}}

    def diff_text(self) -> str:
        """What differs, object by object, Secret values never shown: the report's diff extra."""
        lines = [f"{r.label} [{r.result}]\n" + "".join(f"    {reason}\n" for reason in r.reasons)
                 for r in self.results if r.failed]
        return "".join(lines) if lines else "no differences: every restored object equals its backed-up original\n"


def resource_type(type_ref: TypeRef) -> ResourceType:
    return ResourceType(type_ref.group, type_ref.version, type_ref.plural, type_ref.kind, type_ref.namespaced)


def _read_archive(archive: Path) -> list[tuple[TypeRef, JSONObject]]:
    return [(TypeRef.of(entry), obj) for entry, obj in iter_archive_objects(archive)]


def _compare(kube: Kube, type_ref: TypeRef, planned: JSONObject, context: ArchiveContext,
             options: PlanOptions) -> tuple[ObjectResult, JSONObject | None]:
    meta = planned["metadata"]
    namespace, name = str(meta.get("namespace") or ""), str(meta["name"])
    live = get_object(kube, resource_type(type_ref), name, namespace or None)
    if live is None:
        return ObjectResult(type_ref.kind, type_ref.resource, namespace, name, MISSING,
                            ("not found in the target cluster",)), None
    found = differences(planned, sanitize(type_ref, copy.deepcopy(live), context, options))
    if found:
        return ObjectResult(type_ref.kind, type_ref.resource, namespace, name, DIFFERS,
                            tuple(str(d) for d in found)), live
    return ObjectResult(type_ref.kind, type_ref.resource, namespace, name, EQUAL), live


def _with_health(kube: Kube, results: list[ObjectResult], planned: dict[tuple[str, str, str], JSONObject],
                 types: dict[str, ResourceType], deadline: float) -> list[ObjectResult]:
    """Poll the health of equal objects until all are healthy or the deadline passes; every
    object with a health keeps the last reading (healthy ones too: the report shows them all)."""
    last: dict[tuple[str, str, str], Health] = {}

    def check() -> list[Unhealthy]:
        bad: list[Unhealthy] = []
        for r in results:
            if r.result != EQUAL:
                continue
            key = (r.resource, r.namespace, r.name)
            health = live_health(kube, planned[key], types[r.resource])
            if health is None:
                continue
            last[key] = health
            if not health.ok:
                bad.append(Unhealthy(f"{r.resource}|{r.namespace}|{r.name}", health.reason))
        return bad

    try:
        wait_until(check, deadline, "waiting for restored objects to be healthy")
    except DeadlineExceeded:
        check()
    final: list[ObjectResult] = []
    for r in results:
        health = last.get((r.resource, r.namespace, r.name))
        if health is None:
            final.append(r)
        elif health.ok:
            final.append(replace(r, health=health.reason))
        else:
            final.append(replace(r, result=UNHEALTHY, reasons=(health.reason,), health=health.reason))
    return final


WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")


def _placed(kube: Kube, results: list[ObjectResult],
            planned: dict[tuple[str, str, str], JSONObject]) -> list[ObjectResult]:
    """Each restored workload with the nodes its pods run on."""
    placed: list[ObjectResult] = []
    for r in results:
        body = planned.get((r.resource, r.namespace, r.name))
        if r.kind not in WORKLOADS or body is None:
            placed.append(r)
            continue
        labels = ((body.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        placed.append(replace(r, nodes=tuple(sorted(pod_nodes(kube, r.namespace, labels)))))
    return placed


def verify_restore(archive: Path, kube: Kube, health_deadline: float,
                   options: PlanOptions | None = None) -> Verification:
    """Compare the target cluster with the archive; wait for health until ``health_deadline``."""
    started = time.monotonic()
    options = options or PlanOptions()
    items = _read_archive(archive)
    context = build_context(items)
    plan = build_plan(((t, copy.deepcopy(o)) for t, o in items), options)
    results: list[ObjectResult] = [
        ObjectResult(left.kind, left.key.resource, left.key.namespace, left.key.name, LEFT_OUT, (left.reason,))
        for left in plan.left_out
    ]
    compared: list[ObjectResult] = []
    planned: dict[tuple[str, str, str], JSONObject] = {}
    types: dict[str, ResourceType] = {}
    for obj in plan.objects():
        if obj.note:  # made by the planner (a namespace the archive lacked), not backed up
            continue
        types[obj.type.resource] = resource_type(obj.type)
        result, _live = _compare(kube, obj.type, obj.body, context, options)
        compared.append(result)
        planned[(obj.type.resource, result.namespace, result.name)] = obj.body
    results.extend(_placed(kube, _with_health(kube, compared, planned, types, health_deadline), planned))
    results.sort(key=lambda r: (r.result == LEFT_OUT, r.kind, r.namespace, r.name))
    return Verification(results, time.monotonic() - started, cluster_nodes(kube))


def kinds_of(items: Iterable[ObjectResult]) -> list[str]:
    return sorted({r.kind for r in items})
