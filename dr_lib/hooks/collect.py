"""Application data during a backup: run each pod's hooks, stream its dump and copy its volumes.

Per pod, in this order: the pre hook (quiesce) → the dump hook (stdout spooled to a private
file, hashed on the way, checked for the dump's signature) → the volume copies → the post hook
(resume), which runs whenever the pre hook ran, even after a failure. A failed step with
on-error=fail aborts the backup (:class:`HookFailed`): the backup run removes its spool and
writes no archive, so nothing half-written can be promoted. With on-error=continue the pod's
data is left out, the failure is listed in the manifest's ``data_failures`` and the backup is
marked partial.

The backup run calls a :class:`DataCollector` with its spool directory (a callback: hooks and
backup are sibling features and do not import each other).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dr_lib.archive.dataentry import HOOK_DUMP, VOLUME, CollectedData, DataEntry, hook_member, volume_member
from dr_lib.archive.fsutil import create_private, os_problem, unlink_quietly
from dr_lib.clock import utc_now
from dr_lib.errors import DRError, HookFailed, HookSpecError, VolumeError
from dr_lib.hooks.pods import running_pods, workload_of
from dr_lib.hooks.policy import ignored_annotations
from dr_lib.hooks.presets import dump_census
from dr_lib.hooks.pvdata import VolumeSource, copy_directory, resolve_volume
from dr_lib.hooks.redact import Redactor, redactor_for_pod
from dr_lib.hooks.runner import HookOutcome, judge, run_in_pod
from dr_lib.hooks.settings import HookSettings
from dr_lib.hooks.spec import Hook, PodPlan, declaration_on_error, plan_for_pod
from dr_lib.hooks.zfs import ZfsBackend
from dr_lib.jsontypes import JSONObject
from dr_lib.kube.client import Kube

MAGIC_BYTES = 32
log = logging.getLogger(__name__)


@dataclass
class _Run:
    spool: Path
    members: list[tuple[DataEntry, Path]] = field(default_factory=list)
    outcomes: list[HookOutcome] = field(default_factory=list)
    volumes: list[JSONObject] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # hook annotations outside hooks.annotation_namespaces
    counter: int = 0

    def spool_file(self, suffix: str) -> Path:
        self.counter += 1
        return self.spool / f"data-{self.counter}.{suffix}"


class _DumpSink:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle = os.fdopen(create_private(path), "wb")
        self.sha = hashlib.sha256()
        self.size = 0
        self.head = b""

    def __call__(self, chunk: bytes) -> None:
        if len(self.head) < MAGIC_BYTES:
            self.head += chunk[: MAGIC_BYTES - len(self.head)]
        try:
            self.handle.write(chunk)
        except OSError as exc:  # a full disk is the machine's problem, said as such (not a traceback)
            raise os_problem(exc, "write the dump to", self.path) from None
        self.sha.update(chunk)
        self.size += len(chunk)

    def close(self) -> None:
        try:
            self.handle.flush()
            os.fsync(self.handle.fileno())
        except OSError as exc:
            raise os_problem(exc, "write the dump to", self.path) from None
        finally:
            self.handle.close()


class DataCollector:
    """Called by the backup run with its API connection and spool directory; ``report`` holds the JSON after."""

    def __init__(self, settings: HookSettings, *, zfs: ZfsBackend | None = None) -> None:
        self.settings = settings
        self.zfs = zfs or ZfsBackend()
        self.report: JSONObject = {}
        self.partial = False

    def __call__(self, kube: Kube, spool_dir: Path) -> CollectedData:
        started = time.monotonic()
        run = _Run(spool_dir)
        stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
        plans = self._plans(kube, run)
        for pod, plan in plans:
            self._pod(kube, pod, plan, run, stamp)
        self.partial = bool(run.failures)
        self.report = {"pods": len(plans), "hooks": [o.to_dict() for o in run.outcomes], "volumes": run.volumes,
                       "dumps": [e.to_dict() for e, _p in run.members if e.kind == HOOK_DUMP],
                       "failures": list(run.failures), "ignored": list(run.ignored), "partial": self.partial,
                       "seconds": round(time.monotonic() - started, 3)}
        return CollectedData(tuple(run.members), tuple(run.failures), self.report)

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
        path = run.spool_file("dump")
        sink = _DumpSink(path)
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
        run.members.append((DataEntry(hook_member(plan.namespace, plan.pod, plan.name), HOOK_DUMP, sink.size,
                                      sink.sha.hexdigest(), meta), path))

    def _volume(self, kube: Kube, pod: JSONObject, plan: PodPlan, volume: str, *, run: _Run, stamp: str) -> None:
        started = time.monotonic()
        namespace = plan.namespace
        try:
            source = resolve_volume(pod, volume, lambda n: _get(kube, f"/api/v1/namespaces/{namespace}/"
                                                                      f"persistentvolumeclaims/{n}"),
                                    lambda n: _get(kube, f"/api/v1/persistentvolumes/{n}"))
            self._check_local(source)
            path, entry_meta, capture = self._capture(source, plan, run, stamp)
        except VolumeError as exc:
            self._failed(run, f"volume {volume!r} of {plan.where}: {exc}", plan.on_error)
            return
        suffix = "zfs" if self.settings.backend == "zfs" else "tar"
        entry = DataEntry(volume_member(namespace, source.member_name, suffix), VOLUME, capture.bytes,
                          capture.sha256, entry_meta)
        run.members.append((entry, path))
        run.volumes.append({**{k: entry_meta[k] for k in ("namespace", "pod", "volume", "node_path", "mode",
                                                          "backend", "files", "content_bytes", "tree_sha256")},
                            "bytes": capture.bytes, "sha256": capture.sha256,
                            "seconds": round(time.monotonic() - started, 3)})

    def _capture(self, source: VolumeSource, plan: PodPlan, run: _Run,
                 stamp: str) -> tuple[Path, JSONObject, Any]:
        path = run.spool_file("zfs" if self.settings.backend == "zfs" else "tar")
        tries = 2 if plan.volume_mode == "consistent-enough" else 1
        for attempt in range(tries):
            try:
                if self.settings.backend == "zfs":
                    capture = self.zfs.capture(source.node_path, path, stamp)
                else:
                    capture = copy_directory(Path(source.node_path), path)
                break
            except VolumeError:
                unlink_quietly(path)
                if attempt + 1 == tries:
                    raise
        mode_note = ("copied between the pre and post hooks (quiesced)" if plan.volume_mode == "quiesced" else
                     "copied while the workload ran: each file whole, files from slightly different moments "
                     "(consistent enough for file-per-object data, not for a live database's files)")
        meta = {**source.meta(), **capture.meta(), "backend": self.settings.backend, "mode": plan.volume_mode,
                "consistency": mode_note, "source": plan.source}
        return path, meta, capture

    def _check_local(self, source: VolumeSource) -> None:
        nodes = self.settings.local_nodes
        if source.node and nodes and source.node not in nodes:
            raise VolumeError(f"it lives on node {source.node!r}, not on this machine ({', '.join(sorted(nodes))}); "
                              "run the backup there too, or list the node in hooks.local_nodes if its disk is ours")


def _get(kube: Kube, path: str) -> Mapping[str, Any] | None:
    response = kube.request("GET", path)
    return response.body if response.ok else None
