"""A real backup loads nothing heavy before it is recorded: no ``kubernetes`` client (our
clusters' kubeconfigs take the direct path), no pytest, no prometheus_client (the metrics load
to record, not before), no offsite code (no push was asked for). Seen from inside a real
``k3s-dr backup`` process against a real API server, at the moment the backup job records it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from _backup_helpers import isolated_env

from dr_lib.metrics.statefile import read_state

# The real CLI, with the backup job's metrics hook wrapped to note what is loaded when it is called.
PROBE = """
import json, os, sys
import dr_lib.jobs.record as record
recorded = record.backup_done
def noting(config, result, reporter):
    with open(os.environ["PROBE_OUT"], "w") as out:
        json.dump(sorted(sys.modules), out)
    recorded(config, result, reporter)
record.backup_done = noting
from dr_lib.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_backup_records_before_loading_anything_heavy(cluster: Any, namespace: str, tmp_path: Path) -> None:
    backups, state = tmp_path / "backups", tmp_path / "state"
    env = isolated_env(tmp_path, PROBE_OUT=str(tmp_path / "modules.json"), K3S_DR_BACKUP_DIR=str(backups),
                       K3S_DR_RESTORE_STATE_DIR=str(state), K3S_DR_METRICS_TEXTFILE=str(tmp_path / "tf" / "k.prom"))
    run = subprocess.run([sys.executable, "-c", PROBE, "backup", "--kubeconfig", str(cluster.kubeconfig), "--json",
                          "-n", namespace, "--kind", "configmaps"],
                         env=env, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["objects"] >= 1 and json.loads(run.stdout)["push"] is None
    loaded = set(json.loads((tmp_path / "modules.json").read_text()))
    heavy = sorted(m for m in loaded if m.split(".")[0] in {"kubernetes", "pytest", "prometheus_client", "boto3"})
    assert not heavy, heavy
    assert not sorted(m for m in loaded if m.startswith(("dr_lib.offsite", "dr_lib.metrics", "dr_lib.drill.")))
    recorded = read_state(state / "metrics-state.json").backup  # and it was recorded, after the probe
    assert recorded is not None and recorded.status == "success" and recorded.objects >= 1
