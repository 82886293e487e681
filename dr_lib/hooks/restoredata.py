"""Application data during a restore: volumes back before the workloads start, dumps after they are Ready.

``before_apply`` runs after the archive was verified and before any object is created: each
volume copy is unpacked into a hidden staging directory beside its node path, its tree digest
checked against the manifest, then renamed into place (an existing non-empty directory is kept,
or with ``replace`` moved aside). So the restored pods find their data at first start.

``after_apply`` runs once the objects exist: for each dump, the pod (same name, else a pod of
the same workload) is awaited until Ready, the restore hook gets the dump on stdin, and the
verify hook proves the result. The hook comes from the live pod's annotations (restored with
its workload), else a config rule, else the preset recorded with the dump.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import IO, Any

from dr_lib.archive.access import read_manifest
from dr_lib.archive.dataentry import HOOK_DUMP, VOLUME, DataEntry
from dr_lib.archive.datamembers import read_data_members
from dr_lib.clock import utc_now
from dr_lib.errors import ClusterError, DeadlineExceeded, HookSpecError, VolumeError
from dr_lib.hooks.pods import find_ready_pod
from dr_lib.hooks.presets import find_preset, preset_command, with_census
from dr_lib.hooks.pvdata import extract_tar, place, staging_for, tree_digest
from dr_lib.hooks.redact import redactor_for_pod
from dr_lib.hooks.runner import HookOutcome, judge, run_in_pod
from dr_lib.hooks.settings import HookSettings
from dr_lib.hooks.spec import Hook, PodPlan, plan_for_pod
from dr_lib.hooks.zfs import ZfsBackend
from dr_lib.jsontypes import JSONObject
from dr_lib.kube.client import Kube

_CHUNK = 1024 * 1024

# Where a volume from an archive may never be written, whatever its manifest says (a hostile
# archive must not plant a directory in the system): path prefix → reason.
FORBIDDEN_VOLUME_PATHS: dict[str, str] = {
    "/etc": "system configuration", "/usr": "the operating system", "/bin": "the operating system",
    "/sbin": "the operating system", "/lib": "the operating system", "/lib64": "the operating system",
    "/boot": "the boot loader and kernels", "/dev": "device files", "/proc": "the kernel's process view",
    "/sys": "the kernel's device view", "/root/.ssh": "root's SSH keys",
}


def check_node_path(text: Any) -> Path:
    """The manifest's node path, if it is a safe place for a volume; VolumeError saying why not."""
    if not isinstance(text, str) or not text.startswith("/"):
        raise VolumeError(f"node path {text!r} is not absolute")
    pure = PurePosixPath(text)
    if ".." in pure.parts or str(pure) != text.rstrip("/") or str(pure) == "/":
        raise VolumeError(f"node path {text!r} is not a plain absolute directory path")
    for prefix, reason in FORBIDDEN_VOLUME_PATHS.items():
        if str(pure) == prefix or str(pure).startswith(prefix + "/"):
            raise VolumeError(f"node path {text!r} is inside {prefix} ({reason}): refused")
    return Path(str(pure))


def _checked_digest(staging: Path, expected: Any) -> tuple[int, int, str]:
    files, content, digest = tree_digest(staging)
    if expected and digest != expected:
        shutil.rmtree(staging, ignore_errors=True)
        raise VolumeError(f"the unpacked data differs from the backup (tree sha256 {digest[:12]}… "
                          f"≠ {str(expected)[:12]}…): not put in place")
    return files, content, digest


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
        if any(self._wanted(e, VOLUME) for e in read_manifest(archive).data):
            self._volumes(archive)
        self.seconds += time.monotonic() - started

    def _volumes(self, archive: Path) -> None:
        stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
        token = secrets.token_hex(4)
        staged: list[tuple[DataEntry, Any, Path, float]] = []
        failed: set[str] = set()

        def unpack(entry: DataEntry, stream: IO[bytes]) -> None:
            started = time.monotonic()
            try:
                target = check_node_path(entry.meta.get("node_path"))
                if entry.meta.get("backend") == "zfs":
                    staged.append((entry, self.zfs.receive(stream, str(entry.meta.get("dataset"))), target, started))
                    return
                target.parent.mkdir(parents=True, exist_ok=True)
                staging = staging_for(target, token)
                staged.append((entry, staging, target, started))
                extract_tar(stream, staging)
            except VolumeError as exc:
                failed.add(entry.path)
                self._volume_failed(entry, str(exc))

        try:
            read_data_members(archive, unpack, wanted=lambda e: self._wanted(e, VOLUME))
        except BaseException:
            for _entry, staging, _target, _t in staged:
                if isinstance(staging, Path):
                    shutil.rmtree(staging, ignore_errors=True)
            raise
        for entry, staging, target, started in staged:
            if entry.path in failed:
                if isinstance(staging, Path):
                    shutil.rmtree(staging, ignore_errors=True)
                continue
            self._place(entry, staging, target, stamp, started)

    def _volume_failed(self, entry: DataEntry, reason: str) -> None:
        self.failures.append(f"volume {entry.path}: {reason}")
        self.volumes.append({"path": entry.path, "node_path": entry.meta.get("node_path"), "action": "failed",
                             "reason": reason})

    def _place(self, entry: DataEntry, staging: Any, target: Path, stamp: str, started: float) -> None:
        policy = self.settings.restore_volumes
        files: int | None
        content: Any
        digest: str | None
        try:
            if isinstance(staging, Path):
                files, content, digest = _checked_digest(staging, entry.meta.get("tree_sha256"))
                action, moved = place(staging, target, policy, stamp)
            else:
                files, content, digest = None, entry.meta.get("content_bytes"), None
                action, moved_name = self.zfs.place(staging, str(entry.meta.get("dataset")), policy, stamp,
                                                    str(target))
                moved = Path(moved_name) if moved_name else None
        except (VolumeError, OSError) as exc:
            self._volume_failed(entry, str(exc))
            return
        self.volumes.append({"path": entry.path, "node_path": str(target), "action": action,
                             "moved_aside": str(moved) if moved else None, "files": files, "content_bytes": content,
                             "tree_sha256": digest, "verified": digest is not None and digest == entry.meta.get(
                                 "tree_sha256"), "seconds": round(time.monotonic() - started, 3)})

    # --- dumps, after the objects --------------------------------------------------------
    def after_apply(self, archive: Path) -> None:
        started = time.monotonic()
        dumps = [e for e in read_manifest(archive).data if self._wanted(e, HOOK_DUMP)]
        if dumps:
            with tempfile.TemporaryDirectory(prefix="k3s-dr-dumps-") as tmp:
                files = self._extract_dumps(archive, Path(tmp))
                with Kube.from_kubeconfig(self.kubeconfig) as kube:
                    deadline = time.monotonic() + self.settings.restore_wait
                    for entry in dumps:
                        self._restore_dump(kube, entry, files[entry.path], deadline)
        self.seconds += time.monotonic() - started

    def _extract_dumps(self, archive: Path, directory: Path) -> dict[str, Path]:
        files: dict[str, Path] = {}

        def copy(entry: DataEntry, stream: IO[bytes]) -> None:
            target = directory / f"dump-{len(files)}"
            with target.open("wb") as handle:
                shutil.copyfileobj(stream, handle, _CHUNK)
            files[entry.path] = target

        read_data_members(archive, copy, wanted=lambda e: self._wanted(e, HOOK_DUMP))
        return files

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
