"""Metrics after real runs: back up the local cluster, restore into a fresh one, let auto-restore
decide — then scrape ``k3s-dr exporter`` and check every value against what the runs reported."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from dr_lib.metrics.systemd import systemd_running
from tests.integration._metrics_helpers import cli, exporter, make_layout, parse, value

RESULTS = ("created", "updated", "unchanged", "skipped", "failed")


def seed(kube, namespace: str, count: int = 6) -> None:
    for n in range(count):
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"metrics-{n}", "namespace": namespace},
                "data": {"n": str(n)}}
        assert kube.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", body=body).ok
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "metrics-secret", "namespace": namespace},
              "stringData": {"password": "not-a-real-one"}}
    assert kube.request("POST", f"/api/v1/namespaces/{namespace}/secrets", body=secret).ok


@pytest.mark.slow
def test_every_metric_after_a_real_backup_restore_and_auto_decision(cluster, kube, namespace, cluster_factory,
                                                                    tmp_path):
    layout = make_layout(tmp_path / "host")
    seed(kube, namespace)
    started = time.time()
    backup = cli(layout, "backup", "--kubeconfig", cluster.kubeconfig, "-n", namespace, "--json")
    assert backup.code == 0, backup.stderr
    taken = backup.json()

    target = cluster_factory(nodes=1)
    before_restore = time.time()
    restore = cli(layout, "restore", "--kubeconfig", target.kubeconfig, "--json")
    assert restore.code == 0, restore.stderr
    restored = restore.json()
    assert restored["counts"]["created"] > 0

    # the source cluster is healthy: auto-restore must decide not to restore, and say so in the metrics
    auto = cli(layout, "restore", "--auto", "--boot-id", "metrics-test-boot", "--kubeconfig", cluster.kubeconfig,
               "--json")
    assert auto.code == 0, auto.stderr
    assert auto.json()["auto"]["decision"]["restore"] is False

    with exporter(layout) as running:
        scraped_at = time.time()
        got = running.scrape()

    created = datetime.strptime(taken["created"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    assert value(got, "k3s_dr_backup_last_success_timestamp_seconds") == created
    assert started - 2 <= created <= scraped_at
    assert value(got, "k3s_dr_backup_age_seconds") == pytest.approx(scraped_at - created, abs=5)
    assert value(got, "k3s_dr_backup_size_bytes") == taken["bytes"]
    assert value(got, "k3s_dr_backup_last_status") == 1
    assert value(got, "k3s_dr_backup_count") == 1
    assert value(got, "k3s_dr_backup_duration_seconds") == pytest.approx(taken["seconds"], abs=0.001)
    assert value(got, "k3s_dr_backup_last_run_timestamp_seconds") == pytest.approx(before_restore, abs=60)
    for kind, count in taken["kinds"].items():
        assert value(got, "k3s_dr_backup_objects", kind=kind) == count, kind
    assert sum(v for (name, _), v in got.items() if name == "k3s_dr_backup_objects") == taken["objects"]
    assert value(got, "k3s_dr_backup_verified") == 1
    assert value(got, "k3s_dr_backup_archives_verified") == 1
    assert value(got, "k3s_dr_backup_datastore_snapshot") == (0 if taken["datastore"] is None else 1)
    assert value(got, "k3s_dr_backup_archives_unreadable") == 0

    assert before_restore <= value(got, "k3s_dr_restore_last_timestamp_seconds") <= scraped_at
    assert value(got, "k3s_dr_restore_last_status") == (1 if restored["complete"] else 0)
    assert value(got, "k3s_dr_restore_last_duration_seconds") == pytest.approx(restored["seconds"], abs=0.001)
    for result in RESULTS:
        assert value(got, "k3s_dr_restore_objects", result=result) == restored["counts"][result], result

    assert value(got, "k3s_dr_auto_restore_decisions_total", decision="no_restore") == 1
    assert value(got, "k3s_dr_auto_restore_decisions_total", decision="restore") == 0
    assert before_restore <= value(got, "k3s_dr_auto_restore_last_decision_timestamp_seconds") <= scraped_at

    units = ("k3s_dr_next_backup_seconds", "k3s_dr_auto_restore_would_fire", "k3s_dr_auto_restore_unit_enabled",
             "k3s_dr_auto_restore_condition_met")
    for name in units:  # only where systemd runs; this machine's answer decides
        assert (value(got, name) is not None) == systemd_running(), name

    assert value(got, "k3s_dr_drill_last_timestamp_seconds") == 0  # no drill yet: "never"
    assert value(got, "k3s_dr_drill_rto_target_seconds") == 900
    assert value(got, "k3s_dr_drill_rpo_target_seconds") == 3600
    assert value(got, "k3s_dr_metrics_collected_timestamp_seconds") == pytest.approx(scraped_at, abs=5)
    for source in ("state", "backup_dir", "systemd"):
        assert value(got, "k3s_dr_collection_error", source=source) == 0, source

    # the textfile written after the last run holds the same results (ages as of that run)
    written = parse(layout.textfile.read_text())
    for name in ("k3s_dr_backup_last_success_timestamp_seconds", "k3s_dr_backup_size_bytes",
                 "k3s_dr_restore_last_status", "k3s_dr_restore_last_duration_seconds"):
        assert value(written, name) == value(got, name), name
    assert value(written, "k3s_dr_auto_restore_decisions_total", decision="no_restore") == 1


def test_the_seed_prefix_exports_the_seeds_names(cluster, kube, namespace, tmp_path):
    layout = make_layout(tmp_path / "seed", extra="  prefix: insightlearn_dr_\n")
    seed(kube, namespace, count=2)
    backup = cli(layout, "backup", "--kubeconfig", cluster.kubeconfig, "-n", namespace, "--json")
    assert backup.code == 0, backup.stderr
    with exporter(layout) as running:
        got = running.scrape()
    names = {name for name, _labels in got}
    assert {"insightlearn_dr_backup_last_success_timestamp_seconds", "insightlearn_dr_backup_size_bytes",
            "insightlearn_dr_backup_last_status", "insightlearn_dr_backup_count",
            "insightlearn_dr_backup_age_seconds"} <= names
    assert ("insightlearn_dr_next_backup_seconds" in names) == systemd_running()
    assert not any(name.startswith("k3s_dr_") for name in names)
    assert value(got, "insightlearn_dr_backup_size_bytes") == backup.json()["bytes"]
