"""The backup job: one verified backup, its metrics record, its offsite push, and how the run ends.

The exit decision, in order: application data missing → partial (exit 3, the push's failure
named too); kept but not promoted (shrink guard) → exit 4; promoted but the push failed →
partial (exit 3); else success. A failed backup raises its own error after being recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from dr_lib.backup.export import DEFAULT_WORKERS, Progress
from dr_lib.backup.result import BackupResult
from dr_lib.backup.run import BackupRequest, run_backup
from dr_lib.backup.scope import ScopeOptions
from dr_lib.clock import utc_now
from dr_lib.config import Config, kubeconfig_path
from dr_lib.errors import DRError, NotPromoted, PartialFailure
from dr_lib.hooks import DataCollector, HookSettings
from dr_lib.jobs import record
from dr_lib.jobs.archives import builtin_types
from dr_lib.jobs.autopush import AfterBackup, as_json, check_choice, failure, push_after, push_error
from dr_lib.jobs.report import Reporter
from dr_lib.kube.listing import DEFAULT_PAGE_SIZE
from dr_lib.signing.policy import configured_signing_key, signature_policy

__all__ = ["DEFAULT_PAGE_SIZE", "DEFAULT_WORKERS", "BackupOptions", "BackupOutcome", "Progress", "backup"]

DATASTORE_CHOICE = {None: "auto", True: "on", False: "off"}  # --datastore/--no-datastore/neither


@dataclass(frozen=True)
class BackupOptions:
    kubeconfig: str | None = None  # default: $KUBECONFIG, config kubeconfig, /etc/rancher/k3s/k3s.yaml
    directory: str | None = None  # default: config backup.dir
    scope: ScopeOptions = field(default_factory=ScopeOptions)
    datastore: bool | None = None  # None: when this host is a k3s server
    allow_shrink: bool = False
    data: bool = True  # application data: hooks and volumes
    workers: int = DEFAULT_WORKERS
    page_size: int = DEFAULT_PAGE_SIZE
    push: bool | None = None  # None: config offsite.push_after_backup
    signing_key: str | None = None  # default: config trust.signing_key (auto: the pair `install` made)


class BackupProgress(Protocol):
    """Shown while the objects are exported; closed as soon as the backup itself ends."""

    def __call__(self, progress: Progress) -> None: ...

    def close(self) -> None: ...


def backup_exit(result: BackupResult, pushed: AfterBackup | None) -> DRError | None:
    if result.partial:
        also = failure(pushed)
        return PartialFailure(f"archive {result.archive.name} lacks application data: "
                              + "; ".join(w for w in result.warnings if w.startswith("application data"))
                              + (f"; and {also}" if also else ""))
    if not result.promoted:
        return NotPromoted(f"archive {result.archive.name} was kept but not promoted: {result.not_promoted_reason}",
                           hint="if the objects were deleted on purpose, run again with --allow-shrink")
    return push_error(result, pushed)


@dataclass(frozen=True)
class BackupOutcome:
    result: BackupResult
    pushed: AfterBackup | None  # None: no push was attempted

    def to_dict(self) -> dict[str, Any]:
        return self.result.to_dict() | {"push": as_json(self.pushed)}

    @property
    def exit_error(self) -> DRError | None:
        return backup_exit(self.result, self.pushed)


def _request(config: Config, options: BackupOptions, progress: BackupProgress | None) -> BackupRequest:
    scope = options.scope
    collector = DataCollector(HookSettings.from_config(
        config.hooks, include_namespaces=scope.include_namespaces, exclude_namespaces=scope.exclude_namespaces,
        data=config.data),
    ) if options.data else None
    return BackupRequest.from_config(
        config.backup, kubeconfig=Path(kubeconfig_path(config, options.kubeconfig)),
        directory=Path(options.directory) if options.directory else None, options=scope,
        allow_shrink=options.allow_shrink, datastore=DATASTORE_CHOICE[options.datastore], workers=options.workers,
        page_size=options.page_size, progress=progress, data_collector=collector, legacy_types=builtin_types,
        # Loaded before anything is exported: a key that cannot sign fails the run at once, not after the LISTs.
        signing_key=configured_signing_key(config.trust, options.signing_key), trust=signature_policy(config.trust))


def backup(config: Config, options: BackupOptions, reporter: Reporter,
           progress: BackupProgress | None = None) -> BackupOutcome:
    """Back up, record the metrics, log one line, push offsite when wanted."""
    check_choice(config, options.push)
    request = _request(config, options, progress)
    try:
        result = run_backup(request)
    except DRError as exc:
        record.backup_failed(config, exc, options.directory, reporter)
        raise
    finally:
        if progress is not None:
            progress.close()
    record.backup_done(config, result, reporter)
    reporter.note(result.log_line(utc_now()))
    return BackupOutcome(result, push_after(config, result, options.push, reporter))
