"""How each job's run ends, as tables: the exit decisions the CLI raises after printing a result.

Every row names a case, the result the job got, and the exit code and message (or success) the
operator and systemd see. The values are real result types, built by hand.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from dr_lib.backup.result import BackupResult
from dr_lib.cli.restore_options import RestoreMode
from dr_lib.drill.runner import DrillOutcome
from dr_lib.errors import DRError, ExitCode, LockBusy, RemoteUnreachable, UsageError
from dr_lib.host.install import HostChange
from dr_lib.jobs.autopush import AfterBackup
from dr_lib.jobs.backup import backup_exit
from dr_lib.jobs.diff import diff_exit
from dr_lib.jobs.drill import DrillFailed, drill_exit
from dr_lib.jobs.host import HostResult
from dr_lib.jobs.offsite import RemoteListing
from dr_lib.jobs.push import push_exit
from dr_lib.jobs.restore import AppData, restore_exit
from dr_lib.offsite.push import PushReport, TargetReport
from dr_lib.restore.journal import interruption
from dr_lib.restore.ledger import CREATED, FAILED, SKIPPED, Entry, Ledger
from tests.unit.test_offsite_history import ARCHIVE
from tests.unit.test_offsite_history import report as one_target_down

Expected = tuple[int, str] | None  # (exit code, a fragment of the message), or None: success


def _check(error: DRError | None, expected: Expected) -> None:
    if expected is None:
        assert error is None, error
        return
    code, fragment = expected
    assert error is not None, f"expected exit {code}"
    assert (error.exit_code, fragment in str(error)) == (code, True), str(error)


# --- backup ---------------------------------------------------------------------------------

def backup_result(*, promoted: bool = True, partial: bool = False) -> BackupResult:
    warnings = ("application data: hook pg-dump in shop/db failed",) if partial else ()
    return BackupResult(Path("/var/backups/k3s-cluster/k3s-dr-20270115T075000Z.tar.gz"), "2027-01-15T07:50:00Z", 6,
                        {}, 100, "ab" * 32, 1.0, True, promoted, {},
                        not_promoted_reason=None if promoted else "user objects dropped from 5 to 0 (100%)",
                        warnings=warnings, partial=partial)


PUSHED_OK = AfterBackup(replace(one_target_down(), reports=one_target_down().reports[:1]))
ONE_DOWN = AfterBackup(one_target_down())
LOCKED = AfterBackup(error=LockBusy("cannot push offsite: pid 7 (push offsite) holds the lock"))


@pytest.mark.parametrize(("case", "result", "pushed", "expected"), [
    ("promoted, no push wanted", backup_result(), None, None),
    ("promoted and pushed", backup_result(), PUSHED_OK, None),
    ("promoted, one target down: partial", backup_result(), ONE_DOWN,
     (ExitCode.PARTIAL, "is verified and promoted, but its offsite push failed: home: offsite target 'home'")),
    ("promoted, the push could not start: partial", backup_result(), LOCKED,
     (ExitCode.PARTIAL, "its offsite push failed: cannot push offsite: pid 7")),
    ("kept, not promoted (shrink guard)", backup_result(promoted=False), None,
     (ExitCode.NOT_PROMOTED, "was kept but not promoted: user objects dropped from 5 to 0 (100%)")),
    ("not promoted: says how to promote", backup_result(promoted=False), None,
     (ExitCode.NOT_PROMOTED, "--allow-shrink")),
    ("application data missing: partial", backup_result(partial=True), None,
     (ExitCode.PARTIAL, "lacks application data: application data: hook pg-dump in shop/db failed")),
    ("data missing and the push failed: both said", backup_result(partial=True), ONE_DOWN,
     (ExitCode.PARTIAL, "failed; and its offsite push failed: home:")),
    ("data missing comes before not promoted", backup_result(promoted=False, partial=True), None,
     (ExitCode.PARTIAL, "lacks application data")),
])
def test_how_a_backup_ends(case: str, result: BackupResult, pushed: AfterBackup | None, expected: Expected) -> None:
    _check(backup_exit(result, pushed), expected)


# --- restore (objects; auto-restore ends the same way when it restored) ---------------------

def ledger(*results: str, wait: dict[str, object] | None = None, stopped_by: str | None = None) -> Ledger:
    entries = [Entry("config-maps", "configmaps", "ConfigMap", "shop", f"c-{i}", result, "why")
               for i, result in enumerate(results)]
    done = Ledger("a.tar.gz", False, "skip", "2026-11-28T10:00:00Z", entries, wait=wait)
    if stopped_by is not None:
        done.interrupted = interruption(stopped_by, 10, len(entries))
    return done


DATA_OK = AppData({"failures": [], "partial": False}, ())
DATA_PARTIAL = AppData({"partial": True}, ("hook pg-restore in shop/db failed: exit 1",))


@pytest.mark.parametrize(("case", "done", "data", "expected"), [
    ("complete, --no-data", ledger(CREATED, SKIPPED), None, None),
    ("complete with its data", ledger(CREATED), DATA_OK, None),
    ("nothing to restore", ledger(), DATA_OK, None),
    ("some objects failed: partial", ledger(CREATED, FAILED), DATA_OK,
     (ExitCode.PARTIAL, "restore partial: 1 objects failed (see the ledger /state/ledgers/l.json)")),
    ("workloads not ready in time: partial", ledger(CREATED, wait={"ready": False}), None,
     (ExitCode.PARTIAL, "restore partial: 0 objects failed; workloads not ready in time")),
    ("every object failed: failed", ledger(FAILED, FAILED), DATA_OK,
     (ExitCode.FAILURE, "restore failed: all 2 objects failed")),
    ("objects complete, data partial: partial", ledger(CREATED), DATA_PARTIAL,
     (ExitCode.PARTIAL, "restore of application data partial: hook pg-restore in shop/db failed")),
    ("objects partial and data partial: the objects are named", ledger(FAILED, CREATED), DATA_PARTIAL,
     (ExitCode.PARTIAL, "restore partial: 1 objects failed")),
    ("stopped by SIGTERM: interrupted", ledger(CREATED, CREATED, stopped_by="SIGTERM"), None,
     (ExitCode.INTERRUPTED, "restore interrupted (SIGTERM stopped the restore between writes): 2 objects "
                            "attempted, 8 not")),
    ("interrupted comes before partial", ledger(CREATED, FAILED, stopped_by="SIGINT"), DATA_PARTIAL,
     (ExitCode.INTERRUPTED, "restore interrupted (SIGINT")),
])
def test_how_a_restore_ends(case: str, done: Ledger, data: AppData | None, expected: Expected) -> None:
    _check(restore_exit(done, Path("/state/ledgers/l.json"), data), expected)


# --- push, remote listing, diff, drill, fix ---------------------------------------------------

def push_report(*errors: DRError | None) -> PushReport:
    return PushReport(ARCHIVE, tuple(TargetReport(f"t{i}", error=e) for i, e in enumerate(errors)))


DOWN = RemoteUnreachable("offsite target: the server could not be reached")


@pytest.mark.parametrize(("case", "report", "expected"), [
    ("every target pushed", push_report(None, None), None),
    ("one of two failed: partial", push_report(None, DOWN), (ExitCode.PARTIAL, "push failed for 1 of 2 targets: t1:")),
    ("all failed alike: that error's code", push_report(DOWN, DOWN), (ExitCode.ENVIRONMENT, "could not be reached")),
    ("all failed, differently: partial", push_report(DOWN, UsageError("bad")),
     (ExitCode.PARTIAL, "push failed for 2 of 2 targets")),
])
def test_how_a_push_ends(case: str, report: PushReport, expected: Expected) -> None:
    _check(push_exit(report), expected)


@pytest.mark.parametrize(("case", "errors", "targets", "expected"), [
    ("no targets configured", [], 0, None),
    ("every target listed", [], 2, None),
    ("one of two unreachable: shown, not fatal", [DOWN], 2, None),
    ("none could be listed: the first error", [DOWN, UsageError("bad")], 2, (ExitCode.ENVIRONMENT, "could not be")),
])
def test_how_a_remote_listing_ends(case: str, errors: list[DRError], targets: int, expected: Expected) -> None:
    _check(RemoteListing([{"target": f"t{i}"} for i in range(targets)], errors).exit_error, expected)


@pytest.mark.parametrize(("case", "counts", "expected"), [
    ("the cluster matches", {"missing": 0, "differs": 0, "same": 4}, None),
    ("objects missing", {"missing": 2, "differs": 0, "same": 1}, (ExitCode.FAILURE, "2 objects missing, 0 differ")),
    ("objects differ", {"missing": 0, "differs": 1, "same": 1}, (ExitCode.FAILURE, "0 objects missing, 1 differ")),
])
def test_how_a_diff_ends(case: str, counts: dict[str, int], expected: Expected) -> None:
    _check(diff_exit(counts), expected)


def drill_outcome(verdict: str) -> DrillOutcome:
    failed = None if verdict == "pass" else "restore"
    return DrillOutcome(verdict, failed, ("3 objects missing after the restore",) if failed else (), 42.0, 10.0, 12,
                        "d-1", Path("/reports/20270115T0750Z-d-1"), 60.0, 0, {})


def test_how_a_drill_ends() -> None:
    assert drill_exit(drill_outcome("pass")) is None
    failed = drill_exit(drill_outcome("fail"))
    assert isinstance(failed, DrillFailed) and failed.exit_code == ExitCode.FAILURE
    assert str(failed) == ("drill d-1 failed at step restore: 3 objects missing after the restore "
                           "(report: /reports/20270115T0750Z-d-1)")


@pytest.mark.parametrize(("case", "remaining", "dry_run", "expected"), [
    ("everything repaired", (), False, None),
    ("a fixable control still fails: partial", (("DR-BKP-001", "link dangles"),), False,
     (ExitCode.PARTIAL, "fix could not repair: DR-BKP-001")),
    ("only controls that need the operator", (("DR-CONF-001", "config invalid"),), False, None),
    ("a dry run changes nothing: success", (("DR-BKP-001", "link dangles"),), True, None),
])
def test_how_a_fix_ends(case: str, remaining: tuple[tuple[str, str], ...], dry_run: bool, expected: Expected) -> None:
    result = HostResult(HostChange((), dry_run, remaining), "/etc/k3s-dr/config.yaml")
    _check(result.exit_error, expected)
    assert [r["fixable"] for r in result.to_dict()["remaining"]] == [cid == "DR-BKP-001" for cid, _ in remaining]
    assert "exec" not in result.to_dict()


# --- which restore job `restore` runs -------------------------------------------------------

@pytest.mark.parametrize(("case", "mode", "dry_run", "refused"), [
    ("objects", RestoreMode(), False, None),
    ("objects, dry run", RestoreMode(), True, None),
    ("auto", RestoreMode(auto=True, boot_id="b"), False, None),
    ("auto, forced", RestoreMode(auto=True, force=True), False, None),
    ("datastore", RestoreMode(datastore=True), False, None),
    ("--force alone", RestoreMode(force=True), False, "--force works with --auto only"),
    ("--auto --dry-run", RestoreMode(auto=True), True, "--auto with --dry-run"),
    ("--datastore --dry-run", RestoreMode(datastore=True), True, "--datastore restores the whole server"),
    ("--datastore --auto", RestoreMode(auto=True, datastore=True), False, "--datastore restores the whole server"),
])
def test_restore_modes(case: str, mode: RestoreMode, dry_run: bool, refused: str | None) -> None:
    if refused is None:
        assert mode.check(dry_run=dry_run) is mode
        return
    with pytest.raises(UsageError, match=refused):
        mode.check(dry_run=dry_run)


@pytest.mark.parametrize(("case", "mode", "refused"), [
    ("objects: a drill's restore", RestoreMode(), False),
    ("--auto", RestoreMode(auto=True), True),
    ("--datastore", RestoreMode(datastore=True), True),
])
def test_the_test_only_sanitizer_switch_per_mode(case: str, mode: RestoreMode, refused: bool) -> None:
    if not refused:
        assert mode.check(dry_run=False, sabotage=("persistentvolumes",)) is mode
        return
    with pytest.raises(UsageError, match="--test-disable-sanitizer is a test-only switch"):
        mode.check(dry_run=False, sabotage=("persistentvolumes",))
