"""What the drill covered, as facts for the evidence (key ``coverage``, beside the report's scope
limits): what ran for real and what was simulated, which images and how each
cluster got them, what did not apply and why, and for a drill of a real archive the archive
itself and the Kubernetes versions on both sides.

Recorded, not rendered: the report's summary reads these keys. Written into ``evidence.json`` in
one place (:func:`drill_facts`, merged last by :func:`dr_lib.drill.evidence.build_evidence`, which
writes the drill's ``kind`` from the same scope facts its summary reads).
"""

from __future__ import annotations

from typing import Any

from dr_lib.drill.run import DrillRun

MAX_PODS_LISTED = 500
ARCHIVE_DEFINITIONS = {
    "rto": "seconds from the start of the restore (k3s-dr verify of the drill's copy of the archive) until "
           "verification proved every object back, equal and healthy; obtaining the archive (offsite pull, copy) "
           "and provisioning the throwaway target cluster come before it and are not included",
    "rpo": "seconds from the archive's creation (its manifest's created) until the drill started: the archive's age, "
           "the changes a disaster at that moment would have lost",
}


def _pod_counts(pods: list[Any]) -> dict[str, int]:
    simulated = sum(1 for pod in pods if pod.simulated)
    return {"pods": len(pods), "real": len(pods) - simulated, "simulated": simulated,
            "running_and_ready": sum(1 for pod in pods if pod.phase == "Running" and pod.ready)}


def _data(run: DrillRun) -> dict[str, Any]:
    if run.archive is not None:
        reasons = [why for _step, what, why in run.inapplicable if what == "application data checks"]
        if run.archive.data_kinds:
            return {"checked": True, "how": "the archive's data members restored by k3s-dr restore and checked "
                                            "from its data report", "kinds": sorted(run.archive.data_kinds),
                    "results": run.archive.data_results, "not_checked": reasons}
        return {"checked": False, "reason": "; ".join(reasons)}
    if run.data_checks:
        return {"checked": True, "how": "rows written into the real database before the backup, read back after "
                                        "the restore", "results": [check.to_json() for check in run.data_checks]}
    return {"checked": False, "reason": "no real node: the database did not run, its volume holds no data "
                                        "(--real-node runs it)"}


def coverage(run: DrillRun) -> dict[str, Any]:
    pods = {which: facts for which, facts in run.pods.items()}
    every = [pod for facts in pods.values() for pod in facts]
    return {
        "application": (f"the archive {run.archive.path.name}" if run.archive is not None
                        else "synthetic: the InsightLearn application the drill seeds"),
        "simulated_nodes": any(pod.simulated for pod in every),
        "real_nodes": any(not pod.simulated for pod in every),
        "pod_counts": {which: _pod_counts(facts) for which, facts in pods.items()},
        "pods": {which: [pod.to_json() for pod in facts[:MAX_PODS_LISTED]] for which, facts in pods.items()},
        "images": None if run.images is None else {**run.images.to_json(),
                                                   "loads": [load.to_json() for load in run.image_loads]},
        "source_cluster_touched": run.archive is None,
        "application_data": _data(run),
        "not_applicable": [{"step": step, "what": what, "reason": why} for step, what, why in run.inapplicable],
    }


def drill_facts(run: DrillRun) -> dict[str, Any]:
    """The keys this module adds to the evidence (for an archive drill, ``definitions`` are its own: they
    replace what the evidence says for a synthetic drill)."""
    facts: dict[str, Any] = {
        "coverage": coverage(run),
        "archive": None if run.archive is None else run.archive.to_json(),
        "kubernetes_versions": {"source": run.identity.get("kubernetes_version_source"),
                                "target": run.identity.get("kubernetes_version_target")},
    }
    if run.settings.of_archive:
        facts["definitions"] = dict(ARCHIVE_DEFINITIONS)
    return facts
