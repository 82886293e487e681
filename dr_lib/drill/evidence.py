"""The evidence file: everything an auditor asks of a restore test, as one JSON document.

Start and end (UTC), the environment (tool, commit, provider, Kubernetes versions), which backup
(name, sha256, size, creation time → RPO), the timeline of steps and phases, what was restored
object by object, the completeness per kind, the checks run, measured RTO and RPO against the
targets, and the verdict with its reasons. Built from recorded values only; Secret values are
never in it (objects appear by kind, namespace and name).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dr_lib.drill.facts import drill_facts
from dr_lib.drill.run import DrillRun
from dr_lib.drill.timeline import iso
from dr_lib.drill.verdict import Verdict

FORMAT = "k3s-dr-drill-evidence"
FORMAT_VERSION = 1
RTO_DEFINITION = ("seconds from the loss (fresh: the source cluster is gone; wipe: the namespaces are gone) "
                  "until verification proved every object back, equal and healthy; provisioning the fresh "
                  "target cluster is recovery work and counts")
RPO_DEFINITION = "seconds from the creation of the backup the restore used until the loss"
CHECKS_RUN = (
    "the archive holds every seeded object (backup step)",
    "k3s-dr verify: tar safety, manifest, every sha256, every document parses (restore step)",
    "k3s-dr restore --dry-run: the API server accepts the whole plan (restore step)",
    "k3s-dr restore --wait: workloads Ready and claims Bound before the deadline (restore step)",
    "every object the plan restores exists in the target and equals the backed-up one after sanitizing",
    "Deployments and StatefulSets Ready, PVCs and PVs Bound, Services with ready endpoints, CRDs Established",
    "RTO and RPO within the configured targets",
)


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else iso(moment)


def _backup(run: DrillRun) -> dict[str, Any] | None:
    record = run.backup
    if record is None:
        return None
    return {"archive": record.archive.name, "sha256": record.sha256, "bytes": record.bytes,
            "created": iso(record.created), "objects": record.objects, "kinds": record.kinds,
            "seconds": round(record.command.seconds, 3), "command": record.command.command_line,
            "promoted": record.result.get("promoted")}


def _restore(run: DrillRun) -> dict[str, Any] | None:
    record = run.restore
    if record is None:
        return None
    return {"commands": [c.to_json() for c in record.commands], "counts": record.result.get("counts"),
            "complete": record.result.get("complete"), "seconds": record.result.get("seconds"),
            "phases": run.timeline.phase_seconds("restore")}


def build_evidence(run: DrillRun, verdict: Verdict, finished: datetime) -> dict[str, Any]:
    verification = run.verification
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "drill_id": run.drill_id,
        "identity": dict(run.identity),
        "started": iso(run.started),
        "finished": iso(finished),
        "seconds": round((finished - run.started).total_seconds(), 3),
        "targets": {"rto_seconds": verdict.targets.rto_seconds, "rpo_seconds": verdict.targets.rpo_seconds},
        "verdict": verdict.verdict,
        "failed_step": verdict.failed_step,
        "reasons": list(verdict.reasons),
        "rto_seconds": verdict.to_json()["rto_seconds"],
        "rpo_seconds": verdict.to_json()["rpo_seconds"],
        "rto_met": verdict.to_json()["rto_met"],
        "rpo_met": verdict.to_json()["rpo_met"],
        "definitions": {"rto": RTO_DEFINITION, "rpo": RPO_DEFINITION},
        "backup": _backup(run),
        "restore": _restore(run),
        "timeline": {
            "disaster": _time(run.timeline.disaster),
            "recovered": _time(run.timeline.recovered),
            "steps": [s.to_json() for s in sorted(run.timeline.steps, key=lambda s: s.started)],
            "phases": [p.to_json() for p in run.timeline.phases],
        },
        "seeded_objects": len(run.seeded),
        "counts": None if verification is None else verification.counts(),
        "per_kind": None if verification is None else verification.per_kind(),
        "objects": [] if verification is None else [r.to_json() for r in verification.results],
        "checks": list(CHECKS_RUN),
        "data_checks": [check.to_json() for check in run.data_checks],
        "test_only_options": dict(run.test_options),
        **drill_facts(run),  # kind, coverage (pods, images, what did not apply), the archive of an archive drill
    }
