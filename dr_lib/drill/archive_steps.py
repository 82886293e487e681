"""The steps of a drill of a real archive, where they differ from the synthetic drill's.

1 source: the archive is the source — found or pulled (``k3s-dr pull``, as ``restore --from``),
  copied privately and verified; seeding an application does not apply.
2 backup: the backup under test is that archive (``k3s-dr verify``); taking one does not apply.
3 destroy: a throwaway target cluster is made ready; losing the source does not apply — a drill
  never touches the source cluster of a real archive, and refuses a target that is that cluster.
4-6 restore, verify, judge: the synthetic drill's own, with RTO from the start of the restore to
  verified and RPO = the drill's start − the archive's creation. Each part that does not apply is
  recorded with its reason (:meth:`DrillRun.not_applicable`), so the report says what was not done.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from dr_lib.archive import iter_archive_objects
from dr_lib.clock import utc_now
from dr_lib.drill import archive_data
from dr_lib.drill.archive_input import ArchiveInput, link_data_repository, private_copy, pull_args, verify_input
from dr_lib.drill.commands import run_k3s_dr
from dr_lib.drill.live import Unhealthy, get_object, wait_until
from dr_lib.drill.redact import secret_strings
from dr_lib.drill.run import BackupRecord, DrillRun, DrillSettings
from dr_lib.drill.stepkit import deadline, require_ok, start_drill_cluster
from dr_lib.drill.timeline import iso
from dr_lib.drill.verify import resource_type
from dr_lib.errors import DRError, StepFailed
from dr_lib.kube.client import Kube, ResourceType
from dr_lib.kube.discovery import Discovery, discover
from dr_lib.offsite.crypto import is_encrypted
from dr_lib.restore.plan import Plan, PlanOptions
from dr_lib.restore.run import load_plan

PULL_SECONDS = 3600.0  # a pull of a large archive from offsite; offsite.timeout bounds it too
MAX_NAMED = 10
NAMESPACES = ResourceType("", "v1", "namespaces", "Namespace", False)


def operator_env(settings: DrillSettings) -> dict[str, str]:
    """The operator's own environment and config: ``k3s-dr pull`` puts the copy where ``restore --from`` would."""
    env = dict(os.environ)
    if settings.config_path:
        env["K3S_DR_CONFIG"] = settings.config_path
    return env


def _obtain(run: DrillRun) -> tuple[Path, str, dict[str, Any] | None]:
    settings = run.settings
    if settings.from_remote is None:
        assert settings.archive is not None
        return settings.archive, "the file given (--archive)", None
    t0, m0 = utc_now(), time.monotonic()
    command = run_k3s_dr(pull_args(settings.from_remote), env=operator_env(settings), timeout=PULL_SECONDS)
    result = require_ok(command, f"pulling --from {settings.from_remote} failed")
    run.phase("source", "pull", t0, m0, f"{command.command_line}: {result.get('action')} {result.get('archive')}")
    obtained = (f"pulled from offsite target {result.get('target')} ({result.get('remote')}) by k3s-dr pull, "
                "decrypted and verified, as restore --from does")
    return Path(str(result.get("path"))), obtained, result


def source(run: DrillRun) -> None:
    """1: the archive, obtained, privately copied and verified (no cluster is contacted)."""
    path, obtained, pulled = _obtain(run)
    t0, m0 = utc_now(), time.monotonic()
    copy = private_copy(path, run.work_dir, run.settings.identity_file)
    verified = verify_input(copy, run.settings.verify_keys)
    link_data_repository(path, copy, referenced=bool(verified.manifest.stored_data))
    given = run.settings.from_remote or str(run.settings.archive)
    run.archive = ArchiveInput(given, path, copy, verified, obtained, encrypted=is_encrypted(path), pull=pulled,
                               signer=verified.signature.key_id if verified.signature.valid else None)
    cluster = verified.manifest.cluster
    run.identity.update({  # shown with the run's identity in the report and the JUnit properties
        "kubernetes_version_source": cluster.kubernetes_version, "archive": path.name,
        "archive_sha256": verified.sha256, "archive_created": iso(verified.manifest.created_at),
        "archive_source_cluster": f"{cluster.server} (kube-system {cluster.kube_system_uid})",
        "archive_signer": run.archive.signer or verified.signature.describe()})
    run.phase("source", "archive", t0, m0,
              f"{path.name}: sha256 {verified.sha256}, {verified.objects} objects, created "
              f"{iso(verified.manifest.created_at)} on {cluster.server} (Kubernetes {cluster.kubernetes_version}), "
              "verified")
    run.not_applicable("source", "seeding an application",
                       f"the archive's own objects are restored; its source cluster ({cluster.server}, kube-system "
                       f"{cluster.kube_system_uid}) is never contacted")
    run.attach("source", "archive.json", "json", run.archive.to_json())


def backup(run: DrillRun) -> None:
    """2: the backup under test is the archive: ``k3s-dr verify`` of the drill's copy."""
    archive = run.archive
    assert archive is not None
    for _entry, obj in iter_archive_objects(archive.copy):  # every Secret value, for the report's scrubber
        run.secret_values |= secret_strings(obj)
    t0, m0 = utc_now(), time.monotonic()
    command = run_k3s_dr(["verify", str(archive.copy), "--json"], env=run.env,
                         timeout=run.settings.step_timeout_seconds)
    result = require_ok(command, "k3s-dr verify refused the archive")
    if result.get("sha256") != archive.sha256:
        raise StepFailed(f"the archive's copy changed during the drill: sha256 {result.get('sha256')} ≠ "
                         f"{archive.sha256}")
    manifest = archive.verified.manifest
    run.backup = BackupRecord(archive.copy, archive.sha256, archive.verified.bytes, manifest.created_at,
                              manifest.objects, len(manifest.files), command, result)
    run.phase("backup", "k3s-dr verify", t0, m0, f"{archive.path.name}: {manifest.objects} objects, "
                                                  f"{len(manifest.files)} kinds, sha256 {archive.sha256}")
    run.not_applicable("backup", "taking a backup with k3s-dr backup",
                       f"the archive under test was taken by k3s-dr {manifest.tool_version} at "
                       f"{iso(manifest.created_at)}")
    run.attach("backup", "backup-result.json", "json", {**result, "command": command.command_line})


def _planned_namespaces(plan: Plan) -> set[str]:
    objects = plan.objects()
    return ({o.namespace for o in objects if o.type.namespaced}
            | {o.name for o in objects if o.type.resource == "namespaces"})


def _refuse_source_cluster(run: DrillRun, kube: Kube) -> None:
    assert run.archive is not None
    source_uid = run.archive.verified.manifest.cluster.kube_system_uid
    target_uid = str((kube.get("/api/v1/namespaces/kube-system").get("metadata") or {}).get("uid", ""))
    if source_uid and target_uid == source_uid:
        raise StepFailed(f"the target cluster {kube.server} is the archive's source cluster (kube-system uid "
                         f"{source_uid}): a drill never touches the source cluster of a real archive; accepted is a "
                         "throwaway cluster")


# Namespaces every cluster has: an archive's objects in them land beside the cluster's own.
SHARED_NAMESPACES: dict[str, str] = {
    "default": "made by the API server in every cluster",
    "kube-system": "the control plane's own",
    "kube-public": "made by the API server in every cluster",
    "kube-node-lease": "the nodes' heartbeats",
}


def _claim_existing(run: DrillRun, kube: Kube, plan: Plan) -> None:
    """On an existing cluster: refuse one that already holds a namespace of the archive (beyond the
    shared ones), and take away afterwards only what the restore created: the archive's namespaces
    and every other object of the plan that was absent before."""
    namespaces = sorted(_planned_namespaces(plan) - set(SHARED_NAMESPACES))
    present = [n for n in namespaces if kube.request("GET", f"/api/v1/namespaces/{n}").ok]
    if present:
        raise StepFailed(f"the target cluster already holds the archive's namespaces {', '.join(present[:MAX_NAMED])}: "
                         "accepted is a throwaway cluster without them (the drill deletes what it restored)")
    beside = [o for o in plan.objects() if o.type.resource != "namespaces"
              and (not o.type.namespaced or o.namespace in SHARED_NAMESPACES)]
    created = [(resource_type(o.type), o.name, o.namespace or None) for o in beside
               if get_object(kube, resource_type(o.type), o.name, o.namespace or None) is None]
    created += [(NAMESPACES, name, None) for name in namespaces]
    target = run.target

    def remove() -> None:
        with Kube.from_kubeconfig(target.kubeconfig) as live_kube:
            for rtype, name, namespace in created:
                live_kube.request("DELETE", rtype.object_path(name, namespace),
                                  query={"propagationPolicy": "Background"})

            def still_there() -> list[Unhealthy]:
                return [Unhealthy(f"namespace {n}", "terminating") for n in namespaces
                        if live_kube.request("GET", f"/api/v1/namespaces/{n}").ok]

            wait_until(still_there, deadline(run), "waiting for the restored namespaces to be gone")

    run.on_cleanup("delete what the archive drill restored into the existing cluster", remove)


def destroy(run: DrillRun) -> None:
    """3: a throwaway target, never the source cluster."""
    assert run.archive is not None
    run.not_applicable("destroy", "losing the source cluster", "a drill of a real archive never touches the "
                       "archive's source cluster: it restores into a throwaway target cluster")
    # Registered before the target, so it runs after the target is gone (cleanups run newest first).
    run.on_cleanup("remove the volume data the drill placed on this machine", lambda: archive_data.remove_placed(run))
    t0, m0 = utc_now(), time.monotonic()
    run.target = start_drill_cluster(run, "dst", with_images=False)
    run.identity["kubernetes_version_target"] = run.target.kubernetes_version
    existing = run.settings.provider == "kubeconfig"
    run.phase("destroy", "target-up", t0, m0, f"{'the existing' if existing else 'a fresh empty'} target cluster "
              f"({run.settings.provider}), Kubernetes {run.target.kubernetes_version}")
    _verified, plan = load_plan(run.archive.copy, PlanOptions())
    with Kube.from_kubeconfig(run.target.kubeconfig) as kube:
        _refuse_source_cluster(run, kube)
        if existing:
            _claim_existing(run, kube, plan)
        archive_data.plan_data(run, kube)


def unservable(plan: Plan, discovery: Discovery) -> list[str]:
    """The archive's objects the target cannot take: their type is neither served there nor defined by a
    CRD in the archive (e.g. the CRD was left out of the backup). Pure."""
    found = []
    for obj in plan.objects():
        type_ref = obj.type
        if discovery.by_group_plural(type_ref.group, type_ref.plural) is None and \
                (type_ref.group, type_ref.plural) not in plan.context.crd_types:
            where = f"{obj.namespace}/" if obj.namespace else ""
            found.append(f"{type_ref.kind} {where}{obj.name}")
    return found


def cannot_take(run: DrillRun) -> str:
    """A clause naming the archive's objects the target cannot take, or '' (also when that cannot be
    found out: the restore's own failure is then the whole message)."""
    if run.archive is None or run.target is None:
        return ""
    try:
        _verified, plan = load_plan(run.archive.copy, PlanOptions())
        with Kube.from_kubeconfig(run.target.kubeconfig) as kube:
            names = unservable(plan, discover(kube))
    except DRError:
        return ""
    if not names:
        return ""
    more = f" (and {len(names) - MAX_NAMED} more)" if len(names) > MAX_NAMED else ""
    return (f"the target cannot take {len(names)} objects of the archive — {', '.join(names[:MAX_NAMED])}{more}: "
            "their kinds are not served there and no CRD in the archive defines them; ")
