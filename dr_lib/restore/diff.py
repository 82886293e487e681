"""``k3s-dr diff``: what differs between an archive and the live cluster, object by object.

Both sides are sanitized by the same rules a restore uses (with the archive's facts), so the
diff shows what a restore would find: objects missing live, objects that differ (with the
fields), and objects that match. Server defaults present only live are not differences.
"""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dr_lib.errors import ClusterError
from dr_lib.kube.writing import Writer
from dr_lib.restore.objects import object_path
from dr_lib.restore.plan import LeftOut, Plan, PlannedObject, PlanOptions, compare_objects, sanitize
from dr_lib.restore.run import load_plan

MISSING = "missing"
DIFFERS = "differs"
SAME = "same"


@dataclass(frozen=True)
class ObjectDiff:
    resource: str
    kind: str
    namespace: str
    name: str
    state: str  # missing | differs | same
    differences: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"resource": self.resource, "kind": self.kind, "namespace": self.namespace, "name": self.name,
                "state": self.state, "differences": list(self.differences)}


@dataclass
class DiffReport:
    archive: str
    objects: list[ObjectDiff] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {state: sum(1 for o in self.objects if o.state == state) for state in (MISSING, DIFFERS, SAME)}

    def to_dict(self) -> dict[str, Any]:
        return {"archive": self.archive, "counts": self.counts, "left_out": len(self.left_out),
                "objects": [o.to_dict() for o in self.objects if o.state != SAME]}


def _diff_one(writer: Writer, obj: PlannedObject, plan_options: PlanOptions, plan: Plan) -> ObjectDiff:
    def result(state: str, differences: tuple[str, ...] = ()) -> ObjectDiff:
        return ObjectDiff(obj.type.resource, obj.type.kind, obj.namespace, obj.name, state, differences)

    live = writer.get(object_path(obj.type, obj.namespace, obj.name))
    if live.status == 404:
        return result(MISSING)
    if not live.ok:
        raise ClusterError(f"reading {obj.key} from {writer.server} failed: {live.reason}")
    sanitized = sanitize(obj.type, copy.deepcopy(live.body), plan.context, plan_options)
    differences = tuple(str(d) for d in compare_objects(obj.body, sanitized))
    return result(DIFFERS if differences else SAME, differences)


def diff_archive(archive: Path, writer: Writer, plan_options: PlanOptions, *, workers: int = 16) -> DiffReport:
    _verified, plan = load_plan(archive.resolve(), plan_options)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="diff") as pool:
        diffs = list(pool.map(lambda o: _diff_one(writer, o, plan_options, plan), plan.objects()))
    return DiffReport(str(archive.resolve()), diffs, plan.left_out)
