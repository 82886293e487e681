"""Volumes during a restore: refused as a whole unless every target is allowed, then restored, proven, placed.

:func:`preflight` runs after the archive was verified and before any object is created: every
wanted volume must name a place below the storage roots (``data.volume_roots``; ZFS datasets
below ``data.zfs_datasets``) and a directory volume must carry its tree digest. One bad entry
refuses the whole restore — a consistent archive that aims at ``/etc`` is hostile, not partly
usable — naming each path and reason; nothing is written. :class:`VolumeRestorer` then puts each
volume back from where it lives, through a private staging directory beside its target (see
:mod:`dr_lib.hooks.volrestore`): an in-archive tar (format v1) unpacked by our own code, its
tree digest compared; or a repository snapshot (v2) whose listing is judged first
(:mod:`dr_lib.hooks.snaplisting`), restored there by ``restic restore`` (its parallel restorer
checks every blob's sha256), then stripped and compared entry by entry (:mod:`dr_lib.hooks.settle`).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, cast

from dr_lib.archive.dataentry import DataEntry
from dr_lib.archive.datamembers import read_data_members
from dr_lib.clock import utc_now
from dr_lib.errors import DRError, OutsideRoots, VolumeContentRefused
from dr_lib.hooks.confine import Target, check_dataset, locate
from dr_lib.hooks.datasource import RepositorySource
from dr_lib.hooks.extract import DIR_FLAGS, Owner
from dr_lib.hooks.settings import HookSettings
from dr_lib.hooks.settle import Settled, settle
from dr_lib.hooks.snaplisting import Expected
from dr_lib.hooks.volrestore import ChunkPipe, Staged, move_into_place, place, stage, unpack
from dr_lib.hooks.zfs import ZfsBackend

JSONObject = dict[str, Any]
_SHA256_HEX = frozenset("0123456789abcdef")


def is_zfs(entry: DataEntry) -> bool:
    return entry.meta.get("backend") == "zfs" or entry.path.endswith(".zfs")


def preflight(entries: list[DataEntry], settings: HookSettings) -> tuple[dict[str, Target], list[str]]:
    """Each volume's checked target, and every reason to refuse (empty when all may be restored)."""
    targets: dict[str, Target] = {}
    problems: list[str] = []
    for entry in entries:
        try:
            targets[entry.path] = locate(entry.meta.get("node_path"), settings.volume_roots)
            if is_zfs(entry):
                check_dataset(entry.meta.get("dataset"), settings.zfs_datasets)
            elif not _is_digest(entry.meta.get("tree_sha256")):
                problems.append(f"volume {entry.path}: no tree sha256 in the manifest: its content cannot be "
                                "proven, so it is not restored")
            elif not entry.in_archive and entry.meta.get("tree_sha256") != entry.sha256:
                problems.append(f"volume {entry.path}: its tree sha256 and its digest differ")
        except OutsideRoots as exc:
            problems.append(f"volume {entry.path}: {exc.message}")
    return targets, problems


def _is_digest(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and set(value) <= _SHA256_HEX


def root_owner(meta: Any) -> Owner | None:
    """The volume directory's owner and mode recorded at backup (format v2 keeps no tar entry for it)."""
    if not isinstance(meta, dict):
        return None
    values = [meta.get(k) for k in ("mode", "uid", "gid")]
    numbers = [v for v in values if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**32]
    if len(numbers) != 3:
        return None
    mtime = meta.get("mtime")
    return Owner(numbers[0], numbers[1], numbers[2],
                 float(mtime) if isinstance(mtime, (int, float)) and not isinstance(mtime, bool) else time.time())


class VolumeRestorer:
    def __init__(self, settings: HookSettings, targets: dict[str, Target], zfs: ZfsBackend,
                 report: Callable[[JSONObject], None]) -> None:
        self.settings = settings
        self.targets = targets
        self.zfs = zfs
        self.report = report
        self.stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
        self.token = secrets.token_hex(4)
        self.failures: list[str] = []

    def failed(self, entry: DataEntry, reason: str) -> None:
        self.failures.append(f"volume {entry.path}: {reason}")
        self.report({"path": entry.path, "node_path": entry.meta.get("node_path"), "action": "failed",
                     "reason": reason})

    # --- format v1: tars inside the archive, read in one pass -------------------------------------------
    def from_archive(self, archive: Path, entries: list[DataEntry]) -> None:
        staged: dict[str, tuple[Staged, float]] = {}
        staged_zfs: dict[str, tuple[str, float]] = {}
        wanted = {e.path for e in entries}

        def unpack_member(entry: DataEntry, stream: IO[bytes]) -> None:
            started = time.monotonic()
            if is_zfs(entry):
                staged_zfs[entry.path] = (self.zfs.receive(stream, str(entry.meta.get("dataset"))), started)
                return
            target = stage(self.targets[entry.path], self.token)
            staged[entry.path] = (target, started)
            try:
                unpack(target, stream.read, where=entry.path)
            except (VolumeContentRefused, OSError) as exc:
                self.failed(entry, _reason(exc))
                target.close()
                staged.pop(entry.path)

        try:
            read_data_members(archive, unpack_member, wanted=lambda e: e.path in wanted)
            for entry in entries:
                if entry.path in staged:
                    target, started = staged[entry.path]
                    self._place(entry, target, started, None)
                elif entry.path in staged_zfs:
                    self._place_zfs(entry, *staged_zfs[entry.path])
        finally:
            for target, _started in staged.values():
                target.close()

    # --- format v2: snapshots in the data repository --------------------------------------------------------
    def from_repository(self, source: RepositorySource, entries: list[DataEntry]) -> None:
        for entry in entries:
            started = time.monotonic()
            if is_zfs(entry):
                self._zfs_from_repository(source, entry, started)
                continue
            target = stage(self.targets[entry.path], self.token)
            try:
                expected = source.expected_tree(entry)  # judged before restic writes anything
                staging_fd = os.open(target.staging, DIR_FLAGS, dir_fd=target.parent_fd)
                try:
                    # restic reaches the staging directory through our descriptor: no path above it is resolved again
                    source.restore(entry, f"/proc/{os.getpid()}/fd/{staging_fd}")
                    self._place_restored(entry, target, staging_fd, expected, started)
                finally:
                    os.close(staging_fd)
            except (VolumeContentRefused, DRError, OSError) as exc:
                self.failed(entry, _reason(exc))
            finally:
                target.close()

    def _place_restored(self, entry: DataEntry, target: Staged, staging_fd: int, expected: dict[str, Expected],
                        started: float) -> None:
        """Prove and place the volume restic restored at ``<staging>/<its path in the snapshot>``."""
        *above, name = str(entry.source).strip("/").split("/")
        parent_fd = _open_below(staging_fd, above)
        try:
            volume_fd = os.open(name, DIR_FLAGS, dir_fd=parent_fd)
            try:
                settled = settle(volume_fd, expected)
            finally:
                os.close(volume_fd)
            _check_counts(entry, settled)
            outcome = move_into_place(target, parent_fd, name, root=root_owner(entry.meta.get("root")),
                                      policy=self.settings.restore_volumes, stamp=self.stamp,
                                      summary=(settled.files, settled.content_bytes, str(entry.meta["tree_sha256"])))
        finally:
            os.close(parent_fd)
        self.report({"path": entry.path, **outcome, "seconds": round(time.monotonic() - started, 3)})

    def _zfs_from_repository(self, source: RepositorySource, entry: DataEntry, started: float) -> None:
        pipe = ChunkPipe()
        digest = hashlib.sha256()
        size = 0

        def counted(chunk: bytes) -> None:
            nonlocal size
            digest.update(chunk)
            size += len(chunk)
            pipe.push(chunk)

        try:
            reader = cast(IO[bytes], _PipeReader(pipe))
            receiving = _Background(lambda: self.zfs.receive(reader, str(entry.meta.get("dataset"))))
            try:
                source.dump(entry, counted)
            finally:
                pipe.close()
            staging = receiving.wait()
            self._check_stream(entry, staging, size, digest.hexdigest())
            self._place_zfs(entry, staging, started)
        except (VolumeContentRefused, DRError, OSError) as exc:
            pipe.stopped.set()
            self.failed(entry, _reason(exc))

    def _check_stream(self, entry: DataEntry, staging: str, size: int, sha256: str) -> None:
        if (size, sha256) != (entry.bytes, entry.sha256):
            self.zfs.run(["zfs", "destroy", "-r", staging])
            raise VolumeContentRefused("the ZFS stream differs from the backup (size or sha256): not put in place")

    def _place(self, entry: DataEntry, staged: Staged, started: float, owner: Owner | None) -> None:
        try:
            outcome = place(staged, expected=str(entry.meta.get("tree_sha256")), root=owner,
                            policy=self.settings.restore_volumes, stamp=self.stamp)
        except (VolumeContentRefused, OSError) as exc:
            self.failed(entry, _reason(exc))
            return
        self.report({"path": entry.path, **outcome, "seconds": round(time.monotonic() - started, 3)})

    def _place_zfs(self, entry: DataEntry, staging: str, started: float) -> None:
        target = self.targets[entry.path]
        try:
            action, moved = self.zfs.place(staging, str(entry.meta.get("dataset")), self.settings.restore_volumes,
                                           self.stamp, target.resolved)
        except (DRError, ValueError, OSError) as exc:
            self.failed(entry, _reason(exc))
            return
        self.report({"path": entry.path, "node_path": target.resolved, "action": action, "moved_aside": moved,
                     "files": None, "content_bytes": entry.meta.get("content_bytes"), "tree_sha256": None,
                     "verified": True, "seconds": round(time.monotonic() - started, 3)})


def _open_below(fd: int, parts: list[str]) -> int:
    """The directory ``fd``/``parts``, opened one component at a time with O_NOFOLLOW (restic made them)."""
    current = os.dup(fd)
    for part in parts:
        try:
            opened = os.open(part, DIR_FLAGS, dir_fd=current)
        finally:
            os.close(current)
        current = opened
    return current


def _check_counts(entry: DataEntry, settled: Settled) -> None:
    """The restored tree against the manifest's own counts (the listing it was compared with came from restic)."""
    recorded = (entry.meta.get("files"), entry.meta.get("content_bytes"))
    if recorded != (settled.files, settled.content_bytes):
        raise VolumeContentRefused(f"the restored tree holds {settled.files} files of {settled.content_bytes} bytes, "
                                   f"the manifest {recorded[0]} of {recorded[1]}")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc} ({exc.filename})" if exc.filename else str(exc.strerror or exc)
    return str(exc)


class _PipeReader:
    """The dump's chunks as a binary file for ``zfs receive``'s stdin (``read()`` reads to the end)."""

    def __init__(self, pipe: ChunkPipe) -> None:
        self.pipe = pipe

    def read(self, count: int = -1) -> bytes:
        if count >= 0:
            return bytes(self.pipe.read(count))
        parts = []
        while piece := self.pipe.read(1 << 20):
            parts.append(bytes(piece))
        return b"".join(parts)


class _Background:
    def __init__(self, work: Callable[[], str]) -> None:
        self._result: list[str] = []
        self._failure: list[BaseException] = []

        def run() -> None:
            try:
                self._result.append(work())
            except BaseException as exc:  # noqa: BLE001 - re-raised by wait()
                self._failure.append(exc)

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def wait(self) -> str:
        self._thread.join()
        if self._failure:
            raise self._failure[0]
        return self._result[0]
