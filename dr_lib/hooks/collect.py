"""Application data during a backup: run each pod's hooks, stream its dump and store its volumes.

Per pod, in this order: the pre hook (quiesce) → the dump hook (stdout spooled to a private
file, hashed on the way, checked for the dump's signature) → its volumes → the post hook
(resume), which runs whenever the pre hook ran, even after a failure. Dumps and volumes go into
the backup directory's data repository (:mod:`dr_lib.hooks.databatch`): a quiesced pod's
volumes are snapshotted inside its window, everything else in one snapshot at the end; then the
repository is checked (``restic check``, reading a rotating 1/``data.verify_cycle`` of its packs).
A failed step with on-error=fail aborts the backup (:class:`HookFailed`): no archive is written,
so nothing half-written can be promoted (its snapshots are pruned later). With on-error=continue
the pod's data is left out, the failure is listed in the manifest's ``data_failures`` and the
backup is marked partial.

The backup run calls a :class:`DataCollector` with its connection, spool directory and
:class:`~dr_lib.archive.dataentry.DataContext` (a callback: hooks and backup are sibling features).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dr_lib.archive import format as fmt
from dr_lib.archive.dataentry import (
    HOOK_DUMP,
    VOLUME,
    CollectedData,
    DataContext,
    RepositoryRef,
    hook_member,
    volume_member,
)
from dr_lib.archive.fsutil import unlink_quietly
from dr_lib.atomic import sha256_file
from dr_lib.clock import utc_now
from dr_lib.datarepo.repository import DataRepository
from dr_lib.errors import DRError, HookFailed, HookSpecError, OutsideRoots, VolumeError
from dr_lib.hooks import digestcache
from dr_lib.hooks.confine import locate
from dr_lib.hooks.databatch import DataBatch, Outcome, Pending, RepositoryCheck, SpoolSink
from dr_lib.hooks.pods import running_pods, workload_of
from dr_lib.hooks.policy import ignored_annotations
from dr_lib.hooks.presets import dump_census
from dr_lib.hooks.pvdata import VolumeSource, resolve_volume
from dr_lib.hooks.redact import Redactor, redactor_for_pod
from dr_lib.hooks.runner import HookOutcome, judge, run_in_pod
from dr_lib.hooks.settings import HookSettings
from dr_lib.hooks.spec import Hook, PodPlan, declaration_on_error, plan_for_pod
from dr_lib.hooks.zfs import ZfsBackend
from dr_lib.jsontypes import JSONObject
from dr_lib.kube.client import Kube

log = logging.getLogger(__name__)


@dataclass
class _Run:
    batch: DataBatch
    outcomes: list[HookOutcome] = field(default_factory=list)
    stored: list[Outcome] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # hook annotations outside hooks.annotation_namespaces


class DataCollector:
    """Called by the backup run with its API connection, spool directory and context; ``report`` holds the JSON."""

    def __init__(self, settings: HookSettings, *, zfs: ZfsBackend | None = None) -> None:
        self.settings = settings
        self.zfs = zfs or ZfsBackend()
        self.report: JSONObject = {}
        self.partial = False

    def __call__(self, kube: Kube, spool_dir: Path, context: DataContext) -> CollectedData:
        started = time.monotonic()
        repository = DataRepository(context.directory)
        batch = DataBatch(repository, context, digestcache.load(context.directory),
                          deadline=time.monotonic() + self.settings.data_timeout)
        run = _Run(batch)
        try:
            plans = self._plans(kube, run)
            stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
            for pod, plan in plans:
                self._pod(kube, pod, plan, run, stamp)
            check = RepositoryCheck(repository, run.batch.deadline, self._subset(context))
            self._flush(run, check)
            if run.stored and check.result is None:
                check()  # everything was snapshotted in quiesce windows: the check runs on its own
            verification = self._verified(run, check) if run.stored else None
        finally:
            batch.close()
        stored = tuple(o.entry for o in run.stored if o.entry is not None)
        if stored:  # the volumes of this run only: a volume gone from the cluster leaves the cache with it
            digestcache.save(context.directory, {v: batch.caches[v] for v in batch.stored_sources})
        self.partial = bool(run.failures)
        self.report = {"pods": len(plans), "hooks": [o.to_dict() for o in run.outcomes],
                       "volumes": [self._volume_report(o) for o in run.stored if o.item.kind == VOLUME],
                       "dumps": [o.entry.to_dict() for o in run.stored if o.entry and o.item.kind == HOOK_DUMP],
                       "repository": {"path": str(repository.path), "created": batch.created_repository,
                                      "snapshots": batch.snapshots, "check": verification} if stored else None,
                       "failures": list(run.failures), "ignored": list(run.ignored), "partial": self.partial,
                       "seconds": round(time.monotonic() - started, 3)}
        key = repository.key_file.read_bytes() if stored else b""
        reference = RepositoryRef(sha256_file(repository.key_file), len(key)) if stored else None
        return CollectedData((), tuple(run.failures), self.report, stored, reference,
                             repository.key_file if stored else None)

    def _flush(self, run: _Run, check: Callable[[], None] | None = None) -> None:
        for outcome in run.batch.flush(check):
            if outcome.problem:
                self._failed(run, f"{outcome.item.kind} of {outcome.item.where}: {outcome.problem}",
                             outcome.item.on_error)
            else:
                run.stored.append(outcome)

    def _subset(self, context: DataContext) -> str:
        cycle = self.settings.verify_cycle
        return f"{int(fmt.parse_time(context.created).timestamp() // 3600) % cycle + 1}/{cycle}"

    def _verified(self, run: _Run, check: RepositoryCheck) -> JSONObject:
        """A failed repository check fails every item stored (each by its own on-error policy)."""
        result = check.result or {"ok": False, "error": "not run"}
        if not result["ok"]:
            for outcome in run.stored:
                self._failed(run, f"{outcome.item.kind} of {outcome.item.where}: the data repository failed its "
                             f"check: {result['error']}", outcome.item.on_error)
            run.stored.clear()
        return result

    @staticmethod
    def _volume_report(outcome: Outcome) -> JSONObject:
        meta = outcome.item.meta
        return {**{k: meta.get(k) for k in ("namespace", "pod", "volume", "node_path", "mode", "backend")},
                **outcome.report, "member": outcome.item.member}

    def _plans(self, kube: Kube, run: _Run) -> list[tuple[JSONObject, PodPlan]]:
        plans = []
        for pod in running_pods(kube):
            namespace = str(pod["metadata"].get("namespace", ""))
            if not self.settings.namespace_wanted(namespace):
                continue
            ignored = ignored_annotations(pod, self.settings.defaults)
            if ignored is not None:
                log.warning("%s", ignored)
                run.ignored.append(ignored)
            try:
                plan = plan_for_pod(pod, self.settings.rules, self.settings.defaults)
            except HookSpecError as exc:  # judged by the policy of where it was declared (annotations: continue)
                self._failed(run, f"{exc}", declaration_on_error(pod, self.settings.rules, self.settings.defaults))
                continue
            if plan is not None:
                plans.append((pod, plan))
        return plans

    def _failed(self, run: _Run, message: str, on_error: str) -> None:
        if on_error != "continue":
            raise HookFailed(f"backup aborted: {message} (on-error=fail; nothing was written or promoted)",
                             hint="fix the hook, or set its on-error to continue to keep backing up without it")
        run.failures.append(f"{message} (on-error=continue: left out, backup partial)")

    def _outcome(self, run: _Run, outcome: HookOutcome) -> bool:
        run.outcomes.append(outcome)
        if not outcome.ok:
            self._failed(run, outcome.message(), outcome.on_error)
        return outcome.ok

    def _pod(self, kube: Kube, pod: JSONObject, plan: PodPlan, run: _Run, stamp: str) -> None:
        redactor = redactor_for_pod(kube, pod)
        try:
            self._steps(kube, pod, plan, run, stamp=stamp, redactor=redactor)
        except BaseException as exc:
            self._post(kube, plan, run, redactor, exc)  # resume the workload even when the backup stops
            raise
        self._post(kube, plan, run, redactor, None)

    def _steps(self, kube: Kube, pod: JSONObject, plan: PodPlan, run: _Run, *, stamp: str,
               redactor: Redactor) -> None:
        pre = plan.hook("pre")
        if pre is not None and not self._outcome(run, self._run(kube, plan, pre, redactor)):
            run.failures.append(f"{plan.where}: dump and volumes skipped because its pre hook failed")
            return
        dump = plan.hook("dump")
        if dump is not None:
            self._dump(kube, pod, plan, dump, run=run, redactor=redactor)
        for volume in plan.volumes:
            self._volume(kube, pod, plan, volume, run=run, stamp=stamp)
        if pre is not None and plan.volumes:
            self._flush(run)  # the volumes are snapshotted while the workload is quiesced, before the post hook

    def _post(self, kube: Kube, plan: PodPlan, run: _Run, redactor: Redactor, pending: BaseException | None) -> None:
        post = plan.hook("post")
        if post is None:
            return
        outcome = self._run(kube, plan, post, redactor)
        run.outcomes.append(outcome)
        if outcome.ok:
            return
        if isinstance(pending, DRError):
            pending.message = f"{pending.message}; and then {outcome.message()}"
            pending.args = (pending.message,)
            return
        if pending is None:
            self._failed(run, outcome.message(), outcome.on_error)

    def _run(self, kube: Kube, plan: PodPlan, hook: Hook, redactor: Redactor) -> HookOutcome:
        result, stopped = run_in_pod(kube, plan, hook)
        return judge(plan, hook, result, stopped, redactor)

    def _dump(self, kube: Kube, pod: JSONObject, plan: PodPlan, hook: Hook, *, run: _Run,
              redactor: Redactor) -> None:
        member = hook_member(plan.namespace, plan.pod, plan.name)
        path = run.batch.spool_path(member)
        unlink_quietly(path)
        sink = SpoolSink(path)
        try:
            result, stopped = run_in_pod(kube, plan, hook, stdout_sink=sink)
        finally:
            sink.close()
        outcome = judge(plan, hook, result, stopped, redactor, first_bytes=sink.head)
        if not outcome.ok:
            unlink_quietly(path)
        if not self._outcome(run, outcome):
            return
        meta = {"namespace": plan.namespace, "pod": plan.pod, "container": hook.container, "hook": plan.name,
                "preset": plan.preset, "params": dict(plan.params), "source": plan.source,
                "workload": workload_of(kube, pod), "node": (pod.get("spec") or {}).get("nodeName"),
                "seconds": round(result.seconds, 3)}
        census = dump_census(plan.preset, result.stderr) if hook.magic else None  # the preset's own dump only
        if census is not None:
            meta["census"] = census
        run.batch.add(Pending(member, HOOK_DUMP, str(path), meta, plan.where, plan.on_error, sink.size,
                              sink.sha.hexdigest()))

    def _volume(self, kube: Kube, pod: JSONObject, plan: PodPlan, volume: str, *, run: _Run, stamp: str) -> None:
        namespace = plan.namespace
        try:
            source = resolve_volume(pod, volume, lambda n: _get(kube, f"/api/v1/namespaces/{namespace}/"
                                                                      f"persistentvolumeclaims/{n}"),
                                    lambda n: _get(kube, f"/api/v1/persistentvolumes/{n}"))
            self._check_local(source)
            locate(source.node_path, self.settings.volume_roots)  # what a restore could never put back is refused
            item = self._pending(source, plan, run, stamp)
        except (VolumeError, OutsideRoots) as exc:
            self._failed(run, f"volume {volume!r} of {plan.where}: {exc}", plan.on_error)
            return
        if not run.batch.add(item):
            run.failures.append(f"volume {volume!r} of {plan.where}: {item.member} is stored once already "
                                "(another pod uses the same claim)")

    def _pending(self, source: VolumeSource, plan: PodPlan, run: _Run, stamp: str) -> Pending:
        mode_note = ("copied between the pre and post hooks (quiesced)" if plan.volume_mode == "quiesced" else
                     "copied while the workload ran: each file whole, files from slightly different moments "
                     "(consistent enough for file-per-object data, not for a live database's files)")
        meta = {**source.meta(), "backend": self.settings.backend, "mode": plan.volume_mode,
                "consistency": mode_note, "source": plan.source}
        if self.settings.backend != "zfs":
            return Pending(volume_member(plan.namespace, source.member_name), VOLUME, source.node_path, meta,
                           plan.where, plan.on_error)
        member = volume_member(plan.namespace, source.member_name, "zfs")
        path = run.batch.spool_path(member)
        unlink_quietly(path)
        capture = self.zfs.capture(source.node_path, path, stamp)
        return Pending(member, VOLUME, str(path), {**meta, **capture.meta()}, plan.where, plan.on_error,
                       capture.bytes, capture.sha256)

    def _check_local(self, source: VolumeSource) -> None:
        nodes = self.settings.local_nodes
        if source.node and nodes and source.node not in nodes:
            raise VolumeError(f"it lives on node {source.node!r}, not on this machine ({', '.join(sorted(nodes))}); "
                              "run the backup there too, or list the node in hooks.local_nodes if its disk is ours")


def _get(kube: Kube, path: str) -> Mapping[str, Any] | None:
    response = kube.request("GET", path)
    return response.body if response.ok else None
