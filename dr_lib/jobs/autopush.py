"""The offsite push after each verified backup (``offsite.push_after_backup``, ``backup --push/--no-push``).

Backup and offsite are sibling features that never import each other; the backup job, above
both, runs one after the other. The push runs only for an archive that was verified and promoted, by
default only when it went to the configured ``backup.dir`` (an ad-hoc ``--dir`` is not this host's
backup; ``--push`` insists). A failed push leaves every local file as it was: the backup stands,
the run ends with exit 3 (partial: backed up, not offsite), its JSON says which target failed
and why, and the record and metrics of the push say it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dr_lib.config import Config
from dr_lib.errors import DRError, PartialFailure, UsageError
from dr_lib.jobs.record import in_configured_dir
from dr_lib.jobs.report import Reporter

if TYPE_CHECKING:
    from dr_lib.backup.result import BackupResult
    from dr_lib.offsite.push import PushReport

RETRY_HINT = "the backup is verified and promoted and the local archives are untouched; " \
             "run `k3s-dr push` once the cause is fixed"


@dataclass(frozen=True)
class AfterBackup:
    """What the push after a backup did: a report (some targets may have failed), or why none ran."""

    report: PushReport | None = None
    error: DRError | None = None  # no target could be tried: lock held by another push, archive unusable

    @property
    def problems(self) -> list[str]:
        if self.error is not None:
            return [str(self.error)]
        assert self.report is not None
        return [f"{r.target}: {r.error}" for r in self.report.failures]

    def to_dict(self) -> dict[str, Any]:
        if self.report is not None:
            return self.report.to_dict()
        assert self.error is not None
        return {"ok": False, "error": str(self.error), "exit_code": self.error.exit_code, "targets": []}


def wanted(config: Config, choice: bool | None, result: BackupResult) -> bool:
    """Whether this run pushes: ``--push``/``--no-push``, else the config for the configured backup.dir."""
    if not result.promoted:
        return False  # only a verified, promoted archive goes offsite
    if choice is not None:
        return choice
    offsite = config.offsite
    return offsite.push_after_backup and bool(offsite.targets) and in_configured_dir(config, result.archive.parent)


def check_choice(config: Config, choice: bool | None) -> None:
    """``--push`` without targets is bad input: said before the backup runs, not after."""
    if choice and not config.offsite.targets:
        raise UsageError("--push was given but no offsite targets are configured: accepted is --push with at "
                         "least one offsite.targets.<name> in the config, or --no-push")


def push_after(config: Config, result: BackupResult, choice: bool | None, reporter: Reporter) -> AfterBackup | None:
    """Push the backup's archive when wanted; None when no push was attempted."""
    if not wanted(config, choice, result):
        return None
    # Imported here: a backup without a push must not pay for loading the offsite code (age, boto3 glue).
    from dr_lib.jobs.push import AFTER_BACKUP, push_lock_wait, run_push  # noqa: PLC0415

    try:
        # A manual `k3s-dr push` may be running: wait for it (as long as a push may take), so a
        # timer run does not fail only because an operator pushed by hand.
        return AfterBackup(run_push(config, result.archive, None, reporter, trigger=AFTER_BACKUP,
                                    backup_ok=not result.partial, lock_wait=push_lock_wait(config)))
    except DRError as exc:
        return AfterBackup(error=exc)


def as_json(pushed: AfterBackup | None) -> dict[str, Any] | None:
    return None if pushed is None else pushed.to_dict()


def summary(pushed: AfterBackup | None) -> str:
    """The human summary's offsite line ("" when no push was attempted)."""
    if pushed is None:
        return ""
    if pushed.report is None:
        return f"\noffsite  NOT pushed: {pushed.error}"
    parts = [f"{r.target} {r.outcome.action} ({r.outcome.bytes_sent:,} bytes sent)" if r.outcome and not r.error
             else f"{r.target} FAILED" for r in pushed.report.reports]
    return "\noffsite  " + "; ".join(parts)


def failure(pushed: AfterBackup | None) -> str:
    """The push's problems as a clause for the run's error message ("" when the push is fine)."""
    problems = [] if pushed is None else pushed.problems
    return f"its offsite push failed: {'; '.join(problems)}" if problems else ""


def push_error(result: BackupResult, pushed: AfterBackup | None) -> PartialFailure | None:
    """A promoted backup whose push failed is partial (exit 3): backed up, not offsite."""
    clause = failure(pushed)
    if not clause:
        return None
    return PartialFailure(f"archive {result.archive.name} is verified and promoted, but {clause}", hint=RETRY_HINT)
