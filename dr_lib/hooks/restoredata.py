"""Application data during a restore: volumes back before the workloads start, dumps after they are Ready.

``before_apply`` runs after the archive was verified and before any object is created. First
the whole restore may be refused (exit 8, nothing applied, nothing written): a volume aimed
outside the storage roots or without its tree digest, or repository data the archive references
that is not in the repository beside it. Then each volume is put into a private staging
directory inside its root, proven against the manifest, and renamed into place
(an existing directory is kept, or with ``replace`` moved aside). So the restored pods find
their data at first start.

``after_apply`` runs once the objects exist: for each dump (read from the archive, format v1, or
from the repository, v2, and checked against its sha256 first), the pod (same name, else a pod of
the same workload) is awaited until Ready, the restore hook gets the dump on stdin, and the
verify hook proves the result. The hook comes from the live pod's annotations (restored with its
workload), else a config rule, else the preset recorded with the dump.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from dr_lib.archive.access import read_manifest
from dr_lib.archive.dataentry import HOOK_DUMP, VOLUME, DataEntry
from dr_lib.archive.datamembers import read_data_members
from dr_lib.errors import ClusterError, DeadlineExceeded, DRError, HookSpecError, IntegrityError
from dr_lib.hooks.datasource import RepositorySource
from dr_lib.hooks.pods import find_ready_pod
from dr_lib.hooks.presets import find_preset, preset_command, with_census
from dr_lib.hooks.redact import redactor_for_pod
from dr_lib.hooks.restorevolumes import VolumeRestorer, preflight
from dr_lib.hooks.runner import HookOutcome, judge, run_in_pod
from dr_lib.hooks.settings import HookSettings
from dr_lib.hooks.spec import Hook, PodPlan, plan_for_pod
from dr_lib.hooks.zfs import ZfsBackend
from dr_lib.jsontypes import JSONObject
from dr_lib.kube.client import Kube

_CHUNK = 1024 * 1024


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            yield chunk


class DataRestorer:
    def __init__(self, kubeconfig: Path, settings: HookSettings, *, zfs: ZfsBackend | None = None) -> None:
        self.kubeconfig = kubeconfig
        self.settings = settings
        self.zfs = zfs or ZfsBackend()
        self.volumes: list[JSONObject] = []
        self.hooks: list[HookOutcome] = []
        self.failures: list[str] = []
        self.seconds = 0.0
        self._source: RepositorySource | None = None

    def _wanted(self, entry: DataEntry, kind: str) -> bool:
        """Data of the namespaces this restore restores (its -n / --exclude-namespace filters)."""
        return entry.kind == kind and self.settings.namespace_wanted(str(entry.meta.get("namespace", "")))

    @property
    def partial(self) -> bool:
        return bool(self.failures)

    @property
    def report(self) -> JSONObject:
        return {"volumes": self.volumes, "hooks": [h.to_dict() for h in self.hooks], "failures": self.failures,
                "partial": self.partial, "seconds": round(self.seconds, 3)}

    # --- volumes, before the objects -------------------------------------------------------
    def before_apply(self, archive: Path) -> None:
        started = time.monotonic()
        manifest = read_manifest(archive)
        volumes = [e for e in manifest.data if self._wanted(e, VOLUME)]
        wanted = [e for e in manifest.data if self._wanted(e, VOLUME) or self._wanted(e, HOOK_DUMP)]
        targets, problems = preflight(volumes, self.settings)
        stored = [e for e in wanted if not e.in_archive]
        if stored:
            self._open_source(archive)
            assert self._source is not None
            problems += self._source.resolve(stored)
        if problems:
            self.close()
            raise IntegrityError(f"archive {archive.name} refused, nothing applied: " + "; ".join(problems[:10]),
                                 hint="volumes go only below data.volume_roots, with their digest, from data this "
                                      "archive references; restore without the data with --no-data")
        restorer = VolumeRestorer(self.settings, targets, self.zfs, self.volumes.append)
        try:
            restorer.from_archive(archive, [e for e in volumes if e.in_archive])
            if self._source is not None:
                restorer.from_repository(self._source, [e for e in volumes if not e.in_archive])
        finally:
            self.failures.extend(restorer.failures)
            self.seconds += time.monotonic() - started

    def _open_source(self, archive: Path) -> None:
        if self._source is None:
            self._source = RepositorySource(archive, timeout=self.settings.data_timeout)

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None

    # --- dumps, after the objects --------------------------------------------------------
    def after_apply(self, archive: Path) -> None:
        started = time.monotonic()
        try:
            dumps = [e for e in read_manifest(archive).data if self._wanted(e, HOOK_DUMP)]
            if dumps:
                with tempfile.TemporaryDirectory(prefix="k3s-dr-dumps-") as tmp:
                    files = self._extract_dumps(archive, dumps, Path(tmp))
                    with Kube.from_kubeconfig(self.kubeconfig) as kube:
                        deadline = time.monotonic() + self.settings.restore_wait
                        for entry in dumps:
                            if entry.path in files:
                                self._restore_dump(kube, entry, files[entry.path], deadline)
        finally:
            self.close()
            self.seconds += time.monotonic() - started

    def _extract_dumps(self, archive: Path, dumps: list[DataEntry], directory: Path) -> dict[str, Path]:
        files: dict[str, Path] = {}

        def copy(entry: DataEntry, stream: IO[bytes]) -> None:
            target = directory / f"dump-{len(files)}"
            with target.open("wb") as handle:
                shutil.copyfileobj(stream, handle, _CHUNK)
            files[entry.path] = target

        if any(e.in_archive for e in dumps):
            read_data_members(archive, copy, wanted=lambda e: e.in_archive and self._wanted(e, HOOK_DUMP))
        for entry in (e for e in dumps if not e.in_archive):
            try:
                files[entry.path] = self._dump_from_repository(archive, entry, directory / f"dump-{len(files)}")
            except DRError as exc:
                self.failures.append(f"dump {entry.path}: {exc}")
        return files

    def _dump_from_repository(self, archive: Path, entry: DataEntry, target: Path) -> Path:
        self._open_source(archive)
        assert self._source is not None
        if entry.path not in self._source.local:
            problems = self._source.resolve([entry])
            if problems:
                raise IntegrityError("; ".join(problems))
        digest = hashlib.sha256()
        size = 0
        with contextlib.ExitStack() as stack:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            handle = stack.enter_context(os.fdopen(fd, "wb"))

            def sink(chunk: bytes) -> None:
                nonlocal size
                digest.update(chunk)
                size += len(chunk)
                handle.write(chunk)

            self._source.dump(entry, sink)
        if (size, digest.hexdigest()) != (entry.bytes, entry.sha256):
            raise IntegrityError(f"the dump read back has {size} bytes and another sha256 than the manifest records")
        return target

    def _restore_dump(self, kube: Kube, entry: DataEntry, dump: Path, deadline: float) -> None:
        meta = entry.meta
        namespace, pod_name = self.settings.mapped(str(meta.get("namespace", ""))), str(meta.get("pod", ""))
        try:
            pod = find_ready_pod(kube, namespace, pod_name, meta.get("workload"), deadline)
            plan = self._plan(pod, entry)
        except (DeadlineExceeded, ClusterError, HookSpecError) as exc:
            self.failures.append(f"dump {entry.path}: {exc}")
            return
        redactor = redactor_for_pod(kube, pod)
        census = meta.get("census") if plan.preset == meta.get("preset") else None
        for phase in ("restore", "verify"):
            hook = plan.hook(phase)
            if hook is None:
                continue
            hook = replace(hook, command=with_census(hook.command, plan.preset, census))
            feed = (lambda: _file_chunks(dump)) if phase == "restore" else None
            result, stopped = run_in_pod(kube, plan, hook, stdin=feed)
            outcome = judge(plan, hook, result, stopped, redactor, keep_stdout=phase == "verify")
            self.hooks.append(outcome)
            if not outcome.ok:
                self.failures.append(outcome.message())
                return

    def _plan(self, pod: Mapping[str, Any], entry: DataEntry) -> PodPlan:
        meta = entry.meta
        live = plan_for_pod(pod, self.settings.rules, self.settings.defaults)
        pod_meta = pod.get("metadata") or {}
        namespace, name = str(pod_meta.get("namespace", "")), str(pod_meta.get("name", ""))
        if live is not None and live.hook("restore") is not None:
            return PodPlan(namespace, name, live.source, live.name, live.preset, live.hooks, on_error=live.on_error)
        preset = find_preset(str(meta.get("preset") or ""))
        if preset is None:
            raise HookSpecError(f"no restore hook for pod {namespace}/{name}: declare post.hook.restore.k3s-dr.io/"
                                "command on the workload, or a config rule with 'restore'")
        params = {str(k): str(v) for k, v in (meta.get("params") or {}).items()}
        hooks = {}
        for phase in ("restore", "verify"):
            command = preset_command(preset, phase, params, what=f"the parameters recorded with {entry.path}")
            if command is not None:
                hooks[phase] = Hook(phase, command, meta.get("container"), self.settings.defaults.timeout,
                                    self.settings.defaults.on_error)
        return PodPlan(namespace, name, f"preset {preset.name} recorded with the dump", str(meta.get("hook", "dump")),
                       preset.name, hooks)
