"""One backup run, start to finish, in an order that keeps every crash harmless.

lock → clean leftovers of killed runs → connect → discover and resolve the scope → export
kinds in parallel (and the datastore snapshot beside them) into a private spool dir → application
data into the data repository (a callback) → write the archive atomically (its manifest signed when a
signing key is given), hashing what goes in → verify it from disk against those hashes, its signature
included (:func:`dr_lib.archive.access.verify_written`; the data repository's key and in-archive data
members included) → sidecar → shrink guard → promote both links → rotate → prune the data repository
of what no kept archive references. A kill at any point leaves at most hidden temporary files (removed
by the next run); the links only ever move to an archive that is complete, verified and has its
sidecar, and rotation never deletes what a link points at.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from pathlib import Path

from dr_lib import __version__
from dr_lib.archive import format as fmt
from dr_lib.archive.access import VerifyResult, object_counts, read_manifest, verify_written
from dr_lib.archive.dataentry import CollectedData, DataContext
from dr_lib.archive.fsutil import ensure_private_dir, os_problem
from dr_lib.archive.legacy import TypeTable, is_legacy_name, read_legacy
from dr_lib.archive.links import promote, read_links
from dr_lib.archive.lock import exclusive_lock
from dr_lib.archive.manifest import ClusterIdentity, FileEntry, Manifest
from dr_lib.archive.sidecar import write_sidecar
from dr_lib.archive.userobjects import RULES_VERSION
from dr_lib.archive.writer import WrittenArchive, archive_head, write_archive_hashed
from dr_lib.backup.catalog import legacy_records, orphan_files, scan
from dr_lib.backup.datastore import DatastoreSnapshot, DatastoreSource, detect_datastore, take_snapshot
from dr_lib.backup.export import DEFAULT_WORKERS, ExportedKind, ProgressSink, export_scope
from dr_lib.backup.guard import ObjectCounts, PromotedCounts, manifest_shrink_reason
from dr_lib.backup.result import BackupResult, append_log, failure_line
from dr_lib.backup.rotation import RotationPolicy, plan_rotation
from dr_lib.backup.scope import ScopeOptions, resolve_scope
from dr_lib.clock import monotonic, utc_now
from dr_lib.config import BackupConfig
from dr_lib.datarepo.prune import KeptArchive, prune
from dr_lib.datarepo.repository import DataRepository
from dr_lib.errors import DRError, EnvironmentProblem, IntegrityError
from dr_lib.kube.client import Kube
from dr_lib.kube.discovery import discover
from dr_lib.kube.listing import DEFAULT_PAGE_SIZE
from dr_lib.signing.keys import SigningKey
from dr_lib.signing.policy import NO_KEYS, SignaturePolicy
from dr_lib.signing.verify import sign

Clock = Callable[[], datetime]
# Application data (hook dumps, volume copies: dr_lib.hooks) into the backup directory's data repository,
# called after the API objects are exported. Raising a DRError fails the backup; failures it reports make
# it partial.
DataCollector = Callable[[Kube, Path, DataContext], CollectedData]
PRUNE_TIMEOUT = 1800.0


@dataclass(frozen=True)
class BackupRequest:
    kubeconfig: Path
    directory: Path
    lock_file: Path
    log_file: Path | None = None
    options: ScopeOptions = field(default_factory=ScopeOptions)
    datastore: str = "auto"  # "auto" (when this is a k3s server) | "on" (required) | "off"
    datastore_source: DatastoreSource | None = None  # explicit source instead of detection under k3s_data_dir
    k3s_data_dir: Path = Path("/var/lib/rancher/k3s")
    allow_shrink: bool = False
    shrink_threshold: float = 0.5
    policy: RotationPolicy = field(default_factory=lambda: RotationPolicy(keep=2))
    link_names: tuple[str, ...] = ("latest-backup.tar.gz", "k3s-cluster-snapshot.tar.gz")
    workers: int = DEFAULT_WORKERS
    page_size: int = DEFAULT_PAGE_SIZE
    progress: ProgressSink | None = None
    data_collector: DataCollector | None = None
    # Types of the seed's archives' objects (dr_lib.archive.legacy): with them, links still on a legacy archive
    # (just after a migration) are compared like ours, so a backup of a wiped cluster does not replace it.
    legacy_types: TypeTable | None = None
    signing_key: SigningKey | None = None  # signs the manifest (trust.signing_key, --signing-key)
    trust: SignaturePolicy = NO_KEYS  # the verify keys the written archive is checked with

    @classmethod
    def from_config(cls, config: BackupConfig, *, kubeconfig: Path, directory: Path | None = None,
                    **overrides: object) -> BackupRequest:
        base = cls(
            kubeconfig=kubeconfig, directory=directory or Path(config.dir), lock_file=Path(config.lock_file),
            log_file=Path(config.log_file), k3s_data_dir=Path(config.k3s_data_dir),
            shrink_threshold=config.shrink_threshold,
            policy=RotationPolicy(config.keep, config.keep_daily, config.keep_weekly),
            link_names=(config.latest_link, config.snapshot_link),
        )
        return replace(base, **overrides)  # type: ignore[arg-type]


def run_backup(request: BackupRequest, *, clock: Clock = utc_now) -> BackupResult:
    """Take, verify, promote and rotate one backup. Raises DRError; the log gets a line either way."""
    started = monotonic()
    try:
        with exclusive_lock(request.lock_file, "back up"):
            result = _run_locked(request, clock, started)
    except DRError as exc:
        append_log(request.log_file, failure_line(clock(), exc))
        raise
    warning = append_log(request.log_file, result.log_line(clock()))
    return result if warning is None else replace(result, warnings=(*result.warnings, warning))


def _run_locked(request: BackupRequest, clock: Clock, started: float) -> BackupResult:
    directory = request.directory
    warnings: list[str] = []
    if ensure_private_dir(directory):
        warnings.append(f"backup directory {directory} was readable by others: tightened to mode 0700")
    _remove_leftovers(directory)
    phases: dict[str, float] = {}
    written, manifest, datastore, collected = _write(request, clock, warnings, phases)
    mark = monotonic()
    verified = verify_written(written, manifest, _own_trust(request, warnings))
    write_sidecar(verified, clock())
    phases["verify"] = monotonic() - mark
    mark = monotonic()
    reason = None if request.allow_shrink else manifest_shrink_reason(
        _promoted_counts(directory, request.link_names, request.legacy_types),
        PromotedCounts(verified.objects, verified.user_objects),
        request.shrink_threshold)
    if reason is None:
        promote(directory, written.path.name, request.link_names)
    deleted = _rotate(directory, request, clock())
    phases["promote_rotate"] = monotonic() - mark
    mark = monotonic()
    pruned = _prune_data(directory, deleted, collected, warnings)
    if pruned is not None:
        phases["prune_data"] = monotonic() - mark
    result = _result(verified, datastore, reason, request, deleted=deleted, seconds=monotonic() - started,
                     warnings=warnings + [f"application data: {failure}" for failure in collected.failures])
    data = dict(collected.report) | ({"prune": pruned} if pruned is not None else {})
    return replace(result, phases={name: round(value, 3) for name, value in phases.items()},
                   data=data, partial=collected.partial)


def _write(request: BackupRequest, clock: Clock, warnings: list[str],
           phases: dict[str, float]) -> tuple[WrittenArchive, Manifest, DatastoreSnapshot | None, CollectedData]:
    mark = monotonic()
    with Kube.from_kubeconfig(request.kubeconfig, pool_size=max(16, 2 * request.workers + 2)) as kube:
        identity = cluster_identity(kube)
        discovery = discover(kube)
        scope = resolve_scope(discovery, request.options)
        warnings.extend(scope.warnings)
        source = _datastore_source(request)
        created = free_second(request.directory, clock)
        spool_dir = _make_spool_dir(request.directory)
        phases["connect_discover"] = monotonic() - mark
        try:
            mark = monotonic()
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="datastore") as side:
                # The datastore snapshot runs beside the API export: both describe the same moment.
                pending = None if source is None else side.submit(
                    take_snapshot, source, spool_dir, fmt.archive_name(created).removesuffix(fmt.ARCHIVE_SUFFIX))
                exported, gone = export_scope(kube, discovery, scope, request.options, spool_dir,
                                              workers=request.workers, page_size=request.page_size,
                                              progress=request.progress)
                snapshot = None if pending is None else pending.result()
            warnings.extend(gone)
            phases["export"] = monotonic() - mark
            collected = _collect_data(request, kube, spool_dir, phases, created)
            mark = monotonic()
            manifest = _manifest(identity, created, exported, snapshot=snapshot, options=request.options,
                                 collected=collected)
            signer = None if request.signing_key is None else partial(sign, key=request.signing_key,
                                                                        signed=fmt.MANIFEST_MEMBER)
            written = write_archive_hashed(request.directory, manifest, _sources(exported, snapshot, collected),
                                           head=archive_head(manifest, signer))
            phases["write"] = monotonic() - mark
            return written, manifest, snapshot, collected
        finally:
            shutil.rmtree(spool_dir, ignore_errors=True)


def _own_trust(request: BackupRequest, warnings: list[str]) -> SignaturePolicy:
    """The keys the new archive is verified with: the configured ones, and the signing key's own (so a
    signature by a key no verify key accepts is recorded as valid, and said loudly)."""
    trust, key = request.trust, request.signing_key
    if key is None:
        if trust.keys:
            warnings.append("no signing key: this archive is unsigned, and restores that check signatures "
                            f"(verify keys {', '.join(trust.key_ids)}) will refuse it; see trust.signing_key")
        return trust
    if trust.keys and key.key_id not in trust.key_ids:
        warnings.append(f"the archive is signed by key {key.key_id}, which is not among the verify keys "
                        f"({', '.join(trust.key_ids)}): restore --auto will refuse it; add its verify key to "
                        "trust.verify_keys")
    return trust.with_key(key.verify_key())


def _make_spool_dir(directory: Path) -> Path:
    """Private scratch space beside the archives (same file system, same 0700 protection)."""
    spool_dir = directory / f"{fmt.TEMP_PREFIX}spool-{os.getpid()}"
    try:
        spool_dir.mkdir(mode=fmt.ARCHIVE_DIR_MODE)
    except OSError as exc:
        raise os_problem(exc, "create the spool directory in", directory) from None
    return spool_dir


def _collect_data(request: BackupRequest, kube: Kube, spool_dir: Path, phases: dict[str, float],
                  created: datetime) -> CollectedData:
    if request.data_collector is None:
        return CollectedData()
    mark = monotonic()
    context = DataContext(request.directory, fmt.archive_name(created), fmt.format_time(created))
    collected = request.data_collector(kube, spool_dir, context)
    phases["data"] = monotonic() - mark
    return collected


def cluster_identity(kube: Kube) -> ClusterIdentity:
    version = kube.version()
    response = kube.request("GET", "/api/v1/namespaces/kube-system")
    uid = str((response.body.get("metadata") or {}).get("uid", "")) if response.ok else ""
    return ClusterIdentity(kube.server, version, uid)


def _datastore_source(request: BackupRequest) -> DatastoreSource | None:
    if request.datastore == "off":
        return None
    source = request.datastore_source or detect_datastore(request.k3s_data_dir)
    if source is None and request.datastore == "on":
        raise EnvironmentProblem(f"--datastore: no k3s datastore under {request.k3s_data_dir}/server/db",
                                 hint="run on the k3s server, or set backup.k3s_data_dir")
    return source


def free_second(directory: Path, clock: Clock, *, tries: int = 3) -> datetime:
    """The run's timestamp: a second no archive in ``directory`` is named after."""
    for _ in range(tries):
        created = clock().replace(microsecond=0)
        if not (directory / fmt.archive_name(created)).exists():
            return created
        time.sleep(1.05 - clock().microsecond / 1_000_000)
    raise EnvironmentProblem(f"an archive named {fmt.archive_name(created)} already exists in {directory}",
                             hint="is the clock stuck?")


def _manifest(identity: ClusterIdentity, created: datetime, exported: list[ExportedKind], *,
              snapshot: DatastoreSnapshot | None, options: ScopeOptions, collected: CollectedData) -> Manifest:
    files = tuple(
        FileEntry(fmt.resource_member(k.resource.type.group, k.resource.type.plural), k.resource.type.group,
                  k.resource.type.version, k.resource.type.plural, k.resource.type.kind, k.resource.type.namespaced,
                  k.summary.objects, k.summary.bytes, k.summary.sha256, user_objects=k.user_objects)
        for k in exported)
    scope = {**options.to_dict(), "kinds": [k.resource.name for k in exported]}
    return Manifest(tool_version=__version__, created=fmt.format_time(created), cluster=identity, files=files,
                    datastore=None if snapshot is None else snapshot.entry, scope=scope,
                    data=collected.entries, data_failures=collected.failures, data_repository=collected.repository,
                    user_objects_rules=RULES_VERSION)


def _sources(exported: list[ExportedKind], snapshot: DatastoreSnapshot | None,
             collected: CollectedData) -> dict[str, Path]:
    sources = {fmt.resource_member(k.resource.type.group, k.resource.type.plural): k.summary.path for k in exported}
    if snapshot is not None:
        sources[snapshot.entry.path] = snapshot.snapshot
        sources[snapshot.entry.token_path] = snapshot.token
    sources.update({entry.path: path for entry, path in collected.members})
    if collected.repository is not None and collected.key_file is not None:
        sources[collected.repository.key_path] = collected.key_file
    return sources


def _prune_data(directory: Path, deleted: tuple[str, ...], collected: CollectedData,
                warnings: list[str]) -> dict[str, object] | None:
    """Forget and prune the snapshots no kept archive references, when rotation or this run left some.

    A failure (another restic process holding the repository past the wait) is a warning: the next
    backup prunes again; nothing a kept archive needs is ever removed.
    """
    repository = DataRepository(directory)
    stored = collected.report.get("repository") or {}
    retried = any(s.get("attempts", 1) > 1 for s in stored.get("snapshots") or ())
    if not repository.exists() or not (deleted or retried or collected.failures):
        return None
    kept = []
    for info in scan(directory, ())[0]:
        try:
            references = frozenset(e.snapshot for e in read_manifest(info.path).stored_data if e.snapshot)
        except IntegrityError:
            references = None
        kept.append(KeptArchive(info.path.name, references))
    try:
        return prune(repository, kept, deadline=monotonic() + PRUNE_TIMEOUT).to_dict()
    except DRError as exc:
        warnings.append(f"the data repository was not pruned (next backup tries again): {exc}")
        return None


def _remove_leftovers(directory: Path) -> None:
    """Hidden temp files, spool dirs and orphan sidecars of killed runs: ours alone hold the lock now."""
    for path in orphan_files(directory):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _promoted_counts(directory: Path, link_names: tuple[str, ...],
                     legacy_types: TypeTable | None = None) -> ObjectCounts | None:
    """Counts of the archive the links point at (the first link that resolves), None when none does.

    Its user objects by the current rules (recounted from its objects when it counted otherwise);
    only its total when it cannot be read. A legacy archive of the seed's scripts counts when its
    objects' types are given (an unreadable one gives no baseline, as before the migration).
    """
    archives, links = scan(directory, link_names)
    by_name = {info.path.name: info for info in archives}
    for link in links:
        if link.state == "ok" and link.target in by_name:
            info = by_name[link.target]
            return None if info.objects is None else PromotedCounts(info.objects, info.user_objects)
        if link.state == "ok" and link.target and is_legacy_name(link.target) and legacy_types is not None:
            try:
                legacy = read_legacy(directory / link.target, legacy_types).verified
            except IntegrityError:
                return None
            return PromotedCounts(legacy.objects, legacy.user_objects)
    return None


def _rotate(directory: Path, request: BackupRequest, now: datetime) -> tuple[str, ...]:
    archives, links = scan(directory, request.link_names)
    legacy, protected = legacy_records(directory, archives, links)
    plan = plan_rotation([info.record for info in archives] + legacy, request.policy, now=now, protected=protected)
    for name in plan.delete:
        try:
            (directory / name).unlink(missing_ok=True)
            (directory / fmt.sidecar_name(name)).unlink(missing_ok=True)
        except OSError as exc:
            raise os_problem(exc, "delete the old archive", directory / name) from None
    return tuple(plan.delete)


def _result(verified: VerifyResult, snapshot: DatastoreSnapshot | None, reason: str | None, request: BackupRequest,
            *, deleted: tuple[str, ...], seconds: float, warnings: list[str]) -> BackupResult:
    links = {link.name: link.target for link in read_links(request.directory, request.link_names)}
    return BackupResult(
        archive=verified.path, created=verified.manifest.created, objects=verified.objects,
        kinds=object_counts(verified.manifest), bytes=verified.bytes, sha256=verified.sha256, seconds=seconds,
        verified=True, promoted=reason is None, links=links, not_promoted_reason=reason, deleted=deleted,
        datastore=None if snapshot is None else snapshot.entry.to_dict(),
        cluster=verified.manifest.cluster.to_dict(), warnings=tuple(warnings), user_objects=verified.user_objects,
        signature=verified.signature.to_dict(),
    )
