"""Metrics after a real drill: ``k3s-dr drill`` on the local cluster, then the exporter's drill
values must be the drill's own (verdict, RTO, RPO, time) — and the drill's internal backup and
restore must not leak into this host's backup and restore metrics."""

from __future__ import annotations

import time

import pytest

from tests.integration._metrics_helpers import cli, exporter, make_layout, parse, value


@pytest.mark.e2e
@pytest.mark.slow
def test_drill_metrics_are_the_drills_own(tmp_path):
    layout = make_layout(tmp_path / "host")
    started = time.time()
    drill = cli(layout, "drill", "--json", "--reports", tmp_path / "reports", timeout=600)
    assert drill.code == 0, drill.stderr[-3000:]
    outcome = drill.json()
    assert outcome["verdict"] == "pass"

    with exporter(layout) as running:
        scraped_at = time.time()
        got = running.scrape()
    assert started <= value(got, "k3s_dr_drill_last_timestamp_seconds") <= scraped_at
    assert value(got, "k3s_dr_drill_last_status") == 1
    assert value(got, "k3s_dr_drill_last_rto_seconds") == pytest.approx(outcome["rto_seconds"])
    assert value(got, "k3s_dr_drill_last_rpo_seconds") == pytest.approx(outcome["rpo_seconds"])
    assert value(got, "k3s_dr_drill_rto_target_seconds") == outcome["rto_target_seconds"]
    assert value(got, "k3s_dr_drill_rpo_target_seconds") == outcome["rpo_target_seconds"]
    assert value(got, "k3s_dr_drill_last_rto_seconds") < value(got, "k3s_dr_drill_rto_target_seconds")

    # the drill backed up and restored throwaway clusters in its own work directory: not this host's
    assert value(got, "k3s_dr_backup_last_status") is None
    assert value(got, "k3s_dr_restore_last_timestamp_seconds") == 0
    assert value(got, "k3s_dr_backup_count") is None  # this host's backup dir was never created
    assert value(parse(layout.textfile.read_text()), "k3s_dr_drill_last_status") == 1
