"""systemd: k3s, the backup service and timer, the auto-restore unit (seed test 7, problem 2)."""

import pytest

from dr_lib.checks import verdicts_units as v


@pytest.mark.control("DR-K3S-002")
def test_k3s_starts_at_boot(judge):
    judge(v.k3s_enabled)


@pytest.mark.control("DR-UNIT-001")
def test_units_on_disk_are_loaded(judge):
    judge(v.units_reloaded)


@pytest.mark.control("DR-UNIT-002")
def test_units_run_existing_programs(judge):
    judge(v.exec_start_ok)


@pytest.mark.control("DR-TIMER-001")
def test_backup_timer_scheduled(judge):
    judge(v.timer_scheduled)


@pytest.mark.control("DR-TIMER-002")
def test_last_backup_run_succeeded(judge):
    judge(v.last_backup_ok)


@pytest.mark.control("DR-RESTORE-001")
def test_auto_restore_enabled(judge):
    judge(v.auto_restore_enabled)


@pytest.mark.control("DR-RESTORE-002")
def test_auto_restore_condition_holds(judge):
    judge(v.auto_restore_condition)


@pytest.mark.control("DR-RESTORE-003")
def test_auto_restore_after_k3s(judge):
    judge(v.auto_restore_ordered)


@pytest.mark.control("DR-RESTORE-004")
def test_auto_restore_runs_guarded_restore(judge):
    judge(v.auto_restore_guarded)
