"""The sandboxed units on a real systemd (the reference host): they run, and the sandbox really binds them.

The backup unit takes a real backup (API objects and the k3s datastore) with ``ProtectSystem=strict``;
the exporter serves; the auto-restore runs at a real boot (``tests/e2e/test_boot_drill.py``,
``tests/e2e/test_wipe_at_boot.py``). A unit that needs a path missing from its ``ReadWritePaths=``
fails, and says which: the same backup with a drop-in that leaves the backup directory out of
``ReadWritePaths=`` fails with "Read-only file system" naming it — so a future write to a new path is
caught by these tests, not by an operator. ``systemd-analyze security`` rates both ≤ 3.0.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from k3s_dr_testbed.docker import docker_cli
from tests.integration._reference_host import reference_host, sh

pytestmark = [pytest.mark.docker, pytest.mark.slow]
BACKUP = "k3s-dr-backup.service"
RESTORE = "k3s-auto-restore.service"
DROPIN = f"/etc/systemd/system/{BACKUP}.d/narrow.conf"


def _start(name: str, unit: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([docker_cli(), "exec", name, "systemctl", "start", unit], capture_output=True, timeout=600,
                          check=False)


def _journal(name: str, unit: str) -> str:
    invocation = sh(name, f"systemctl show -p InvocationID --value {unit}").strip()
    return sh(name, f"journalctl --no-pager -o cat _SYSTEMD_INVOCATION_ID={invocation}")


def _writable(name: str, unit: str) -> list[str]:
    (line,) = [ln for ln in sh(name, f"systemctl cat {unit}").splitlines() if ln.startswith("ReadWritePaths=")]
    return line.split("=", 1)[1].split()


def test_the_units_run_sandboxed_and_a_path_left_out_fails_the_unit(record_property: pytest.RecordProperty) -> None:
    with reference_host("k3sdr-sandbox") as host:
        name = host.name
        for unit in (BACKUP, RESTORE):
            cat = sh(name, f"systemctl cat {unit}")
            assert "ProtectSystem=strict" in cat and "PrivateTmp=yes" in cat and "NoNewPrivileges=yes" in cat
            assert "ProtectHome=read-only" in cat and "RuntimeDirectory" not in cat
        assert "-/var/backups/k3s-cluster" in _writable(name, BACKUP)
        assert "-/var/backups/k3s-cluster" not in _writable(name, RESTORE)  # the auto-restore only reads them

        # `lab host up` took the first backup through the sandboxed unit; once more, looking at it
        assert _start(name, BACKUP).returncode == 0
        journal = _journal(name, BACKUP)
        assert "Read-only file system" not in journal and "verified yes; promoted yes" in journal, journal
        archive = sh(name, "readlink /var/backups/k3s-cluster/latest-backup.tar.gz").strip()
        verified = json.loads(sh(name, f"k3s-dr verify /var/backups/k3s-cluster/{archive} --json"))
        assert verified["datastore"] == "sqlite" and verified["user_objects"] == 6, verified
        assert sh(name, "tail -1 /var/log/k3s-dr.log").split()[1:4] == ["k3s-dr", "backup", "ok"]
        assert sh(name, "systemctl is-active k3s-dr-exporter.service").strip() == "active"

        narrowed = " ".join(p for p in _writable(name, BACKUP) if p != "-/var/backups/k3s-cluster")
        sh(name, f"mkdir -p {DROPIN.rsplit('/', 1)[0]} && printf '[Service]\\nReadWritePaths=\\n"
                 f"ReadWritePaths={narrowed}\\n' > {DROPIN} && systemctl daemon-reload")
        assert _start(name, BACKUP).returncode != 0
        journal = _journal(name, BACKUP)
        assert "Read-only file system" in journal and "/var/backups/k3s-cluster" in journal, journal
        assert "ExecMainStatus=7" in sh(name, f"systemctl show -p ExecMainStatus {BACKUP}")  # environment
        assert sh(name, "readlink /var/backups/k3s-cluster/latest-backup.tar.gz").strip() == archive

        sh(name, f"rm -r {DROPIN.rsplit('/', 1)[0]} && systemctl daemon-reload")
        assert _start(name, BACKUP).returncode == 0

        scores = {}
        for unit in (BACKUP, RESTORE, "k3s-dr-exporter.service"):
            match = re.search(r"exposure level for \S+: (\d+\.\d)",
                              sh(name, f"systemd-analyze security --no-pager {unit} | tail -1"))
            assert match is not None
            scores[unit] = float(match.group(1))
        assert all(score <= 3.0 for score in scores.values()), scores
        record_property("systemd_analyze_security", json.dumps(scores))
        print(f"\nsystemd-analyze security: {scores}")
