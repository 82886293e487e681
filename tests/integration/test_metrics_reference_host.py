"""On the reference host (systemd as PID 1, k3s-dr installed, one backup taken): the systemd
metrics are real — seconds to the next backup from the timer, whether the auto-restore unit would
fire — and they turn to 0 for each of the seed's two auto-restore problems. The exporter runs
there as the service ``k3s-dr install`` wrote (sandboxed, ``Type=notify``): answering inside the
host, judged by DR-METRICS-002 and DR-METRICS-003, back after a real boot, removed and brought back
by install as ``units.exporter`` says. Its start time under systemd is measured here."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from k3s_dr_testbed.lab.host import exec_in, restart
from tests.integration._metrics_helpers import parse, value
from tests.integration._reference_host import evaluate, failing, reference_host, sh

pytestmark = [pytest.mark.docker, pytest.mark.slow]
SNAPSHOT = "/var/backups/k3s-cluster/k3s-cluster-snapshot.tar.gz"
EXPORTER = "k3s-dr-exporter.service"
CONFIG = "/etc/k3s-dr/config.yaml"
FETCH = ("python3 -c \"import sys, urllib.request as u; "
         "print(u.urlopen('http://127.0.0.1:9101' + sys.argv[1], timeout=5).read().decode())\"")
# Inside the host: restart the exporter three times; how long `systemctl restart` takes (Type=notify:
# until it listens) and whether /healthz answers the moment it returns.
RESTARTS = f"""python3 - <<'EOF'
import json, subprocess, time, urllib.request as u
seen = []
for _ in range(3):
    began = time.monotonic()
    subprocess.run(["systemctl", "restart", "{EXPORTER}"], check=True)
    returned = time.monotonic() - began
    u.urlopen("http://127.0.0.1:9101/healthz", timeout=5).read()
    seen.append({{"restart_returned_s": round(returned, 3), "answered_s": round(time.monotonic() - began, 3)}})
print(json.dumps(seen))
EOF"""


def metrics(name: str) -> dict[Any, float]:
    return parse(sh(name, "k3s-dr metrics 2>/dev/null"))


def _show(name: str, *properties: str) -> dict[str, str]:
    out = sh(name, f"systemctl show -p {','.join(properties)} {EXPORTER}")
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def _start_seconds(name: str) -> float:
    """From the exporter's process start to its READY=1 (listening), as systemd recorded them."""
    shown = _show(name, "ExecMainStartTimestampMonotonic", "ActiveEnterTimestampMonotonic")
    return (int(shown["ActiveEnterTimestampMonotonic"]) - int(shown["ExecMainStartTimestampMonotonic"])) / 1e6


def test_systemd_metrics_and_the_exporter_on_a_reference_host(record_property: Callable[[str, object], None]):
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

        # `k3s-dr install` (at `lab host up`) left the exporter running as its sandboxed service
        shown = _show(host.name, "UnitFileState", "ActiveState", "SubState", "Type", "FragmentPath", "NRestarts")
        assert shown == {"UnitFileState": "enabled", "ActiveState": "active", "SubState": "running", "Type": "notify",
                         "FragmentPath": f"/usr/local/lib/systemd/system/{EXPORTER}", "NRestarts": "0"}, shown
        findings = evaluate(host.name)
        assert findings["DR-METRICS-002"].outcome.value == "pass", findings["DR-METRICS-002"]
        assert findings["DR-METRICS-003"].outcome.value == "pass", findings["DR-METRICS-003"]
        served = parse(sh(host.name, f"{FETCH} /metrics"))
        assert value(served, "k3s_dr_auto_restore_would_fire") == 1
        assert 0 < value(served, "k3s_dr_next_backup_seconds") <= 3600
        # the dashboard's systemd panels (empty where systemd does not run) read these: served here
        next_at = value(served, "k3s_dr_next_backup_timestamp_seconds")
        assert next_at == pytest.approx(value(served, "k3s_dr_metrics_collected_timestamp_seconds")
                                        + value(served, "k3s_dr_next_backup_seconds"), abs=2)
        assert value(served, "k3s_dr_auto_restore_unit_enabled") == 1
        assert value(served, "k3s_dr_backup_verified") == 1 and value(served, "k3s_dr_backup_count") == 1
        for source in ("state", "backup_dir", "systemd"):  # the sandbox still lets it read all three
            assert value(served, "k3s_dr_collection_error", source=source) == 0, source
        exposure = sh(host.name, f"systemd-analyze security {EXPORTER} --no-pager").strip().splitlines()[-1]
        assert exposure.split()[-2] in ("SAFE", "OK"), exposure  # "… exposure level for …: 2.3 OK :-)"

        at_install = _start_seconds(host.name)
        restarts = json.loads(sh(host.name, RESTARTS))  # /healthz must answer at once: no wait after start
        at_restart = _start_seconds(host.name)
        record_property("exporter_start_seconds", json.dumps({"install": round(at_install, 3),
                                                              "last_restart": round(at_restart, 3)}))
        record_property("exporter_restarts", json.dumps(restarts))
        print(f"\nexporter start under systemd (process start to READY=1): {at_install:.3f}s at install, "
              f"{at_restart:.3f}s at the last restart; restarts: {restarts}; {exposure}")

        # its port taken: the start fails with the exporter's own message, DR-METRICS-003 alone catches it, and
        # the service takes the port back by itself once it is free (Restart=on-failure, RestartSec=5s)
        sh(host.name, f"systemctl stop {EXPORTER} && systemd-run --unit=squatter --property=Type=exec "
                      "python3 -m http.server --bind 0.0.0.0 9101")
        assert sh(host.name, f"systemctl start {EXPORTER}", check=False).count(f"Job for {EXPORTER} failed") == 1
        assert "cannot listen on 0.0.0.0:9101: the address is already in use" in sh(
            host.name, f"journalctl -u {EXPORTER} -n 20 --no-pager")
        assert set(failing(host.name)) == {"DR-METRICS-003"}
        code, out = exec_in(host.name, "k3s-dr fix", time.monotonic() + 120, check=False)
        assert code == 7 and f"systemctl restart {EXPORTER} failed" in out, (code, out)  # an environment problem
        freed = time.monotonic()
        sh(host.name, "systemctl stop squatter.service")
        sh(host.name, f"for i in $(seq 1 150); do systemctl is-active -q {EXPORTER} && exit 0; sleep 0.1; done; exit 1")
        print(f"taken port freed: the exporter served again after {time.monotonic() - freed:.1f}s")
        assert failing(host.name) == {}

        # units.exporter: false — install stops, disables and removes the unit it wrote; nothing is judged
        sh(host.name, f"echo 'units: {{exporter: false}}' >> {CONFIG}")
        removed = json.loads(sh(host.name, "k3s-dr install --json"))
        assert [(s["action"], s.get("args", [s["target"]])[0]) for s in removed["steps"]] == [
            ("systemctl", "disable"), ("systemctl", "stop"), ("remove", f"/usr/local/lib/systemd/system/{EXPORTER}"),
            ("systemctl", "daemon-reload")], removed
        assert _show(host.name, "LoadState", "ActiveState") == {"LoadState": "not-found", "ActiveState": "inactive"}
        assert "Connection refused" in sh(host.name, f"{FETCH} /healthz", check=False)
        findings = evaluate(host.name)
        assert findings["DR-METRICS-002"].outcome.value == findings["DR-METRICS-003"].outcome.value == "n/a"
        assert failing(host.name) == {}
        assert json.loads(sh(host.name, "k3s-dr install --json"))["steps"] == []

        # wanted again: install writes, enables and starts it; and it is back after a real boot
        sh(host.name, f"sed -i '/^units: {{exporter: false}}$/d' {CONFIG}")
        back = json.loads(sh(host.name, "k3s-dr install --json"))
        assert back["steps"][-1]["args"] == ["enable", "--now", EXPORTER], back
        assert sh(host.name, f"{FETCH} /healthz").strip() == "ok"  # install returned once it listened
        restart(host.name, time.monotonic() + 180)
        assert _show(host.name, "ActiveState", "SubState") == {"ActiveState": "active", "SubState": "running"}
        print(f"exporter start at boot (process start to READY=1): {_start_seconds(host.name):.3f}s")
        assert failing(host.name) == {} and evaluate(host.name)["DR-METRICS-002"].outcome.value == "pass"
