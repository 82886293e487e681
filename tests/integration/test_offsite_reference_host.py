"""Offsite on a real systemd host (the reference host): with a target in its config, the installed
backup unit pushes on every run — nothing else installed — and the conformance suite, run as an
operator runs it, passes DR-OFFSITE-001..003. When the push breaks (the restic password changed),
the unit fails with exit 3, the backup is still promoted, and exactly one control fails:
DR-OFFSITE-001 (DR-TIMER-002 is n/a: the backup itself succeeded).

The target is a restic repository on the host's own disk: the reference host has no network, so
no server outside it can be reached (the S3 path is proven against versitygw on this machine in
test_offsite_autopush.py and test_offsite_conformance.py)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from k3s_dr_testbed.docker import docker_cli
from k3s_dr_testbed.lab.host import exec_in
from tests.integration._offsite_env import restic_or_skip
from tests.integration._reference_host import reference_host, run_suite, sh

pytestmark = [pytest.mark.docker, pytest.mark.slow]
CONFIG = "/etc/k3s-dr/config.yaml"
PASSWORD = "/etc/k3s-dr/restic.pass"
D = "/var/backups/k3s-cluster"


def _configure_offsite(name: str, tmp_path: Path, restic: str) -> None:
    subprocess.run([docker_cli(), "cp", "-L", restic, f"{name}:/usr/local/bin/restic"], check=True, timeout=60)
    config = yaml.safe_load(sh(name, f"cat {CONFIG}"))
    # encryption required: restic encrypts with the repository key, no age recipients needed
    config["offsite"] = {"encrypt": "required",
                         "targets": {"home": {"type": "restic", "repository": "/srv/restic-repo",
                                              "password_file": PASSWORD, "keep": 3, "keep_daily": 0,
                                              "keep_weekly": 0, "timeout": "5m"}}}
    local = tmp_path / "config.yaml"
    local.write_text(yaml.safe_dump(config, sort_keys=False))
    subprocess.run([docker_cli(), "cp", str(local), f"{name}:{CONFIG}"], check=True, timeout=60)
    sh(name, f"printf 'restic repository password\\n' > {PASSWORD} && chmod 600 {PASSWORD}")
    sh(name, "k3s-dr install >/dev/null")  # re-renders the backup unit (its deadline allows for the push)


def _start_backup_unit(name: str) -> None:
    """Start the unit as its timer does; when it fails, its run's journal says why (a path the sandbox denies…)."""
    code, out = exec_in(name, "systemctl start k3s-dr-backup.service", time.monotonic() + 600, check=False)
    if code != 0:
        invocation = sh(name, "systemctl show -p InvocationID --value k3s-dr-backup.service").strip()
        journal = sh(name, f"journalctl --no-pager -o cat _SYSTEMD_INVOCATION_ID={invocation}", check=False)
        raise AssertionError(f"k3s-dr-backup.service failed (exit {code}): {out}\n{journal}")


def test_the_backup_unit_pushes_and_the_suite_judges_offsite(tmp_path: Path) -> None:
    restic = restic_or_skip()
    with reference_host("k3sdr-offsite") as host:
        _configure_offsite(host.name, tmp_path, restic)
        unit = sh(host.name, "systemctl cat k3s-dr-backup.service")
        assert "TimeoutStartSec=2400s" in unit  # 30 min backup + the target's 5 min push + 5 min lock wait

        _start_backup_unit(host.name)  # what the timer starts
        record = json.loads(sh(host.name, "cat /var/lib/k3s-dr/offsite-pushes.json"))
        last = record["targets"]["home"]["last"]
        assert (last["ok"], last["trigger"], last["verified"], last["encrypted"]) == (True, "backup", True, True)
        assert last["archive"] == sh(host.name, f"readlink {D}/latest-backup.tar.gz").strip()

        healthy = run_suite([host.hosts_spec], tmp_path / "healthy")
        verdicts = healthy.verdicts(host.hosts_spec)
        assert {c: verdicts[c] for c in ("DR-OFFSITE-001", "DR-OFFSITE-002", "DR-OFFSITE-003")} == dict.fromkeys(
            ("DR-OFFSITE-001", "DR-OFFSITE-002", "DR-OFFSITE-003"), "pass"), healthy.output
        assert healthy.exit_code == 0 and not healthy.failed(), healthy.output

        sh(host.name, f"printf 'not the password\\n' > {PASSWORD}")
        started = subprocess.run([docker_cli(), "exec", host.name, "systemctl", "start", "k3s-dr-backup.service"],
                                 capture_output=True, timeout=600, check=False)
        assert started.returncode != 0  # the unit failed: systemd (OnFailure=, alerts) sees it
        status = sh(host.name, "systemctl show -p Result -p ExecMainStatus k3s-dr-backup.service")
        assert "ExecMainStatus=3" in status and "Result=exit-code" in status, status
        promoted = sh(host.name, f"readlink {D}/latest-backup.tar.gz").strip()
        assert promoted != last["archive"]  # the new backup is promoted although its push failed
        sh(host.name, f"k3s-dr verify {D}/{promoted}")

        broken = run_suite([host.hosts_spec], tmp_path / "broken")
        assert broken.failed(host.hosts_spec) == {"DR-OFFSITE-001"}, broken.output
        assert broken.verdicts(host.hosts_spec)["DR-TIMER-002"] == "n/a"
        assert "home: the last push" in broken.output and "by a backup run" in broken.output
