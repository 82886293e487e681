"""The six steps of a restore drill. Each takes the :class:`DrillRun`, does its work, records
what it measured, and raises :class:`StepFailed` with the reason when its check does not hold.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

from dr_lib.archive import iter_archive_objects, read_manifest
from dr_lib.atomic import sha256_file
from dr_lib.clock import utc_now
from dr_lib.cluster.provider import ClusterSpec, real_node, start_cluster
from dr_lib.config import parse_duration
from dr_lib.drill import live
from dr_lib.drill.app import DATA_NS, DRILL_LABEL, AppOptions, application
from dr_lib.drill.commands import CommandRun, run_k3s_dr, still_waiting
from dr_lib.drill.redact import redact_object, secret_strings
from dr_lib.drill.run import BackupRecord, DrillRun, RestoreRecord
from dr_lib.drill.timeline import rpo_seconds
from dr_lib.drill.verdict import judge as judge_verdict
from dr_lib.drill.verify import verify_restore
from dr_lib.errors import StepFailed
from dr_lib.hooks.datacheck import DataTarget, read_back, write_rows
from dr_lib.kube.client import Kube

HEALTH_GRACE_SECONDS = 30.0  # verify re-checks health briefly: restore --wait already waited
MAX_FAILURES_IN_MESSAGE = 8


def _deadline(run: DrillRun) -> float:
    return time.monotonic() + run.settings.step_timeout_seconds


def _start_cluster(run: DrillRun, role: str) -> Any:
    settings = run.settings
    spec = ClusterSpec(f"drill-{run.drill_id}-{role}", nodes=settings.nodes, real_node=settings.real_node,
                       owned_by_process=True)
    handle = start_cluster(settings.provider, spec, kubeconfig_path=settings.kubeconfig)
    if settings.provider != "kubeconfig":
        run.on_cleanup(f"stop the {role} cluster", handle.stop)
    elif role == "src":  # someone else's cluster: take away what the drill put there, nothing else
        run.on_cleanup("delete the drill's application", lambda: _remove_application(run, handle))
    return handle


def _app_options(run: DrillRun) -> AppOptions:
    data_root = str(run.work_dir / "volumes")
    if not run.settings.real_node:
        return AppOptions(run.drill_id, data_root=data_root)
    node = real_node()
    return AppOptions(run.drill_id, real_node=True, image=node.image, real_node_name=node.node_name,
                      data_root=data_root)


def _remove_application(run: DrillRun, handle: Any) -> None:
    with Kube.from_kubeconfig(handle.kubeconfig) as kube:
        live.delete_objects(kube, run.seeded, run.drill_id, _deadline(run))


def source(run: DrillRun) -> None:
    """1: a source cluster with the application seeded and healthy."""
    t0, m0 = utc_now(), time.monotonic()
    run.source = _start_cluster(run, "src")
    run.identity["kubernetes_version_source"] = run.source.kubernetes_version
    run.phase("source", "cluster-up", t0, m0, f"{run.settings.provider}, Kubernetes {run.source.kubernetes_version}")
    run.seeded = application(_app_options(run))
    deadline = _deadline(run)
    with Kube.from_kubeconfig(run.source.kubeconfig) as kube:
        t1, m1 = utc_now(), time.monotonic()
        live.create_objects(kube, run.seeded, deadline)
        namespaces = len({_ns(o) for o in run.seeded} - {""})
        run.phase("source", "seed", t1, m1, f"{len(run.seeded)} objects in {namespaces} namespaces and cluster scope")
        t2, m2 = utc_now(), time.monotonic()
        live.wait_until(lambda: live.unhealthy(kube, run.seeded), deadline, "waiting for the seeded application")
        run.phase("source", "ready", t2, m2, "workloads Ready, claims Bound, Services with endpoints")
    run.attach("source", "application.json", "json", [redact_object(o) for o in run.seeded])


def _ns(obj: dict[str, Any]) -> str:
    return str(obj.get("metadata", {}).get("namespace") or "")


def _require_ok(command: CommandRun, what: str) -> dict[str, Any]:
    if not command.ok:
        raise StepFailed(f"{what}: {command.failure()}")
    if command.result is None:
        raise StepFailed(f"{what}: `{command.command_line}` printed no JSON result")
    return command.result


# The real node's database (drill app.py): rows written before the backup must come back (docs/hooks.md).
DRILL_DATABASE = DataTarget(DATA_NS, "db-0", "db", "/var/lib/insightlearn/app.db", f"StatefulSet {DATA_NS}/db")


def backup(run: DrillRun) -> None:
    """2: ``k3s-dr backup``; the archive must hold every seeded object."""
    backup_dir = run.work_dir / "backups"
    if run.settings.real_node:
        with Kube.from_kubeconfig(run.source.kubeconfig) as kube:
            run.data_checks = [write_rows(kube, DRILL_DATABASE, run.drill_id)]
    t0, m0 = utc_now(), time.monotonic()
    # --no-datastore: on a k3s server host, the host's own datastore is not the drill cluster's.
    args = ["backup", "--kubeconfig", str(run.source.kubeconfig), "--dir", str(backup_dir), "--no-datastore",
            "--json"]
    if run.settings.provider == "kubeconfig":  # a shared cluster: the drill backs up and judges only its own objects
        args += ["--selector", f"{DRILL_LABEL}={run.drill_id}"]
    command = run_k3s_dr(args, env=run.env, timeout=run.settings.step_timeout_seconds)
    result = _require_ok(command, "backup failed")
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
        held.add((obj.get("kind"), _ns(obj), obj.get("metadata", {}).get("name")))
        run.secret_values |= secret_strings(obj)
    missing = [live.describe(o) for o in run.seeded if (o["kind"], _ns(o), o["metadata"]["name"]) not in held]
    if missing:
        raise StepFailed(f"the archive lacks {len(missing)} seeded objects: {', '.join(missing[:10])}")


def destroy(run: DrillRun) -> None:
    """3: the loss. Fresh: the source cluster is gone and a new empty one is provisioned (that
    provisioning is recovery work, so it runs inside the RTO). Wipe: the drill's namespaces and
    cluster-scoped objects are deleted in place."""
    if run.settings.destroy == "fresh":
        t0, m0 = utc_now(), time.monotonic()
        run.source.stop()
        if run.settings.real_node:  # the node's disk is lost too: the data must come from the archive
            shutil.rmtree(run.work_dir / "volumes" / run.drill_id, ignore_errors=True)
        run.phase("destroy", "source-lost", t0, m0, "the source cluster was stopped and removed")
        run.timeline.mark_disaster(utc_now(), time.monotonic())
        t1, m1 = utc_now(), time.monotonic()
        run.target = _start_cluster(run, "dst")
        run.identity["kubernetes_version_target"] = run.target.kubernetes_version
        run.phase("destroy", "target-up", t1, m1, f"fresh empty cluster, Kubernetes {run.target.kubernetes_version}")
        return
    t0, m0 = utc_now(), time.monotonic()
    with Kube.from_kubeconfig(run.source.kubeconfig) as kube:
        deleted = live.delete_objects(kube, run.seeded, run.drill_id, _deadline(run))
    run.phase("destroy", "wipe", t0, m0, f"{deleted} namespaces and cluster-scoped objects deleted, all gone")
    run.timeline.mark_disaster(utc_now(), time.monotonic())
    run.target = run.source
    run.identity["kubernetes_version_target"] = run.target.kubernetes_version


def restore(run: DrillRun) -> None:
    """4: verify the archive, dry-run the restore, restore with --wait; each phase timed."""
    assert run.backup is not None
    archive, kubeconfig = str(run.backup.archive), str(run.target.kubeconfig)
    record = run.restore = RestoreRecord()
    # The restore's own deadline must pass first, so its report of what was not ready is what we see.
    timeout = max(run.settings.step_timeout_seconds, parse_duration(run.settings.restore_wait_timeout) + 120.0)
    sabotage = run.settings.restore_test_flags()  # TEST-ONLY switches, in the commands the evidence records
    phases = (
        ("verify-archive", ["verify", archive]),
        ("dry-run", ["restore", archive, "--kubeconfig", kubeconfig, "--json", "--dry-run", *sabotage]),
        ("restore-and-wait", ["restore", archive, "--kubeconfig", kubeconfig, "--json", "--wait",
                              "--wait-timeout", run.settings.restore_wait_timeout, *sabotage]),
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
            raise StepFailed(f"{name} failed: {command.failure()}{still_waiting(command.result)}")
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
    failures = verification.failures
    if failures:
        shown = "; ".join(f"{f.label}: {f.result} ({f.reasons[0] if f.reasons else ''})"
                          for f in failures[:MAX_FAILURES_IN_MESSAGE])
        raise StepFailed(f"{len(failures)} of {counts['expected']} restored objects failed verification: {shown}")
    if not diff.ok:
        raise StepFailed(f"k3s-dr diff found differences the drill's verification did not: {diff.failure()}")
    if run.settings.real_node:
        _check_real_database(run)
        _check_data(run)
    run.timeline.mark_recovered(utc_now(), time.monotonic())


def _check_data(run: DrillRun) -> None:
    """The rows written before the backup, read back in the restored pod (``data_checks``)."""
    t0, m0 = utc_now(), time.monotonic()
    with Kube.from_kubeconfig(run.target.kubeconfig) as kube:
        for check in run.data_checks:
            read_back(kube, check, run.drill_id)
    run.attach("verify", "data-checks.json", "json", [check.to_json() for check in run.data_checks])
    bad = [check for check in run.data_checks if not check.ok]
    run.phase("verify", "data-checks", t0, m0, f"{len(run.data_checks) - len(bad)}/{len(run.data_checks)} ok")
    if bad:
        raise StepFailed(f"data check of {bad[0].target.workload} failed: {bad[0].reason}")


def _check_real_database(run: DrillRun) -> None:
    """With the real node the database really ran, before and after: its pod is Ready on the real
    node, and its SQLite file on the volume holds a row per start — the source's and the
    restored one's — so the restored database found the data the lost cluster wrote."""
    t0, m0 = utc_now(), time.monotonic()
    with Kube.from_kubeconfig(run.target.kubeconfig) as kube:
        pod = kube.get(f"/api/v1/namespaces/{DATA_NS}/pods/db-0")
    node = pod.get("spec", {}).get("nodeName")
    ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                for c in pod.get("status", {}).get("conditions") or [])
    expected = real_node().node_name
    if node != expected or not ready:
        raise StepFailed(f"the database pod db-0 is on node {node!r}, Ready={ready}: expected Ready on the real "
                         f"node {expected!r}")
    database = run.work_dir / "volumes" / run.drill_id / "db" / "app.db"
    try:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            starts = int(db.execute("select count(*) from boots").fetchone()[0])
    except sqlite3.Error as exc:
        raise StepFailed(f"cannot read the database on its volume ({database}): {exc}") from None
    run.phase("verify", "real-database", t0, m0, f"db-0 Ready on {node}; {starts} starts recorded on its volume")
    if starts < 2:
        raise StepFailed(f"the database volume records {starts} start(s): the restored database did not find the "
                         "data the source wrote")


def judge(run: DrillRun) -> None:
    """6: the verdict on RTO and RPO against the targets (and on every step before)."""
    verdict = current_verdict(run)
    run.attach("judge", "verdict.json", "json", verdict.to_json())
    if not verdict.passed:
        measured = [r for r in verdict.reasons if not r.startswith("step ")]
        where = f"the drill failed at step {verdict.failed_step}" if verdict.failed_step != "judge" else ""
        raise StepFailed("; ".join(part for part in (where, *measured) if part))


def current_verdict(run: DrillRun) -> Any:
    created = run.backup.created if run.backup is not None else None
    return judge_verdict(run.timeline, rpo_seconds(created, run.timeline.disaster), run.settings.targets)
