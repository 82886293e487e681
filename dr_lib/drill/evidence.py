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
from dr_lib.drill.scope import ARCHIVE, SYNTHETIC, ScopeFacts, limits, scope_json, verdict_text
from dr_lib.drill.timeline import iso
from dr_lib.drill.verdict import Verdict
from dr_lib.evidence.frameworks import drill_references

FORMAT = "k3s-dr-drill-evidence"
FORMAT_VERSION = 1
RTO_DEFINITION = ("seconds from the loss (fresh: the source cluster is gone; wipe: the namespaces are gone) "
                  "until verification proved every object back, equal and healthy; provisioning the fresh "
                  "target cluster is recovery work and counts")
RPO_DEFINITION = "seconds from the creation of the backup the restore used until the loss"
# What the measured RTO does not contain, and why: a real recovery takes these on top.
RTO_EXCLUDES: tuple[tuple[str, str], ...] = (
    ("detection", "the time until someone or something notices the loss: the drill caused it and knows the moment"),
    ("declaration", "deciding to restore (declaring the incident, approvals, reaching the runbook): the drill "
                    "restores at once"),
    ("offsite fetch", "fetching the archive from offsite storage (k3s-dr pull): the synthetic drill restores a local "
                      "archive taken seconds before; a drill of a real archive with --from pulls it before the restore "
                      "starts, and the pull (its own phase in the timeline) is not part of the RTO"),
    ("image pulls", "pulling container images: kwok nodes pull nothing, the real node uses images imported "
                    "before the drill"),
)
SCHEDULE_RPO_DEFINITION = ("the schedule's worst case: a loss just before the next backup loses up to one backup "
                           "interval of work (config backup.interval), plus the backup's own duration")
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


def _data_checked(run: DrillRun) -> tuple[bool, tuple[str, ...]]:
    """Whether application data was read back after the restore, and why (the part) that was not. A
    drill of a real archive checks the archive's own data members, each kind only where the target
    can take it; a kind left unchecked (or no data in the archive at all) leaves the limit standing."""
    if run.archive is None:
        return bool(run.data_checks) and all(getattr(c, "ok", False) for c in run.data_checks), ()
    reasons = tuple(why for _step, what, why in run.inapplicable if what == "application data checks")
    results = run.archive.data_results
    return bool(results) and all(r.get("ok") for r in results) and not reasons, reasons


def scope_facts(run: DrillRun) -> ScopeFacts:
    """What the drill observed about its own scope (nodes from the target's API server)."""
    seen = run.verification.nodes if run.verification is not None else []
    simulated = tuple(n.name for n in seen if n.simulated)
    if not seen and run.settings.provider == "local" and run.settings.nodes > 0:
        simulated = (f"{run.settings.nodes} kwok node(s) of the local cluster",)  # never listed: kwok's nodes
    real = tuple(n.name for n in seen if not n.simulated) or (("the real node",) if run.settings.real_node and not seen
                                                                else ())
    workloads = tuple(r.label for r in (run.verification.results if run.verification else [])
                      if set(r.nodes) & set(simulated))
    data_checked, data_reasons = _data_checked(run)
    if run.archive is not None:  # the datastore is the archive's; its source is the team's own cluster
        datastore = run.archive.verified.manifest.datastore is not None
    else:
        datastore = run.backup is not None and bool(run.backup.result.get("datastore"))
    # A real archive's source is the team's own backup, taken as production: the report names its
    # source cluster (server, kube-system uid, Kubernetes version) for the reviewer to confirm.
    return ScopeFacts(ARCHIVE if run.settings.of_archive else SYNTHETIC, bool(seen), simulated, real, workloads,
                      data_checked, datastore, production_source=run.settings.of_archive,
                      data_not_checked=data_reasons)


def _schedule(run: DrillRun, verdict: Verdict) -> dict[str, Any]:
    interval = run.settings.backup_interval_seconds
    return {"backup_interval_seconds": interval, "schedule_rpo_seconds": interval,
            "schedule_rpo_met": None if interval is None else interval <= verdict.targets.rpo_seconds,
            "definition": SCHEDULE_RPO_DEFINITION}


def build_evidence(run: DrillRun, verdict: Verdict, finished: datetime) -> dict[str, Any]:
    verification = run.verification
    facts = scope_facts(run)
    found = limits(facts)
    return {
        "kind": facts.kind,
        "scope": scope_json(found),
        "verdict_summary": verdict_text(verdict.verdict, found),
        "schedule": _schedule(run, verdict),
        "rto_excludes": [{"what": what, "why": why} for what, why in RTO_EXCLUDES],
        "frameworks": [{"step": step, **ref.to_json()} for step, ref in drill_references()],
        "nodes": [] if verification is None else [n.to_json() for n in verification.nodes],
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
        **drill_facts(run),  # coverage (pods, images, what did not apply), the archive of an archive drill
    }
