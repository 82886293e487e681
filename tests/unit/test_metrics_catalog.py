"""The metric table: from result values to metric values (pure), and its exposition text."""

from __future__ import annotations

import math

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dr_lib import __version__
from dr_lib.metrics.backupdir import ArchiveFacts, DirFacts
from dr_lib.metrics.catalog import METRICS, RENAMED, SEED_SUFFIXES, names
from dr_lib.metrics.collect import render
from dr_lib.metrics.records import BackupRecord, DrillRecord, State
from dr_lib.metrics.systemd import SystemdFacts, UnitReadiness
from tests.unit._metrics_inputs import CREATED, HEALTHY_DIR, LATEST, NOW, READY_UNIT, full_inputs, full_state

SEED_NAMES = {  # the seed report's gauges, verbatim
    "insightlearn_dr_backup_last_success_timestamp_seconds",
    "insightlearn_dr_backup_size_bytes",
    "insightlearn_dr_backup_last_status",
    "insightlearn_dr_backup_count",
    "insightlearn_dr_backup_age_seconds",
    "insightlearn_dr_next_backup_seconds",
}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, tuple(sorted(labels.items()))))


def test_the_seed_prefix_reproduces_the_seeds_six_names_exactly():
    assert {"insightlearn_dr_" + s for s in SEED_SUFFIXES} == SEED_NAMES
    text = render("insightlearn_dr_", full_inputs())
    emitted = {name for name, _ in samples(text)}
    assert emitted >= SEED_NAMES


def test_default_prefix_and_every_metric_has_a_value_on_a_complete_host():
    text = render("k3s_dr_", full_inputs())
    emitted = {name for name, _ in samples(text)}
    assert emitted == set(names("k3s_dr_"))
    assert all(name.startswith("k3s_dr_") for name in emitted)


def test_values_of_a_complete_host():
    text = render("k3s_dr_", full_inputs())
    expected = {
        "k3s_dr_backup_last_success_timestamp_seconds": CREATED,
        "k3s_dr_backup_age_seconds": 1800.0,
        "k3s_dr_backup_size_bytes": 111_616.0,
        "k3s_dr_backup_last_status": 1.0,
        "k3s_dr_backup_count": 2.0,
        "k3s_dr_next_backup_seconds": 300.0,
        "k3s_dr_next_backup_timestamp_seconds": NOW + 300,
        "k3s_dr_backup_duration_seconds": 4.2,
        "k3s_dr_backup_verified": 1.0,
        "k3s_dr_backup_archives_verified": 2.0,
        "k3s_dr_backup_datastore_snapshot": 1.0,
        "k3s_dr_backup_archives_unreadable": 0.0,
        "k3s_dr_restore_last_timestamp_seconds": NOW - 600,
        "k3s_dr_restore_last_status": 1.0,
        "k3s_dr_restore_last_duration_seconds": 12.5,
        "k3s_dr_auto_restore_last_decision_timestamp_seconds": NOW - 610,
        "k3s_dr_auto_restore_unit_enabled": 1.0,
        "k3s_dr_auto_restore_condition_met": 1.0,
        "k3s_dr_auto_restore_would_fire": 1.0,
        "k3s_dr_drill_last_timestamp_seconds": NOW - 86400,
        "k3s_dr_drill_last_status": 1.0,
        "k3s_dr_drill_last_rto_seconds": 38.5,
        "k3s_dr_drill_last_rpo_seconds": 12.0,
        "k3s_dr_drill_rto_target_seconds": 900.0,
        "k3s_dr_drill_rpo_target_seconds": 3600.0,
        "k3s_dr_metrics_collected_timestamp_seconds": NOW,
    }
    for name, wanted in expected.items():
        assert value(text, name) == pytest.approx(wanted), name
    assert value(text, "k3s_dr_build_info", version=__version__) == 1
    assert value(text, "k3s_dr_backup_objects", kind="configmaps") == 12
    assert value(text, "k3s_dr_backup_objects", kind="deployments.apps") == 3
    assert value(text, "k3s_dr_restore_objects", result="created") == 14
    assert value(text, "k3s_dr_restore_objects", result="unchanged") == 1
    assert value(text, "k3s_dr_restore_objects", result="failed") == 0
    assert value(text, "k3s_dr_auto_restore_decisions_total", decision="restore") == 1
    assert value(text, "k3s_dr_auto_restore_decisions_total", decision="no_restore") == 1
    for source in ("state", "backup_dir", "systemd"):
        assert value(text, "k3s_dr_collection_error", source=source) == 0


def test_a_fresh_host_reports_never_as_zero_and_invents_no_status():
    text = render("k3s_dr_", full_inputs(state=State(), backups=DirFacts("/b"), systemd=None))
    got = samples(text)
    assert value(text, "k3s_dr_backup_last_success_timestamp_seconds") == 0  # "older than" alerts fire
    assert value(text, "k3s_dr_restore_last_timestamp_seconds") == 0
    assert value(text, "k3s_dr_drill_last_timestamp_seconds") == 0
    assert value(text, "k3s_dr_backup_count") == 0
    assert value(text, "k3s_dr_backup_archives_verified") == 0
    absent = {"k3s_dr_backup_last_status", "k3s_dr_backup_age_seconds", "k3s_dr_backup_size_bytes",
              "k3s_dr_next_backup_seconds", "k3s_dr_next_backup_timestamp_seconds",
              "k3s_dr_restore_last_status", "k3s_dr_drill_last_status",
              "k3s_dr_drill_last_rto_seconds", "k3s_dr_auto_restore_would_fire", "k3s_dr_backup_duration_seconds"}
    assert not absent & {name for name, _ in got}


def test_a_failed_backup_keeps_the_last_good_one_for_age_and_size():
    failed = BackupRecord(at=NOW - 60, status="failed", error="API server unreachable")
    state = full_state().with_backup(failed)
    unreadable = DirFacts("/b", problem="cannot list '/b': Permission denied")
    text = render("k3s_dr_", full_inputs(state=state, backups=unreadable))
    assert value(text, "k3s_dr_backup_last_status") == 0
    assert value(text, "k3s_dr_backup_last_run_timestamp_seconds") == NOW - 60
    assert value(text, "k3s_dr_backup_last_success_timestamp_seconds") == CREATED + 40  # from the state
    assert value(text, "k3s_dr_backup_size_bytes") == LATEST.bytes
    assert value(text, "k3s_dr_collection_error", source="backup_dir") == 1
    assert value(text, "k3s_dr_backup_count") is None  # unknown, not zero


def test_a_not_promoted_backup_is_not_a_success():
    shrunk = BackupRecord(at=NOW - 30, status="not_promoted", seconds=1.0, error="objects dropped 90%")
    text = render("k3s_dr_", full_inputs(state=full_state().with_backup(shrunk)))
    assert value(text, "k3s_dr_backup_last_status") == 0
    assert value(text, "k3s_dr_backup_last_success_timestamp_seconds") == CREATED


def test_corrupt_and_unverified_archives():
    corrupt = ArchiveFacts("k3s-dr-20270115T080000Z.tar.gz", 10, CREATED + 600, problem="truncated")
    unverified = ArchiveFacts(LATEST.name, LATEST.bytes, CREATED, verified=False, kinds=LATEST.kinds)
    backups = DirFacts("/b", archives=(corrupt, unverified), latest=unverified, latest_link="ok", count=2)
    text = render("k3s_dr_", full_inputs(backups=backups))
    assert value(text, "k3s_dr_backup_archives_unreadable") == 1
    assert value(text, "k3s_dr_backup_verified") == 0
    assert value(text, "k3s_dr_backup_archives_verified") == 0
    assert value(text, "k3s_dr_backup_count") == 2


@pytest.mark.parametrize(("unit", "enabled", "condition", "fire"), [
    (READY_UNIT, 1, 1, 1),
    (UnitReadiness(loaded=True, enabled=False, masked=False, conditions_hold=True), 0, 1, 0),
    (UnitReadiness(loaded=True, enabled=True, masked=False, conditions_hold=False), 1, 0, 0),  # the seed
    (UnitReadiness(loaded=False, enabled=False, masked=True, conditions_hold=True), 0, 1, 0),
    (UnitReadiness(loaded=False, enabled=False, masked=False, conditions_hold=False), 0, 0, 0),
])
def test_auto_restore_unit_readiness(unit, enabled, condition, fire):
    text = render("k3s_dr_", full_inputs(systemd=SystemdFacts(NOW + 10, unit)))
    assert value(text, "k3s_dr_auto_restore_unit_enabled") == enabled
    assert value(text, "k3s_dr_auto_restore_condition_met") == condition
    assert value(text, "k3s_dr_auto_restore_would_fire") == fire


def test_systemd_trouble_and_absence():
    broken = SystemdFacts(None, UnitReadiness(False, False, False, False), problem="systemctl timed out")
    text = render("k3s_dr_", full_inputs(systemd=broken))
    assert value(text, "k3s_dr_collection_error", source="systemd") == 1
    assert value(text, "k3s_dr_auto_restore_would_fire") is None  # unknown is not "would not fire"
    assert value(text, "k3s_dr_next_backup_seconds") is None
    text = render("k3s_dr_", full_inputs(systemd=None))
    assert value(text, "k3s_dr_collection_error", source="systemd") == 0
    assert value(text, "k3s_dr_next_backup_seconds") is None


def test_an_overdue_timer_says_zero_not_negative():
    text = render("k3s_dr_", full_inputs(systemd=SystemdFacts(NOW - 5, READY_UNIT)))
    assert value(text, "k3s_dr_next_backup_seconds") == 0


def test_a_failed_drill_without_measurements():
    state = full_state().with_drill(DrillRecord(at=NOW - 5, passed=False, failed_step="restore"))
    text = render("k3s_dr_", full_inputs(state=state))
    assert value(text, "k3s_dr_drill_last_status") == 0
    assert value(text, "k3s_dr_drill_last_rto_seconds") is None
    assert value(text, "k3s_dr_drill_last_timestamp_seconds") == NOW - 5


def test_without_a_vouched_archive_or_a_recorded_success_there_is_no_last_success():
    backups = DirFacts("/b", archives=HEALTHY_DIR.archives, latest=None, latest_link="missing", count=2)
    text = render("k3s_dr_", full_inputs(backups=backups, state=State()))
    assert value(text, "k3s_dr_backup_last_success_timestamp_seconds") == 0
    assert value(text, "k3s_dr_backup_age_seconds") is None


def test_table_is_well_formed():
    suffixes = [spec.suffix for spec in METRICS]
    assert len(suffixes) == len(set(suffixes))
    for spec in METRICS:
        assert spec.help.strip(), spec.suffix
        assert spec.kind in ("gauge", "counter")
        assert not spec.suffix.endswith("_total"), "counters get _total from prometheus_client"
    for _name, number in samples(render("k3s_dr_", full_inputs())).items():
        assert math.isfinite(number)


def test_names_beyond_the_seeds_follow_prometheus_naming():
    """The seed's six keep their names (backup_count included); every other gauge: no suffix reserved for
    histograms and summaries, `_status` for the result of a last run, a unit where there is one."""
    for spec in METRICS:
        if spec.suffix in SEED_SUFFIXES or spec.kind != "gauge":
            continue
        assert not spec.suffix.endswith(("_count", "_sum", "_bucket", "_total")), spec.suffix
        assert not any(word in spec.suffix.split("_") for word in ("verdict", "result", "state")), spec.suffix
        if "timestamp" in spec.suffix:
            assert spec.suffix.endswith("_timestamp_seconds"), spec.suffix
    suffixes = {spec.suffix for spec in METRICS}
    assert {"next_backup_seconds", "next_backup_timestamp_seconds", "build_info"} <= suffixes
    for old, new, why in RENAMED:
        assert old not in suffixes and new in suffixes and why, old
