"""On the reference host (systemd as PID 1, k3s-dr installed, one backup taken): the systemd
metrics are real — seconds to the next backup from the timer, whether the auto-restore unit would
fire — and they turn to 0 for each of the seed's two auto-restore problems. The exporter runs
there as a service and the conformance control DR-METRICS-002 judges it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration._metrics_helpers import parse, value
from tests.integration._reference_host import evaluate, reference_host, sh

pytestmark = [pytest.mark.docker, pytest.mark.slow]
SNAPSHOT = "/var/backups/k3s-cluster/k3s-cluster-snapshot.tar.gz"


def metrics(name: str) -> dict[Any, float]:
    return parse(sh(name, "k3s-dr metrics 2>/dev/null"))


def test_systemd_metrics_and_the_exporter_on_a_reference_host():
    with reference_host("k3sdr-met") as host:
        got = metrics(host.name)
        assert 0 < value(got, "k3s_dr_next_backup_seconds") <= 3600  # hourly timer (1 h RPO)
        assert value(got, "k3s_dr_auto_restore_unit_enabled") == 1
        assert value(got, "k3s_dr_auto_restore_condition_met") == 1
        assert value(got, "k3s_dr_auto_restore_would_fire") == 1
        assert value(got, "k3s_dr_backup_verified") == 1
        assert value(got, "k3s_dr_backup_datastore_snapshot") == 1  # a k3s server: datastore and token
        assert value(got, "k3s_dr_collection_error", source="systemd") == 0

        # the seed's problem 2: the unit is not enabled
        sh(host.name, "systemctl disable k3s-auto-restore.service")
        got = metrics(host.name)
        assert (value(got, "k3s_dr_auto_restore_unit_enabled"), value(got, "k3s_dr_auto_restore_would_fire")) == (0, 0)
        sh(host.name, "systemctl enable k3s-auto-restore.service")

        # the seed's problem 1: the snapshot link the unit waits for does not exist
        sh(host.name, f"mv {SNAPSHOT} /root/snapshot-link.saved")
        got = metrics(host.name)
        assert value(got, "k3s_dr_auto_restore_condition_met") == 0
        assert value(got, "k3s_dr_auto_restore_would_fire") == 0
        sh(host.name, f"mv /root/snapshot-link.saved {SNAPSHOT}")
        assert value(metrics(host.name), "k3s_dr_auto_restore_would_fire") == 1

        # the exporter as a service; the conformance control finds it answering with fresh values
        assert evaluate(host.name)["DR-METRICS-002"].outcome.value == "n/a"  # nothing listens yet
        sh(host.name, "systemd-run --unit=k3s-dr-exporter --property=Restart=on-failure "
                      "/usr/local/bin/k3s-dr exporter --listen 127.0.0.1:9101")
        sh(host.name, "for i in $(seq 1 100); do python3 -c \"import urllib.request as u; "
                      "u.urlopen('http://127.0.0.1:9101/healthz', timeout=1)\" 2>/dev/null && exit 0; sleep 0.1; "
                      "done; exit 1")
        finding = evaluate(host.name)["DR-METRICS-002"]
        assert finding.outcome.value == "pass", finding
        served = parse(sh(host.name, "python3 -c \"import urllib.request as u; "
                                     "print(u.urlopen('http://127.0.0.1:9101/metrics').read().decode())\""))
        assert value(served, "k3s_dr_auto_restore_would_fire") == 1
        assert 0 < value(served, "k3s_dr_next_backup_seconds") <= 3600
