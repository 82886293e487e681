"""The six steps of a restore drill. Each takes the :class:`DrillRun`, does its work, records
what it measured, and raises :class:`StepFailed` with the reason when its check does not hold.

A drill of a real archive (``--archive``, ``--from``) has its own source, backup and destroy
(:mod:`dr_lib.drill.archive_steps`); restore, verify and judge are the same for both kinds.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from dr_lib.archive import iter_archive_objects, read_manifest
from dr_lib.atomic import sha256_file
from dr_lib.clock import utc_now
from dr_lib.cluster.provider import real_node
from dr_lib.config import parse_duration
from dr_lib.drill import archive_data, archive_steps, live, realdata
from dr_lib.drill.app import DRILL_LABEL, AppOptions, application
from dr_lib.drill.commands import run_k3s_dr, still_waiting
from dr_lib.drill.pods import describe_stuck, list_pods, stuck_containers, wait_healthy
from dr_lib.drill.redact import redact_object, secret_strings
from dr_lib.drill.run import BackupRecord, DrillRun, RestoreRecord
from dr_lib.drill.stepkit import deadline, ns, record_pods, require_ok, start_drill_cluster
from dr_lib.drill.timeline import rpo_seconds
from dr_lib.drill.verdict import judge as judge_verdict
from dr_lib.drill.verify import UNHEALTHY, verify_restore
from dr_lib.errors import StepFailed
from dr_lib.kube.client import Kube

HEALTH_GRACE_SECONDS = 30.0  # verify re-checks health briefly: restore --wait already waited
MAX_FAILURES_IN_MESSAGE = 8


def _app_options(run: DrillRun) -> AppOptions:
    data_root = str(run.work_dir / "volumes")
    assert run.images is not None
    images, policy = run.images.refs, run.images.pull_policy
    if not run.settings.real_node:
        return AppOptions(run.drill_id, images=images, pull_policy=policy, data_root=data_root)
    node = real_node()
    return AppOptions(run.drill_id, images=images, pull_policy=policy, real_node=True,
                      real_node_name=node.node_name, data_root=data_root)


def source(run: DrillRun) -> None:
    """1: a source cluster with the application seeded and healthy (archive drills: the archive)."""
    if run.settings.of_archive:
        run.identity.update(kind="archive", destroy_mode="none: a drill of a real archive never touches "
                                                               "its source cluster")
        archive_steps.source(run)
        return
    run.identity["kind"] = "synthetic"
    t0, m0 = utc_now(), time.monotonic()
    run.source = start_drill_cluster(run, "src")
    run.identity["kubernetes_version_source"] = run.source.kubernetes_version
    run.phase("source", "cluster-up", t0, m0, f"{run.settings.provider}, Kubernetes {run.source.kubernetes_version}")
    run.seeded = application(_app_options(run))
    namespaces = sorted({ns(o) for o in run.seeded} - {""})
    until = deadline(run)
    with Kube.from_kubeconfig(run.source.kubeconfig) as kube:
        t1, m1 = utc_now(), time.monotonic()
        live.create_objects(kube, run.seeded, until)
        run.phase("source", "seed", t1, m1, f"{len(run.seeded)} objects in {len(namespaces)} namespaces and cluster "
                                            "scope")
        t2, m2 = utc_now(), time.monotonic()
        wait_healthy(kube, lambda: live.unhealthy(kube, run.seeded), namespaces, until,
                     "waiting for the seeded application")
        run.phase("source", "ready", t2, m2, "workloads Ready, claims Bound, Services with endpoints")
    record_pods(run, "source", run.source.kubeconfig, namespaces)
    run.attach("source", "application.json", "json", [redact_object(o) for o in run.seeded])


def backup(run: DrillRun) -> None:
    """2: ``k3s-dr backup``; the archive must hold every seeded object (archive drills: the archive verified)."""
    if run.settings.of_archive:
        archive_steps.backup(run)
        return
    backup_dir = run.work_dir / "backups"
    if run.settings.real_node:
        realdata.write_before_backup(run)
    t0, m0 = utc_now(), time.monotonic()
    # --no-datastore: on a k3s server host, the host's own datastore is not the drill cluster's.
    args = ["backup", "--kubeconfig", str(run.source.kubeconfig), "--dir", str(backup_dir), "--no-datastore",
            "--json"]
    if run.settings.provider == "kubeconfig":  # a shared cluster: the drill backs up and judges only its own objects
        args += ["--selector", f"{DRILL_LABEL}={run.drill_id}"]
    command = run_k3s_dr(args, env=run.env, timeout=run.settings.step_timeout_seconds)
    result = require_ok(command, "backup failed")
    archive = Path(str(result.get("archive", "")))
    if not archive.is_absolute():
        archive = backup_dir / archive
    manifest = read_manifest(archive)
    run.backup = BackupRecord(archive, sha256_file(archive), archive.stat().st_size, manifest.created_at,
                              manifest.objects, len(manifest.files), command, result)
    run.phase("backup", "k3s-dr backup", t0, m0, f"{archive.name}: {manifest.objects} objects, "
                                                   f"{len(manifest.files)} kinds")
    run.attach("backup", "backup-result.json", "json", {**result, "command": command.command_line,
                                                         "sha256": run.backup.sha256})
    _check_backup_holds_seed(run, archive)


def _check_backup_holds_seed(run: DrillRun, archive: Path) -> None:
    held: set[tuple[Any, str, Any]] = set()
    for _entry, obj in iter_archive_objects(archive):
        held.add((obj.get("kind"), ns(obj), obj.get("metadata", {}).get("name")))
        run.secret_values |= secret_strings(obj)
    missing = [live.describe(o) for o in run.seeded if (o["kind"], ns(o), o["metadata"]["name"]) not in held]
    if missing:
        raise StepFailed(f"the archive lacks {len(missing)} seeded objects: {', '.join(missing[:10])}")


def destroy(run: DrillRun) -> None:
    """3: the loss. Fresh: the source cluster is gone and a new empty one is provisioned (that
    provisioning is recovery work, so it runs inside the RTO). Wipe: the drill's namespaces and
    cluster-scoped objects are deleted in place. Archive drills: a throwaway target, the source untouched."""
    if run.settings.of_archive:
        archive_steps.destroy(run)
        return
    if run.settings.destroy == "fresh":
        t0, m0 = utc_now(), time.monotonic()
        run.source.stop()
        if run.settings.real_node:  # the node's disk is lost too: the data must come from the archive
            shutil.rmtree(run.work_dir / "volumes" / run.drill_id, ignore_errors=True)
        run.phase("destroy", "source-lost", t0, m0, "the source cluster was stopped and removed")
        run.timeline.mark_disaster(utc_now(), time.monotonic())
        t1, m1 = utc_now(), time.monotonic()
        run.target = start_drill_cluster(run, "dst")
        run.identity["kubernetes_version_target"] = run.target.kubernetes_version
        run.phase("destroy", "target-up", t1, m1, f"fresh empty cluster, Kubernetes {run.target.kubernetes_version}")
        return
    t0, m0 = utc_now(), time.monotonic()
    with Kube.from_kubeconfig(run.source.kubeconfig) as kube:
        deleted = live.delete_objects(kube, run.seeded, run.drill_id, deadline(run))
    run.phase("destroy", "wipe", t0, m0, f"{deleted} namespaces and cluster-scoped objects deleted, all gone")
    run.timeline.mark_disaster(utc_now(), time.monotonic())
    run.target = run.source
    run.identity["kubernetes_version_target"] = run.target.kubernetes_version


def restore(run: DrillRun) -> None:
    """4: verify the archive, dry-run the restore, restore with --wait; each phase timed. An archive
    drill's RTO starts here (nothing was lost: the restore is the recovery being measured)."""
    assert run.backup is not None
    if run.settings.of_archive:
        run.timeline.mark_disaster(utc_now(), time.monotonic())
    archive, kubeconfig = str(run.backup.archive), str(run.target.kubeconfig)
    record = run.restore = RestoreRecord()
    # The restore's own deadline must pass first, so its report of what was not ready is what we see.
    timeout = max(run.settings.step_timeout_seconds, parse_duration(run.settings.restore_wait_timeout) + 120.0)
    sabotage = run.settings.restore_test_flags()  # TEST-ONLY switches, in the commands the evidence records
    data = ["--no-data"] if run.archive is not None and not run.archive.data_kinds else []
    phases = (
        ("verify-archive", ["verify", archive]),
        ("dry-run", ["restore", archive, "--kubeconfig", kubeconfig, "--json", "--dry-run", *sabotage]),
        ("restore-and-wait", ["restore", archive, "--kubeconfig", kubeconfig, "--json", "--wait",
                              "--wait-timeout", run.settings.restore_wait_timeout, *sabotage, *data]),
    )
    for name, args in phases:
        t0, m0 = utc_now(), time.monotonic()
        command = run_k3s_dr(args, env=run.env, timeout=timeout)
        record.commands.append(command)
        run.phase("restore", name, t0, m0, command.command_line if command.ok else command.failure())
        if command.result is not None and name == "restore-and-wait":
            record.result = command.result
            record.ledger = _ledger(command.result)
        if not command.ok:
            _attach_restore(run)
            raise StepFailed(f"{archive_steps.cannot_take(run)}{name} failed: {command.failure()}"
                             f"{still_waiting(command.result)}")
    _attach_restore(run)
    if not record.complete:
        raise StepFailed(f"restore reported complete=false: counts {record.result.get('counts')}")


def _ledger(result: dict[str, Any]) -> Any:
    """The restore's ledger: inline in its result, or in the file its result names."""
    ledger = result.get("ledger")
    if isinstance(ledger, str) and Path(ledger).is_file():
        try:
            return json.loads(Path(ledger).read_text(encoding="utf-8"))
        except ValueError:
            return {"unreadable_ledger": ledger}
    return ledger


def _attach_restore(run: DrillRun) -> None:
    assert run.restore is not None
    run.attach("restore", "restore-commands.json", "json", [c.to_json() for c in run.restore.commands])
    if run.restore.result:
        run.attach("restore", "restore-result.json", "json", run.restore.result)
    if run.restore.ledger is not None:
        run.attach("restore", "ledger.json", "json", run.restore.ledger)


def verify(run: DrillRun) -> None:
    """5: every backed-up object back and equal after sanitizing; health of what has one.

    Two checkers that share no comparison code: the operator's ``k3s-dr diff`` (attached to the
    report; its exit status is its verdict) and the drill's own object-by-object verification.
    """
    assert run.backup is not None
    t0, m0 = utc_now(), time.monotonic()
    diff = run_k3s_dr(["diff", str(run.backup.archive), "--kubeconfig", str(run.target.kubeconfig), "--json"],
                      env=run.env, timeout=run.settings.step_timeout_seconds)
    run.phase("verify", "k3s-dr diff", t0, m0, "no differences" if diff.ok else diff.failure())
    run.attach("verify", "k3s-dr-diff.json", "json", diff.result if diff.result is not None else diff.to_json())
    t0, m0 = utc_now(), time.monotonic()
    with Kube.from_kubeconfig(run.target.kubeconfig) as kube:
        verification = verify_restore(run.backup.archive, kube, time.monotonic() + HEALTH_GRACE_SECONDS)
    run.verification = verification
    counts = verification.counts()
    run.phase("verify", "compare-and-health", t0, m0,
              f"{counts['equal']} equal, {counts['differs']} differ, {counts['missing']} missing, "
              f"{counts['unhealthy']} unhealthy, {counts['left-out']} left out by plan")
    run.attach("verify", "diff.txt", "text", verification.diff_text())
    run.attach("verify", "completeness.json", "json", verification.per_kind())
    record_pods(run, "target", run.target.kubeconfig, {r.namespace for r in verification.results} - {""})
    failures = verification.failures
    if failures:
        shown = "; ".join(f"{f.label}: {f.result} ({f.reasons[0] if f.reasons else ''})"
                          for f in failures[:MAX_FAILURES_IN_MESSAGE])
        raise StepFailed(f"{len(failures)} of {counts['expected']} restored objects failed verification: {shown}"
                         f"{_stuck_pods(run, [f.namespace for f in failures if f.result == UNHEALTHY])}")
    if not diff.ok:
        raise StepFailed(f"k3s-dr diff found differences the drill's verification did not: {diff.failure()}")
    if run.settings.real_node and not run.settings.of_archive:
        realdata.check_real_database(run)
        realdata.check_data(run)
    archive_data.check_data(run)
    run.timeline.mark_recovered(utc_now(), time.monotonic())


def _stuck_pods(run: DrillRun, namespaces: list[str]) -> str:
    """Why unhealthy workloads' pods do not start (an image the node cannot get, a crash loop), as a clause."""
    if not namespaces:
        return ""
    with Kube.from_kubeconfig(run.target.kubeconfig) as kube:
        stuck = [s for pod in list_pods(kube, namespaces) for s in stuck_containers(pod)]
    return f"; pods not starting: {describe_stuck(stuck)}" if stuck else ""


def judge(run: DrillRun) -> None:
    """6: the verdict on RTO and RPO against the targets (and on every step before)."""
    verdict = current_verdict(run)
    run.attach("judge", "verdict.json", "json", verdict.to_json())
    if not verdict.passed:
        measured = [r for r in verdict.reasons if not r.startswith("step ")]
        where = f"the drill failed at step {verdict.failed_step}" if verdict.failed_step != "judge" else ""
        raise StepFailed("; ".join(part for part in (where, *measured) if part))


def current_verdict(run: DrillRun) -> Any:
    """RPO: the data a disaster at the loss would have lost; for a real archive, its age when the drill began."""
    created = run.backup.created if run.backup is not None else None
    lost_at = run.timeline.started if run.settings.of_archive else run.timeline.disaster
    return judge_verdict(run.timeline, rpo_seconds(created, lost_at), run.settings.targets)
