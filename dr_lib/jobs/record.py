"""The jobs' side of the metrics: turn each operation's result into a ``dr_lib.metrics`` record.

The features (backup, restore, drill) and metrics share a layer and never import each other;
the jobs, above both, convert here. Recording never fails a job: problems become warnings
handed to the job's reporter (the CLI writes each as one line on stderr).

Backups are recorded only when they went to the configured backup directory: an ad-hoc
``--dir`` elsewhere (a test, a one-off copy) says nothing about this host's backups. Dry runs
change nothing and are not recorded.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from dr_lib.config import Config
from dr_lib.errors import DRError
from dr_lib.jobs.report import Reporter, warn_each

# dr_lib.metrics is imported by each function, when there is something to record: it costs
# ~30 ms, which every backup paid before its first request, whether it records or not.
if TYPE_CHECKING:
    from dr_lib.backup.result import BackupResult
    from dr_lib.drill.runner import DrillOutcome  # loads pytest: only for the type
    from dr_lib.metrics import RestoreRecord
    from dr_lib.offsite.push import PushReport
    from dr_lib.restore.auto_runner import AutoOutcome
    from dr_lib.restore.run import RestoreOutcome


def in_configured_dir(config: Config, directory: Path | str | None) -> bool:
    """Whether ``directory`` (None: the default) is this host's configured backup directory."""
    if directory is None:
        return True
    try:
        return Path(directory).resolve() == Path(config.backup.dir).resolve()
    except OSError:
        return False


def backup_done(config: Config, result: BackupResult, reporter: Reporter) -> None:
    if not in_configured_dir(config, result.archive.parent):
        return
    from dr_lib.metrics import BackupRecord, record_backup  # noqa: PLC0415
    from dr_lib.metrics.records import BACKUP_NOT_PROMOTED, BACKUP_OK  # noqa: PLC0415

    record = BackupRecord(
        at=time.time(), status=BACKUP_OK if result.promoted else BACKUP_NOT_PROMOTED, seconds=result.seconds,
        archive=result.archive.name, objects=result.objects, kinds=dict(result.kinds), bytes=result.bytes,
        verified=result.verified, datastore=result.datastore is not None,
        error=result.not_promoted_reason or "")
    warn_each(reporter, record_backup(config, record))


def backup_failed(config: Config, error: DRError, directory: Path | str | None, reporter: Reporter) -> None:
    if not in_configured_dir(config, directory):
        return
    from dr_lib.metrics import BackupRecord, record_backup  # noqa: PLC0415
    from dr_lib.metrics.records import BACKUP_FAILED  # noqa: PLC0415

    record = BackupRecord(at=time.time(), status=BACKUP_FAILED, error=error.message[:500])
    warn_each(reporter, record_backup(config, record))


def _restore_record(outcome: RestoreOutcome, *, auto: bool) -> RestoreRecord:
    from dr_lib.metrics import RestoreRecord  # noqa: PLC0415

    ledger = outcome.ledger
    return RestoreRecord(at=time.time(), complete=ledger.complete, outcome=ledger.outcome, seconds=ledger.seconds,
                         counts=dict(ledger.counts), archive=Path(ledger.archive).name, auto=auto)


def restore_done(config: Config, outcome: RestoreOutcome, reporter: Reporter) -> None:
    from dr_lib.metrics import record_restore  # noqa: PLC0415

    if not outcome.ledger.dry_run:
        warn_each(reporter, record_restore(config, _restore_record(outcome, auto=False)))


def datastore_restore_done(config: Config, archive: Path, seconds: float, reporter: Reporter) -> None:
    """A restored datastore is a complete restore of everything the server held (no per-object counts)."""
    from dr_lib.metrics import RestoreRecord, record_restore  # noqa: PLC0415

    record = RestoreRecord(at=time.time(), complete=True, outcome="complete", seconds=seconds, counts={},
                           archive=Path(archive).name)
    warn_each(reporter, record_restore(config, record))


def restore_failed(config: Config, error: DRError, reporter: Reporter, *, dry_run: bool = False) -> None:
    """A restore that stopped with an error (archive refused, cluster unreachable…) is a failed restore."""
    from dr_lib.metrics import RestoreRecord, record_restore  # noqa: PLC0415

    if not dry_run:
        record = RestoreRecord(at=time.time(), complete=False, outcome="error", seconds=0.0, counts={}, archive="")
        warn_each(reporter, record_restore(config, record))


def auto_restore_done(config: Config, result: AutoOutcome, reporter: Reporter) -> None:
    from dr_lib.metrics import DecisionRecord, record_auto_restore  # noqa: PLC0415

    decision = DecisionRecord(at=time.time(), restore=result.decision.restore, reason=result.decision.reason[:500])
    restored = _restore_record(result.restore, auto=True) if result.restore is not None else None
    warn_each(reporter, record_auto_restore(config, decision, restored))


def auto_restore_refused(config: Config, error: DRError, reporter: Reporter) -> None:
    """Auto-restore did not trust its snapshot (or it failed verification): a decision of its own."""
    from dr_lib.metrics import DecisionRecord, record_auto_restore  # noqa: PLC0415

    decision = DecisionRecord(at=time.time(), restore=False, reason=error.message[:500], refused=True)
    warn_each(reporter, record_auto_restore(config, decision, None))


def drill_done(config: Config, outcome: DrillOutcome, reporter: Reporter) -> None:
    from dr_lib.metrics import DrillRecord, record_drill  # noqa: PLC0415

    targets = outcome.evidence.get("targets", {}) if isinstance(outcome.evidence, dict) else {}
    record = DrillRecord(
        at=time.time(), passed=bool(outcome.passed), rto_seconds=outcome.rto_seconds,
        rpo_seconds=outcome.rpo_seconds, rto_target_seconds=targets.get("rto_seconds"),
        rpo_target_seconds=targets.get("rpo_seconds"), drill_id=str(outcome.drill_id),
        failed_step=str(outcome.failed_step or ""))
    warn_each(reporter, record_drill(config, record))


def drill_failed(config: Config, error: DRError, reporter: Reporter) -> None:
    """A drill that could not run to its verdict is a failed drill."""
    from dr_lib.metrics import DrillRecord, record_drill  # noqa: PLC0415

    record = DrillRecord(at=time.time(), passed=False, failed_step=f"error: {error.message[:200]}")
    warn_each(reporter, record_drill(config, record))


def push_done(config: Config, report: PushReport, reporter: Reporter, *, trigger: str) -> None:
    """Every push, manual or after a backup: one record per target it tried."""
    from dr_lib.metrics import PushRecord, record_pushes  # noqa: PLC0415

    now = time.time()
    records = {r.target: PushRecord(
        at=now, ok=r.error is None, seconds=round(r.seconds, 3),
        bytes_sent=r.outcome.bytes_sent if r.outcome else 0, stored_bytes=r.outcome.stored_bytes if r.outcome else 0,
        remote_copies=r.remote_good, archive=report.archive.name, trigger=trigger,
        error="" if r.error is None else str(r.error)[:500]) for r in report.reports}
    warn_each(reporter, record_pushes(config, records))


def push_failed(config: Config, targets: list[str], error: DRError, reporter: Reporter, *, archive: str,
                trigger: str) -> None:
    """A push that stopped before trying any target (e.g. the archive changed after its verification)."""
    from dr_lib.metrics import PushRecord, record_pushes  # noqa: PLC0415

    now = time.time()
    records = {t: PushRecord(at=now, ok=False, archive=archive, trigger=trigger, error=error.message[:500])
               for t in targets}
    warn_each(reporter, record_pushes(config, records))
