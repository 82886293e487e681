"""One offsite push, run the same way by ``k3s-dr push`` and by the push after a backup.

Under the offsite lock: the push (:func:`dr_lib.offsite.push.push_archive`), then the record of
the last push per target that the conformance controls judge (:mod:`dr_lib.offsite.history`).
After it: the metrics. Recording never fails a push; its problems are warnings for the reporter.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dr_lib.archive.lock import exclusive_lock
from dr_lib.clock import utc_now
from dr_lib.config import Config, duration_seconds
from dr_lib.errors import DRError, PartialFailure, UsageError
from dr_lib.jobs import record
from dr_lib.jobs.report import Reporter, warn_each
from dr_lib.offsite import history
from dr_lib.offsite.push import PushReport, push_archive
from dr_lib.offsite.targets import selected

OFFSITE_LOCK = "k3s-dr-offsite.lock"
MANUAL, AFTER_BACKUP = "manual", "backup"  # the record's trigger: `k3s-dr push`, or `k3s-dr backup`


def lock_path(config: Config) -> Path:
    return Path(config.backup.lock_file).with_name(OFFSITE_LOCK)


def _show(report: PushReport, reporter: Reporter) -> None:
    for item in report.reports:
        state = f"{item.outcome.action} {item.outcome.ref}" if item.outcome else f"FAILED: {item.error}"
        reporter.note(f"k3s-dr push {report.archive.name} → {item.target}: {state}")
        for warning in item.warnings:
            reporter.warn(f"{item.target}: {warning}")


def push_lock_wait(config: Config) -> float:
    """How long a push after a backup waits for another push to finish: the longest a push may take."""
    return float(sum(duration_seconds(t.timeout) for t in config.offsite.targets.values()))


def run_push(config: Config, path: Path, target: str | None, reporter: Reporter, *, trigger: str,
             retention: bool = True, backup_ok: bool | None = None, lock_wait: float = 0.0) -> PushReport:
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
            warn_each(reporter, history.record_attempts(config, history.failed_attempts(
                names, archive, exc, at=time.time(), trigger=trigger, backup_ok=backup_ok)))
            record.push_failed(config, names, exc, reporter, archive=archive, trigger=trigger)
            raise
        warn_each(reporter, history.record_attempts(config, history.report_attempts(
            report, at=time.time(), trigger=trigger, backup_ok=backup_ok)))
    record.push_done(config, report, reporter, trigger=trigger)
    _show(report, reporter)
    return report


@dataclass(frozen=True)
class PushOptions:
    """``k3s-dr push``: ARCHIVE, or the latest link of ``directory`` (default backup.dir)."""

    archive: str | None = None
    target: str | None = None  # default: every target configured
    directory: str | None = None
    no_retention: bool = False


def push_exit(report: PushReport) -> DRError | None:
    """Every target failed alike: that error (its exit code); some or mixed: partial (exit 3)."""
    failures = report.failures
    if not failures:
        return None
    if len(failures) == len(report.reports):
        first = failures[0].error
        if first is not None and all(f.error is not None and f.error.exit_code == first.exit_code
                                     for f in failures):
            return first
    names = ", ".join(f"{f.target}: {f.error}" for f in failures)
    return PartialFailure(f"push failed for {len(failures)} of {len(report.reports)} targets: {names}",
                          hint="the local archives are untouched; run `k3s-dr push` again when fixed")


@dataclass(frozen=True)
class PushResult:
    report: PushReport

    def to_dict(self) -> dict[str, Any]:
        return self.report.to_dict()

    @property
    def exit_error(self) -> DRError | None:
        return push_exit(self.report)


def push(config: Config, options: PushOptions, reporter: Reporter) -> PushResult:
    """Copy an archive to the offsite targets, verified; local archives are never changed."""
    backup = config.backup
    path = Path(options.archive) if options.archive else Path(options.directory or backup.dir) / backup.latest_link
    if not path.exists():
        raise DRError(f"nothing to push: {str(path)!r} does not exist",
                      hint="name an archive, or run `k3s-dr backup` first")
    return PushResult(run_push(config, path, options.target, reporter, trigger=MANUAL,
                               retention=not options.no_retention))
