"""`k3s-dr drill --real-node --json` proves the data came back: ``data_checks``.

The drill writes marker rows into its real database before the backup, loses the cluster and
the node's copy of the volume, restores, and reads the rows in the restored pod. Needs the
real node (root, its Debian packages, Docker for the images); the skip names what is missing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.real_node, pytest.mark.slow]


def test_real_node_drill_reports_rows_written_before_and_read_after(tmp_path: Path) -> None:
    from k3s_dr_testbed.realnode.host import missing_requirements  # noqa: PLC0415 - only this test needs it

    if os.geteuid() != 0:
        pytest.skip("the real node needs root (containerd, mounts, network namespaces)")
    missing = missing_requirements()
    if missing:
        pytest.skip("the real node needs: " + ", ".join(f"{m.tool} (apt-get install {m.package})" for m in missing))
    done = subprocess.run([sys.executable, "-m", "dr_lib", "drill", "--real-node", "--json", "--reports",
                           str(tmp_path)], capture_output=True, text=True, timeout=900, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, done.stderr[-3000:]
    result = json.loads(lines[-1])
    assert done.returncode == 0, done.stderr[-3000:]
    checks = result["data_checks"]
    assert len(checks) == 1
    check = checks[0]
    assert check["ok"] is True and check["reason"] is None
    assert check["workload"] == "StatefulSet insightlearn-data/db"
    assert check["written"]["rows"] == check["read_back"]["rows"] == 100
    assert check["written"]["sha256"] == check["read_back"]["sha256"]
    evidence = json.loads(Path(result["evidence_json"]).read_text())
    assert evidence["data_checks"] == checks
