"""The conformance suite as an operator runs it (``pytest tests/checks --hosts=docker://…``) on real
reference hosts: every control passes on a healthy host; a failure shows its ID, severity, why and
fix in the terminal, JUnit, HTML and JSON; waivers show as waived; the seed's 3 problems are
reproduced across real boots, caught and fixed; a fleet of two hosts runs in parallel into one
report; ``k3s-dr lab host up/down`` works as documented. The suite's speed is measured here.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _reference_host import ROOT, failing, junit_properties, reference_host, require_tools, run_suite, sh

from dr_lib.checks.controls import BY_ID
from k3s_dr_testbed.lab.host import restart

pytestmark = [pytest.mark.docker, pytest.mark.slow]

D = "/var/backups/k3s-cluster"
RESTORE = "k3s-auto-restore.service"
SEED_UNIT = f"""[Unit]
Description=K3s Cluster Auto-Restore Service
After=k3s.service
Wants=k3s.service
ConditionPathExists={D}/k3s-cluster-snapshot.tar.gz

[Service]
Type=oneshot
ExecStart=/usr/local/bin/restore-cluster-state.sh
TimeoutStartSec=600

[Install]
WantedBy=multi-user.target
"""
# The seed's restore heuristics (its problem 3), kept as the seed wrote them.
SEED_SCRIPT = """#!/bin/bash
DEPLOYMENT_COUNT=$(kubectl get deployments --all-namespaces --no-headers | wc -l)
if [[ $DEPLOYMENT_COUNT -gt 5 ]]; then echo "Cluster appears healthy, skipping restore"; exit 0; fi
RESTORE_DATE=$(date +%Y%m%d); STATE_FILE=/var/lib/k3s-restore-state
if [[ -f "$STATE_FILE" ]] && [[ "$(cat "$STATE_FILE")" == "$RESTORE_DATE" ]]; then exit 0; fi
"""


@pytest.fixture(scope="module")
def host() -> Iterator[Any]:
    with reference_host("k3sdr-suite") as started:
        yield started


def test_healthy_host_passes_with_every_report(host: Any, tmp_path: Path) -> None:
    run = run_suite([host.hosts_spec], tmp_path)
    assert run.exit_code == 0, run.output
    verdicts = run.verdicts(host.hosts_spec)
    assert set(verdicts) == set(BY_ID)
    others = {c: v for c, v in verdicts.items() if v != "pass"}
    # n/a: no node_exporter textfile (DR-METRICS-001), no offsite target (DR-OFFSITE-*) on a fresh reference host;
    # the exporter `k3s-dr install` started passes (DR-METRICS-002, -003)
    assert set(others.values()) <= {"n/a"} and all(c.startswith(("DR-METRICS-001", "DR-OFFSITE-")) for c in others), \
        others
    assert verdicts["DR-METRICS-002"] == verdicts["DR-METRICS-003"] == "pass"
    assert "k3s-dr controls" in run.output and f"{host.hosts_spec}" in run.output
    properties = junit_properties(run.junit)
    assert len(properties) == len(BY_ID)
    for props in properties.values():
        assert {"control", "severity", "title", "why", "remediation", "host", "verdict", "evidence"} <= set(props)
    html = run.html.read_text()
    for needle in ("Severity", "Evidence", "Remediation", *BY_ID, "k3s-dr fix", "k3s-dr host conformance"):
        assert needle in html, needle


def test_failure_names_id_severity_why_and_fix(host: Any, tmp_path: Path) -> None:
    sh(host.name, f"rm {D}/k3s-cluster-snapshot.tar.gz")
    try:
        run = run_suite([host.hosts_spec], tmp_path)
        assert run.exit_code == 1 and run.failed() == {"DR-LINK-002"}, run.output
        assert f"DR-LINK-002 [critical] Snapshot link exists — FAILED on {host.hosts_spec}" in run.output
        assert "why:      The auto-restore unit only starts when this path exists" in run.output
        assert "fix:      k3s-dr fix" in run.output
        props = next(p for p in junit_properties(run.junit).values() if p["control"] == "DR-LINK-002")
        assert props["verdict"] == "fail" and "does not exist" in props["problem"]
        assert props["remediation"].startswith("k3s-dr fix")
    finally:
        sh(host.name, "k3s-dr fix")
    assert failing(host.name) == {}


def test_waived_control_shows_as_waived(host: Any, tmp_path: Path) -> None:
    sh(host.name, "rm /etc/logrotate.d/k3s-dr && printf 'waivers:\\n  - id: DR-LOG-002\\n"
                  "    justification: the platform team rotates all logs centrally\\n"
                  "    expires: %s\\n' $(date -d '+30 days' +%F) > /etc/k3s-dr/waivers.yaml")
    try:
        run = run_suite([host.hosts_spec], tmp_path, "-rX")
        assert run.exit_code == 0, run.output
        assert run.verdicts()["DR-LOG-002"] == "waived" and run.verdicts()["DR-WAIVER-001"] == "pass"
        assert "WAIVED" in run.output and "platform team rotates" in run.output
        result = next(r for r in run.results if r["control"] == "DR-LOG-002")
        assert "platform team" in result["waiver"]
        case = next(c for c in ET.parse(run.junit).iter("testcase") if "DR-LOG-002" in c.get("name", ""))
        skipped = case.find("skipped")
        assert skipped is not None and "WAIVED DR-LOG-002" in (skipped.get("message") or "")
    finally:
        sh(host.name, "rm -f /etc/k3s-dr/waivers.yaml && k3s-dr fix")
    assert failing(host.name) == {}


def test_measure_suite_speed_against_one_host(host: Any, tmp_path: Path,
                                              record_property: Callable[[str, object], None]) -> None:
    """Target < 3 s for the whole suite against one host. Measured and printed, never asserted."""
    seconds = []
    for attempt in range(3):
        run = run_suite([host.hosts_spec], tmp_path / str(attempt))
        assert run.exit_code == 0, run.output
        seconds.append(run.seconds)
    bare = []
    for _ in range(3):  # pytest's own start-up, for comparison
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "pytest", "--version"], cwd=ROOT, capture_output=True, check=True)
        bare.append(time.monotonic() - started)
    record_property("suite_seconds", json.dumps([round(s, 2) for s in seconds]))
    print(f"\nsuite against one host: min {min(seconds):.2f}s median {statistics.median(seconds):.2f}s "
          f"(pytest --version alone: {min(bare):.2f}s)")


def test_seed_problems_reproduced_caught_and_fixed_across_boots(host: Any, tmp_path: Path) -> None:
    # The seed's state: no snapshot link (1), the unit not enabled (2), its untested script runs restores (3).
    sh(host.name, f"rm {D}/k3s-cluster-snapshot.tar.gz && "
                  f"cat > /etc/systemd/system/{RESTORE} <<'EOF'\n{SEED_UNIT}EOF\n"
                  f"cat > /usr/local/bin/restore-cluster-state.sh <<'EOF'\n{SEED_SCRIPT}EOF\n"
                  f"chmod +x /usr/local/bin/restore-cluster-state.sh && systemctl daemon-reload && "
                  f"systemctl disable {RESTORE}")
    restart(host.name, time.monotonic() + 180)  # a real boot: nothing restores
    assert sh(host.name, f"systemctl is-enabled {RESTORE}", check=False).strip() == "disabled"
    assert "ConditionTimestampMonotonic=0" in sh(host.name, f"systemctl show -p ConditionTimestampMonotonic {RESTORE}")

    caught = run_suite([host.hosts_spec], tmp_path / "seed")
    assert caught.failed() == {"DR-LINK-002", "DR-RESTORE-001", "DR-RESTORE-004"}, caught.output

    repaired = json.loads(sh(host.name, "k3s-dr fix --json"))
    assert repaired["remaining"] == [], repaired
    texts = " | ".join(step["text"] for step in repaired["steps"])
    assert f"/etc/systemd/system/{RESTORE}" in texts and "k3s-cluster-snapshot.tar.gz →" in texts, texts
    assert "ExecStart=/usr/local/bin/restore-cluster-state.sh" in sh(host.name, f"cat /etc/systemd/system/{RESTORE}"
                                                                                ".pre-k3s-dr")  # kept, not lost
    assert run_suite([host.hosts_spec], tmp_path / "fixed").exit_code == 0

    restart(host.name, time.monotonic() + 180)  # the next boot evaluates the condition: it holds now
    shown = sh(host.name, f"systemctl show -p ConditionResult,ConditionTimestampMonotonic,UnitFileState {RESTORE}")
    assert "ConditionResult=yes" in shown and "UnitFileState=enabled" in shown, shown
    after = run_suite([host.hosts_spec], tmp_path / "after-boot")
    assert after.exit_code == 0, after.output
    sh(host.name, "rm -f /usr/local/bin/restore-cluster-state.sh")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dr_lib", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=900, check=False)


def test_fleet_of_two_hosts_in_parallel_into_one_report(host: Any, tmp_path: Path) -> None:
    require_tools()
    name = f"{host.name}-b"
    started = _cli("lab", "host", "up", "--name", name, "--json")
    try:
        assert started.returncode == 0, started.stderr
        info = json.loads(started.stdout)
        assert info["name"] == name and info["seconds"] > 0 and info["hosts"] == f"docker://{name}"
        sh(name, "systemctl disable --now k3s-dr-backup.timer")
        run = run_suite([host.hosts_spec, info["hosts"]], tmp_path, "-n", "2", "--dist", "loadgroup")
        assert run.exit_code == 1, run.output
        assert run.failed(host.hosts_spec) == set() and run.failed(info["hosts"]) == {"DR-TIMER-001"}
        assert len(run.results) == 2 * len(BY_ID)
        assert "2 workers" in run.output or "gw1" in run.output
        html = run.html.read_text()
        assert host.hosts_spec in html and info["hosts"] in html
    finally:
        stopped = _cli("lab", "host", "down", "--name", name)
    assert stopped.returncode == 0 and f"{name} removed" in stopped.stdout
    gone = subprocess.run(["docker", "container", "inspect", name], capture_output=True, check=False)
    assert gone.returncode != 0
