"""One offsite push, run the same way by ``k3s-dr push`` and by the push after a backup.

Under the offsite lock: the push (:func:`dr_lib.offsite.push.push_archive`), then the record of
the last push per target that the conformance controls judge (:mod:`dr_lib.offsite.history`).
After it: the metrics. Recording never fails a push; its problems are warnings on stderr.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from dr_lib.archive.lock import exclusive_lock
from dr_lib.cli import metrics_record
from dr_lib.clock import utc_now
from dr_lib.config import Config, duration_seconds
from dr_lib.errors import DRError, UsageError
from dr_lib.offsite import history
from dr_lib.offsite.push import PushReport, push_archive
from dr_lib.offsite.targets import selected

OFFSITE_LOCK = "k3s-dr-offsite.lock"
MANUAL, AFTER_BACKUP = "manual", "backup"  # the record's trigger: `k3s-dr push`, or `k3s-dr backup`


def lock_path(config: Config) -> Path:
    return Path(config.backup.lock_file).with_name(OFFSITE_LOCK)


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        click.echo(f"k3s-dr: warning: {warning}", err=True)


def _show(report: PushReport) -> None:
    for item in report.reports:
        state = f"{item.outcome.action} {item.outcome.ref}" if item.outcome else f"FAILED: {item.error}"
        click.echo(f"k3s-dr push {report.archive.name} → {item.target}: {state}", err=True)
        for warning in item.warnings:
            click.echo(f"k3s-dr: warning: {item.target}: {warning}", err=True)


def push_lock_wait(config: Config) -> float:
    """How long a push after a backup waits for another push to finish: the longest a push may take."""
    return float(sum(duration_seconds(t.timeout) for t in config.offsite.targets.values()))


def run_push(config: Config, path: Path, target: str | None, *, trigger: str, retention: bool = True,
             backup_ok: bool | None = None, lock_wait: float = 0.0) -> PushReport:
    """Push ``path`` to the target(s), record the outcome, return the report (failed targets included).

    Raises only when no target could be tried: none configured or named wrongly, the lock is held
    by another push past ``lock_wait`` seconds (that push records its own outcome), or the archive
    is unusable.
    """
    names = [name for name, _config in selected(config.offsite, target)]
    with exclusive_lock(lock_path(config), "push offsite", wait_seconds=lock_wait):
        try:
            report = push_archive(path, config.offsite, target, now=utc_now(), retention=retention)
        except UsageError:
            raise  # bad input (not an archive): nothing was pushed, nothing to record
        except DRError as exc:
            archive = path.resolve().name
            _warn(history.record_attempts(config, history.failed_attempts(
                names, archive, exc, at=time.time(), trigger=trigger, backup_ok=backup_ok)))
            metrics_record.push_failed(config, names, exc, archive=archive, trigger=trigger)
            raise
        _warn(history.record_attempts(config, history.report_attempts(report, at=time.time(), trigger=trigger,
                                                                      backup_ok=backup_ok)))
    metrics_record.push_done(config, report, trigger=trigger)
    _show(report)
    return report
