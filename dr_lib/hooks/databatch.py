"""A backup's application data into the data repository: one restic snapshot per batch, proven.

Volumes (directories on this node) and spooled files (dumps, ZFS send streams) are gathered;
:meth:`DataBatch.flush` takes one snapshot of all of them (restic reads only what changed since
the snapshot of the same paths before), hashes the volumes meanwhile (:mod:`dr_lib.hooks.treescan`),
lists the new snapshot and reconciles: each volume's tree digest is that of what the snapshot
holds, each spooled file is there with its size. What cannot be proven (a file written while it
was read) makes the batch run again — incremental, so it costs the changed files — up to
:data:`TRIES` times, then that item fails with the files named. The collector flushes inside a
pod's quiesce window (between its pre and post hooks) when it has one, else once at the end.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dr_lib.archive.dataentry import HOOK_DUMP, RESTIC_STORE, VOLUME, DataContext, DataEntry
from dr_lib.archive.fsutil import create_private, os_problem
from dr_lib.datarepo.repository import ARCHIVE_TAG, BackupSummary, DataRepository, SnapNode, Snapshot
from dr_lib.errors import DRError
from dr_lib.hooks.cpushare import BesideRestic
from dr_lib.hooks.digestcache import VolumeCache
from dr_lib.hooks.treedigest import ROOT
from dr_lib.hooks.treescan import Scan, hash_files, reconcile, walk

JSONObject = dict[str, Any]
TRIES = 3
MAGIC_BYTES = 32
WORK_DIR = ".k3s-dr-tmp-data"  # hidden, removed by the next run if this one is killed; a stable path for restic


@dataclass(frozen=True)
class Pending:
    """One item waiting for the batch's snapshot: a volume directory or a spooled file."""

    member: str  # the manifest path, data/volumes/<ns>/<name>.dir or data/hooks/…
    kind: str  # VOLUME | HOOK_DUMP
    source: str  # absolute path read by restic
    meta: dict[str, Any]
    where: str  # "pod ns/name" for messages
    on_error: str
    size: int = 0  # spooled files: their size and sha256
    sha256: str = ""

    @property
    def is_directory(self) -> bool:
        return self.member.endswith(".dir")


@dataclass(frozen=True)
class Outcome:
    item: Pending
    entry: DataEntry | None = None
    report: dict[str, Any] = field(default_factory=dict)
    problem: str = ""


class SpoolSink:
    """A dump streamed into its spool file: hashed, counted, its first bytes kept (the signature check)."""

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


class RepositoryCheck:
    """``restic check``: every snapshot's trees load and every blob they name is indexed and packed; one
    rotating 1/n of the packs (``subset``) is read back and hashed, so every pack is within n hourly backups."""

    def __init__(self, repository: DataRepository, deadline: float, subset: str) -> None:
        self.repository, self.deadline, self.subset = repository, deadline, subset
        self.result: JSONObject | None = None

    def __call__(self) -> None:
        started = time.monotonic()
        try:
            self.repository.check(self.deadline, subset=self.subset)
        except DRError as exc:
            self.result = {"ok": False, "subset": self.subset, "error": str(exc)}
            return
        self.result = {"ok": True, "subset": self.subset, "seconds": round(time.monotonic() - started, 3)}


class _Beside:
    """Run ``work`` in a thread now; :meth:`wait` joins it (its own errors are its caller's to record)."""

    def __init__(self, work: Callable[[], None]) -> None:
        self._thread = threading.Thread(target=work, name="restic-check", daemon=True)
        self._thread.start()

    def wait(self) -> None:
        self._thread.join()


def subtree(nodes: dict[str, SnapNode], root: str) -> dict[str, SnapNode]:
    """The snapshot's nodes of the directory ``root``, by path relative to it (``.`` for itself)."""
    prefix = root.rstrip("/") + "/"
    found = {path[len(prefix):]: node for path, node in nodes.items() if path.startswith(prefix)}
    if root in nodes:
        found[ROOT] = nodes[root]
    return found


def restic_time(created: str) -> str:
    return created.replace("T", " ").removesuffix("Z")


class DataBatch:
    def __init__(self, repository: DataRepository, context: DataContext, caches: dict[str, VolumeCache], *,
                 deadline: float) -> None:
        self.repository = repository
        self.context = context
        self.caches = caches
        self.deadline = deadline
        self.work = context.directory / WORK_DIR
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(mode=0o700)
        self.pending: list[Pending] = []
        self.stored_sources: set[str] = set()  # volumes stored by this run: their digest caches are kept
        self.snapshots: list[dict[str, Any]] = []
        self.created_repository = False

    def spool_path(self, member: str) -> Path:
        path = self.work / member
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path

    def add(self, item: Pending) -> bool:
        """Queue ``item``; False when the same member is queued already (two pods on one claim)."""
        if any(p.member == item.member for p in self.pending):
            return False
        self.pending.append(item)
        return True

    def close(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)

    def flush(self, check: Callable[[], None] | None = None) -> list[Outcome]:
        """Snapshot what is pending; ``check`` (the repository's verification) runs beside the listing of the
        batch's last snapshot, so it covers it without adding its time."""
        items, self.pending = self.pending, []
        if not items:
            return []
        self.created_repository |= self.repository.ensure(self.deadline)
        outcomes: list[Outcome] = []
        started = time.monotonic()
        for attempt in range(1, TRIES + 1):
            try:
                outcomes, summary, snapshot = self._attempt(items, check)
            except (DRError, OSError) as exc:  # restic failed, or a volume could not be read: try again, then say
                if attempt == TRIES:
                    reason = str(exc) if isinstance(exc, DRError) else f"{exc.strerror or exc} ({exc.filename})"
                    return [Outcome(item, problem=reason) for item in items]
                continue
            if attempt == TRIES or all(not o.problem for o in outcomes):
                break
        self.snapshots.append({**summary.to_dict(), "id": snapshot.id, "attempts": attempt,
                               "items": len(items), "seconds": round(time.monotonic() - started, 3)})
        return outcomes

    def _attempt(self, items: list[Pending], check: Callable[[], None] | None
                 ) -> tuple[list[Outcome], BackupSummary, Snapshot]:
        scans: dict[str, Scan] = {}
        problems: dict[str, str] = {}
        for item in items:
            if item.is_directory:
                try:
                    scans[item.member] = walk(Path(item.source))
                except OSError as exc:
                    problems[item.member] = f"{item.source} cannot be read: {exc.strerror or exc}"
        readable = [i for i in items if i.member not in problems]
        if not readable:
            raise DRError("; ".join(problems.values()))
        excludes = [f"{scans[i.member].root}/{rel}" for i in readable if i.is_directory
                    for rel in scans[i.member].specials]
        summary = self._backup_while_hashing(readable, scans, excludes)
        checking = _Beside(check) if check is not None else None
        try:
            snapshot, nodes = self.repository.listing(summary.short_id, self.deadline)
        finally:
            if checking is not None:
                checking.wait()
        outcomes = [Outcome(i, problem=problems[i.member]) for i in items if i.member in problems]
        for item in readable:
            outcomes.append(self._judge(item, scans.get(item.member), nodes, snapshot))
        return outcomes, summary, snapshot

    def _backup_while_hashing(self, items: list[Pending], scans: dict[str, Scan],
                              excludes: list[str]) -> BackupSummary:
        result: list[BackupSummary] = []
        failure: list[BaseException] = []

        share = BesideRestic()

        def backup() -> None:
            try:
                result.append(self.repository.backup(
                    sorted({i.source for i in items}), excludes=excludes,
                    tags=[f"{ARCHIVE_TAG}{self.context.archive_name}"], when=restic_time(self.context.created),
                    exclude_file=self.work / "excludes", deadline=self.deadline))
            except BaseException as exc:  # noqa: BLE001 - raised in the collecting thread below
                failure.append(exc)
            finally:
                share.release()  # what is left to hash is now what the backup waits for

        worker = threading.Thread(target=backup, name="restic-backup", daemon=True)
        worker.start()
        for item in items:  # restic and we read the same files at once: one trip through the page cache
            if item.is_directory:
                hash_files(scans[item.member], self.caches.get(item.source, {}), share=share)
        worker.join()
        if failure:
            raise failure[0]
        return result[0]

    def _judge(self, item: Pending, scan: Scan | None, nodes: dict[str, SnapNode], snapshot: Snapshot) -> Outcome:
        if scan is None:
            node = nodes.get(item.source)
            if node is None or node.kind != "file" or node.size != item.size:
                return Outcome(item, problem=f"{item.source} is not in snapshot {snapshot.id[:12]} as written")
            return Outcome(item, self._entry(item, item.size, item.sha256, snapshot, item.meta))
        tree, problems = reconcile(scan, subtree(nodes, item.source))
        if problems:
            shown = ", ".join(problems[:5]) + (f" and {len(problems) - 5} more" if len(problems) > 5 else "")
            return Outcome(item, problem=f"{item.source}: {shown}: quiesce the workload with hooks")
        files, content, digest = tree.summary()
        self.caches[item.source] = {rel: scan.cacheable[rel] for rel in scan.cacheable
                                    if rel in tree.lines}
        self.stored_sources.add(item.source)
        meta = {**item.meta, "files": files, "content_bytes": content, "tree_sha256": digest,
                "skipped": scan.specials[:20], "root": scan.owner}
        report = {"files": files, "content_bytes": content, "tree_sha256": digest, "bytes_read": scan.bytes_read,
                  "snapshot": snapshot.id}
        return Outcome(item, self._entry(item, content, digest, snapshot, meta), report)

    def _entry(self, item: Pending, size: int, sha256: str, snapshot: Snapshot, meta: dict[str, Any]) -> DataEntry:
        kind = VOLUME if item.kind == VOLUME else HOOK_DUMP
        return DataEntry(item.member, kind, size, sha256, meta, RESTIC_STORE, snapshot.ref, snapshot.tree,
                         item.source)
